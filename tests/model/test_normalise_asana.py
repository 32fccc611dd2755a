"""Asana normalisation of a small hand-built story: status, fields, references, history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from connectors.asana import AsanaConnector
from handoff.config import AsanaSource
from model.landing import land
from model.normalise.asana import normalise
from sandbox.asana import AsanaOrg, AsanaSandbox

STAGING = Path(__file__).resolve().parents[2] / "model" / "staging.sql"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def _story_org() -> tuple[AsanaOrg, dict[str, str]]:
    org = AsanaOrg.empty(NOW)
    ana = org.add_user("Ana Lopez", "ana@acme.example")
    launch = org.add_project("Spring launch", ["Backlog", "Doing", "Waiting on IT", "Done"])
    other = org.add_project("Store rollout")
    pos = org.add_task(
        "POS update live",
        project=launch,
        section="Waiting on IT",
        assignee=ana,
        due_on=date(2025, 6, 20),
        notes="blocked by OPS-42",
        custom_fields={"Jira key": "OPS-42", "Department": "Marketing"},
    )
    day = org.add_task("Launch day", project=launch, section="Backlog", milestone=True)
    shelf = org.add_task(
        "Shelf labels", project=other, completed=True, custom_fields={"Department": "Store Ops"}
    )
    banner = org.add_task("Print banners", parent=pos)
    org.add_dependency(day, pos)
    org.add_dependency(pos, shelf)
    t0 = NOW - timedelta(days=5)
    org.add_story(
        pos,
        "section_changed",
        at=t0,
        old_section=org.section_named(launch, "Backlog"),
        new_section=org.section_named(launch, "Doing"),
    )
    org.add_story(
        pos,
        "section_changed",
        at=t0 + timedelta(days=1),
        old_section=org.section_named(launch, "Doing"),
        new_section=org.section_named(launch, "Waiting on IT"),
    )
    org.add_story(shelf, "marked_complete", at=t0 + timedelta(days=2))
    org.tasks[shelf].completed_at = t0 + timedelta(days=2)
    return org, {"pos": pos, "day": day, "shelf": shelf, "banner": banner, "launch": launch}


def test_story_org_normalises_as_a_reader_expects(tmp_path: Path) -> None:
    org, g = _story_org()
    with AsanaSandbox(org) as sb:
        source = AsanaSource(
            name="mkt-asana",
            kind="asana",
            url=sb.url,
            token=sb.token,
            section_status={"Waiting on IT": "in_progress"},
            department="Marketing",
        )
        raw = tmp_path / "mkt-asana.duckdb"
        connector = AsanaConnector(source)
        land(raw, connector.fetch(None), full=True, stats=connector.stats)
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_mkt (READ_ONLY)")
    normalise(con, source, "raw_mkt", datetime(2025, 6, 3))

    def item(key: str) -> dict[str, object]:
        cur = con.execute("SELECT * FROM stg_items WHERE item_id = ?", [f"mkt-asana:{g[key]}"])
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone() or (), strict=True))

    pos, day, shelf, banner = item("pos"), item("day"), item("shelf"), item("banner")
    assert (pos["status"], pos["status_category"]) == ("Waiting on IT", "in_progress")
    assert pos["department"] == "Marketing" and pos["owner_email"] == "ana@acme.example"
    assert pos["due_date"] == date(2025, 6, 20) and pos["project"] == "Spring launch"
    assert pos["status_changed_at"] == datetime(2025, 5, 29, 9, 0)
    assert day["is_milestone"] and day["item_type"] == "milestone"
    assert (day["status"], day["status_category"]) == ("Backlog", "todo")
    assert (shelf["status"], shelf["status_category"]) == ("Completed", "done")
    assert shelf["department"] == "Store Ops"
    assert banner["parent_key"] == f"mkt-asana:{g['pos']}" and banner["item_type"] == "subtask"
    assert banner["department"] == "Marketing"  # inherited from its parent

    refs = set(
        con.execute(
            "SELECT item_id, ref, ref_kind, direction, kind, origin FROM stg_references"
        ).fetchall()
    )
    p, d, s = (f"mkt-asana:{g[k]}" for k in ("pos", "day", "shelf"))
    assert (d, p, "item_id", "upstream", "blocks", "asana_dependency") in refs
    assert (p, s, "item_id", "upstream", "blocks", "asana_dependency") in refs
    assert (p, "OPS-42", "text", "upstream", "depends_on", "custom_field") in refs
    assert (p, "blocked by OPS-42", "text", "upstream", "depends_on", "text_reference") in refs
    assert not any(r[3] == "downstream" for r in refs)  # both ends in this source: stated once

    changes = con.execute(
        "SELECT item_id, from_status, to_status, from_category, to_category, source "
        "FROM stg_status_changes ORDER BY changed_at"
    ).fetchall()
    assert changes == [
        (p, "Backlog", "Doing", "todo", "in_progress", "asana_story"),
        (p, "Doing", "Waiting on IT", "in_progress", "in_progress", "asana_story"),
        (s, "To do", "Completed", "todo", "done", "asana_story"),
    ]
