"""`handoff sql`: one analyst query on the published model, in a locked read-only connection.

Analysts explore the model with SELECTs (and DESCRIBE / SHOW / SUMMARIZE); nothing they type
may touch a file (read_text, COPY, EXPORT), attach a database (a raw store during a sync),
load an extension or run past its time limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

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


def check_analyst_query(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Raise QueryRefused unless `query` is one SELECT that stays inside the model."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as err:
        raise QueryRefused(f"query does not parse: {str(err).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryRefused(f"give exactly one query, found {len(statements)} statements")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(
            f"query refused: {kind.name} statements are not allowed; `handoff sql` runs one "
            "read-only SELECT on the published model (no COPY, EXPORT, ATTACH, INSTALL, LOAD, "
            "SET or writes)"
        )
    refused = refusals(con, query, ANALYST_TABLE_FUNCTIONS)
    if refused:
        raise QueryRefused("query refused: it " + "; it ".join(refused))


def run_analyst_query(
    database: Path, query: str, *, seconds: float
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of `query` on `database`, opened read-only and locked."""
    con = connect_locked(database)
    try:
        check_analyst_query(con, query)

        def execute_and_fetch() -> tuple[list[str], list[tuple[Any, ...]]]:
            cursor = con.execute(query)
            return [d[0] for d in cursor.description or []], cursor.fetchall()

        try:
            return run_timed(con, seconds, execute_and_fetch)
        except SqlTimedOut as err:
            raise HandoffError(f"query {err} (--timeout)") from None
        except duckdb.Error as err:
            raise HandoffError(f"query failed: {str(err).splitlines()[0]}") from None
    finally:
        con.close()
