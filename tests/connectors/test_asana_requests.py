"""Request-minimal Asana first syncs: stories only for open tasks, cheap incrementals."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import duckdb

from connectors.asana import AsanaConnector
from handoff.retry import FakeClock
from model.landing import land
from sandbox.asana import AsanaOrg, AsanaSandbox, generate_org
from tests.connectors.test_asana import _live, _source, _staging, _sync


def test_first_sync_reads_stories_only_of_open_tasks(tmp_path: Path) -> None:
    org = generate_org(800, 31)
    open_tasks = {g for g, t in org.tasks.items() if not t.completed}
    completed = set(org.tasks) - open_tasks
    assert len(completed) > 100  # the saving this test is about
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "first.duckdb"
        _sync(sb, raw, full=True)
        requests = dict(sb.server.requests)
        source = _source(sb)
    story_calls = sum(n for k, n in requests.items() if k.endswith("/stories"))
    assert story_calls == len(open_tasks)
    task_pages = sum(math.ceil(len(org.project_tasks(p)) / 100) for p in org.projects)
    assert sum(requests.values()) <= 1.2 * (task_pages + len(open_tasks)) + 2 * len(org.projects)
    assert _live(raw, "stories") == open_tasks
    # every completed task still has its completion as its last status change
    changes = _staging(raw, source)["changes"]
    last = {}
    for item_id, changed_at, *_rest in sorted(changes, key=lambda r: (r[0], str(r[1]))):
        last[item_id] = (changed_at, _rest)
    for gid in completed:
        changed_at, rest = last[f"mkt-asana:{gid}"]
        assert rest[1] == "Completed" and changed_at == org.tasks[gid].completed_at.replace(
            tzinfo=None
        )


def test_reopened_task_gets_its_whole_history_on_the_next_sync(tmp_path: Path) -> None:
    org = generate_org(300, 32)
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "raw.duckdb"
        _sync(sb, raw, full=True)
        gid = next(g for g, t in org.tasks.items() if t.completed and t.parent is None)
        now = org.now + timedelta(hours=2)
        org.tasks[gid].completed, org.tasks[gid].completed_at = False, None  # reopened
        org.add_story(gid, "marked_incomplete", at=now)
        org.touch([gid], now)
        sb.server.reset_counts()
        _sync(sb, raw)
        assert sb.server.requests[f"GET /api/1.0/tasks/{gid}/stories"] == 1
    con = duckdb.connect(str(raw), read_only=True)
    stories = con.execute(
        "SELECT json_array_length(payload->'data') FROM raw_records "
        "WHERE record_type = 'stories' AND record_key = ?",
        [gid],
    ).fetchone()
    con.close()
    assert stories == (len([s for s in org.stories.values() if s.task_gid == gid]),)


def _raw_rows(raw: Path) -> set[tuple[object, ...]]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        rows = con.execute(
            "SELECT record_type, record_key, CAST(payload AS VARCHAR), is_deleted FROM raw_records"
        ).fetchall()
    finally:
        con.close()
    return set(rows)


def _subtask_listings(requests: dict[str, int]) -> dict[str, int]:
    return {k: n for k, n in requests.items() if k.endswith("/subtasks")}


def _with_nested_subtask(org: AsanaOrg) -> str:
    sub = sorted(org.all_subtask_gids())[0]
    return org.add_task("Nested check", parent=sub, created_at=org.now - timedelta(days=3))


def test_first_sync_finds_subtasks_by_search_and_lands_what_listing_them_lands(
    tmp_path: Path,
) -> None:
    org = generate_org(900, 33)
    nested = _with_nested_subtask(org)
    subtasks = org.all_subtask_gids()
    with AsanaSandbox(org) as sb:
        searched = tmp_path / "searched.duckdb"
        _sync(sb, searched, full=True)
        by_search = dict(sb.server.requests)
        sb.server.reset_counts()
        # a source naming its projects lists subtasks per parent (search spans the workspace)
        listed = tmp_path / "listed.duckdb"
        source = _source(sb).model_copy(update={"projects": sorted(org.projects)})
        connector = AsanaConnector(source, clock=FakeClock())
        land(listed, connector.fetch(None, full=True), full=True, stats=connector.stats)
        by_listing = dict(sb.server.requests)
        plain = _source(sb)
    parents = {t.parent for t in org.tasks.values() if t.parent}
    assert _subtask_listings(by_search) == {}
    searches = sum(n for k, n in by_search.items() if k.endswith("/tasks/search"))
    assert searches <= math.ceil(len(subtasks) / 100) + 1
    assert len(_subtask_listings(by_listing)) == len(parents)
    assert nested in _live(searched, "subtask")
    assert _live(searched, "subtask") == subtasks
    assert _raw_rows(searched) == _raw_rows(listed)
    assert _staging(searched, plain) == _staging(listed, plain)


def test_subtasks_the_search_has_not_indexed_yet_are_listed_from_their_parent(
    tmp_path: Path,
) -> None:
    org = generate_org(500, 34)
    nested = _with_nested_subtask(org)
    late = sorted(g for g in org.all_subtask_gids() if org.tasks[g].parent != nested)[-1]
    with AsanaSandbox(org) as sb:
        sb.search_unindexed = {late, nested}
        raw = tmp_path / "raw.duckdb"
        _sync(sb, raw, full=True)
        listings = _subtask_listings(dict(sb.server.requests))
    # the late subtask's parent and the nested one's parent: the search missed one child each
    assert listings == {
        f"GET /api/1.0/tasks/{org.tasks[late].parent}/subtasks": 1,
        f"GET /api/1.0/tasks/{org.tasks[nested].parent}/subtasks": 1,
    }
    assert _live(raw, "subtask") == org.all_subtask_gids()


def test_free_plan_lists_subtasks_per_parent(tmp_path: Path) -> None:
    org = generate_org(300, 35, plan="free")
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "raw.duckdb"
        _sync(sb, raw, full=True)
        requests = dict(sb.server.requests)
    parents = {t.parent for t in org.tasks.values() if t.parent}
    assert len(_subtask_listings(requests)) == len(parents)
    assert _live(raw, "subtask") == org.all_subtask_gids()


def test_incremental_relists_only_parents_whose_subtask_count_moved(tmp_path: Path) -> None:
    org = generate_org(1500, 36)
    parents = sorted({t.parent for t in org.tasks.values() if t.parent})
    renamed, grown = parents[0], parents[1]
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "raw.duckdb"
        _sync(sb, raw, full=True)
        now = org.now + timedelta(hours=1)
        org.touch([renamed], now)  # the parent moves, its subtasks do not
        added = org.add_task("New subtask", parent=grown, created_at=now, modified_at=now)
        sb.server.reset_counts()
        _sync(sb, raw)
        requests = dict(sb.server.requests)
    assert _subtask_listings(requests) == {f"GET /api/1.0/tasks/{grown}/subtasks": 1}
    stories = {k for k in requests if k.endswith("/stories")}
    assert stories == {f"GET /api/1.0/tasks/{g}/stories" for g in (renamed, added)}
    census = sum(math.ceil(len(org.project_tasks(p)) / 100) for p in org.projects)
    fixed = 2 + 3 * len(org.projects)  # workspaces, projects; sections, updates, events
    changed_pages = len(org.projects)  # one modified_since page each
    assert sum(requests.values()) == fixed + census + changed_pages + 1 + 2
    live_subtasks = {g for g, t in org.tasks.items() if t.parent}
    assert _live(raw, "subtask") == live_subtasks
