"""Creates the public schema in a new database file; no database is ever upgraded in place.

Every build writes a fresh file from `schema.sql` and fills it from the raw stores. Only the
tables that accumulate across runs (`model.history.CARRY_TABLES` and observed status changes) are
copied from the previous published file, by column name: a nullable column added to one of them
needs no migration (carried rows hold NULL there), while a rename, a drop or a new carried table needs the
carry in `model/history.py` to read the previous file accordingly. Raise SCHEMA_VERSION with
every change to `schema.sql` so `schema_info` tells which shape a published file has.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMA_SQL = (Path(__file__).parent / "schema.sql").read_text()
SCHEMA_VERSION = 5
PUBLIC_TABLES = (
    "work_items",
    "dependencies",
    "work_item_history",
    "status_changes",
    "people",
    "departments",
    "kpis",
    "kpi_tensions",
    "contracts",
    "exceptions",
    "exception_subjects",
    "exception_runs",
    "rule_problems",
    "sync_runs",
    "rejected_records",
    "schema_info",
    "status_reports",
    "due_date_changes",
    "forecasts",
)
PUBLIC_VIEWS = ("handoffs", "open_exceptions")


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_SQL)
    _copy_view_comments(con, "open_exceptions", "exceptions")


def _copy_view_comments(con: duckdb.DuckDBPyConnection, view: str, table: str) -> None:
    """A pass-through view documents its columns with the base table's comments."""
    for column, comment in con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?", [table]
    ).fetchall():
        escaped = str(comment).replace("'", "''")
        con.execute(f"COMMENT ON COLUMN {view}.{column} IS '{escaped}'")
