"""Creates the public schema and upgrades older databases through numbered migrations.

Every build writes a fresh file from `schema.sql`; what carries over from the previous
database (history, exceptions, runs) is read from it after its migrations ran, so a schema
change is one SQL file in `model/migrations/NNN_what.sql` plus the bump of SCHEMA_VERSION.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMA_SQL = (Path(__file__).parent / "schema.sql").read_text()
MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_VERSION = 2
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
    "exception_runs",
    "rule_problems",
    "sync_runs",
    "rejected_records",
    "schema_info",
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


def schema_version(con: duckdb.DuckDBPyConnection, catalog: str = "main") -> int:
    try:
        row = con.execute(f"SELECT max(schema_version) FROM {catalog}.schema_info").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0]) if row and row[0] is not None else 0


def pending_migrations(version: int) -> list[Path]:
    """Migration files newer than `version`, in order (`002_add_x.sql` upgrades 1 -> 2)."""
    return sorted(p for p in MIGRATIONS.glob("[0-9][0-9][0-9]_*.sql") if int(p.name[:3]) > version)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring a database opened read-write up to SCHEMA_VERSION; returns the version reached."""
    version = schema_version(con)
    for migration in pending_migrations(version):
        con.execute(migration.read_text())
        version = int(migration.name[:3])
        con.execute("UPDATE schema_info SET schema_version = ?", [version])
    return version
