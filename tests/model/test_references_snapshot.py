"""Reference resolution on a generated organisation gives exactly the recorded dependencies.

The benchmark's generator (every reference form the normalisers write, two Jira sites, Asana,
sheets, references to nothing synced, deleted items) builds a few thousand items; the build's steps resolve
them on the build's own bounded connection, with a Jira project, Asana and a spreadsheet pending.
Every row of `dependencies` (all columns) must match the snapshot in
data/resolution-snapshot.json, recorded from the resolver before its memory rework: a change to
how references are resolved shows up here as different rows, not only as different counts.
Regenerate the snapshot only for an intended change of behaviour:
`python -m tests.model.test_references_snapshot`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.bench_resolution import CONFIG, NOW, generate
from handoff.bounded import connect_bounded
from handoff.config import HandoffConfig
from model.build import _fill_work_items
from model.departments import build_department_map
from model.people import assign_stewards, build_people
from model.references import resolve_references

SNAPSHOT = Path(__file__).parent / "data" / "resolution-snapshot.json"
ITEMS, REFS = 6_000, 18_000
PENDING = [("jira", "SEC"), ("asana", "*"), ("gsheets", "plan")]

# Every row in a stable order, lists and NULLs spelled out, so the digest pins each value.
ROWS_SQL = """
SELECT upstream_id, downstream_id, kind, origin, origins::VARCHAR AS origins,
       coalesce(link_types::VARCHAR, '-') AS link_types, coalesce(reference, '-') AS reference,
       is_cross_tool, is_cross_department, is_resolved, resolution,
       coalesce(contract_id, '-') AS contract_id, coalesce(kpi_tension, '-') AS kpi_tension,
       coalesce(created_at::VARCHAR, '-') AS created_at
FROM dependencies
"""


def resolve_generated(folder: Path, memory_limit: str = "2GB") -> duckdb.DuckDBPyConnection:
    """The generated organisation after the build's steps up to reference resolution."""
    db_path = folder / "build.duckdb"
    generate(db_path, ITEMS, REFS)
    config = HandoffConfig.model_validate(
        {**CONFIG, "base_dir": folder, "model": {"memory_limit": memory_limit}}
    )
    con = connect_bounded(str(db_path), config)
    # one item in 40 deleted in its tool: references to it are no dependency any more
    con.execute("UPDATE stg_items SET is_deleted = true WHERE hash(item_id) % 40 = 0")
    build_department_map(con, config.department_rules, list(config.sources))
    build_people(con, config.people)
    _fill_work_items(con, NOW)
    assign_stewards(con, config.milestone_stewards)
    resolve_references(con, pending=PENDING)
    return con


def fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Counts by resolution and origin (to read a difference) and a digest of every row."""
    counts = con.execute(
        f"SELECT resolution || ' ' || origin || ' ' || kind, count(*) FROM ({ROWS_SQL}) "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    digest = con.execute(
        f"SELECT count(*), md5(string_agg(concat_ws('|', COLUMNS(*)), chr(10) ORDER BY ALL)) "
        f"FROM ({ROWS_SQL})"
    ).fetchall()[0]
    return {"rows": digest[0], "counts": dict(counts), "digest": digest[1]}


def test_generated_organisation_resolves_to_the_recorded_dependencies(tmp_path: Path) -> None:
    con = resolve_generated(tmp_path)
    try:
        found = fingerprint(con)
        temp_left = con.execute(
            "SELECT list(table_name) FROM duckdb_tables() WHERE temporary"
        ).fetchall()[0][0]
    finally:
        con.close()
    expected = json.loads(SNAPSHOT.read_text())
    assert found["counts"] == expected["counts"]
    assert found["rows"] == expected["rows"]
    assert found["digest"] == expected["digest"]
    assert not temp_left, "resolution leaves no temporary tables behind"


@pytest.mark.slow
def test_a_small_memory_limit_spills_to_the_same_dependencies(tmp_path: Path) -> None:
    """A small `model.memory_limit` changes nothing in the edges (only where DuckDB keeps them)."""
    con = resolve_generated(tmp_path, memory_limit="64MB")
    try:
        found = fingerprint(con)
    finally:
        con.close()
    assert found["digest"] == json.loads(SNAPSHOT.read_text())["digest"]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        connection = resolve_generated(Path(tmp))
        snapshot = fingerprint(connection)
        connection.close()
    SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"{SNAPSHOT}: {snapshot['rows']} rows\n")
