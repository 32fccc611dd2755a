"""The shared retry policy: Retry-After in both forms, honoured in full up to a per-call deadline,
jittered backoff, an attempt cap, and a fake clock so none of it waits real seconds."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.asana import AsanaConnector
from connectors.base import ConnectorError, FetchStats
from connectors.gsheets import GoogleSheetsConnector
from connectors.jira import JiraConnector
from handoff.config import AsanaSource, GoogleSheetsSource, JiraSource
from handoff.retry import (
    FakeClock,
    GaveUp,
    Retrier,
    RetryPolicy,
    Transient,
    Verdict,
    retry_after_seconds,
)
from sandbox.asana import AsanaOrg, AsanaSandbox
from sandbox.gsheets import SheetsSandbox, Spreadsheet
from sandbox.jira import JiraSandbox, generate_org
from sandbox.server import Faults

EPOCH = 1_750_000_000.0  # a fixed "now" for the parser


# -- Retry-After -----------------------------------------------------------------------------
def test_retry_after_in_seconds_and_as_http_date_against_the_given_now() -> None:
    assert retry_after_seconds("120", EPOCH) == 120.0
    assert retry_after_seconds(" 7 ", EPOCH) == 7.0
    assert retry_after_seconds("-3", EPOCH) == 0.0
    date = email.utils.formatdate(EPOCH + 90, usegmt=True)
    assert retry_after_seconds(date, EPOCH) == 90.0
    assert retry_after_seconds(date, EPOCH + 100) == 0.0  # already past: no wait
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", EPOCH) == 0.0
    for unreadable in ("soon", "", None, "nan"):
        assert retry_after_seconds(unreadable, EPOCH) is None


# -- the policy on its own -------------------------------------------------------------------
class Flaky:
    """A call that fails transiently `failures` times, then returns "done"."""

    def __init__(self, failures: int, retry_after: str | None = None):
        self.failures = failures
        self.retry_after = retry_after
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError("temporarily unavailable")
        return "done"

    def classify(self, err: BaseException, what: str) -> Verdict:
        return Transient("HTTP 503", self.retry_after) if isinstance(err, OSError) else None


def retrier(flaky: Flaky, clock: FakeClock, **policy: Any) -> tuple[Retrier, FetchStats]:
    stats = FetchStats()
    return (
        Retrier(
            "source 'ops'",
            flaky.classify,
            policy=RetryPolicy(**policy),
            clock=clock,
            stats=stats,
            rng=random.Random(7),
        ),
        stats,
    )


def test_attempts_are_capped_with_a_clear_message() -> None:
    clock, flaky = FakeClock(), Flaky(failures=100)
    calls, stats = retrier(flaky, clock, max_attempts=4)
    with pytest.raises(GaveUp) as caught:
        calls.call("reading issues", flaky)
    assert flaky.calls == 4 and len(clock.sleeps) == 3
    assert stats.retries == 3 and stats.waited_seconds == pytest.approx(clock.slept)
    assert str(caught.value) == (
        "source 'ops': gave up reading issues after 4 attempts (HTTP 503); try again later"
    )
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_call_that_recovers_returns_its_result() -> None:
    clock, flaky = FakeClock(), Flaky(failures=2)
    calls, stats = retrier(flaky, clock)
    assert calls.call("reading issues", flaky) == "done"
    assert flaky.calls == 3 and stats.retries == 2


@pytest.mark.parametrize("jitter", ["equal", "full"])
def test_backoff_is_exponential_and_jitter_stays_within_bounds(jitter: str) -> None:
    clock, flaky = FakeClock(), Flaky(failures=7)
    calls, _ = retrier(
        flaky, clock, max_attempts=8, base_delay=0.5, max_delay=4.0, jitter=jitter, deadline=1e6
    )
    calls.call("reading issues", flaky)
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]  # doubling, then held at max_delay
    assert len(clock.sleeps) == len(caps)
    low = 0.5 if jitter == "equal" else 0.0
    for wait, cap in zip(clock.sleeps, caps, strict=True):
        assert low * cap <= wait <= cap
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=jitter)  # type: ignore[arg-type]
    rng = random.Random(3)
    waits = [policy.backoff(4, rng) for _ in range(2000)]
    assert min(waits) >= low * 8.0 and max(waits) <= 8.0
    assert max(waits) - min(waits) > 0.8 * (1 - low) * 8.0  # spread over the whole range


def test_retry_after_is_honoured_beyond_the_backoff_cap() -> None:
    clock, flaky = FakeClock(), Flaky(failures=1, retry_after="120")
    calls, stats = retrier(flaky, clock, max_delay=60.0, deadline=300.0)
    assert calls.call("reading issues", flaky) == "done"
    assert clock.sleeps == [120.0] and stats.waited_seconds == 120.0


def test_a_wait_past_the_deadline_fails_at_once() -> None:
    clock, flaky = FakeClock(), Flaky(failures=1, retry_after="120")
    calls, stats = retrier(flaky, clock, deadline=60.0)
    with pytest.raises(GaveUp) as caught:
        calls.call("reading issues", flaky)
    assert flaky.calls == 1 and clock.sleeps == [] and stats.retries == 0
    message = str(caught.value)
    assert message.startswith("source 'ops': gave up reading issues after 1 attempt (HTTP 503)")
    assert "asked to wait 120s" in message and "60s allowed per call" in message
    assert message.endswith("try again later")


def test_the_deadline_counts_the_waits_already_made() -> None:
    clock, flaky = FakeClock(), Flaky(failures=100, retry_after="25")
    calls, _ = retrier(flaky, clock, deadline=60.0)
    with pytest.raises(GaveUp, match=r"asked to wait 25s, longer than the 10s left"):
        calls.call("reading issues", flaky)
    assert clock.sleeps == [25.0, 25.0]


def test_errors_the_tool_does_not_retry_pass_through_untouched() -> None:
    clock = FakeClock()
    refused = ConnectorError("source 'ops': the token was refused")

    def classify(err: BaseException, what: str) -> Verdict:
        return refused if isinstance(err, PermissionError) else None

    calls = Retrier("source 'ops'", classify, clock=clock)

    def denied() -> None:
        raise PermissionError("Authorization: Bearer secret-token")

    with pytest.raises(ConnectorError) as caught:
        calls.call("reading issues", denied)
    assert caught.value is refused and caught.value.__context__ is None  # no header text
    with pytest.raises(KeyError):
        calls.call("reading issues", lambda: {}["x"])
    assert clock.sleeps == []


# -- through the real clients against the sandboxes -----------------------------------------
def jira_check(faults: Faults, clock: FakeClock, **overrides: Any) -> Callable[[], str]:
    """Runs check() twice against a Jira sandbox whose second request answers 429."""

    def run() -> str:
        org = generate_org(5, seed=1)
        with JiraSandbox(org, faults=faults) as sandbox:
            entry, env = sandbox.source_entry("it-jira", "IT_JIRA_TOKEN")
            source = JiraSource.model_validate(
                {**entry, "token": env["IT_JIRA_TOKEN"], **overrides}
            )
            connector = JiraConnector(source, clock=clock)
            connector.check()
            return connector.check()

    return run


def asana_check(faults: Faults, clock: FakeClock, **overrides: Any) -> Callable[[], str]:
    def run() -> str:
        with AsanaSandbox(AsanaOrg.empty(), faults=faults) as sb:
            source = AsanaSource(
                name="mkt-asana", kind="asana", url=sb.url, token=sb.token, **overrides
            )
            connector = AsanaConnector(source, clock=clock)
            connector.check()
            return connector.check()

    return run


TOOLS = {"jira": (jira_check, "'it-jira'"), "asana": (asana_check, "'mkt-asana'")}


@pytest.mark.parametrize("tool", TOOLS)
def test_a_retry_after_of_120_seconds_is_honoured_in_full(tool: str) -> None:
    make, _ = TOOLS[tool]
    clock = FakeClock()
    faults = Faults(rate_limit_every=2, retry_after_seconds=120)
    assert make(faults, clock)()  # the second check() succeeds after the wait
    assert clock.sleeps == [120.0]


@pytest.mark.parametrize("tool", TOOLS)
def test_an_http_date_retry_after_is_honoured(tool: str) -> None:
    make, _ = TOOLS[tool]
    clock = FakeClock()
    faults = Faults(rate_limit_every=2, retry_after="date", retry_after_seconds=120)
    assert make(faults, clock)()
    [waited] = clock.sleeps
    assert 119 <= waited <= 121  # the date has whole seconds


@pytest.mark.parametrize("tool", TOOLS)
def test_the_per_call_deadline_bounds_a_long_retry_after(tool: str) -> None:
    make, name = TOOLS[tool]
    clock = FakeClock()
    faults = Faults(rate_limit_every=2, retry_after_seconds=120)
    with pytest.raises(ConnectorError) as caught:
        make(faults, clock, max_retry_wait_seconds=60)()
    assert clock.sleeps == []  # failed at once, without waiting
    message = str(caught.value)
    assert name in message and "HTTP 429" in message and "asked to wait 120s" in message
    assert "60s allowed per call (max_retry_wait_seconds)" in message
    assert "again later" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_sheets_retries_a_timeout(tmp_path: Path) -> None:
    book = Spreadsheet("Plan")
    book.add_sheet("Tasks", [["ID", "Title"], ["T-1", "One"]])
    clock = FakeClock()
    with SheetsSandbox({"plan": book}, faults=Faults(slow_ms=400)) as sandbox:
        credentials = sandbox.write_credentials(tmp_path / "sa.json")
        entry, _ = sandbox.source_entry("plan", "plan", credentials)
        source = GoogleSheetsSource.model_validate(entry)
        connector = GoogleSheetsConnector(
            source, clock=clock, timeout=0.1, retry=RetryPolicy(max_attempts=3)
        )
        with pytest.raises(ConnectorError) as caught:
            connector.check()
    message = str(caught.value)  # the token request (same server, same timeout) times out
    assert "'plan': gave up reading the metadata of spreadsheet plan after 3 attempts" in message
    assert "request failed (TransportError)" in message and "try again later" in message
    assert len(clock.sleeps) == 2 and connector.stats.retries == 2
