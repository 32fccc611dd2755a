"""Check a rule's SQL against an empty public model and wrap it into the engine's finding shape."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from handoff.locked_sql import SqlTimedOut, connect_locked, refusals, run_timed
from rules.format import ENGINE_PARAMS, RuleProblem, RuleSpec

SCHEMA_SQL = Path(__file__).resolve().parents[1] / "model" / "schema.sql"
RESERVED = {"subject_ids", "departments", "message"}
NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"}
NUMERIC |= {"UINTEGER", "UBIGINT", "FLOAT", "DOUBLE"}
SAMPLE_NOW = datetime(2025, 1, 1)
CHECK_SECONDS = 60.0  # the load-time check runs on an empty model; this only stops a runaway


def empty_model() -> duckdb.DuckDBPyConnection:
    """An in-memory model with the public schema and no rows, locked like the real evaluation."""
    con = connect_locked()
    con.execute(SCHEMA_SQL.read_text())
    return con


@cache
def _shared_empty_model() -> duckdb.DuckDBPyConnection:
    return empty_model()


def bind_values(query_params: set[str], params: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Only the parameters the statement names: DuckDB refuses unused ones."""
    values = {**params, "now": now, "today": now.date()}
    return {name: values[name] for name in query_params}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_query(
    spec: RuleSpec, path: Path, params: dict[str, Any], *, seconds: float = CHECK_SECONDS
) -> tuple[str, tuple[str, ...]] | RuleProblem:
    """Return the single SELECT statement and its columns, or the problem with it.

    A statement that calls a table function reading files or running SQL from strings is
    refused whatever its parameters: such a call can behave differently at run time
    (`$today`, the data) than in this check.
    """

    def problem(message: str) -> RuleProblem:
        return RuleProblem(path, "query", message, spec.id)

    con = _shared_empty_model().cursor()
    try:
        try:
            statements = con.extract_statements(spec.query)
        except duckdb.Error as err:
            return problem(f"does not parse: {err}")
        if len(statements) != 1:
            return problem(f"must be a single SELECT statement, found {len(statements)} statements")
        statement = statements[0]
        if statement.type != duckdb.StatementType.SELECT:
            return problem(f"must be a read-only SELECT, found a {statement.type.name} statement")
        unknown = set(statement.named_parameters) - set(params) - ENGINE_PARAMS
        if unknown:
            return problem(f"uses undeclared parameter(s) {', '.join(sorted(unknown))}")
        query = statement.query.strip().rstrip(";")
        refused = refusals(con, query)
        if refused:
            return problem("refused: " + "; ".join(refused))
        values = bind_values(set(statement.named_parameters), params, SAMPLE_NOW)
        try:
            rel = run_timed(
                con,
                seconds,
                lambda: con.sql(f"SELECT * FROM ({query}) AS q LIMIT 0", params=values),
            )
            columns, types = tuple(rel.columns), [str(t) for t in rel.types]
        except SqlTimedOut as err:
            return problem(f"the check on the empty model {err}")
        except duckdb.Error as err:
            return problem(f"fails on the public model: {str(err).splitlines()[0]}")
    finally:
        con.close()
    found = dict(zip(columns, types, strict=True))
    if found.get("subject_ids") != "VARCHAR[]":
        return problem("must return a subject_ids VARCHAR[] column (upstream first)")
    if "message" not in found:
        return problem("must return a message column")
    if "departments" in found and found["departments"] != "VARCHAR[]":
        return problem("departments must be VARCHAR[]")
    if len(set(columns)) != len(columns):
        return problem("returns two columns with the same name")
    if spec.owner and spec.owner not in found:
        return RuleProblem(path, "owner", f"names no result column: {spec.owner!r}", spec.id)
    if spec.tiers and found.get(spec.tiers.column) not in NUMERIC:
        return RuleProblem(
            path, "tiers.column", f"{spec.tiers.column!r} is not a numeric result column", spec.id
        )
    return query, columns


def tier_values(spec: RuleSpec, params: dict[str, Any]) -> dict[str, float | None]:
    """The tier thresholds, with `$param` references replaced by the parameter's value."""
    out: dict[str, float | None] = {"__warn_at": None, "__fail_at": None}
    if spec.tiers:
        for label in ("warn_at", "fail_at"):
            value = getattr(spec.tiers, label)
            if isinstance(value, str):
                value = params[value.removeprefix("$")]
            out[f"__{label}"] = None if value is None else float(value)
    return out


def finding_sql(spec: RuleSpec, query: str, columns: tuple[str, ...]) -> str:
    """SQL turning the rule's rows into findings: fingerprint, severity, owner, evidence JSON.

    Rows with the same subjects share a fingerprint; the lifecycle keeps the most severe one.

    Thresholds are bound as `$__warn_at` / `$__fail_at`; the rule id is checked snake_case.
    """
    severity = f"'{spec.severity}'"
    if spec.tiers:
        col = f"q.{_quote(spec.tiers.column)}"
        severity = (
            f"CASE WHEN $__fail_at IS NOT NULL AND {col} >= $__fail_at THEN 'fail' "
            f"WHEN $__warn_at IS NOT NULL AND {col} >= $__warn_at THEN 'warn' ELSE {severity} END"
        )
    evidence_cols = [c for c in columns if c not in RESERVED]
    evidence = (
        "to_json(struct_pack("
        + ", ".join(f"{_quote(c)} := q.{_quote(c)}" for c in evidence_cols)
        + "))::VARCHAR"
        if evidence_cols
        else "NULL::VARCHAR"
    )
    departments = "q.departments" if "departments" in columns else "NULL::VARCHAR[]"
    owner = f"CAST(q.{_quote(spec.owner)} AS VARCHAR)" if spec.owner else "NULL::VARCHAR"
    contract = "CAST(q.contract_id AS VARCHAR)" if "contract_id" in columns else "NULL::VARCHAR"
    return f"""
        SELECT '{spec.id}' AS rule_id,
               substr(sha1('{spec.id}' || chr(31)
                           || array_to_string(list_sort(q.subject_ids), chr(31))), 1, 16)
                   AS exception_id,
               {severity} AS severity,
               q.subject_ids AS subject_ids,
               {departments} AS departments,
               {owner} AS owner,
               coalesce(CAST(q.message AS VARCHAR), '{spec.id}') AS message,
               {evidence} AS evidence,
               {contract} AS contract_id
        FROM ({query}) AS q
        WHERE q.subject_ids IS NOT NULL AND len(q.subject_ids) > 0
    """


def run_params(spec: RuleSpec, query: str, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Values for `finding_sql`: the rule's own parameters plus the tier thresholds."""
    con = _shared_empty_model().cursor()
    try:
        named = set(con.extract_statements(query)[0].named_parameters)
    finally:
        con.close()
    values = bind_values(named, params, now)
    if spec.tiers:
        values.update(tier_values(spec, params))
    return values
