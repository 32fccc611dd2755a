"""`handoff sql`: one analyst query on the published model, in a locked read-only connection.

Analysts explore the model with SELECTs (and DESCRIBE / SHOW / SUMMARIZE); nothing they type
may touch a file (read_text, COPY, EXPORT), attach a database (a raw store during a sync),
load an extension or run past its time limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from handoff.errors import HandoffError
from handoff.locked_sql import (
    CATALOG_TABLE_FUNCTIONS,
    COMPUTE_TABLE_FUNCTIONS,
    SqlTimedOut,
    connect_locked,
    refusals,
    run_timed,
)

ANALYST_TABLE_FUNCTIONS = COMPUTE_TABLE_FUNCTIONS | CATALOG_TABLE_FUNCTIONS


class QueryRefused(HandoffError):
    """The query was not run: it would leave the model or it is not a read-only query."""


def _check_statement(con: duckdb.DuckDBPyConnection, kind: Any, query: str) -> None:
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(
            f"query refused: {kind.name} statements are not allowed; `handoff sql` runs "
            "read-only SELECTs on the published model (no COPY, EXPORT, ATTACH, INSTALL, LOAD, "
            "SET or writes)"
        )
    refused = refusals(con, query, ANALYST_TABLE_FUNCTIONS)
    if refused:
        raise QueryRefused("query refused: it " + "; it ".join(refused))


def _statements(con: duckdb.DuckDBPyConnection, text: str) -> list[Any]:
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as err:
        raise QueryRefused(f"query does not parse: {str(err).splitlines()[0]}") from None
    if not statements:
        raise QueryRefused("no query given")
    return list(statements)


def check_analyst_query(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Raise QueryRefused unless `query` is one SELECT that stays inside the model."""
    statements = _statements(con, query)
    if len(statements) != 1:
        raise QueryRefused(f"give exactly one query, found {len(statements)} statements")
    _check_statement(con, statements[0].type, query)


@dataclass
class QueryResult:
    """One statement's result: rows as Python values, or an Arrow table for Parquet export."""

    statement: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    arrow: pa.Table | None = None


def run_analyst_queries(
    database: Path, text: str, *, seconds: float, as_arrow: bool = False
) -> list[QueryResult]:
    """Every statement of `text`, each checked like a single query before any of them runs,
    then run in order within one time limit of `seconds` for all of them."""
    con = connect_locked(database)
    try:
        statements = _statements(con, text)
        for position, statement in enumerate(statements, 1):
            try:
                _check_statement(con, statement.type, statement.query)
            except QueryRefused as err:
                if len(statements) == 1:
                    raise
                raise QueryRefused(f"statement {position}: {err}") from None

        def execute_all() -> list[QueryResult]:
            results = []
            for statement in statements:
                text = statement.query.strip()
                if as_arrow:
                    table = con.sql(text.rstrip(";")).to_arrow_table()
                    results.append(QueryResult(text, table.column_names, [], table))
                    continue
                cursor = con.execute(statement.query)
                columns = [d[0] for d in cursor.description or []]
                results.append(QueryResult(text, columns, cursor.fetchall()))
            return results

        try:
            return run_timed(con, seconds, execute_all)
        except SqlTimedOut as err:
            raise HandoffError(f"query {err} (--timeout)") from None
        except duckdb.Error as err:
            raise HandoffError(f"query failed: {str(err).splitlines()[0]}") from None
    finally:
        con.close()


def run_analyst_query(
    database: Path, query: str, *, seconds: float
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of one query on `database`, opened read-only and locked."""
    con = connect_locked(database)
    try:
        check_analyst_query(con, query)
    finally:
        con.close()
    result = run_analyst_queries(database, query, seconds=seconds)[0]
    return result.columns, result.rows
