"""Forecasts along the dependency chain: to the day on a cross-tool chain, and never earlier than
the item's own due date or anything upstream, whatever the graph (cycles included)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.forecast import build_forecasts
from model.schema import SCHEMA_SQL

NOW = datetime(2025, 3, 3, 9, 0)
TODAY = NOW.date()


def _model() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(SCHEMA_SQL)
    return con


def _item(con, item_id, *, due=None, start=None, changed=NOW, category="todo", milestone=False):
    con.execute(
        """INSERT INTO work_items (item_id, source, tool, source_key, is_milestone, status_category,
               due_date, start_date, status_changed_at, is_deleted, synced_at)
           VALUES (?, ?, 'csv', ?, ?, ?, ?, ?, ?, false, ?)""",
        [item_id, item_id.split(":")[0], item_id, milestone, category, due, start, changed, NOW],
    )


def _edge(con, upstream, downstream, kind="blocks"):
    con.execute(
        """INSERT INTO dependencies (upstream_id, downstream_id, kind, origin, origins,
               is_cross_tool, is_cross_department, is_resolved)
           VALUES (?, ?, ?, 'jira_link', ['jira_link'], true, false, true)""",
        [upstream, downstream, kind],
    )


def test_cross_tool_chain_is_forecast_to_the_day() -> None:
    con = _model()
    _item(
        con,
        "it-jira:OPS-1",
        due=date(2025, 3, 5),
        changed=datetime(2025, 1, 10),
        category="in_progress",
    )
    _item(con, "mkt-asana:1201", due=date(2025, 3, 10), start=date(2025, 3, 7))
    _item(con, "ops-sheet:R7", due=date(2025, 3, 12))
    _item(con, "it-jira:REL-9", due=date(2025, 3, 14), start=date(2025, 3, 12), milestone=True)
    _edge(con, "it-jira:OPS-1", "mkt-asana:1201")
    _edge(con, "mkt-asana:1201", "ops-sheet:R7")
    _edge(con, "ops-sheet:R7", "it-jira:REL-9")
    build_forecasts(con, NOW, cycle_days=10)
    rows = dict(
        (r[0], r[1:])
        for r in con.execute(
            "SELECT item_id, forecast_finish, slip_days, critical_upstream_id, chain FROM forecasts"
        ).fetchall()
    )
    # stalled since January: restarts today and takes the typical cycle -> 13 March
    assert rows["it-jira:OPS-1"] == (date(2025, 3, 13), 8, None, ["it-jira:OPS-1"])
    assert rows["mkt-asana:1201"][:2] == (date(2025, 3, 16), 6)  # + its 3 planned days
    assert rows["ops-sheet:R7"][:2] == (date(2025, 3, 16), 4)
    assert rows["it-jira:REL-9"] == (
        date(2025, 3, 18),
        4,
        "ops-sheet:R7",
        ["it-jira:OPS-1", "mkt-asana:1201", "ops-sheet:R7", "it-jira:REL-9"],
    )


def test_items_without_dates_and_done_work() -> None:
    con = _model()
    _item(con, "a:undated")
    _item(con, "a:done", due=date(2025, 4, 1), category="done")
    _item(con, "a:after-undated", due=date(2025, 3, 10))
    _edge(con, "a:undated", "a:after-undated")
    _edge(con, "a:done", "a:after-undated")
    build_forecasts(con, NOW)
    rows = con.execute("SELECT item_id, forecast_finish, slip_days FROM forecasts").fetchall()
    assert rows == [("a:after-undated", date(2025, 3, 10), 0)]


def test_equally_late_upstreams_give_the_same_chain_every_run() -> None:
    """Two blockers finishing the same day: the chain (and so a finding's message and root
    cause) goes through the smaller item id, on the first push and further down the chain."""
    con = _model()
    for n in range(40):
        _item(con, f"d:{n:02}-z", due=date(2025, 3, 20))  # blockers due the same day
        _item(con, f"d:{n:02}-a", due=date(2025, 3, 20))
        _item(con, f"d:{n:02}-mid", due=date(2025, 3, 5))  # pushed by both, equally
        _item(con, f"d:{n:02}-end", due=date(2025, 3, 6))
        blockers = [f"d:{n:02}-z", f"d:{n:02}-a"]
        for blocker in blockers if n % 2 else reversed(blockers):  # whatever the stored order
            _edge(con, blocker, f"d:{n:02}-mid")
        _edge(con, f"d:{n:02}-mid", f"d:{n:02}-end")
    for _ in range(3):
        build_forecasts(con, NOW, cycle_days=10)
        rows = con.execute(
            "SELECT item_id, critical_upstream_id, chain FROM forecasts "
            "WHERE item_id LIKE '%-mid' OR item_id LIKE '%-end'"
        ).fetchall()
        assert len(rows) == 80
        for item_id, critical, chain in rows:
            n = item_id[2:4]
            expected = [f"d:{n}-a", f"d:{n}-mid"] + ([item_id] if item_id.endswith("end") else [])
            assert chain == expected
            assert critical == chain[-2]


def test_a_cycle_terminates_and_forecasts_every_member() -> None:
    con = _model()
    for n, due in enumerate([date(2025, 3, 10), date(2025, 3, 20), date(2025, 3, 5)]):
        _item(con, f"c:{n}", due=due)
    _edge(con, "c:0", "c:1")
    _edge(con, "c:1", "c:2")
    _edge(con, "c:2", "c:0")
    build_forecasts(con, NOW)
    finishes = {r[0] for r in con.execute("SELECT forecast_finish FROM forecasts").fetchall()}
    assert finishes == {date(2025, 3, 20)}


DAYS = st.integers(min_value=-30, max_value=60)


@st.composite
def graphs(draw, acyclic: bool):
    n = draw(st.integers(min_value=1, max_value=12))
    items = []
    for i in range(n):
        due = draw(st.one_of(st.none(), DAYS))
        duration = draw(st.integers(min_value=0, max_value=10)) if acyclic else None
        idle = draw(st.integers(min_value=0, max_value=40))
        done = draw(st.integers(0, 5)) == 0
        items.append((i, due, duration, idle, done))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
    edges = draw(st.lists(pairs, max_size=3 * n))
    if acyclic:
        edges = [(a, b) for a, b in edges if a < b]
    return items, edges


def _check(items, edges) -> None:
    con = _model()
    for i, due, duration, idle, done in items:
        due_date = TODAY + timedelta(days=due) if due is not None else None
        start = due_date - timedelta(days=duration) if due_date and duration else None
        _item(
            con,
            f"g:{i}",
            due=due_date,
            start=start,
            changed=NOW - timedelta(days=idle),
            category="done" if done else "todo",
        )
    for a, b in set(edges):
        if a != b:
            _edge(con, f"g:{a}", f"g:{b}")
    build_forecasts(con, NOW, cycle_days=10)
    forecast = dict(con.execute("SELECT item_id, forecast_finish FROM forecasts").fetchall())
    for i, due, _duration, _idle, done in items:
        item = f"g:{i}"
        if done:
            assert item not in forecast
        elif due is not None:
            assert forecast[item] >= TODAY + timedelta(days=due)
    for a, b in set(edges):
        up, down = f"g:{a}", f"g:{b}"
        if a != b and up in forecast and not items[b][4]:  # done work is not forecast
            assert down in forecast, (up, down)
            extra = timedelta(days=items[b][2] or 0) if items[b][1] is not None else timedelta()
            assert forecast[down] >= forecast[up] + extra, (up, down)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(acyclic=False))
def test_never_before_own_due_or_upstream_in_any_graph(graph) -> None:
    _check(*graph)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(acyclic=True))
def test_upstream_plus_planned_duration_in_acyclic_graphs(graph) -> None:
    _check(*graph)
