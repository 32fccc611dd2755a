"""Generates docs/data-dictionary.md from the schema's COMMENTs (`python -m model.dictionary`)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from model.schema import PUBLIC_TABLES, PUBLIC_VIEWS, SCHEMA_VERSION, create_schema

DICTIONARY = Path(__file__).resolve().parent.parent / "docs" / "data-dictionary.md"


def render() -> str:
    con = duckdb.connect()
    create_schema(con)
    lines = [
        "# Data dictionary",
        "",
        f"Schema version {SCHEMA_VERSION}. Generated from the `COMMENT ON` statements in "
        "`model/schema.sql` by `python -m model.dictionary`; do not edit by hand.",
        "",
    ]
    comments = dict(
        con.execute(
            "SELECT table_name, comment FROM duckdb_tables() UNION ALL SELECT view_name, comment FROM duckdb_views()"
        ).fetchall()
    )
    for name in (*PUBLIC_TABLES, *PUBLIC_VIEWS):
        kind = "view" if name in PUBLIC_VIEWS else "table"
        lines += [
            f"## `{name}` ({kind})",
            "",
            str(comments.get(name) or ""),
            "",
            "| column | type | meaning |",
            "|---|---|---|",
        ]
        for column, data_type, comment in con.execute(
            "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = ? "
            "ORDER BY column_index",
            [name],
        ).fetchall():
            lines.append(f"| `{column}` | {data_type} | {str(comment or '').replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    DICTIONARY.parent.mkdir(exist_ok=True)
    DICTIONARY.write_text(render())
    sys.stdout.write(f"wrote {DICTIONARY}\n")


if __name__ == "__main__":
    main()
