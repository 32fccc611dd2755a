"""The cross-tool dependency graph of a small organisation spanning Jira, Asana and a sheet.

Staging rows are written the way the normalisers write them; the model steps that follow
(departments, people, work items, references, stewards, contracts, KPI tensions) run as in the
build. Every cross-tool reference form occurs once and must resolve to exactly the expected edge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from handoff.config import HandoffConfig
from model import config_tables
from model.build import STAGING_SQL, _fill_work_items
from model.departments import build_department_map
from model.people import assign_stewards, build_people
from model.references import resolve_references
from model.schema import create_schema

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
IT_SITE = "https://it.atlassian.net"
SEC_SITE = "https://sec.example.com"
SHEET = "file:///plans/finance.csv"

CONFIG: dict[str, Any] = {
    "departments": [
        {"name": "IT Operations", "kpis": [{"name": "uptime"}]},
        {"name": "Security", "kpis": [{"name": "incidents"}]},
        {"name": "Marketing", "kpis": [{"name": "reach"}]},
        {"name": "Finance", "kpis": [{"name": "cost"}]},
        {"name": "Store Operations"},
    ],
    "department_rules": [
        {"source": "it-jira", "component": "Payments", "department": "Finance"},
        {"source": "it-jira", "label": "security", "department": "Security"},
        {"source": "it-jira", "label": "payments-team", "department": "Marketing"},  # never first
        {"project": "Spring launch", "department": "Marketing"},
        {"custom_field": "department", "value": "store ops", "department": "Store Operations"},
    ],
    "contracts": [
        {
            "id": "it-launch",
            "provider": "IT Operations",
            "consumer": "Marketing",
            "notice_days": 10,
            "filters": {"labels": ["launch"]},
        },
        {"id": "mkt-fin", "provider": "Marketing", "consumer": "Finance"},
        # a catch-all contract: the labelled one above is more specific and wins
        {"id": "any-it-mkt", "provider": "IT Operations", "consumer": "Marketing"},
        {
            "id": "fin-bugs",
            "provider": "Finance",
            "consumer": "Security",
            "filters": {"item_types": ["Bug"], "projects": ["OPS"]},
        },
    ],
    "kpi_tensions": [{"between": ["Marketing.reach", "Finance.cost"], "note": "spend"}],
    "people": [
        {"email": "ann@acme.example", "names": ["Ann Lee"], "account_ids": ["acc-ann"]},
    ],
    "milestone_stewards": {"mkt-asana:1203": "Carol+plans@Acme.example"},
    "sources": [
        {
            "name": "it-jira",
            "kind": "jira",
            "url": IT_SITE,
            "token": "t",
            "department": "IT Operations",
        },
        {
            "name": "sec-jira",
            "kind": "jira",
            "url": SEC_SITE,
            "token": "t",
            "department": "Security",
        },
        {"name": "mkt-asana", "kind": "asana", "token": "t", "department": "Marketing"},
        {"name": "fin-sheet", "kind": "csv", "path": "/plans/finance.csv", "department": "Finance"},
    ],
}


def jira(source: str, key: str, **fields: Any) -> dict[str, Any]:
    site = IT_SITE if source == "it-jira" else SEC_SITE
    return {
        "item_id": f"{source}:{key}",
        "source": source,
        "tool": "jira",
        "source_key": key,
        "url": f"{site}/browse/{key}",
        "project": key.split("-")[0],
        "item_type": "Task",
        "status": "To Do",
        "status_category": "todo",
        **fields,
    }


def asana(gid: str, **fields: Any) -> dict[str, Any]:
    return {
        "item_id": f"mkt-asana:{gid}",
        "source": "mkt-asana",
        "tool": "asana",
        "source_key": gid,
        "url": f"https://app.asana.com/0/555/{gid}",
        "project": "Spring launch",
        "status": "Doing",
        "status_category": "in_progress",
        "department": "Marketing",
        **fields,
    }


def row(key: str, number: int, **fields: Any) -> dict[str, Any]:
    return {
        "item_id": f"fin-sheet:{key}",
        "source": "fin-sheet",
        "tool": "csv",
        "source_key": key,
        "url": f"{SHEET}#Plan!A{number}",
        "project": "Plan",
        "status": "Planned",
        "status_category": "todo",
        **fields,
    }


ITEMS = [
    jira(
        "it-jira",
        "OPS-7",
        item_type="Epic",
        is_milestone=True,
        owner_name="Bob Stone",
        owner_email="Bob@Acme.example",
    ),
    jira(
        "it-jira",
        "OPS-42",
        labels=["launch"],
        parent_key="it-jira:OPS-7",
        owner_account="acc-ann",
        owner_name="Ann L.",
    ),
    jira("it-jira", "OPS-43", components=["Payments"], parent_key="it-jira:OPS-42"),
    jira("it-jira", "OPS-44", is_deleted=True),
    jira(
        "it-jira",
        "OPS-45",
        labels=["security", "payments-team"],
        item_type="Bug",
        components=["Payments"],
    ),
    jira("sec-jira", "OPS-42", project="OPS"),
    jira("sec-jira", "SEC-5"),
    asana("1201", owner_email="Ann+asana@ACME.example", parent_key="mkt-asana:1203"),
    asana("1202", custom=json.dumps({"jira_key": "OPS-43"})),
    asana("1203", is_milestone=True, item_type="milestone"),
    asana(
        "1204",
        parent_key="mkt-asana:1201",
        project="Store rollout",
        custom=json.dumps({"department": "Store Ops"}),
        department="Store Ops",
    ),
    row("FIN-1", 2, owner_name="Ann  Lee", due_date=date(2025, 6, 30)),
    row("FIN-2", 3),
    row("3", 4, department="Store Ops"),
    row("FIN-M", 5, is_milestone=True, owner_name="Dee"),
    row("FIN-4", 6, parent_key="fin-sheet:FIN-M"),
]

# (referrer, ref, ref_kind, direction, kind, origin, link_type), as the normalisers write them
REFERENCES = [
    # Jira issue link, seen from both ends
    ("it-jira:OPS-43", "it-jira:OPS-42", "item_id", "upstream", "blocks", "jira_link", "Blocks"),
    ("it-jira:OPS-42", "it-jira:OPS-43", "item_id", "downstream", "blocks", "jira_link", "Blocks"),
    # Jira link to an issue of a project nobody syncs
    ("it-jira:OPS-43", "it-jira:HR-1", "item_id", "upstream", "depends_on", "jira_link", "Depends"),
    # Jira remote link to an Asana task (old URL form), "blocks": the task waits
    (
        "it-jira:OPS-42",
        "https://app.asana.com/0/555/1201",
        "url",
        "downstream",
        "blocks",
        "jira_remote_link",
        "blocks",
    ),
    # ... a remote link to a wiki page is no dependency
    (
        "it-jira:OPS-42",
        "https://wiki.acme.example/launch",
        "url",
        "upstream",
        "relates",
        "jira_remote_link",
        "mentioned in",
    ),
    # Jira text: its own key, a standard's name, a key of a synced project that does not exist
    (
        "it-jira:OPS-43",
        "OPS-43 complies with ISO-9001 and COVID-19 rules; see OPS-999",
        "text",
        "upstream",
        "depends_on",
        "text_reference",
        None,
    ),
    # the same task says it in its notes: merged with the remote link
    (
        "mkt-asana:1201",
        "Blocked by OPS-42 (payments).",
        "text",
        "upstream",
        "depends_on",
        "text_reference",
        "notes",
    ),
    # Asana dependency inside the source, and one on a task outside the synced projects
    (
        "mkt-asana:1203",
        "mkt-asana:1201",
        "item_id",
        "upstream",
        "blocks",
        "asana_dependency",
        "dependency",
    ),
    ("mkt-asana:1203", "9999", "asana_gid", "upstream", "blocks", "asana_dependency", "dependency"),
    # Asana "Jira key" custom field
    ("mkt-asana:1202", "OPS-43", "text", "upstream", "depends_on", "custom_field", "Jira key"),
    # Asana notes: a sheet row id, downstream
    (
        "mkt-asana:1202",
        "Prerequisite for FIN-2. Thanks!",
        "text",
        "upstream",
        "depends_on",
        "text_reference",
        "notes",
    ),
    # sheet depends-on cells: Asana URL (new form with project), row ids, Jira URL, new task form
    (
        "fin-sheet:FIN-1",
        "https://app.asana.com/1/77/project/555/task/1202",
        "text",
        "upstream",
        "depends_on",
        "sheet_column",
        None,
    ),
    ("fin-sheet:FIN-2", "FIN-1", "text", "upstream", "depends_on", "sheet_column", None),
    (
        "fin-sheet:FIN-2",
        "https://it.atlassian.net/browse/OPS-42",
        "text",
        "upstream",
        "depends_on",
        "sheet_column",
        None,
    ),
    (
        "fin-sheet:3",
        "FIN-2, 99; https://app.asana.com/1/77/task/1204",
        "text",
        "upstream",
        "depends_on",
        "sheet_column",
        None,
    ),
    # two Jira sites with an OPS-42: same source first, then the URL's host
    (
        "sec-jira:SEC-5",
        "Depends on OPS-42 before the audit",
        "text",
        "upstream",
        "depends_on",
        "text_reference",
        None,
    ),
    (
        "sec-jira:SEC-5",
        "https://it.atlassian.net/browse/OPS-42?focusedCommentId=1",
        "url",
        "upstream",
        "blocks",
        "jira_remote_link",
        "is blocked by",
    ),
    # a text mention of a deleted issue, and of a Bug that Security waits on
    (
        "sec-jira:SEC-5",
        "needs it-jira OPS-45 and OPS-44",
        "text",
        "upstream",
        "depends_on",
        "text_reference",
        None,
    ),
]

# (upstream, downstream, kind, origins, is_resolved)
EXPECTED_EDGES = {
    ("it-jira:OPS-42", "it-jira:OPS-43", "blocks", ("jira_link",), True),
    ("unresolved:HR-1", "it-jira:OPS-43", "depends_on", ("jira_link",), False),
    ("unresolved:OPS-999", "it-jira:OPS-43", "depends_on", ("text_reference",), False),
    (
        "it-jira:OPS-42",
        "mkt-asana:1201",
        "blocks",
        ("jira_remote_link", "text_reference"),
        True,
    ),
    ("mkt-asana:1201", "mkt-asana:1203", "blocks", ("asana_dependency",), True),
    ("unresolved:9999", "mkt-asana:1203", "blocks", ("asana_dependency",), False),
    ("it-jira:OPS-43", "mkt-asana:1202", "depends_on", ("custom_field",), True),
    ("mkt-asana:1202", "fin-sheet:FIN-2", "depends_on", ("text_reference",), True),
    ("mkt-asana:1202", "fin-sheet:FIN-1", "depends_on", ("sheet_column",), True),
    ("fin-sheet:FIN-1", "fin-sheet:FIN-2", "depends_on", ("sheet_column",), True),
    ("it-jira:OPS-42", "fin-sheet:FIN-2", "depends_on", ("sheet_column",), True),
    ("fin-sheet:FIN-2", "fin-sheet:3", "depends_on", ("sheet_column",), True),
    ("unresolved:99", "fin-sheet:3", "depends_on", ("sheet_column",), False),
    ("mkt-asana:1204", "fin-sheet:3", "depends_on", ("sheet_column",), True),
    ("sec-jira:OPS-42", "sec-jira:SEC-5", "depends_on", ("text_reference",), True),
    ("it-jira:OPS-42", "sec-jira:SEC-5", "blocks", ("jira_remote_link",), True),
    ("it-jira:OPS-45", "sec-jira:SEC-5", "depends_on", ("text_reference",), True),
}


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        cols = ", ".join(r)
        marks = ", ".join("?" for _ in r)
        con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(r.values()))


def build_graph(
    con: duckdb.DuckDBPyConnection,
    config: HandoffConfig,
    items: list[dict[str, Any]],
    references: list[tuple[Any, ...]],
) -> None:
    """The build's steps after normalisation, on staging rows written by hand."""
    create_schema(con)
    con.execute(STAGING_SQL)
    insert(con, "stg_items", [{"synced_at": NOW.replace(tzinfo=None), **i} for i in items])
    con.executemany("INSERT INTO stg_references VALUES (?, ?, ?, ?, ?, ?, ?)", references)
    build_department_map(con, config.department_rules, list(config.sources))
    build_people(con, config.people)
    _fill_work_items(con, NOW.replace(tzinfo=None))
    assign_stewards(con, config.milestone_stewards)
    resolve_references(con)
    config_tables.fill(con, config)
    config_tables.mark_contracts_and_tensions(con)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path: Path = tmp_path_factory.mktemp("graph") / "model.duckdb"
    con = duckdb.connect(str(path))
    build_graph(con, HandoffConfig.model_validate(CONFIG), ITEMS, REFERENCES)
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def test_every_reference_form_resolves_to_exactly_the_expected_edges(
    graph: duckdb.DuckDBPyConnection,
) -> None:
    edges = {
        (u, d, k, tuple(o), r)
        for u, d, k, o, r in rows(
            graph,
            "SELECT upstream_id, downstream_id, kind, origins, is_resolved FROM dependencies",
        )
    }
    assert edges - EXPECTED_EDGES == set(), "unexpected edges"
    assert EXPECTED_EDGES - edges == set(), "missing edges"


def test_unresolved_references_are_kept_with_the_reference_as_written(
    graph: duckdb.DuckDBPyConnection,
) -> None:
    unresolved = rows(
        graph,
        "SELECT upstream_id, reference, is_cross_tool, is_cross_department FROM dependencies "
        "WHERE NOT is_resolved ORDER BY 1",
    )
    assert unresolved == [
        ("unresolved:99", "99", False, False),
        ("unresolved:9999", "9999", False, False),
        ("unresolved:HR-1", "HR-1", False, False),
        ("unresolved:OPS-999", "OPS-999", False, False),
    ]
    # standard names are no references; a deleted issue is no dependency any more
    gone = "SELECT count(*) FROM dependencies WHERE upstream_id SIMILAR TO '.*(ISO|COVID|OPS-44).*'"
    assert rows(graph, gone) == [(0,)]


def test_items_are_numbered_and_edges_carry_the_numbers_of_their_ends(
    graph: duckdb.DuckDBPyConnection,
) -> None:
    """Rules join dependencies with items on these numbers: a wrong one is a wrong finding."""
    numbers = rows(graph, "SELECT item_id, item_no FROM work_items ORDER BY item_id")
    assert [n for _, n in numbers] == list(range(1, len(numbers) + 1))
    by_id = dict(numbers)
    edges = rows(
        graph, "SELECT upstream_id, downstream_id, upstream_no, downstream_no FROM dependencies"
    )
    assert len(edges) == len(EXPECTED_EDGES)
    for up, down, up_no, down_no in edges:
        assert (up_no, down_no) == (by_id.get(up), by_id[down]), (up, down)
    assert {u for u, _, n, _ in edges if n is None} == {
        "unresolved:99",
        "unresolved:9999",
        "unresolved:HR-1",
        "unresolved:OPS-999",
    }


def test_an_edge_declared_several_ways_is_one_row_keeping_all_origins(
    graph: duckdb.DuckDBPyConnection,
) -> None:
    merged = rows(
        graph,
        "SELECT kind, origin, origins, link_types FROM dependencies "
        "WHERE upstream_id = 'it-jira:OPS-42' AND downstream_id = 'mkt-asana:1201'",
    )
    assert merged == [
        ("blocks", "jira_remote_link", ["jira_remote_link", "text_reference"], ["blocks", "notes"])
    ]
    # the link seen from both issues is one edge too
    assert rows(
        graph,
        "SELECT count(*) FROM dependencies "
        "WHERE 'it-jira:OPS-43' IN (upstream_id, downstream_id) AND origin = 'jira_link' "
        "AND is_resolved",
    ) == [(1,)]


def test_two_jira_sites_with_the_same_key(graph: duckdb.DuckDBPyConnection) -> None:
    upstream = {
        (u, tuple(o))
        for u, o in rows(
            graph,
            "SELECT upstream_id, origins FROM dependencies WHERE downstream_id = 'sec-jira:SEC-5'",
        )
    }
    # the bare key names the issue of the referring site; the URL names the other site
    assert ("sec-jira:OPS-42", ("text_reference",)) in upstream
    assert ("it-jira:OPS-42", ("jira_remote_link",)) in upstream
    # and a sheet linking to the IT site's browse URL gets the IT issue, not Security's
    assert rows(
        graph,
        "SELECT upstream_id FROM dependencies WHERE downstream_id = 'fin-sheet:FIN-2' "
        "AND upstream_id LIKE '%OPS-42'",
    ) == [("it-jira:OPS-42",)]


def test_cross_tool_and_cross_department_flags(graph: duckdb.DuckDBPyConnection) -> None:
    flags = {
        (u, d): (t, x)
        for u, d, t, x in rows(
            graph,
            "SELECT upstream_id, downstream_id, is_cross_tool, is_cross_department "
            "FROM dependencies WHERE is_resolved",
        )
    }
    assert flags[("it-jira:OPS-42", "it-jira:OPS-43")] == (False, True)  # IT -> Finance
    assert flags[("it-jira:OPS-42", "mkt-asana:1201")] == (True, True)
    assert flags[("mkt-asana:1201", "mkt-asana:1203")] == (False, False)
    assert flags[("fin-sheet:FIN-1", "fin-sheet:FIN-2")] == (False, False)
    assert flags[("fin-sheet:FIN-2", "fin-sheet:3")] == (False, True)  # Finance -> Store Ops
    assert flags[("mkt-asana:1204", "fin-sheet:3")] == (True, False)  # both Store Operations


def test_departments_follow_the_ordered_rules(graph: duckdb.DuckDBPyConnection) -> None:
    departments = dict(rows(graph, "SELECT item_id, department FROM work_items"))
    assert departments["it-jira:OPS-42"] == "IT Operations"  # source default
    assert departments["it-jira:OPS-43"] == "Finance"  # component rule
    assert departments["it-jira:OPS-45"] == "Finance"  # component rule comes before the labels
    assert departments["sec-jira:SEC-5"] == "Security"
    assert departments["mkt-asana:1201"] == "Marketing"  # Asana project rule
    assert departments["mkt-asana:1204"] == "Store Operations"  # Asana custom field, renamed
    assert departments["fin-sheet:3"] == "Store Operations"  # sheet column, renamed
    assert departments["fin-sheet:FIN-1"] == "Finance"


def test_milestones_stewards_and_roll_up(graph: duckdb.DuckDBPyConnection) -> None:
    items = {
        i: (m, s, ms)
        for i, m, s, ms in rows(
            graph, "SELECT item_id, is_milestone, steward_id, milestone_id FROM work_items"
        )
    }
    assert items["it-jira:OPS-7"][:2] == (True, "bob@acme.example")  # steward = owner
    assert items["mkt-asana:1203"][:2] == (True, "carol@acme.example")  # named in the config
    assert items["fin-sheet:FIN-M"][:2] == (True, "name:dee")
    assert items["it-jira:OPS-42"][1] is None  # not a milestone: no steward
    assert items["it-jira:OPS-42"][2] == "it-jira:OPS-7"
    assert items["it-jira:OPS-43"][2] == "it-jira:OPS-7"  # through its parent
    assert items["mkt-asana:1204"][2] == "mkt-asana:1203"  # subtask -> task -> milestone
    assert items["fin-sheet:FIN-4"][2] == "fin-sheet:FIN-M"
    assert items["fin-sheet:FIN-1"][2] is None
    assert rows(graph, "SELECT email FROM people WHERE person_id = 'carol@acme.example'") == [
        ("carol@acme.example",)
    ]


def test_contracts_cover_matching_handoffs_only(graph: duckdb.DuckDBPyConnection) -> None:
    contracts = dict(
        ((u, d), c)
        for u, d, c in rows(
            graph,
            "SELECT upstream_id, downstream_id, contract_id FROM dependencies "
            "WHERE is_cross_department",
        )
    )
    assert contracts[("it-jira:OPS-42", "mkt-asana:1201")] == "it-launch"  # the specific one
    assert contracts[("it-jira:OPS-43", "mkt-asana:1202")] is None  # Finance -> Marketing
    assert contracts[("mkt-asana:1202", "fin-sheet:FIN-1")] == "mkt-fin"
    assert contracts[("mkt-asana:1202", "fin-sheet:FIN-2")] == "mkt-fin"
    assert contracts[("it-jira:OPS-45", "sec-jira:SEC-5")] == "fin-bugs"  # a Bug in OPS
    assert contracts[("it-jira:OPS-42", "it-jira:OPS-43")] is None  # no IT -> Finance contract
    assert rows(
        graph,
        "SELECT count(*) FROM dependencies WHERE NOT is_cross_department "
        "AND contract_id IS NOT NULL",
    ) == [(0,)]


def test_kpi_tensions_are_marked_in_both_directions(graph: duckdb.DuckDBPyConnection) -> None:
    tensions = dict(
        ((u, d), t)
        for u, d, t in rows(
            graph, "SELECT upstream_id, downstream_id, kpi_tension FROM dependencies"
        )
    )
    expected = "Marketing.reach vs Finance.cost: spend"
    assert tensions[("mkt-asana:1202", "fin-sheet:FIN-1")] == expected
    assert tensions[("it-jira:OPS-43", "mkt-asana:1202")] == expected  # Finance -> Marketing
    assert tensions[("it-jira:OPS-42", "mkt-asana:1201")] is None
    assert tensions[("fin-sheet:FIN-1", "fin-sheet:FIN-2")] is None


def test_handoffs_view_shows_both_sides(graph: duckdb.DuckDBPyConnection) -> None:
    view = rows(
        graph,
        "SELECT upstream_department, downstream_department, upstream_owner_id, "
        "downstream_owner_id, upstream_status, downstream_status, downstream_due_date, "
        "contract_id, kpi_tension FROM handoffs "
        "WHERE upstream_id = 'mkt-asana:1202' AND downstream_id = 'fin-sheet:FIN-1'",
    )
    assert view == [
        (
            "Marketing",
            "Finance",
            None,
            "ann@acme.example",
            "Doing",
            "Planned",
            date(2025, 6, 30),
            "mkt-fin",
            "Marketing.reach vs Finance.cost: spend",
        )
    ]
    assert rows(graph, "SELECT count(*) FROM handoffs") == rows(
        graph, "SELECT count(*) FROM dependencies WHERE is_cross_department"
    )
    # A handoff's upstream is always a synced item, so the view carries no is_resolved column
    # (it would be true on every row).
    assert rows(
        graph,
        "SELECT count(*) FROM handoffs h JOIN dependencies d USING (upstream_id, downstream_id) "
        "WHERE NOT d.is_resolved",
    ) == [(0,)]
    columns = [c for (c,) in rows(graph, "SELECT column_name FROM (DESCRIBE handoffs)")]
    assert "is_resolved" not in columns
