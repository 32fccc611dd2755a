"""Integrity checks on a built model before it may be published (pure DuckDB, no Dagster)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb


@dataclass
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, Any]


def _query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def unique_item_ids(path: Path) -> CheckOutcome:
    rows = _query(
        path,
        "SELECT item_id, count(*) FROM work_items GROUP BY item_id HAVING count(*) > 1 LIMIT 20",
    )
    return CheckOutcome(
        not rows,
        "every item_id is unique" if not rows else f"{len(rows)} item_ids occur more than once",
        {"duplicates": [r[0] for r in rows]},
    )


def resolved_dependencies_exist(path: Path) -> CheckOutcome:
    rows = _query(
        path,
        """
        SELECT d.upstream_id, d.downstream_id FROM dependencies d
        LEFT JOIN work_items u ON u.item_id = d.upstream_id
        LEFT JOIN work_items w ON w.item_id = d.downstream_id
        WHERE (d.is_resolved AND u.item_id IS NULL) OR w.item_id IS NULL AND NOT d.downstream_id LIKE 'unresolved:%'
        LIMIT 20
        """,
    )
    return CheckOutcome(
        not rows,
        "every resolved dependency points at existing items"
        if not rows
        else f"{len(rows)} dependencies point at missing items",
        {"dangling": [f"{a} -> {b}" for a, b in rows]},
    )


def item_counts(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    try:
        rows = _query(
            path, "SELECT source, count(*) FROM work_items WHERE NOT is_deleted GROUP BY source"
        )
    except duckdb.Error:
        return {}
    return {str(s): int(n) for s, n in rows}


def no_source_collapsed(built: Path, published: Path, max_drop: dict[str, float]) -> CheckOutcome:
    """A source may not lose more than its configured share of live items since the last run:
    a half-empty API answer must not wipe the model."""
    before, after = item_counts(published), item_counts(built)
    collapsed = {
        source: f"{count} -> {after.get(source, 0)}"
        for source, count in before.items()
        if source in max_drop
        and count > 0
        and (count - after.get(source, 0)) / count > max_drop[source]
    }
    if collapsed:
        text = ", ".join(f"{s} ({c} live items)" for s, c in collapsed.items())
        return CheckOutcome(
            False,
            f"item count dropped too far: {text}; the published model is "
            "kept. If the drop is real, raise the source's max_drop_share for one run.",
            {"collapsed": collapsed},
        )
    return CheckOutcome(
        True, "no source lost more items than allowed", {"before": before, "after": after}
    )
