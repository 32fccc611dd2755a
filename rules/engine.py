"""The rule engine the pipeline calls: load rules, run them read-only, write the lifecycle."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from handoff.config import HandoffConfig
from rules.compile import finding_sql, run_params
from rules.format import Rule, RuleProblem
from rules.lifecycle import LifecycleCounts, apply_lifecycle
from rules.loading import load_rules
from rules.waivers import add_waiver, load_waivers

__all__ = ["EvaluationResult", "Rule", "RuleProblem", "add_waiver", "evaluate", "load_rules"]

FINDING_SCHEMA = pa.schema(
    [
        ("rule_id", pa.string()),
        ("exception_id", pa.string()),
        ("severity", pa.string()),
        ("subject_ids", pa.list_(pa.string())),
        ("departments", pa.list_(pa.string())),
        ("owner", pa.string()),
        ("message", pa.string()),
        ("evidence", pa.string()),
        ("contract_id", pa.string()),
    ]
)


@dataclass(frozen=True)
class RuleTiming:
    rule_id: str
    seconds: float
    findings: int


@dataclass
class EvaluationResult:
    """What one evaluation found and changed; `problems` lists the rules that were skipped."""

    run_id: str
    evaluated_at: datetime
    open_fail: int = 0
    open_warn: int = 0
    open_info: int = 0
    new: int = 0
    resolved: int = 0
    waived: int = 0
    reopened: int = 0
    timings: list[RuleTiming] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    lifecycle_seconds: float = 0.0

    @property
    def open_total(self) -> int:
        return self.open_fail + self.open_warn + self.open_info

    def summary(self) -> str:
        return (
            f"{self.open_total} open ({self.open_fail} fail, {self.open_warn} warn, "
            f"{self.open_info} info), {self.new} new, {self.resolved} resolved, "
            f"{self.reopened} reopened, {self.waived} waived"
            + (f"; {len(self.problems)} rule problem(s)" if self.problems else "")
        )


def run_rule(con: duckdb.DuckDBPyConnection, rule: Rule, now: datetime) -> pa.Table:
    """One rule's findings in the engine's shape (fingerprint, severity, owner, evidence)."""
    sql = finding_sql(rule.spec, rule.query, rule.columns)
    values = run_params(rule.spec, rule.query, rule.params, now)
    table = con.sql(sql, params=values).to_arrow_table()
    return table.cast(FINDING_SCHEMA)


def collect_findings(
    db_path: Path, enabled_rules: list[Rule], now: datetime
) -> tuple[pa.Table, list[str], list[RuleTiming], list[RuleProblem]]:
    """Run every rule on a read-only connection; a rule that fails is reported and skipped."""
    tables: list[pa.Table] = []
    evaluated: list[str] = []
    timings: list[RuleTiming] = []
    problems: list[RuleProblem] = []
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for rule in enabled_rules:
            started = time.perf_counter()
            try:
                table = run_rule(con, rule, now)
            except (duckdb.Error, pa.ArrowException) as err:
                first = str(err).splitlines()[0]
                problems.append(
                    RuleProblem(rule.path, "query", f"failed at run time: {first}", rule.id)
                )
                continue
            tables.append(table)
            evaluated.append(rule.id)
            timings.append(RuleTiming(rule.id, time.perf_counter() - started, table.num_rows))
    finally:
        con.close()
    findings = pa.concat_tables(tables) if tables else FINDING_SCHEMA.empty_table()
    return findings, evaluated, timings, problems


def evaluate(
    db_path: Path, config: HandoffConfig, *, now: datetime, run_id: str
) -> EvaluationResult:
    """Evaluate every rule against the model at `db_path` and update its exceptions.

    `now` is the run time (naive UTC) bound as `$now`/`$today`; it is also first/last seen.
    """
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    enabled_rules, problems = load_rules(config)
    waivers, waiver_problems = load_waivers(config.path(config.rules.waivers))
    findings, evaluated, timings, run_problems = collect_findings(db_path, enabled_rules, now)
    started = time.perf_counter()
    con = duckdb.connect(str(db_path))
    try:
        counts: LifecycleCounts = apply_lifecycle(
            con, findings, evaluated=evaluated, waivers=waivers, now=now, run_id=run_id
        )
    finally:
        con.close()
    return EvaluationResult(
        run_id=run_id,
        evaluated_at=now,
        open_fail=counts.open_fail,
        open_warn=counts.open_warn,
        open_info=counts.open_info,
        new=counts.new,
        resolved=counts.resolved,
        waived=counts.waived,
        reopened=counts.reopened,
        timings=timings,
        problems=problems + waiver_problems + run_problems,
        lifecycle_seconds=time.perf_counter() - started,
    )
