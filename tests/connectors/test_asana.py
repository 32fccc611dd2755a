"""Asana connector against the sandbox: complete full sync, cheap incremental, faults."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from connectors.asana import AsanaConnector
from connectors.base import ConnectorError, PermanentConnectorError
from handoff.config import AsanaSource
from handoff.retry import FakeClock
from model.landing import land, read_cursor
from model.normalise.asana import normalise
from sandbox.asana import AsanaOrg, AsanaSandbox, generate_org
from sandbox.server import Faults

STAGING = Path(__file__).resolve().parents[2] / "model" / "staging.sql"


def _source(sb: AsanaSandbox) -> AsanaSource:
    return AsanaSource(name="mkt-asana", kind="asana", url=sb.url, token=sb.token)


def _sync(
    sb: AsanaSandbox, raw: Path, *, full: bool = False, clock: FakeClock | None = None
) -> AsanaConnector:
    """One sync on a fake clock: retries wait fake seconds, not real ones."""
    connector = AsanaConnector(_source(sb), clock=clock or FakeClock())
    cursor = None if full else read_cursor(raw)
    land(raw, connector.fetch(cursor, full=full), full=full, stats=connector.stats)
    return connector


def _live(raw: Path, record_type: str) -> set[str]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        rows = con.execute(
            "SELECT record_key FROM raw_records WHERE record_type = ? AND NOT is_deleted",
            [record_type],
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def _staging(raw: Path, source: AsanaSource) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_src (READ_ONLY)")
    normalise(con, source, "raw_src", datetime(2025, 6, 3))
    out = {
        "items": con.execute(
            "SELECT * EXCLUDE (synced_at) FROM stg_items WHERE NOT is_deleted ORDER BY item_id"
        ).fetchall(),
        "refs": con.execute("SELECT * FROM stg_references ORDER BY ALL").fetchall(),
        "changes": con.execute("SELECT * FROM stg_status_changes ORDER BY ALL").fetchall(),
    }
    con.close()
    return out


def test_full_sync_loads_everything_the_sandbox_serves(tmp_path: Path) -> None:
    org = generate_org(600, 11)
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "mkt-asana.duckdb"
        connector = _sync(sb, raw, full=True)
        top = {g for g, t in org.tasks.items() if t.parent is None}
        assert _live(raw, "task") == top
        assert _live(raw, "subtask") == org.all_subtask_gids()
        assert _live(raw, "stories") == {g for g, t in org.tasks.items() if not t.completed}
        assert connector.stats.requests == sb.server.total_requests
        staged = _staging(raw, _source(sb))
    items = {row[0]: row for row in staged["items"]}
    assert len(items) == len(org.tasks)
    milestones = {k for k, row in items.items() if row[7]}
    assert milestones == {
        f"mkt-asana:{g}" for g, t in org.tasks.items() if t.resource_subtype == "milestone"
    }
    deps = {(r[0], r[1]) for r in staged["refs"] if r[5] == "asana_dependency"}
    assert deps == {
        (f"mkt-asana:{g}", f"mkt-asana:{d}") for g, t in org.tasks.items() for d in t.dependencies
    }

    def home(gid: str) -> str | None:  # the whole workspace is synced: the oldest project
        projects = [p for p, _ in org.tasks[gid].memberships]
        return min(projects, key=int) if projects else None

    def open_task(gid: str) -> bool:  # a completed task's history is its completion alone
        return not org.tasks[gid].completed

    moves = [
        s
        for s in org.stories.values()
        if open_task(s.task_gid)
        and (
            s.resource_subtype in ("marked_complete", "marked_incomplete")
            or (
                s.resource_subtype == "section_changed"
                and home(s.task_gid) in (None, org.sections[s.details["new_section"]].project_gid)
            )
        )
    ]
    completions = sum(1 for t in org.tasks.values() if t.completed)
    assert len(staged["changes"]) == len(moves) + completions


def test_incremental_fetches_only_changes_and_matches_a_full_sync(tmp_path: Path) -> None:
    org = generate_org(600, 12)
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "incremental.duckdb"
        _sync(sb, raw, full=True)
        changes = org.mutate_share(0.01, seed=4)
        assert changes["subtask"] and changes["deleted"]
        sb.server.reset_counts()
        connector = _sync(sb, raw)
        requests = dict(sb.server.requests)
        changed_top = len(changes["moved"]) + len(changes["renamed"])
        story_calls = sum(n for k, n in requests.items() if k.endswith("/stories"))
        # stories only for changed tasks, the changed subtask and re-listed subtasks' news
        assert changed_top + 1 <= story_calls <= changed_top + 1 + len(changes["moved"])
        assert requests.get(f"GET /api/1.0/tasks/{changes['subtask'][0]}") == 1
        projects = len(org.projects)
        census_pages = sum((len(org.project_tasks(p)) + 99) // 100 for p in org.projects)
        assert requests["GET /api/1.0/tasks"] == census_pages + projects
        assert connector.stats.requests < 0.2 * len(org.tasks)
        assert changes["deleted"][0] not in _live(raw, "task")
        assert changes["subtask"][0] in _live(raw, "subtask")
        incremental = _staging(raw, _source(sb))
        fresh = tmp_path / "fresh.duckdb"
        _sync(sb, fresh, full=True)
        first = _staging(fresh, _source(sb))
    # a completed task moved between sections after its completion: a first sync, reading no
    # stories for it, dates its last status change at `completed_at`
    changed_at = 19  # stg_items.status_changed_at
    assert [r[:changed_at] + r[changed_at + 1 :] for r in incremental["items"]] == [
        r[:changed_at] + r[changed_at + 1 :] for r in first["items"]
    ]
    assert [r for r in incremental["items"] if r[8] != "Completed"] == [
        r for r in first["items"] if r[8] != "Completed"
    ]
    assert incremental["refs"] == first["refs"]
    # a first sync keeps only the completion of a completed task; the store synced since holds
    # the whole history of the tasks that changed
    done = {f"mkt-asana:{g}" for g, t in org.tasks.items() if t.completed}
    extra = set(incremental["changes"]) - set(first["changes"])
    assert {row[0] for row in extra} <= done
    # ...and dates that completion from the task's current section
    missing = set(first["changes"]) - set(incremental["changes"])
    assert all(row[0] in done and row[3] == "Completed" for row in missing)
    assert len(missing) <= len(changes["moved"])


def test_new_subtask_and_deleted_subtask_are_seen(tmp_path: Path) -> None:
    org = generate_org(300, 13)
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "subs.duckdb"
        _sync(sb, raw, full=True)
        parent = next(g for g, t in org.tasks.items() if t.parent is None and t.subtasks)
        old = org.tasks[parent].subtasks[0]
        new = org.add_task("Late extra step", parent=parent)
        org.delete([old], org.now + timedelta(hours=2))
        sb.expire_sync_tokens()  # the events feed is lost as well: the census must still work
        _sync(sb, raw)
        live = _live(raw, "subtask")
        assert new in live and old not in live
        assert live == org.all_subtask_gids()


@pytest.mark.parametrize(
    "faults",
    [
        Faults(rate_limit_every=7, retry_after_seconds=2),
        Faults(rate_limit_every=9, retry_after="date", retry_after_seconds=30),
        Faults(error_burst_every=11, error_burst_length=2, error_status=503),
        Faults(error_burst_every=13, error_burst_length=1, error_status=500),
        Faults(truncate_every=10),
        Faults(slow_ms=2),
    ],
    ids=["429-seconds", "429-date", "503-burst", "500", "truncated", "slow"],
)
def test_fault_modes_end_in_complete_data(tmp_path: Path, faults: Faults) -> None:
    org = generate_org(200, 14)
    clock = FakeClock()
    started = time.time()  # the fake clock stands at this real time until its first sleep
    with AsanaSandbox(org, faults=faults) as sb:
        raw = tmp_path / "faults.duckdb"
        connector = _sync(sb, raw, full=True, clock=clock)
        took = time.time() - started
        assert _live(raw, "task") == {g for g, t in org.tasks.items() if t.parent is None}
        assert _live(raw, "stories") == {g for g, t in org.tasks.items() if not t.completed}
        if faults.slow_ms == 0:
            assert connector.stats.retries > 0
        assert connector.stats.waited_seconds == pytest.approx(clock.slept)
        if faults.rate_limit_every and faults.retry_after == "seconds":
            assert (
                clock.sleeps.count(2.0) >= connector.stats.retries
            )  # each wait as asked (a worker held at the host's pause may wait it whole too)
        if faults.retry_after == "date":  # the first 429 asks for 30 s from the server's now,
            # read on the fake clock, which is behind the server's by the real time it took
            assert 29 <= clock.sleeps[0] <= 31 + took


def test_expired_offsets_restart_the_listing(tmp_path: Path) -> None:
    org = generate_org(400, 15)
    with AsanaSandbox(org) as sb:
        sb.expire_offset_every = 5
        raw = tmp_path / "offsets.duckdb"
        _sync(sb, raw, full=True)
        assert _live(raw, "task") == {g for g, t in org.tasks.items() if t.parent is None}


def test_outage_is_a_clear_error_and_keeps_the_last_good_data(tmp_path: Path) -> None:
    org = generate_org(150, 16)
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "outage.duckdb"
        _sync(sb, raw, full=True)
        before = _live(raw, "task")
        cursor = read_cursor(raw)
        org.mutate_share(0.05, seed=1)
        sb.server.faults = Faults(always_status=503)
        clock = FakeClock()
        connector = AsanaConnector(_source(sb), clock=clock)
        with pytest.raises(ConnectorError) as err:
            land(raw, connector.fetch(cursor), full=False, stats=connector.stats)
        assert "mkt-asana" in str(err.value) and "HTTP 503" in str(err.value)
        assert "run the sync again later" in str(err.value)
        assert 0 < clock.slept <= 300  # bounded by the default max_retry_wait_seconds
        assert _live(raw, "task") == before and read_cursor(raw) == cursor


def test_bad_token_names_the_source_never_the_token(tmp_path: Path) -> None:
    with AsanaSandbox(AsanaOrg.empty()) as sb:
        source = AsanaSource(name="mkt-asana", kind="asana", url=sb.url, token="wrong-secret-x")
        connector = AsanaConnector(source)
        with pytest.raises(ConnectorError) as err:
            list(connector.fetch(None))
        assert "mkt-asana" in str(err.value) and "401" in str(err.value)
        assert isinstance(err.value, PermanentConnectorError)  # the sync spends no retries on it
        assert "wrong-secret-x" not in str(err.value)
        assert "authenticated" in AsanaConnector(_source(sb)).check()
        cursor_text = json.dumps(read_cursor(tmp_path / "none.duckdb"))
        assert sb.token not in cursor_text
