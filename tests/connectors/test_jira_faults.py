"""Under each fault mode a Jira sync completes with all data, or fails clearly and keeps the
previous raw state."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.base import ConnectorError, PermanentConnectorError
from connectors.jira import JiraConnector
from handoff.config import JiraSource
from handoff.retry import FakeClock, RetryPolicy
from model.landing import land, read_cursor
from sandbox.jira import JiraOrg, JiraSandbox, generate_org
from sandbox.server import Faults

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=6, deadline=300)


def source_for(sandbox: JiraSandbox, **overrides: Any) -> JiraSource:
    entry, env = sandbox.source_entry("it-jira", "IT_JIRA_TOKEN")
    return JiraSource.model_validate({**entry, "token": env["IT_JIRA_TOKEN"], **overrides})


def sync(source: JiraSource, raw: Path, clock: FakeClock | None = None, **kw: Any) -> JiraConnector:
    """One sync on a fake clock: retries wait fake seconds, not real ones."""
    connector = JiraConnector(source, retry=POLICY, clock=clock or FakeClock())
    land(raw, connector.fetch(read_cursor(raw), **kw), full=False, stats=connector.stats)
    return connector


def raw_state(raw: Path) -> tuple[Any, ...]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        rows = con.execute(
            "SELECT record_type, record_key, payload::VARCHAR, is_deleted FROM raw_records "
            "ORDER BY ALL"
        ).fetchall()
        cursor = con.execute("SELECT value::VARCHAR FROM source_state").fetchall()
    finally:
        con.close()
    return tuple(rows), tuple(cursor)


def issue_keys(raw: Path) -> set[str]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        rows = con.execute(
            "SELECT record_key FROM raw_records WHERE record_type = 'issue' AND NOT is_deleted"
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


@pytest.fixture
def org() -> JiraOrg:
    return generate_org(150, seed=21, now=NOW)


@pytest.mark.parametrize(
    "faults",
    [
        Faults(rate_limit_every=4, retry_after="seconds", retry_after_seconds=1),
        Faults(rate_limit_every=4, retry_after="date", retry_after_seconds=30),
        Faults(error_burst_every=5, error_burst_length=2, error_status=503),
        Faults(error_burst_every=6, error_burst_length=1, error_status=500),
        Faults(slow_ms=15),
        Faults(truncate_every=5),
    ],
    ids=["429-seconds", "429-date", "503-burst", "500-burst", "slow", "truncated-body"],
)
def test_transient_faults_still_give_complete_data(
    tmp_path: Path, org: JiraOrg, faults: Faults
) -> None:
    clock = FakeClock()
    started = time.time()  # the fake clock stands at this real time until its first sleep
    with JiraSandbox(org, faults=faults) as sandbox:
        connector = sync(source_for(sandbox, remote_links=False), tmp_path / "raw.duckdb", clock)
    took = time.time() - started
    assert issue_keys(tmp_path / "raw.duckdb") == set(org.issues)
    if not faults.slow_ms:
        assert connector.stats.retries > 0
    assert connector.stats.waited_seconds == pytest.approx(clock.slept)
    if faults.rate_limit_every and faults.retry_after == "seconds":
        assert (
            clock.sleeps.count(1.0) >= connector.stats.retries
        )  # each wait as asked (a worker held at the host's pause may wait it whole too)
    if faults.retry_after == "date":  # the first 429 asks for 30 s from the server's now,
        # read on the fake clock, which is behind the server's by the real time it took
        assert 29 <= clock.sleeps[0] <= 31 + took


def test_outage_fails_clearly_and_keeps_previous_data(tmp_path: Path, org: JiraOrg) -> None:
    raw = tmp_path / "raw.duckdb"
    with JiraSandbox(org) as sandbox:
        source = source_for(sandbox)
        sync(source, raw)
        before = raw_state(raw)
        org.mutate_share(0.05, seed=2)
        sandbox.server.faults = Faults(always_status=503)
        with pytest.raises(ConnectorError) as caught:
            sync(source, raw)
    message = str(caught.value)
    assert "it-jira" in message and "gave up" in message
    assert raw_state(raw) == before


def test_outage_midway_keeps_previous_data(tmp_path: Path, org: JiraOrg) -> None:
    """Pages already fetched are not half-landed when a later request keeps failing."""
    raw = tmp_path / "raw.duckdb"
    with JiraSandbox(org) as sandbox:
        source = source_for(sandbox, page_size=20, remote_links=False)
        sync(source, raw)
        before = raw_state(raw)
        org.mutate_share(0.5, seed=3)
        sandbox.server.faults = Faults(error_burst_every=4, error_burst_length=50)
        with pytest.raises(ConnectorError):
            sync(source, raw, full=True)
    assert raw_state(raw) == before


def test_bad_token_names_the_source_and_hides_the_token(tmp_path: Path, org: JiraOrg) -> None:
    with JiraSandbox(org) as sandbox:
        source = source_for(sandbox, token="wrong-secret-value")
        with pytest.raises(ConnectorError) as caught:
            sync(source, tmp_path / "raw.duckdb")
        with pytest.raises(ConnectorError):
            JiraConnector(source).check()
    message = str(caught.value)
    assert "it-jira" in message and "check the token" in message and "401" in message
    assert isinstance(caught.value, PermanentConnectorError)  # the sync spends no retries on it
    assert "wrong-secret-value" not in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_issue_updated_while_paging_is_not_lost(tmp_path: Path, org: JiraOrg) -> None:
    raw = tmp_path / "raw.duckdb"
    for deployment in ("cloud", "data_center"):
        with JiraSandbox(org, deployment=deployment, update_while_paging=True) as sandbox:  # type: ignore[arg-type]
            sync(source_for(sandbox, page_size=25, remote_links=False), raw, full=True)
            assert sandbox.paging_updates  # the sandbox did shift the pages
        assert issue_keys(raw) == set(org.issues)
        con = duckdb.connect(str(raw), read_only=True)
        stored = dict(
            con.execute(
                "SELECT record_key, payload ->> '$.fields.status.name' FROM raw_records "
                "WHERE record_type = 'issue'"
            ).fetchall()
        )
        con.close()
        for key in sandbox.paging_updates:
            assert stored[key] == org.statuses[org.issues[key].status].name
        raw.unlink()


def test_check_is_one_cheap_request(org: JiraOrg) -> None:
    with JiraSandbox(org) as sandbox:
        description = JiraConnector(source_for(sandbox)).check()
        assert sandbox.server.total_requests == 1
    assert "Jira Cloud" in description and sandbox.email in description


class DeletingWhilePaging(JiraSandbox):
    """Data Center that deletes an issue of the first page while serving a later one: the
    offsets of every page after it shift by one, pages asked for ahead included."""

    deleted: str | None = None

    def search_legacy(self, request: Any) -> dict[str, Any]:
        if self.deleted is None and int(request.json().get("startAt") or 0) >= 50:
            self.deleted = next(iter(self.org.issues))
            self.org.delete([self.deleted])
        return super().search_legacy(request)


def test_issue_deleted_while_pages_are_read_ahead_loses_no_other(
    tmp_path: Path, org: JiraOrg
) -> None:
    with DeletingWhilePaging(org, deployment="data_center") as sandbox:
        sync(source_for(sandbox, page_size=25, remote_links=False), tmp_path / "raw.duckdb")
        assert sandbox.deleted is not None
    assert issue_keys(tmp_path / "raw.duckdb") == set(org.issues)
