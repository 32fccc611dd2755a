"""Long syncs under vendor quotas: the shared host throttle keeps the sync under the quota.

Asana: a sandbox counting 1,500 requests per token in any "minute" (15 s of real time, the
client on a clock running 4x faster), answering `Retry-After: 30` to every 429. The source
believes in a ten times higher quota, so the first burst is refused; from then on the throttle
must keep every thread under the real quota. Jira: a `Retry-After: 120` mid-run on a fake clock.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from connectors.asana import AsanaConnector
from connectors.jira import JiraConnector
from handoff.config import AsanaSource, JiraSource
from handoff.retry import FakeClock, RetryPolicy, ScaledClock
from model.landing import land
from sandbox.asana import AsanaSandbox
from sandbox.asana import generate_org as asana_org
from sandbox.jira import JiraSandbox
from sandbox.jira import generate_org as jira_org
from sandbox.server import Faults

SCALE = 4.0  # the client's clock runs 4x real time: a vendor minute lasts 15 s
MINUTE = 60.0 / SCALE
RETRY_AFTER = 30  # vendor seconds, 7.5 s of real time


def live_keys(raw: Path, record_type: str) -> set[str]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        rows = con.execute(
            "SELECT record_key FROM raw_records WHERE record_type = ? AND NOT is_deleted",
            [record_type],
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of `times` (sorted) inside any window of `window` seconds."""
    return max((bisect_right(times, t + window) - i for i, t in enumerate(times)), default=0)


@pytest.mark.slow  # ~3,800 requests paced at the quota: about 40 s
def test_asana_sync_learns_the_quota_from_its_first_429(tmp_path: Path) -> None:
    org = asana_org(4500, seed=8)  # about 3,800 requests: the first burst and two more minutes
    sandbox = AsanaSandbox(
        org,
        strict=False,
        check_responses=False,
        quota=True,
        quota_window=MINUTE,
        quota_retry_after=RETRY_AFTER,
    )
    with sandbox:
        sandbox.server.record_times = True
        source = AsanaSource(
            name="mkt-asana",
            kind="asana",
            url=sandbox.url,
            token=sandbox.token,
            workspace=org.workspace_gid,
            rate_limit_per_minute=15_000,  # ten times the quota the token really has
        )
        connector = AsanaConnector(source, clock=ScaledClock(SCALE))
        raw = tmp_path / "asana.duckdb"
        land(raw, connector.fetch(None, full=True), full=True, stats=connector.stats)
        log = sorted(sandbox.server.request_log)

    # the sync completed, with everything
    assert live_keys(raw, "task") == {g for g, t in org.tasks.items() if t.parent is None}
    # a first sync reads the history of open tasks (a completed one ends at completed_at)
    assert live_keys(raw, "stories") == {g for g, t in org.tasks.items() if not t.completed}
    times = [t for t, _ in log]
    refused = [t for t, status in log if status == 429]
    assert refused, "the too-high quota was never refused: the test proves nothing"
    first = refused[0]
    # only requests already in flight when the first 429 came back were refused
    assert refused[-1] - first < 0.5, refused
    assert len(refused) <= 2 * 8  # at most the worker threads' requests in flight
    # every thread held back for the Retry-After: nothing arrived during the pause
    pause = RETRY_AFTER / SCALE
    during = times[bisect_right(times, first + 0.5) : bisect_left(times, first + pause - 0.1)]
    assert during == [], f"{len(during)} requests during the pause"
    # after the pause, never more than the quota in any vendor minute (90% is the target)
    after = times[bisect_left(times, first + pause - 0.1) :]
    assert len(after) > 1500  # the rest of the sync ran over several windows
    assert most_in_any_window(after, MINUTE) <= 1500
    assert most_in_any_window([t for t, s in log if s != 429], MINUTE) <= 1500


def test_jira_fetch_answered_retry_after_120_mid_run_completes(tmp_path: Path) -> None:
    now = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    org = jira_org(120, seed=4, now=now)
    clock = FakeClock()
    faults = Faults(rate_limit_every=10, retry_after_seconds=120)  # a few 429s mid-run
    with JiraSandbox(org, faults=faults) as sandbox:
        entry, env = sandbox.source_entry("it-jira", "IT_JIRA_TOKEN")
        source = JiraSource.model_validate(
            {**entry, "token": env["IT_JIRA_TOKEN"], "page_size": 25}
        )
        connector = JiraConnector(source, retry=RetryPolicy(deadline=300), clock=clock)
        raw = tmp_path / "jira.duckdb"
        land(raw, connector.fetch(None, full=True), full=True, stats=connector.stats)
    assert live_keys(raw, "issue") == set(org.issues)
    assert connector.stats.retries >= 1
    # each 429 waited as asked; another worker that reached the host's pause before the fake
    # clock moved waits the whole 120 s too, so the count is a lower bound
    assert clock.sleeps.count(120.0) >= connector.stats.retries
    assert all(0 < wait <= 120.0 for wait in clock.sleeps)  # nobody waited longer than asked
    assert connector.stats.waited_seconds == clock.slept  # every wait is accounted in the stats
    # the host throttle held the other workers back until the wait was over
    assert connector.throttle.throttled_429 == connector.stats.retries
    assert connector.throttle.paused_until <= clock.monotonic()
