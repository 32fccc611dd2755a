"""The Asana connector against a sandbox that behaves as Asana documents it (strict contract,
multi-homed tasks, 24-hour sync tokens, events typed by `resource.resource_type`, free plans
without dependencies), and the model steps that depend on it."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from connectors.asana import AsanaConnector
from handoff.config import AsanaSource, DepartmentRule, load_config
from model.departments import build_department_map
from model.landing import land, read_cursor
from model.normalise.asana import normalise
from sandbox.asana import AsanaOrg, AsanaSandbox, generate_org
from sandbox.asana.org import JIRA_KEY_FIELD, Event
from sandbox.jira import JiraOrg, JiraSandbox
from sandbox.server import Request, Response

STAGING = Path(__file__).resolve().parents[2] / "model" / "staging.sql"
STORIES = "/stories"


def _source(sb: AsanaSandbox, **settings: Any) -> AsanaSource:
    return AsanaSource(name="mkt-asana", kind="asana", url=sb.url, token=sb.token, **settings)


def _sync(sb: AsanaSandbox, raw: Path, *, full: bool = False, **settings: Any) -> AsanaConnector:
    connector = AsanaConnector(_source(sb, **settings))
    connector.http.backoff_seconds = 0.01
    cursor = None if full else read_cursor(raw)
    land(raw, connector.fetch(cursor, full=full), full=full, stats=connector.stats)
    return connector


def _payload(raw: Path, gid: str) -> dict[str, Any]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        row = con.execute(
            "SELECT payload FROM raw_records WHERE record_key = ? AND record_type IN "
            "('task', 'subtask')",
            [gid],
        ).fetchone()
    finally:
        con.close()
    assert row is not None, gid
    return json.loads(row[0])  # type: ignore[no-any-return]


def _staged_items(raw: Path, source: AsanaSource) -> dict[str, tuple[Any, ...]]:
    """item_id -> (status, status_category, project, department) after normalising `raw`."""
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_src (READ_ONLY)")
    normalise(con, source, "raw_src", datetime(2025, 6, 3))
    rows = con.execute(
        "SELECT item_id, status, status_category, project, department FROM stg_items"
    ).fetchall()
    con.close()
    return {r[0]: tuple(r[1:]) for r in rows}


def _story_requests(sb: AsanaSandbox) -> int:
    return sum(n for key, n in sb.server.requests.items() if key.endswith(STORIES))


def _two_project_org() -> tuple[AsanaOrg, str, str, str, str]:
    org = AsanaOrg.empty()
    marketing = org.add_project("Marketing plan", ["To do", "In progress", "Done"])
    it = org.add_project("IT rollout", ["Backlog", "Doing", "Done"])
    shared = org.add_task("Launch banner", project=marketing, section="To do")
    # Asana lists the IT membership first: its order says nothing about the synced project
    org.add_membership(shared, it, "Done", first=True)
    only_it = org.add_task("Patch servers", project=it, section="Doing")
    return org, marketing, it, shared, only_it


def test_a_task_in_several_projects_takes_its_status_from_the_synced_project(
    tmp_path: Path,
) -> None:
    org, marketing, it, shared, only_it = _two_project_org()
    with AsanaSandbox(org) as sb:
        one = tmp_path / "one.duckdb"
        _sync(sb, one, full=True, projects=["Marketing plan"])
        items = _staged_items(one, _source(sb, projects=["Marketing plan"]))
        assert items[f"mkt-asana:{shared}"][:3] == ("To do", "todo", "Marketing plan")
        # both projects synced: one item, homed in the first synced project of the config
        both = tmp_path / "both.duckdb"
        _sync(sb, both, full=True, projects=[it, marketing])
        items = _staged_items(both, _source(sb, projects=[it, marketing]))
    assert sorted(items) == sorted([f"mkt-asana:{shared}", f"mkt-asana:{only_it}"])
    assert items[f"mkt-asana:{shared}"][:3] == ("Done", "done", "IT rollout")


def test_an_expired_sync_token_reads_stories_only_for_tasks_that_moved(tmp_path: Path) -> None:
    """A nightly schedule always presents a token older than 24 hours."""
    org = generate_org(400, 21)
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "nightly.duckdb"
        _sync(sb, raw, full=True)
        subtask = sorted(org.all_subtask_gids())[0]
        sb.clock.advance(timedelta(hours=25))
        org.touch_subtask_only(subtask, sb.clock.now())
        sb.server.reset_counts()
        _sync(sb, raw)
        assert _story_requests(sb) == 1
        assert sb.server.requests[f"GET /api/1.0/tasks/{subtask}/stories"] == 1
        assert _payload(raw, subtask)["completed"] == org.tasks[subtask].completed


def test_events_are_told_apart_by_resource_type(tmp_path: Path) -> None:
    """Asana deprecates the event's `type`; a sandbox that no longer sends it must not make the
    connector read a story (or section) as if it were a task."""
    org = generate_org(300, 22)
    with AsanaSandbox(org, event_type_field=False) as sb:
        raw = tmp_path / "events.duckdb"
        _sync(sb, raw, full=True)
        subtask = sorted(org.all_subtask_gids())[0]
        org.touch_subtask_only(subtask, sb.clock.now())
        story = org.tasks[subtask].story_gids[-1]
        project = org.root_of(subtask).memberships[0][0]
        org.events.append(
            Event(
                seq=len(org.events) + 1,
                created_at=sb.clock.now(),
                action="added",
                resource_gid=story,
                resource_subtype="comment_added",
                resource_name="",
                project_gids=(project,),
                parent_gid=subtask,
                resource_type="story",
            )
        )
        sb.server.reset_counts()
        _sync(sb, raw)
        assert sb.server.requests[f"GET /api/1.0/tasks/{story}"] == 0
        assert sb.server.requests[f"GET /api/1.0/tasks/{subtask}"] == 1
        assert _payload(raw, subtask)["completed"] == org.tasks[subtask].completed


def test_a_free_workspace_syncs_without_dependencies_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    org = generate_org(300, 23, plan="free")
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "free.duckdb"
        with caplog.at_level(logging.WARNING):
            connector = _sync(sb, raw, full=True)
        items = _staged_items(raw, _source(sb))
    assert len(items) == len(org.tasks)
    expected = (
        "asana source 'mkt-asana': dependencies are an Asana paid-plan feature; this workspace "
        "is on the free plan: cross-task dependencies are not synced"
    )
    assert len(connector.stats.warnings) == 1
    assert connector.stats.warnings[0].startswith(expected)
    assert expected in caplog.text
    assert sb.server.requests.get("GET /api/1.0/tasks", 0) > 0


def test_the_watermark_is_the_listing_start_minus_the_overlap(tmp_path: Path) -> None:
    """The listing is unsorted: a task changed on a page already read, while a later page
    shows a newer change, must still be listed by the next sync."""
    org = AsanaOrg.empty()
    project = org.add_project("Store rollout")
    gids = [org.add_task(f"Step {n}", project=project) for n in range(150)]
    early, late = gids[0], gids[-1]  # first page, second page
    with AsanaSandbox(org) as sb:
        original = sb.server.after
        changed: list[bool] = []

        def change_while_listing(request: Request, response: Response) -> None:
            if original is not None:
                original(request, response)
            if not changed and request.path.endswith("/tasks") and not request.arg("offset"):
                changed.append(True)
                org.touch([early], sb.clock.now())
                org.touch([late], sb.clock.now() + timedelta(seconds=1))

        sb.server.after = change_while_listing
        raw = tmp_path / "watermark.duckdb"
        _sync(sb, raw, full=True)
        assert changed and "(rev" not in _payload(raw, early)["name"]
        sb.expire_sync_tokens()  # the events feed cannot rescue it
        sb.clock.advance(timedelta(hours=1))
        _sync(sb, raw)
        assert _payload(raw, early)["name"] == org.tasks[early].name


def test_a_department_rule_matches_an_asana_project_by_gid(tmp_path: Path) -> None:
    org, marketing, it, shared, only_it = _two_project_org()
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "departments.duckdb"
        source = _source(sb, projects=[marketing, it])
        _sync(sb, raw, full=True, projects=[marketing, it])
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_src (READ_ONLY)")
    normalise(con, source, "raw_src", datetime(2025, 6, 3))
    rules = [
        DepartmentRule(department="IT Operations", project=it),
        DepartmentRule(department="Marketing", project="marketing plan"),
    ]
    build_department_map(con, rules, [source])
    departments = dict(con.execute("SELECT item_id, department FROM department_map").fetchall())
    con.close()
    assert departments == {
        f"mkt-asana:{shared}": "Marketing",
        f"mkt-asana:{only_it}": "IT Operations",
    }


@pytest.mark.slow
def test_references_into_a_source_that_failed_its_first_sync_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Jira source that cannot be reached on its first sync: Asana tasks naming its issues
    are pending, not unmapped; once Jira syncs they resolve."""
    from pipelines.runner import run_sync

    org = AsanaOrg.empty()
    project = org.add_project("Field launch")
    waiting = org.add_task(
        "Brief field teams", project=project, custom_fields={JIRA_KEY_FIELD: "FLD-3"}
    )
    jira = JiraOrg.empty(now=datetime(2025, 6, 2, 9, 0))
    jira.add_project("FLD", "Field ops")
    for n in range(1, 4):
        jira.add_issue(f"FLD-{n}", f"Field task {n}", project="FLD")
    with AsanaSandbox(org) as asana_sb, JiraSandbox(jira) as jira_sb:
        asana_entry, asana_env = asana_sb.source_entry("mkt-asana", "T_ASANA")
        jira_entry, jira_env = jira_sb.source_entry("field-jira", "T_JIRA")
        for name, value in {**asana_env, **jira_env}.items():
            monkeypatch.setenv(name, value)
        unreachable = {**jira_entry, "url": "http://127.0.0.1:9", "max_retry_wait_seconds": 1}
        config_path = tmp_path / "handoff.yaml"

        def write(jira_source: dict[str, Any]) -> None:
            config = {
                "version": 1,
                "sync": {"retries": 0, "retry_delay_seconds": 0},
                "sources": [jira_source, asana_entry],
            }
            config_path.write_text(yaml.safe_dump(config, sort_keys=False))

        write(unreachable)
        first = run_sync(config_path, now=datetime(2025, 6, 2, 10, 0))
        db = load_config(config_path).database_path
        assert first.outcomes["field-jira"].status == "failed"
        assert first.outcomes["mkt-asana"].status == "success"
        edge = f"mkt-asana:{waiting}"
        assert _query(db, _UNMAPPED) == []
        assert _query(db, _EDGE, edge) == [("unresolved:FLD-3", False, "pending_source")]
        write(jira_entry)
        second = run_sync(config_path, now=datetime(2025, 6, 2, 11, 0))
        assert second.outcomes["field-jira"].status == "success"
        assert _query(db, _EDGE, edge) == [("field-jira:FLD-3", True, "resolved")]
        assert _query(db, _UNMAPPED) == []


_EDGE = "SELECT upstream_id, is_resolved, resolution FROM dependencies WHERE downstream_id = ?"
_UNMAPPED = "SELECT message FROM exceptions WHERE rule_id = 'unmapped_dependency'"


def _query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_every_request_of_a_sync_follows_asanas_document(tmp_path: Path) -> None:
    """Every request of a full and an incremental sync (after a working day of changes, with an
    expired sync token) validates against Asana's OpenAPI document, version 1.0 as published in
    github.com/Asana/openapi defs/asana_oas.yaml at fc9f8dcf (sandbox/asana/asana_oas.subset.json).
    """
    org = generate_org(400, 24)
    with AsanaSandbox(org) as sb:
        raw = tmp_path / "contract.duckdb"
        _sync(sb, raw, full=True)
        org.mutate_share(0.02, seed=3, now=sb.clock.now())
        sb.clock.advance(timedelta(hours=25))
        _sync(sb, raw)
        checked = sb.contract.requests_checked()
        assert len(checked) == sb.server.total_requests
        assert [c for c in checked if not c.ok] == []
