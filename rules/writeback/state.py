"""What write-back has written: one row per finding and item, in a small DuckDB file of its own.

Why not the published model: every build writes a new model file from `schema.sql`, and it is the
analysts' contract; what a sync account wrote into Jira is operational bookkeeping. Why not the
raw store: that belongs to each source's fetch, under the fetch's lock. This file
(`<data_dir>/writeback.duckdb`) has one writer, the write-back step, and survives every rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

FILE_NAME = "writeback.duckdb"
DDL = """
CREATE TABLE IF NOT EXISTS writeback_comments (
    exception_id VARCHAR NOT NULL,
    item_id      VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    item_key     VARCHAR NOT NULL,
    comment_id   VARCHAR,
    body_hash    VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,  -- open, resolved, deleted, suppressed
    recreated    INTEGER NOT NULL DEFAULT 0,
    summary      VARCHAR NOT NULL,
    written_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (exception_id, item_id)
)
"""


@dataclass
class Stored:
    """One comment write-back keeps track of."""

    exception_id: str
    item_id: str
    source: str
    item_key: str
    comment_id: str | None
    body_hash: str
    status: str
    recreated: int
    summary: str
    written_at: datetime


def state_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def load(path: Path) -> dict[tuple[str, str], Stored]:
    """Every stored comment by (exception_id, item_id); empty when the file does not exist."""
    if not path.exists():
        return {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT exception_id, item_id, source, item_key, comment_id, body_hash, status, "
            "recreated, summary, written_at FROM writeback_comments"
        ).fetchall()
    finally:
        con.close()
    return {(r[0], r[1]): Stored(*r) for r in rows}


def save(path: Path, row: Stored) -> None:
    """Record one write at once, so a crash later in the run cannot lose it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(DDL)
        con.execute(
            "INSERT OR REPLACE INTO writeback_comments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row.exception_id, row.item_id, row.source, row.item_key, row.comment_id,
                row.body_hash, row.status, row.recreated, row.summary, row.written_at,
            ],
        )  # fmt: skip
    finally:
        con.close()


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
