"""Benchmark: cross-tool reference resolution at N work items and M reference strings.

`python -m bench.bench_resolution --items 1000000 --refs 3000000` generates staging rows
(`stg_items`, `stg_references`) set-based in a temporary DuckDB file: two Jira sites, Asana and
two sheets, with every reference form the normalisers write (issue links, remote-link URLs,
Asana dependencies and gids, free text with keys, URLs and direction phrases, sheet depends-on
cells, key custom fields, and references to nothing synced). A child process then runs the
build's steps after normalisation (departments, people, work items, reference resolution,
contracts and KPI tensions) on the build's own connection (`handoff.bounded.connect_bounded`, so
`model.memory_limit` and `model.temp_directory` hold as they do for a user) and reports the time
of each step and its peak memory (RSS).
Results go to bench/results/resolution-<items>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from bench.child import machine, measure_in_child, write_results

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 3, 3, 2, 0)

# Sources by item number i % 20: 30% it-jira, 10% sec-jira, 30% Asana, 15% + 15% sheets.
GENERATE_SQL = """
CREATE MACRO rnd(i, s) AS (hash(i, s) % 1000000)::DOUBLE / 1e6;
CREATE MACRO src(i) AS CASE WHEN i % 20 < 6 THEN 'it-jira' WHEN i % 20 < 8 THEN 'sec-jira'
    WHEN i % 20 < 14 THEN 'mkt-asana' WHEN i % 20 < 17 THEN 'fin-sheet' ELSE 'ops-sheet' END;
CREATE MACRO tool(i) AS CASE WHEN i % 20 < 8 THEN 'jira' WHEN i % 20 < 14 THEN 'asana'
    WHEN i % 20 < 17 THEN 'gsheets' ELSE 'xlsx' END;
CREATE MACRO skey(i) AS CASE WHEN i % 20 < 6 THEN 'OPS-' || i WHEN i % 20 < 8 THEN 'SEC-' || i
    WHEN i % 20 < 14 THEN (1200000000000000 + i)::VARCHAR
    WHEN i % 20 < 17 THEN 'FIN-' || i ELSE i::VARCHAR END;
CREATE MACRO iurl(i) AS CASE
    WHEN i % 20 < 6 THEN 'https://it.atlassian.net/browse/' || skey(i)
    WHEN i % 20 < 8 THEN 'https://sec.example.com/browse/' || skey(i)
    WHEN i % 20 < 14 THEN CASE WHEN i % 3 = 0 THEN 'https://app.asana.com/0/1200/' || skey(i)
        WHEN i % 3 = 1 THEN 'https://app.asana.com/1/77/project/1200/task/' || skey(i)
        ELSE 'https://app.asana.com/1/77/task/' || skey(i) END
    ELSE 'https://docs.google.com/spreadsheets/d/plan/edit#gid=0&range=A' || i END;
-- another item of the same source nearby, and one of a given source bucket
CREATE MACRO near(i, r) AS (i + 20 * (1 + hash(r, 2) % 50)) % $blocks;
CREATE MACRO pick(i, r, lo, n) AS (near(i, r) // 20) * 20 + lo + hash(r, 3) % n;

INSERT INTO stg_items (item_id, source, tool, source_key, url, title, item_type, is_milestone,
    status, status_category, department, owner_email, owner_name, owner_account, due_date,
    created_at, updated_at, parent_key, project, labels, components, custom, synced_at)
SELECT src(i) || ':' || skey(i), src(i), tool(i), skey(i), iurl(i), 'Work item ' || i,
       CASE WHEN i % 97 = 0 THEN 'Epic' ELSE 'Task' END, i % 97 = 0,
       'In Progress', 'in_progress',
       CASE WHEN src(i) = 'fin-sheet' AND i % 7 = 0 THEN 'Store Ops' END,
       CASE WHEN rnd(i, 1) < 0.6 THEN CASE WHEN i % 2 = 0 THEN 'P' ELSE 'p' END
            || (i % 5000) || CASE WHEN i % 3 = 0 THEN '+' || tool(i) ELSE '' END
            || '@Example.com' END,
       CASE WHEN rnd(i, 1) >= 0.6 THEN 'Person ' || (i % 5000) END,
       CASE WHEN tool(i) = 'jira' AND rnd(i, 1) >= 0.6 THEN 'acc-' || (i % 5000) END,
       DATE '2025-03-01' + (i % 120)::INTEGER,
       $now - INTERVAL 90 DAY, $now - INTERVAL 1 DAY,
       CASE WHEN i % 97 <> 0 AND i >= 97 THEN src(i - i % 97) || ':' || skey(i - i % 97) END,
       CASE WHEN tool(i) = 'jira' THEN split_part(skey(i), '-', 1)
            WHEN tool(i) = 'asana' THEN 'Campaign ' || (i % 50) ELSE 'Plan' END,
       CASE WHEN i % 11 = 0 THEN ['launch'] ELSE [] END,
       CASE WHEN tool(i) = 'jira' AND i % 13 = 0 THEN ['Payments'] ELSE [] END,
       CASE WHEN tool(i) = 'asana' AND i % 5 = 0 THEN '{"department": "Store Ops"}' END,
       $now
FROM range($items) t(i);

INSERT INTO stg_references
WITH refs AS (
    SELECT r, r % 100 AS b, (hash(r, 1) % ($blocks // 20)) * 20 AS base FROM range($refs) t(r)
),
shaped AS (
    SELECT r, b,
        -- the referrer: a tool that writes this form
        CASE WHEN b < 20 THEN base + r % 8                 -- Jira issue links
             WHEN b < 30 THEN base + 8 + r % 6             -- Asana dependencies
             WHEN b < 55 THEN base + r % 14                -- Jira and Asana text
             WHEN b < 65 THEN base + r % 8                 -- Jira remote links
             WHEN b < 80 THEN base + 14 + r % 6            -- sheet depends-on cells
             WHEN b < 90 THEN base + 8 + r % 6             -- Asana gids and key fields
             ELSE base + r % 20 END AS i
    FROM refs
)
SELECT src(i) || ':' || skey(i),
    CASE
        WHEN b < 30 THEN src(i) || ':' || skey(near(i, r))
        WHEN b < 40 THEN 'Blocked by ' || skey(pick(i, r, 0, 8)) || ' before launch; complies '
                         || 'with ISO-9001. See also ' || skey(pick(i, r + 1, 0, 6)) || '.'
        WHEN b < 48 THEN 'This blocks ' || iurl(pick(i, r, 0, 20)) || ' and needed by '
                         || skey(pick(i, r + 1, 14, 3)) || '.'
        WHEN b < 55 THEN 'Launch notes without references, written by marketing for the store '
                         || 'teams, ' || r || ' words long.'
        WHEN b < 65 THEN iurl(pick(i, r, 0, 20))
        WHEN b < 80 THEN skey(near(i, r)) || ', ' || iurl(pick(i, r, 0, 14))
                         || CASE WHEN r % 3 = 0 THEN '; ' || skey(near(i, r + 7)) ELSE '' END
        WHEN b < 85 THEN skey(pick(i, r, 8, 6))
        WHEN b < 90 THEN skey(pick(i, r, 0, 6))
        WHEN b < 95 THEN 'depends on OPS-' || ($items + r) || ' and SEC-' || ($items + r)
        ELSE 'row-' || r || ', https://app.asana.com/0/1/' || (9000000000000000 + r)
    END,
    CASE WHEN b < 30 THEN 'item_id' WHEN b < 55 THEN 'text' WHEN b < 65 THEN 'url'
         WHEN b < 85 AND b >= 80 THEN 'asana_gid' ELSE 'text' END,
    CASE WHEN b < 30 AND r % 2 = 1 THEN 'downstream'
         WHEN b >= 55 AND b < 65 AND r % 2 = 1 THEN 'downstream' ELSE 'upstream' END,
    CASE WHEN b < 30 OR (b >= 55 AND b < 65) THEN 'blocks' ELSE 'depends_on' END,
    CASE WHEN b < 20 THEN 'jira_link' WHEN b < 30 THEN 'asana_dependency'
         WHEN b < 55 THEN 'text_reference' WHEN b < 65 THEN 'jira_remote_link'
         WHEN b < 80 THEN 'sheet_column' WHEN b < 85 THEN 'asana_dependency'
         WHEN b < 90 THEN 'custom_field' WHEN b < 95 THEN 'text_reference'
         ELSE 'sheet_column' END,
    CASE WHEN b < 20 THEN 'Blocks' END
FROM shaped;
"""

CONFIG: dict[str, Any] = {
    "departments": [{"name": d} for d in ("IT", "Security", "Marketing", "Finance", "Store Ops")],
    "department_rules": [
        {"source": "it-jira", "component": "Payments", "department": "Finance"},
        {"custom_field": "department", "value": "Store Ops", "department": "Store Ops"},
    ],
    "contracts": [
        {
            "id": "it-mkt",
            "provider": "IT",
            "consumer": "Marketing",
            "filters": {"labels": ["launch"]},
        },
        {"id": "mkt-fin", "provider": "Marketing", "consumer": "Finance"},
    ],
    "kpi_tensions": [{"between": ["Marketing.reach", "Finance.cost"]}],
    "people": [
        {"email": f"p{n}@example.com", "names": [f"Person {n}"], "account_ids": [f"acc-{n}"]}
        for n in range(0, 5000, 2)
    ],
    "sources": [
        {
            "name": "it-jira",
            "kind": "jira",
            "url": "https://it.atlassian.net",
            "token": "t",
            "department": "IT",
        },
        {
            "name": "sec-jira",
            "kind": "jira",
            "url": "https://sec.example.com",
            "token": "t",
            "department": "Security",
        },
        {"name": "mkt-asana", "kind": "asana", "token": "t", "department": "Marketing"},
        {"name": "fin-sheet", "kind": "gsheets", "spreadsheet_id": "plan", "department": "Finance"},
        {"name": "ops-sheet", "kind": "xlsx", "path": "/plans/ops.xlsx", "department": "Store Ops"},
    ],
}


def generate(db_path: Path, items: int, refs: int) -> float:
    """Create the build database with staging rows for the synthetic organisation."""
    from model.build import STAGING_SQL
    from model.schema import create_schema

    started = time.perf_counter()
    con = duckdb.connect(str(db_path))
    create_schema(con)
    con.execute(STAGING_SQL)
    values = {"items": items, "refs": refs, "now": NOW}
    # macros take no parameters: the block count is an int, written in
    sql = GENERATE_SQL.replace("$blocks", str(int(items) // 20 * 20))
    for statement in con.extract_statements(sql):
        named = statement.named_parameters
        con.execute(statement.query, {k: v for k, v in values.items() if k in named})
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - started


def resolve_child(db_path: Path) -> dict[str, object]:
    """Run the build's steps after normalisation on the generated staging rows."""
    from handoff.bounded import connect_bounded
    from handoff.config import HandoffConfig
    from model import config_tables
    from model.build import _fill_work_items
    from model.departments import build_department_map
    from model.people import assign_stewards, build_people
    from model.references import resolve_references

    # the product's default model settings, with the data dir (and its spill folder) beside the db
    config = HandoffConfig.model_validate({**CONFIG, "base_dir": db_path.parent})
    con = connect_bounded(str(db_path), config)
    settings = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()[0]
    resolve_steps: dict[str, float] = {}
    steps: list[tuple[str, Any]] = [
        ("departments", lambda: build_department_map(con, config.department_rules, config.sources)),
        ("people", lambda: build_people(con, config.people)),
        ("work_items", lambda: _fill_work_items(con, NOW)),
        ("stewards", lambda: assign_stewards(con, config.milestone_stewards)),
        ("resolve_references", lambda: resolve_references(con, resolve_steps)),
        ("config_tables", lambda: config_tables.fill(con, config)),
        ("contracts_and_tensions", lambda: config_tables.mark_contracts_and_tensions(con)),
    ]
    timings = {}
    for name, step in steps:
        started = time.perf_counter()
        step()
        timings[name] = round(time.perf_counter() - started, 2)
    counts = con.execute(
        """
        SELECT count(*), count(*) FILTER (WHERE NOT is_resolved),
               count(*) FILTER (WHERE is_cross_tool), count(*) FILTER (WHERE is_cross_department),
               count(*) FILTER (WHERE contract_id IS NOT NULL),
               count(*) FILTER (WHERE kpi_tension IS NOT NULL),
               count(*) FILTER (WHERE len(origins) > 1)
        FROM dependencies
        """
    ).fetchone()
    people = con.execute("SELECT count(*) FROM people").fetchone()
    con.close()
    assert counts is not None and people is not None
    names = (
        "dependencies",
        "unresolved",
        "cross_tool",
        "cross_department",
        "contracted",
        "kpi_tension",
        "merged_origins",
    )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "steps": timings,
        "resolve_steps": resolve_steps,
        "seconds": round(sum(timings.values()), 2),
        "counts": {**dict(zip(names, counts, strict=True)), "people": people[0]},
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "memory_limit": config.model.memory_limit,
        "duckdb_memory_limit": settings[0] if settings else None,
    }


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Reference resolution benchmark — {report['items']:,} items, "
        f"{report['refs']:,} reference strings",
        "",
        f"Machine: {report['machine']}. Staging generated in {report['generate_seconds']} s. "
        f"Load average (1, 5, 15 min) before resolving: {report['load_before']}, after: "
        f"{report['load_after']}.",
        f"Model steps after normalisation: **{report['seconds']} s**, peak memory of the "
        f"building process **{report['peak_rss_mb']} MB** (the build's connection, "
        f"`model.memory_limit` {report['memory_limit']}).",
        "",
        "| step | s |",
        "|---|---:|",
        *(f"| {name} | {s} |" for name, s in report["steps"].items()),
        "",
        "Reference resolution by step:",
        "",
        "| step | s |",
        "|---|---:|",
        *(f"| {name} | {s} |" for name, s in report["resolve_steps"].items()),
        "",
        "| result | count |",
        "|---|---:|",
        *(f"| {name} | {n:,} |" for name, n in report["counts"].items()),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--refs", type=int, default=3_000_000)
    parser.add_argument("--resolve-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.resolve_only:
        print(json.dumps(resolve_child(args.resolve_only)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-resolution-") as tmp:
        db_path = Path(tmp) / "build.duckdb"
        print(f"generating {args.items:,} items and {args.refs:,} references ...", flush=True)
        generate_seconds = generate(db_path, args.items, args.refs)
        print(f"generated in {generate_seconds:.1f} s; resolving ...", flush=True)
        load_before = [round(x, 2) for x in os.getloadavg()]
        measured = measure_in_child("bench.bench_resolution", "--resolve-only", db_path)
        load_after = [round(x, 2) for x in os.getloadavg()]
    report = {
        "items": args.items,
        "refs": args.refs,
        "machine": machine(),
        "generate_seconds": round(generate_seconds, 1),
        "load_before": load_before,
        "load_after": load_after,
        **measured,
    }
    write_results(args.out, f"resolution-{args.items}", report, _markdown(report))


if __name__ == "__main__":
    main()
