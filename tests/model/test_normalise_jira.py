"""Jira normalisation on a small hand-built story: directions, milestones, history, tombstones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.jira import JiraConnector
from handoff.config import JiraSource
from model.landing import land, read_cursor
from model.normalise.jira import normalise
from sandbox.jira import JiraOrg, JiraSandbox

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
STAGING = Path(__file__).resolve().parents[2] / "model" / "staging.sql"


def story() -> JiraOrg:
    """A store opening: POS terminals block the opening; the launch waits on an Asana task."""
    org = JiraOrg.empty(NOW)
    org.add_project(
        "OPS", "Store Ops", components=["Stores"], versions=[("Spring", date(2025, 7, 1), False)]
    )
    org.add_user("u-ana", "Ana Lima", email="ana@example.com")
    org.add_user("u-bo", "Bo Chen")  # e-mail hidden by privacy settings
    start = NOW - timedelta(days=20)
    org.add_issue("OPS-1", "Store opening Lisbon", "In Progress", issuetype="Epic", created=start)
    org.add_issue(
        "OPS-2",
        "Order POS terminals",
        "To Do",
        assignee="u-bo",
        parent="OPS-1",
        created=start,
        due=date(2025, 6, 20),
        labels=["store-opening"],
        components=["Stores"],
        fix_versions=["Spring"],
        custom={"customfield_10010": "IT"},
    )
    org.add_issue(
        "OPS-3",
        "Open the store",
        "To Do",
        assignee="u-ana",
        parent="OPS-1",
        created=start,
        description="Waiting on OPS-2 and the launch campaign.",
    )
    org.add_issue("OPS-4", "Staff rota", "To Do", created=start)
    org.add_issue("OPS-5", "Old duplicate", "To Do", created=start)
    org.add_link("Blocks", "OPS-2", "OPS-3")  # OPS-2 blocks OPS-3
    org.add_link("Dependency", "OPS-4", "OPS-3")  # OPS-4 depends on OPS-3
    org.add_link("Relates", "OPS-4", "OPS-5")
    org.add_remote_link(
        "OPS-3", "https://app.asana.com/0/11/22", relationship="is blocked by", application="Asana"
    )
    org.add_remote_link(
        "OPS-3",
        "https://docs.google.com/spreadsheets/d/x/edit#gid=0&range=A7",
        relationship="blocks",
    )
    org.add_remote_link("OPS-4", "https://wiki.example.com/rota", relationship="mentioned in")
    org.add_status_change("OPS-1", "To Do", "In Progress", at=start + timedelta(days=2))
    org.add_status_change("OPS-2", "To Do", "In Progress", at=start + timedelta(days=3))
    org.add_status_change("OPS-2", "In Progress", "Blocked", at=start + timedelta(days=5))
    org.add_status_change("OPS-2", "Blocked", "Done", at=start + timedelta(days=9))
    return org


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    org = story()
    raw = tmp_path_factory.mktemp("jira") / "raw.duckdb"
    with JiraSandbox(org) as sandbox:
        entry, env = sandbox.source_entry("it-jira", "T")
        source = JiraSource.model_validate({**entry, "token": env["T"], "milestones": "both"})
        for step in range(2):
            connector = JiraConnector(source)
            batches = connector.fetch(read_cursor(raw), full=step == 0)
            land(raw, batches, full=step == 0, stats=connector.stats)
            org.delete(["OPS-5"])
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_jira (READ_ONLY)")
    normalise(con, source, "raw_jira", NOW.replace(tzinfo=None))
    con.execute("DETACH raw_jira")
    con.execute("SET VARIABLE site = ?", [source.url])
    return con


def rows(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return con.execute(sql, list(params)).fetchall()


def test_items_carry_status_owner_dates_and_urls(model: duckdb.DuckDBPyConnection) -> None:
    (pos,) = rows(
        model,
        "SELECT status, status_category, owner_email, owner_name, owner_account, due_date, "
        "url, labels, components, department, project, parent_key, milestone_key, "
        "status_changed_at, completed_at FROM stg_items WHERE item_id = 'it-jira:OPS-2'",
    )
    site = model.execute("SELECT getvariable('site')").fetchone()[0]  # type: ignore[index]
    done_at = (NOW - timedelta(days=11)).replace(tzinfo=None)
    assert pos == (
        "Done",
        "done",
        None,
        "Bo Chen",
        "u-bo",
        date(2025, 6, 20),
        f"{site}/browse/OPS-2",
        ["store-opening"],
        ["Stores"],
        "IT",
        "OPS",
        "it-jira:OPS-1",
        "it-jira:version/10001",
        done_at,
        done_at,
    )
    (epic,) = rows(
        model, "SELECT is_milestone, status_category FROM stg_items WHERE item_id = 'it-jira:OPS-1'"
    )
    assert epic == (True, "in_progress")
    (version,) = rows(
        model,
        "SELECT title, is_milestone, due_date, status_category "
        "FROM stg_items WHERE source_key LIKE 'version/%'",
    )
    assert version == ("Spring", True, date(2025, 7, 1), "todo")


def test_deleted_issue_is_a_tombstone(model: duckdb.DuckDBPyConnection) -> None:
    assert rows(model, "SELECT is_deleted FROM stg_items WHERE source_key = 'OPS-5'") == [(True,)]
    assert rows(model, "SELECT count(*) FROM stg_references WHERE ref = 'it-jira:OPS-5'") == [(0,)]


def test_links_point_the_right_way_from_both_ends(model: duckdb.DuckDBPyConnection) -> None:
    links = rows(
        model,
        "SELECT item_id, ref, direction, kind, link_type FROM stg_references "
        "WHERE origin = 'jira_link' ORDER BY ALL",
    )
    assert links == [
        ("it-jira:OPS-2", "it-jira:OPS-3", "downstream", "blocks", "Blocks"),
        ("it-jira:OPS-3", "it-jira:OPS-2", "upstream", "blocks", "Blocks"),
        ("it-jira:OPS-3", "it-jira:OPS-4", "downstream", "depends_on", "Dependency"),
        ("it-jira:OPS-4", "it-jira:OPS-3", "upstream", "depends_on", "Dependency"),
    ]


def test_remote_links_and_text_are_kept_for_resolution(model: duckdb.DuckDBPyConnection) -> None:
    remote = rows(
        model,
        "SELECT item_id, ref, ref_kind, direction, kind FROM stg_references "
        "WHERE origin = 'jira_remote_link' ORDER BY ref",
    )
    assert remote == [
        ("it-jira:OPS-3", "https://app.asana.com/0/11/22", "url", "upstream", "blocks"),
        (
            "it-jira:OPS-3",
            "https://docs.google.com/spreadsheets/d/x/edit#gid=0&range=A7",
            "url",
            "downstream",
            "blocks",
        ),
        ("it-jira:OPS-4", "https://wiki.example.com/rota", "url", "upstream", "relates"),
    ]
    text = rows(
        model,
        "SELECT item_id, ref, direction, kind FROM stg_references WHERE ref_kind = 'text'",
    )
    assert text == [
        (
            "it-jira:OPS-3",
            "Open the store Waiting on OPS-2 and the launch campaign.",
            "upstream",
            "depends_on",
        ),
    ]


def test_status_history_with_categories(model: duckdb.DuckDBPyConnection) -> None:
    history = rows(
        model,
        "SELECT from_status, to_status, from_category, to_category, source "
        "FROM stg_status_changes WHERE item_id = 'it-jira:OPS-2' ORDER BY changed_at",
    )
    assert history == [
        ("To Do", "In Progress", "todo", "in_progress", "jira_changelog"),
        ("In Progress", "Blocked", "in_progress", "in_progress", "jira_changelog"),
        ("Blocked", "Done", "in_progress", "done", "jira_changelog"),
    ]
