"""Replace a table's rows wholesale by building a twin and swapping it in.

Deleting every row of a keyed table and inserting them again maintains its index row by row
and makes the commit rewrite the old row groups; a twin built without an index, keyed once,
then renamed over the original costs a fraction of that. The twin keeps the original's
columns (types, NOT NULL, defaults) and comments, so readers see the same table; it carries no
other constraint than the key it is given (the tables rewritten this way have no other).
"""

from __future__ import annotations

from typing import Any

import duckdb


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def rewrite_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    params: dict[str, Any] | None = None,
    *,
    key: list[str],
) -> None:
    """Make `select_sql` (columns in the table's order) the whole content of `table`, keyed by
    `key`. Runs inside the caller's transaction: a failure leaves the table as it was."""
    columns = con.execute(
        "SELECT column_name, data_type, is_nullable, column_default, comment "
        "FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? "
        "ORDER BY column_index",
        [table],
    ).fetchall()
    table_comment = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?",
        [table],
    ).fetchone()
    twin = f"{table}__rewrite"
    definitions = ", ".join(
        f"{_quote(name)} {kind}"
        + ("" if nullable else " NOT NULL")
        + ("" if default is None else f" DEFAULT {default}")
        for name, kind, nullable, default, _ in columns
    )
    con.execute(f"DROP TABLE IF EXISTS {_quote(twin)}")
    con.execute(f"CREATE TABLE {_quote(twin)} ({definitions})")
    con.execute(f"INSERT INTO {_quote(twin)} BY NAME {select_sql}", params or {})
    con.execute(f"ALTER TABLE {_quote(twin)} ADD PRIMARY KEY ({', '.join(map(_quote, key))})")
    con.execute(f"DROP TABLE {_quote(table)}")
    con.execute(f"ALTER TABLE {_quote(twin)} RENAME TO {_quote(table)}")
    if table_comment and table_comment[0]:
        con.execute(f"COMMENT ON TABLE {_quote(table)} IS {_literal(table_comment[0])}")
    for name, _, _, _, comment in columns:
        if comment:
            con.execute(f"COMMENT ON COLUMN {_quote(table)}.{_quote(name)} IS {_literal(comment)}")
