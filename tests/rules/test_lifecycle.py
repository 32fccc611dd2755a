"""The exception lifecycle across runs on a real model file: open, resolve, reopen, waive."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from handoff.config import HandoffConfig
from handoff.errors import RuleError
from rules.engine import add_waiver, evaluate
from rules.harness import ITEM_NUMBERS_SQL, load_given
from tests.rules.conftest import SCHEMA

DAY1 = datetime(2025, 3, 3, 2, 0)


def _config(tmp_path: Path, **rules: Any) -> HandoffConfig:
    return HandoffConfig.model_validate({"base_dir": tmp_path, "rules": rules})


def _given(db: Path, given: dict[str, list[dict[str, Any]]]) -> None:
    con = duckdb.connect(str(db))
    load_given(con, given, DAY1)
    con.close()


def _exceptions(db: Path, rule_id: str, first: str = "it:OPS-1") -> list[dict[str, Any]]:
    con = duckdb.connect(str(db), read_only=True)
    cur = con.execute(
        "SELECT * FROM exceptions WHERE rule_id = ? AND (subject_ids[1] = ? OR ? = '*') "
        "ORDER BY exception_id",
        [rule_id, first, first],
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    con.close()
    return rows


def _set_status_changed(db: Path, item_id: str, when: datetime) -> None:
    con = duckdb.connect(str(db))
    con.execute("UPDATE work_items SET status_changed_at = ? WHERE item_id = ?", [when, item_id])
    con.close()


CHAIN: dict[str, list[dict[str, Any]]] = {
    "work_items": [
        {
            "item_id": "it:OPS-1",
            "department": "IT",
            "status_category": "todo",
            "status_changed_at": datetime(2025, 2, 1),
            "owner_id": "bob@example.com",
        },
        {
            "item_id": "mkt:1",
            "department": "Marketing",
            "status_category": "todo",
            "status_changed_at": datetime(2025, 3, 1),
        },
        {
            "item_id": "mkt:2",
            "department": "Marketing",
            "status_category": "in_progress",
            "status_changed_at": datetime(2025, 3, 1),
        },
        {
            "item_id": "mkt:3",
            "department": "Marketing",
            "status_category": "todo",
            "status_changed_at": datetime(2025, 3, 1),
        },
        {
            "item_id": "mkt:4",
            "department": "Marketing",
            "status_category": "done",
            "status_changed_at": datetime(2025, 3, 1),
        },
    ],
    "contracts": [{"contract_id": "it-to-mkt", "provider": "IT", "consumer": "Marketing"}],
    "dependencies": [
        {"upstream_id": "it:OPS-1", "downstream_id": "mkt:1", "contract_id": "it-to-mkt"},
        {"upstream_id": "mkt:1", "downstream_id": "mkt:2"},
        {"upstream_id": "mkt:2", "downstream_id": "mkt:3"},
        {"upstream_id": "mkt:3", "downstream_id": "mkt:1"},
        {"upstream_id": "mkt:3", "downstream_id": "mkt:4"},
    ],
}


def test_open_resolved_reopened_keeps_first_seen(tmp_path: Path, model_db: Path) -> None:
    _given(model_db, CHAIN)
    config = _config(tmp_path)
    first = evaluate(model_db, config, now=DAY1, run_id="r1")
    assert first.problems == []
    assert first.new > 0 and first.resolved == 0
    (stalled,) = _exceptions(model_db, "stalled_dependency")
    assert stalled["subject_ids"] == ["it:OPS-1", "mkt:1"]
    assert stalled["status"] == "open" and stalled["occurrences"] == 1
    assert stalled["owner"] == "bob@example.com"
    assert stalled["classification"] == "planned"  # the edge carries a contract
    assert stalled["blast_radius"] == 3  # mkt:1, mkt:2, mkt:3 (mkt:4 is done), despite the loop
    assert stalled["severity"] == "fail"  # 30 days idle
    assert stalled["first_seen"] == DAY1

    day2 = DAY1 + timedelta(days=1)
    _set_status_changed(model_db, "it:OPS-1", day2 - timedelta(hours=1))
    second = evaluate(model_db, config, now=day2, run_id="r2")
    (row,) = _exceptions(model_db, "stalled_dependency")
    assert row["status"] == "resolved" and row["resolved_at"] == day2
    assert second.resolved == 1 and second.new == 0

    day3 = DAY1 + timedelta(days=20)
    third = evaluate(model_db, config, now=day3, run_id="r3")
    (row,) = _exceptions(model_db, "stalled_dependency")
    assert row["exception_id"] == stalled["exception_id"]
    assert row["status"] == "open" and row["resolved_at"] is None
    assert row["first_seen"] == DAY1 and row["last_seen"] == day3
    assert row["occurrences"] == 2
    assert third.reopened == 1

    (cycle,) = _exceptions(model_db, "dependency_cycle", "mkt:1")
    assert cycle["subject_ids"] == ["mkt:1", "mkt:2", "mkt:3"]
    assert cycle["occurrences"] == 3 and cycle["classification"] == "surprise"

    con = duckdb.connect(str(model_db), read_only=True)
    runs = con.execute(
        "SELECT run_id, new_count, resolved_count FROM exception_runs ORDER BY evaluated_at"
    ).fetchall()
    con.close()
    assert [r[0] for r in runs] == ["r1", "r2", "r3"]
    assert runs[1][2] == 1


def test_waived_until_expiry_then_open(tmp_path: Path, model_db: Path) -> None:
    _given(model_db, CHAIN)
    config = _config(tmp_path, waivers="governance/waivers.yaml")
    evaluate(model_db, config, now=DAY1, run_id="r1")
    (stalled,) = _exceptions(model_db, "stalled_dependency")

    add_waiver(config, stalled["exception_id"], date(2025, 3, 10), "IT capacity agreed in steering")
    saved = yaml.safe_load((tmp_path / "governance/waivers.yaml").read_text())
    assert saved[0]["exception_id"] == stalled["exception_id"]

    result = evaluate(model_db, config, now=DAY1 + timedelta(days=1), run_id="r2")
    (row,) = _exceptions(model_db, "stalled_dependency")
    assert row["status"] == "waived" and row["waived_until"] == date(2025, 3, 10)
    assert row["waiver_reason"] == "IT capacity agreed in steering"
    assert result.waived == 1

    evaluate(model_db, config, now=datetime(2025, 3, 10, 23, 0), run_id="r3")
    assert _exceptions(model_db, "stalled_dependency")[0]["status"] == "waived"  # through `until`

    result = evaluate(model_db, config, now=datetime(2025, 3, 11, 2, 0), run_id="r4")
    (row,) = _exceptions(model_db, "stalled_dependency")
    assert row["status"] == "open" and row["waived_until"] is None
    assert row["first_seen"] == DAY1 and row["occurrences"] == 4
    assert result.waived == 0


def test_add_waiver_replaces_and_validates(tmp_path: Path) -> None:
    config = _config(tmp_path)
    add_waiver(config, "0123456789abcdef", date(2025, 4, 1), "first")
    add_waiver(config, "0123456789abcdef", date(2025, 5, 1), "second")
    saved = yaml.safe_load((tmp_path / "waivers.yaml").read_text())
    assert saved == [
        {"exception_id": "0123456789abcdef", "reason": "second", "until": date(2025, 5, 1)}
    ]
    with pytest.raises(RuleError, match="not an exception id"):
        add_waiver(config, "OPS-1", date(2025, 4, 1), "x")
    with pytest.raises(RuleError, match="reason"):
        add_waiver(config, "0123456789abcdef", date(2025, 4, 1), " ")


def test_bad_waiver_entries_are_reported(tmp_path: Path, model_db: Path) -> None:
    (tmp_path / "waivers.yaml").write_text(
        "- {exception_id: 0123456789abcdef, reason: ok, until: 2025-04-01}\n"
        "- {exception_id: 0123456789abcdef, reason: ok, until: soon}\n"
    )
    result = evaluate(model_db, _config(tmp_path), now=DAY1, run_id="r1")
    assert [str(p) for p in result.problems] == [
        f"{tmp_path / 'waivers.yaml'}: [1].until: expected a date (YYYY-MM-DD), got 'soon'"
    ]


def test_a_rule_failing_at_run_time_is_skipped_and_keeps_its_findings(
    tmp_path: Path, model_db: Path
) -> None:
    folder = tmp_path / "my_rules"
    folder.mkdir()
    rule = folder / "fragile.yaml"
    rule.write_text(
        "format: 1\nid: fragile\ntitle: t\ndescription: d\nseverity: warn\nparams:\n"
        "  boom: {type: bool, default: false}\n"
        "query: |\n  SELECT [item_id] AS subject_ids,\n"
        "    CASE WHEN $boom THEN error('broken data') ELSE 'm' END AS message FROM work_items\n"
    )
    _given(model_db, CHAIN)
    config = _config(tmp_path, paths=["my_rules"])
    first = evaluate(model_db, config, now=DAY1, run_id="r1")
    assert len(_exceptions(model_db, "fragile", "*")) == 5
    config = _config(tmp_path, paths=["my_rules"], params={"fragile": {"boom": True}})
    second = evaluate(model_db, config, now=DAY1 + timedelta(days=1), run_id="r2")
    assert [p.field for p in second.problems] == ["query"]
    assert "broken data" in str(second.problems[0]) and "fragile.yaml" in str(second.problems[0])
    rows = _exceptions(model_db, "fragile", "*")
    assert {r["status"] for r in rows} == {"open"} and {r["occurrences"] for r in rows} == {1}
    assert second.open_total == first.open_total  # the other rules still ran
    assert [t.rule_id for t in second.timings if t.rule_id == "fragile"] == []


def _rows_and_ids(db: Path) -> tuple[int, int]:
    """Rows of `exceptions` and distinct exception ids among them: one row per id."""
    con = duckdb.connect(str(db), read_only=True)
    row = con.execute("SELECT count(*), count(DISTINCT exception_id) FROM exceptions").fetchone()
    con.close()
    assert row is not None
    return int(row[0]), int(row[1])


def _subjects(db: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each exception's subject list, and the same read back from the bridge (by position)."""
    con = duckdb.connect(str(db), read_only=True)
    lists = dict(con.execute("SELECT exception_id, subject_ids FROM exceptions").fetchall())
    bridge: dict[str, list[str]] = {}
    for exception_id, item_id in con.execute(
        "SELECT exception_id, item_id FROM exception_subjects ORDER BY exception_id, position"
    ).fetchall():
        bridge.setdefault(exception_id, []).append(item_id)
    con.close()
    return lists, bridge


def test_a_finding_whose_departments_move_keeps_its_history(tmp_path: Path, model_db: Path) -> None:
    _given(model_db, CHAIN)
    config = _config(tmp_path)
    evaluate(model_db, config, now=DAY1, run_id="r1")
    (before,) = _exceptions(model_db, "stalled_dependency")
    assert before["departments"] == ["IT", "Marketing"]

    con = duckdb.connect(str(model_db))
    con.execute("UPDATE work_items SET department = 'Sales' WHERE item_id = 'mkt:1'")
    con.execute(
        "INSERT INTO dependencies (upstream_id, downstream_id, kind, origin, origins, "
        "is_cross_tool, is_cross_department, is_resolved) "
        "VALUES ('it:OPS-1', 'mkt:4', 'blocks', 'jira_link', ['jira_link'], true, true, true)"
    )
    con.execute(ITEM_NUMBERS_SQL.read_text())  # the build numbers the new edge's ends
    con.close()
    day2 = DAY1 + timedelta(days=1)
    second = evaluate(model_db, config, now=day2, run_id="r2")
    (after,) = _exceptions(model_db, "stalled_dependency")
    assert after["exception_id"] == before["exception_id"]
    assert after["departments"] == ["IT", "Sales"]
    assert after["first_seen"] == DAY1 and after["last_seen"] == day2
    assert after["occurrences"] == 2 and after["status"] == "open"
    # the new edge's finding (done with an open blocker) is new and bridged like the others
    assert second.new >= 1
    lists, bridge = _subjects(model_db)
    assert bridge == lists
    rows, ids = _rows_and_ids(model_db)
    assert rows == ids  # the reshaped row was replaced, not added


def test_a_fresh_build_carrying_last_nights_rows_keeps_one_row_per_id_and_is_bridged(
    tmp_path: Path, model_db: Path
) -> None:
    _given(model_db, CHAIN)
    config = _config(tmp_path)
    evaluate(model_db, config, now=DAY1, run_id="r1")
    # what the build does: a new file, last night's exceptions copied in without the key
    fresh = tmp_path / "fresh.duckdb"
    con = duckdb.connect(str(fresh))
    con.execute(SCHEMA.read_text())
    load_given(con, CHAIN, DAY1)
    con.execute(f"ATTACH '{model_db}' AS prev (READ_ONLY)")
    con.execute("INSERT INTO exceptions BY NAME SELECT * FROM prev.exceptions")
    con.close()
    day2 = DAY1 + timedelta(days=1)
    result = evaluate(fresh, config, now=day2, run_id="r2")
    assert result.new == 0 and result.resolved == 0
    (row,) = _exceptions(fresh, "stalled_dependency")
    assert row["occurrences"] == 2 and row["first_seen"] == DAY1 and row["last_seen"] == day2
    lists, bridge = _subjects(fresh)
    assert bridge == lists and len(lists) > 1
    rows, ids = _rows_and_ids(fresh)
    assert rows == ids > 1
