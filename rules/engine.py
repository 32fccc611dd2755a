"""The rule engine the pipeline calls: load rules, run them read-only, write the lifecycle."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from handoff.bounded import connect_bounded
from handoff.config import HandoffConfig
from handoff.locked_sql import SqlTimedOut, connect_locked, run_timed
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
    cpu_seconds: float = 0.0  # of the whole process (DuckDB's threads): steadier than wall time


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
    lifecycle_cpu_seconds: float = 0.0
    lifecycle_steps: dict[str, float] = field(default_factory=dict)

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


@dataclass(frozen=True)
class RuleLimits:
    """What one rule may use: wall time of its statement, rows of its result."""

    seconds: float
    max_rows: int


class RuleTooLarge(Exception):
    """The rule returned more rows than `rules.max_rows`."""


def run_rule(
    con: duckdb.DuckDBPyConnection, rule: Rule, now: datetime, limits: RuleLimits
) -> pa.Table:
    """One rule's findings in the engine's shape (fingerprint, severity, owner, evidence)."""
    sql = finding_sql(rule.spec, rule.query, rule.columns)
    values = run_params(rule.spec, rule.query, rule.params, now)
    limited = f"SELECT * FROM ({sql}) AS findings LIMIT {limits.max_rows + 1}"
    table = run_timed(con, limits.seconds, lambda: con.sql(limited, params=values).to_arrow_table())
    if table.num_rows > limits.max_rows:
        raise RuleTooLarge(f"returned more than {limits.max_rows:,} rows (rules.max_rows)")
    return table.cast(FINDING_SCHEMA)


def collect_findings(
    db_path: Path, enabled_rules: list[Rule], now: datetime, limits: RuleLimits
) -> tuple[pa.Table, list[str], list[RuleTiming], list[RuleProblem]]:
    """Run every rule on a locked read-only connection; a rule that fails, runs past its time
    limit or returns too many rows is reported and skipped (its open findings carry over)."""
    tables: list[pa.Table] = []
    evaluated: list[str] = []
    timings: list[RuleTiming] = []
    problems: list[RuleProblem] = []
    con = connect_locked(db_path)
    try:
        for rule in enabled_rules:
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                table = run_rule(con, rule, now, limits)
            except SqlTimedOut as err:
                reason = f"not evaluated: {err} (rules.timeout_seconds)"
                problems.append(RuleProblem(rule.path, "query", reason, rule.id))
                continue
            except RuleTooLarge as err:
                problems.append(RuleProblem(rule.path, "query", f"not evaluated: {err}", rule.id))
                continue
            except (duckdb.Error, pa.ArrowException) as err:
                first = str(err).splitlines()[0]
                problems.append(
                    RuleProblem(rule.path, "query", f"failed at run time: {first}", rule.id)
                )
                continue
            tables.append(table)
            evaluated.append(rule.id)
            timings.append(
                RuleTiming(
                    rule.id,
                    time.perf_counter() - started,
                    table.num_rows,
                    time.process_time() - cpu_started,
                )
            )
    finally:
        con.close()
    findings = pa.concat_tables(tables) if tables else FINDING_SCHEMA.empty_table()
    return findings, evaluated, timings, problems


def record_problems(
    con: duckdb.DuckDBPyConnection, problems: list[RuleProblem], run_id: str, now: datetime
) -> None:
    """Replace `rule_problems` with this evaluation's: what the report lists as not evaluated.

    A file built before the table existed (re-evaluated by `handoff check`) gains it at its
    next build; until then the problems are only printed and logged.
    """
    try:
        con.execute("DELETE FROM rule_problems").fetchall()
    except duckdb.CatalogException:
        return
    if problems:
        con.executemany(
            "INSERT INTO rule_problems VALUES (?, ?, ?, ?, ?, ?)",
            [[run_id, now, p.rule_id, str(p.path), p.field, p.message] for p in problems],
        )


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
    limits = RuleLimits(config.rules.timeout_seconds, config.rules.max_rows)
    findings, evaluated, timings, run_problems = collect_findings(
        db_path, enabled_rules, now, limits
    )
    all_problems = problems + waiver_problems + run_problems
    started, cpu_started = time.perf_counter(), time.process_time()
    con = connect_bounded(str(db_path), config)
    try:
        counts: LifecycleCounts = apply_lifecycle(
            con, findings, evaluated=evaluated, waivers=waivers, now=now, run_id=run_id
        )
        record_problems(con, all_problems, run_id, now)
    finally:
        closing = time.perf_counter()
        con.close()  # checkpoints what the lifecycle wrote: part of its cost, so timed with it
    steps = {**counts.step_seconds, "close": round(time.perf_counter() - closing, 3)}
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
        problems=all_problems,
        lifecycle_seconds=time.perf_counter() - started,
        lifecycle_cpu_seconds=time.process_time() - cpu_started,
        lifecycle_steps=steps,
    )
