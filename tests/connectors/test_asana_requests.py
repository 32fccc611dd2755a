"""Request-minimal Asana first syncs: stories only for open tasks, cheap incrementals."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import duckdb

from sandbox.asana import AsanaSandbox, generate_org
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
