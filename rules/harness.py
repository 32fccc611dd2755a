"""One generic harness for every rule's cases: rows given to an empty model, findings expected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from handoff.locked_sql import SqlTimedOut, run_timed
from rules.compile import CHECK_SECONDS, empty_model, finding_sql, run_params
from rules.format import SEVERITY_RANK, Rule, RuleCase, coerce_param

DEFAULT_NOW = datetime(2025, 3, 3, 9, 0, 0)  # a Monday morning; cases state dates around it
# The build's forecast step, run on a case's rows unless the case gives `forecasts` itself.
FORECAST_SQL = Path(__file__).resolve().parents[1] / "model" / "forecast.sql"
CASE_CYCLE_DAYS = 10  # the configured `typical_cycle_days` default
# The build's item numbering (work_items.item_no and the dependency ends the rules join on).
ITEM_NUMBERS_SQL = Path(__file__).resolve().parents[1] / "model" / "item_numbers.sql"


@dataclass(frozen=True)
class TestOutcome:
    """The result of one case of one rule; `str()` gives a printable line."""

    __test__ = False  # not a pytest class

    rule_id: str
    case: str
    passed: bool
    detail: str = ""

    def __str__(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.rule_id} :: {self.case}"
        return head if self.passed else f"{head}\n    {self.detail}"


def _item_defaults(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    source, _, key = str(row.get("item_id", "")).partition(":")
    defaults = {
        "source": source,
        "tool": "csv",
        "source_key": key or source,
        "is_milestone": False,
        "is_deleted": False,
        "synced_at": now,
    }
    return {**defaults, **row}


def _dependency_defaults(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    origin = row.get("origin", "sheet_column")
    upstream = str(row.get("upstream_id", ""))
    defaults = {
        "kind": "blocks",
        "origin": origin,
        "origins": [origin],
        "is_cross_tool": False,
        "is_resolved": not upstream.startswith("unresolved:"),
    }
    return {**defaults, **row}


DEFAULTS = {
    "work_items": _item_defaults,
    "dependencies": _dependency_defaults,
    "contracts": lambda row, now: {"notice_days": 0, **row},
    "sync_runs": lambda row, now: {"run_id": "run", "started_at": now, "status": "success", **row},
    "status_changes": lambda row, now: {"source": "observed", **row},
}


def load_given(
    con: duckdb.DuckDBPyConnection, given: dict[str, list[dict[str, Any]]], now: datetime
) -> None:
    """Insert a case's rows, filling required columns a case need not spell out.

    `dependencies.is_cross_department` defaults to whether both ends have different departments;
    items and dependency ends are numbered as the build numbers them.
    """
    for table, rows in given.items():
        for row in rows:
            full = DEFAULTS.get(table, lambda r, n: r)(dict(row), now)
            cross_default = table == "dependencies" and "is_cross_department" not in full
            if cross_default:
                full["is_cross_department"] = False
            cols = ", ".join(f'"{c}"' for c in full)
            marks = ", ".join("?" for _ in full)
            con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(full.values()))
            if cross_default:
                con.execute(
                    """UPDATE dependencies d SET is_cross_department = coalesce(
                           (SELECT u.department <> w.department FROM work_items u, work_items w
                            WHERE u.item_id = d.upstream_id AND w.item_id = d.downstream_id), false)
                       WHERE upstream_id = ? AND downstream_id = ?""",
                    [full["upstream_id"], full["downstream_id"]],
                )
    con.execute(ITEM_NUMBERS_SQL.read_text())


@cache
def _case_model() -> duckdb.DuckDBPyConnection:
    return empty_model()


def run_case(rule: Rule, case: RuleCase) -> TestOutcome:
    """Run one case in a fresh in-memory model and compare the findings with `expect`."""
    now = case.now.replace(tzinfo=None) if case.now else DEFAULT_NOW
    try:
        params = dict(rule.params)
        for name, value in case.params.items():
            if name not in rule.spec.params:
                raise ValueError(f"params.{name}: unknown parameter")
            params[name] = coerce_param(rule.spec.params[name].type, value)
        con = _case_model().cursor()
        con.execute("BEGIN TRANSACTION")
        try:
            load_given(con, case.given, now)
            if "forecasts" not in case.given:
                con.execute(FORECAST_SQL.read_text(), {"now": now, "cycle_days": CASE_CYCLE_DAYS})
            sql = finding_sql(rule.spec, rule.query, rule.columns)
            values = run_params(rule.spec, rule.query, params, now)
            rows = run_timed(con, CHECK_SECONDS, lambda: con.execute(sql, values).fetchall())
        finally:
            con.execute("ROLLBACK")  # the next case starts from the empty model again
            con.close()
    except (duckdb.Error, ValueError, SqlTimedOut) as err:
        return TestOutcome(rule.id, case.name, False, f"error: {str(err).splitlines()[0]}")
    found: dict[tuple[str, ...], str] = {}
    for row in rows:  # rows sharing subjects are one finding, at its highest severity
        subjects, severity = tuple(row[3]), row[2]
        if SEVERITY_RANK[severity] >= SEVERITY_RANK.get(found.get(subjects, "info"), 0):
            found[subjects] = severity
    wanted = {tuple(e.subject_ids): e.severity for e in case.expect}
    problems = []
    for subjects, severity in wanted.items():
        if subjects not in found:
            problems.append(f"expected finding {list(subjects)} was not found")
        elif severity and found[subjects] != severity:
            problems.append(f"{list(subjects)}: severity {found[subjects]}, expected {severity}")
    for subjects in found.keys() - wanted.keys():
        problems.append(f"unexpected finding {list(subjects)} ({found[subjects]})")
    return TestOutcome(rule.id, case.name, not problems, "; ".join(problems))


def run_rule_tests(rule_set: list[Rule]) -> list[TestOutcome]:
    """Every case of every rule; a rule without cases yields one failing outcome."""
    outcomes = []
    for rule in rule_set:
        if not rule.spec.tests:
            outcomes.append(TestOutcome(rule.id, "(none)", False, "the rule has no test cases"))
        outcomes.extend(run_case(rule, case) for case in rule.spec.tests)
    return outcomes


def summarise(outcomes: list[TestOutcome]) -> str:
    """Printable lines for `handoff rules test`: one per case, then the totals."""
    passed = sum(o.passed for o in outcomes)
    lines = [str(o) for o in outcomes]
    lines.append(f"{passed} passed, {len(outcomes) - passed} failed")
    return "\n".join(lines)
