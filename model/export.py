"""The published model as Parquet files, for BI tools that bundle a DuckDB too old to open the
published file (or none): one file per public table and view, plus a `model.sql` that recreates
them as views over the files in any DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from model.schema import PUBLIC_TABLES, PUBLIC_VIEWS


def export_parquet(database: Path, folder: Path) -> dict[str, int]:
    """Write `folder/<name>.parquet` for every public table and view; returns rows per name."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(database), read_only=True)
    counts: dict[str, int] = {}
    try:
        present = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables"
            ).fetchall()
        }
        for name in (*PUBLIC_TABLES, *PUBLIC_VIEWS):
            if name not in present:  # a model published before the table existed
                continue
            table = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
            tmp = folder / f".{name}.parquet.tmp"
            pq.write_table(table, tmp)
            tmp.replace(folder / f"{name}.parquet")
            counts[name] = table.num_rows
    finally:
        con.close()
    views = "\n".join(
        f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{name}.parquet');"
        for name in counts
    )
    (folder / "model.sql").write_text(
        "-- Run from this folder in DuckDB (any version that reads Parquet): .read model.sql\n"
        + views
        + "\n"
    )
    return counts
