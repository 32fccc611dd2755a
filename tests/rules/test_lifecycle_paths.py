"""The first run's straight insert against the general merge, over four nights.

A first run (no previous exceptions) inserts its findings straight from the query instead of
merging them; its rows, and every night merged onto them, must be those the general merge gives.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from handoff.config import HandoffConfig
from rules import lifecycle
from rules.engine import add_waiver, evaluate
from tests.rules.test_graph_findings_reference import _random_graph

NIGHT1 = datetime(2025, 3, 3, 2, 0)


def _tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of the exception tables, in key order."""
    con = duckdb.connect(str(db), read_only=True)
    tables = {
        "exceptions": con.execute("SELECT * FROM exceptions ORDER BY exception_id").fetchall(),
        "exception_subjects": con.execute(
            "SELECT * FROM exception_subjects ORDER BY exception_id, position"
        ).fetchall(),
        "exception_runs": con.execute("SELECT * FROM exception_runs ORDER BY run_id").fetchall(),
        "keys": con.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE constraint_type = 'PRIMARY KEY' AND table_name LIKE 'exception%' ORDER BY 1"
        ).fetchall(),
    }
    con.close()
    return tables


def _next_day(db: Path, night: int) -> None:
    """What moves between nights: items finish, one changes department, one is deleted."""
    con = duckdb.connect(str(db))
    con.execute(
        "UPDATE work_items SET status_category = 'done', status_changed_at = $at "
        "WHERE hash(item_id, $night) % 7 = 0 AND status_category <> 'done'",
        {"night": night, "at": NIGHT1 + timedelta(days=night - 1)},
    )
    con.execute(
        "UPDATE work_items SET department = 'Finance' "
        "WHERE item_id = (SELECT min(item_id) FROM work_items WHERE department = 'IT')"
    )
    con.execute(
        "UPDATE work_items SET is_deleted = true "
        "WHERE item_id = (SELECT max(item_id) FROM work_items WHERE NOT is_deleted)"
    )
    con.close()


def test_first_run_rows_and_the_nights_after_match_the_general_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight, merged = tmp_path / "straight.duckdb", tmp_path / "merged.duckdb"
    _random_graph(straight, seed=5)
    shutil.copy(straight, merged)
    config = HandoffConfig.model_validate({"base_dir": tmp_path})
    general_only = lifecycle._first_run
    con = duckdb.connect(str(straight), read_only=True)
    assert general_only(con)  # the straight insert is taken on the first night
    con.close()

    for night in range(1, 5):
        now = NIGHT1 + timedelta(days=night - 1)
        monkeypatch.setattr(lifecycle, "_first_run", general_only)
        first = evaluate(straight, config, now=now, run_id=f"r{night}")
        monkeypatch.setattr(lifecycle, "_first_run", lambda con: False)
        second = evaluate(merged, config, now=now, run_id=f"r{night}")
        assert first.problems == second.problems == []
        assert first.summary() == second.summary(), night
        if night == 1:
            assert first.new > 100
        assert _tables(straight) == _tables(merged), night
        if night == 2:  # a waiver from the third night on
            con = duckdb.connect(str(straight), read_only=True)
            waived = con.execute(
                "SELECT min(exception_id) FROM exceptions WHERE status = 'open'"
            ).fetchone()
            con.close()
            assert waived is not None
            add_waiver(config, waived[0], date(2025, 4, 1), "agreed in steering")
        for db in (straight, merged):
            _next_day(db, night)
    rows = _tables(straight)["exceptions"]
    assert {row[9] for row in rows} >= {"open", "resolved", "waived"}  # status
    assert max(row[13] for row in rows) == 4  # occurrences: found every night


def _bridge_against_lists(db: Path) -> tuple[int, int, list[tuple[Any, ...]]]:
    """Bridge rows, distinct (exception_id, position) pairs, and the rows that differ from
    each exception's own subject list (either way); checks one exception row per id."""
    con = duckdb.connect(str(db), read_only=True)
    rows, keys = con.execute(
        "SELECT count(*), count(DISTINCT (exception_id, position)) FROM exception_subjects"
    ).fetchone() or (0, 0)
    exceptions, ids = con.execute(
        "SELECT count(*), count(DISTINCT exception_id) FROM exceptions"
    ).fetchone() or (0, 0)
    assert exceptions == ids  # one row per finding, held by construction as well
    unnested = (
        "SELECT exception_id, unnest(subject_ids) AS item_id, "
        "unnest(generate_series(1, len(subject_ids)))::INTEGER AS position FROM exceptions"
    )
    bridge = "SELECT exception_id, item_id, position FROM exception_subjects"
    differ = con.execute(
        f"({unnested} EXCEPT ALL {bridge}) UNION ALL ({bridge} EXCEPT ALL {unnested})"
    ).fetchall()
    con.close()
    return rows, keys, differ


def test_exceptions_and_the_bridge_hold_each_row_once_across_nights_and_a_fresh_build(
    tmp_path: Path,
) -> None:
    # neither table has a key index: their rows must be unique by construction, night after night
    db = tmp_path / "handoff.duckdb"
    _random_graph(db, seed=7)
    config = HandoffConfig.model_validate({"base_dir": tmp_path})
    for night in range(1, 5):
        result = evaluate(db, config, now=NIGHT1 + timedelta(days=night - 1), run_id=f"r{night}")
        assert result.problems == []
        rows, keys, differ = _bridge_against_lists(db)
        assert rows == keys > 0 and differ == [], night
        _next_day(db, night)
    # the next build carries the exceptions (no bridge yet) and evaluates on them
    fresh = tmp_path / "fresh" / "handoff.duckdb"
    fresh.parent.mkdir()
    shutil.copy(db, fresh)
    con = duckdb.connect(str(fresh))
    con.execute("DELETE FROM exception_subjects")
    con.close()
    fresh_config = HandoffConfig.model_validate({"base_dir": fresh.parent})
    result = evaluate(fresh, fresh_config, now=NIGHT1 + timedelta(days=4), run_id="r5")
    assert result.problems == [] and result.open_total > 0
    rows, keys, differ = _bridge_against_lists(fresh)
    assert rows == keys > 0 and differ == []
