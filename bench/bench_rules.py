"""Benchmark: the whole rule pack on a synthetic model of N work items and M dependencies.

`python -m bench.bench_rules --items 1000000 --deps 2000000` builds the model with set-based SQL
in a temporary DuckDB file, evaluates every rule twice (a first run, then a nightly re-run that
merges with the previous exceptions) in a child process, and reports total time, time per rule
and the child's peak memory. Results go to bench/results/rules-<items>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from bench.child import machine, measure_in_child, write_results

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 3, 3, 2, 0)
SOURCES = ["it-jira", "mkt-asana", "fin-sheet", "ops-sheet", "hr-jira"]
TOOLS = ["jira", "asana", "gsheets", "xlsx", "jira"]
DEPARTMENTS = ["IT", "Marketing", "Finance", "Store Ops", "HR"]
CLUSTER = 20  # items per project: most dependencies stay inside one project
# rules added with the forecasts; the rest is the original pack, measured separately
NEW_RULES = frozenset(
    {
        "reported_green_forecast_red",
        "milestone_forecast_slip",
        "repeated_slip",
        "key_person_concentration",
        "unacknowledged_handoff",
        "stale_status_report",
    }
)

BUILD_SQL = """
CREATE MACRO rnd(i, s) AS (hash(i, s) % 1000000)::DOUBLE / 1e6;
CREATE MACRO item_id(i) AS {sources}[((i // {cluster}) % 5)::INTEGER + 1] || ':K-' || i::VARCHAR;
CREATE MACRO dept(i) AS {departments}[((i // {cluster}) % 5)::INTEGER + 1];

INSERT INTO work_items
SELECT item_id(i), $sources[((i // $cluster) % 5)::INTEGER + 1], $tools[((i // $cluster) % 5)::INTEGER + 1],
       'K-' || i::VARCHAR, NULL, 'Work item ' || i::VARCHAR,
       CASE WHEN rnd(i, 1) < 0.01 THEN 'Milestone' ELSE 'Task' END, rnd(i, 1) < 0.01,
       -- a project moves through its items in order: early items are done first
       CASE WHEN (i % {cluster}) < progress * {cluster} - 1 AND rnd(i, 2) < 0.97 THEN 'Done'
            WHEN (i % {cluster}) < progress * {cluster} + 2 THEN 'In Progress' ELSE 'To Do' END,
       CASE WHEN (i % {cluster}) < progress * {cluster} - 1 AND rnd(i, 2) < 0.97 THEN 'done'
            WHEN (i % {cluster}) < progress * {cluster} + 2 THEN 'in_progress' ELSE 'todo' END,
       dept(i),
       CASE WHEN rnd(i, 3) < 0.05 THEN NULL ELSE 'p' || (i % 5000)::VARCHAR || '@example.com' END,
       NULL,
       CASE WHEN rnd(i, 1) < 0.01 AND rnd(i, 4) < 0.5 THEN 'lead@example.com' END,
       -- due dates follow the project's order, with some noise
       CASE WHEN rnd(i, 5) < 0.8 THEN $today + to_days((floor(rnd(i // {cluster}, 6) * 120) - 20
            + (i % {cluster}) * 4 + floor(rnd(i, 13) * 6))::INTEGER) END,
       CASE WHEN rnd(i, 7) < 0.3 THEN $today + to_days((floor(rnd(i, 8) * 60) - 20)::INTEGER) END,
       $now - to_days((60 + floor(rnd(i, 9) * 200))::INTEGER),
       $now - to_days(floor(rnd(i, 10) * 30)::INTEGER),
       NULL,
       $now - to_days(floor(pow(rnd(i, 11), 4) * 30)::INTEGER),
       NULL, NULL, 'P' || (i // $cluster)::VARCHAR, [], [],
       rnd(i, 12) < 0.01, $now, NULL  -- numbered with the dependencies below
FROM (SELECT i, rnd(i // {cluster}, 14) AS progress FROM range($items) AS t(i));

INSERT INTO dependencies (upstream_id, downstream_id, kind, origin, origins, link_types,
    reference, is_cross_tool, is_cross_department, is_resolved, contract_id, kpi_tension,
    created_at)
WITH cand AS (
    SELECT e, e % $items AS d,
           (e % $items) // $cluster * $cluster AS base,
           floor(rnd(e, 20) * $cluster)::BIGINT AS q,
           rnd(e, 21) AS pick
    FROM range(($deps * 1.15)::BIGINT) AS t(e)
),
ends AS (
    SELECT e,
           CASE WHEN pick < 0.02 THEN floor(rnd(e, 22) * $items)::BIGINT
                WHEN pick < 0.0201 THEN greatest(d, base + q)  -- a few back edges: cycles
                ELSE least(d, base + q) END AS up,
           CASE WHEN pick < 0.02 THEN d
                WHEN pick < 0.0201 THEN least(d, base + q)
                ELSE greatest(d, base + q) END AS down,
           rnd(e, 23) < 0.01 AS unresolved,
           rnd(e, 24) AS k
    FROM cand
    WHERE d <> base + q OR pick < 0.02
),
edges AS (
    SELECT CASE WHEN unresolved THEN 'unresolved:X-' || e::VARCHAR ELSE item_id(up) END AS upstream_id,
           item_id(down) AS downstream_id, up, down, unresolved, k, e
    FROM ends WHERE up <> down
    QUALIFY row_number() OVER (PARTITION BY upstream_id, downstream_id ORDER BY e) = 1
    LIMIT $deps
)
SELECT upstream_id, downstream_id,
       CASE WHEN k < 0.9 THEN 'blocks' WHEN k < 0.95 THEN 'depends_on' ELSE 'relates' END,
       'jira_link', ['jira_link'], ['Blocks'],
       CASE WHEN unresolved THEN upstream_id[12:] END,
       NOT unresolved AND (up // $cluster) % 5 <> (down // $cluster) % 5
           AND $tools[((up // $cluster) % 5)::INTEGER + 1] <> $tools[((down // $cluster) % 5)::INTEGER + 1],
       NOT unresolved AND dept(up) <> dept(down),
       NOT unresolved,
       CASE WHEN NOT unresolved AND dept(up) = 'IT' AND dept(down) = 'Store Ops' THEN 'it-to-ops' END,
       CASE WHEN NOT unresolved AND dept(up) = 'IT' AND dept(down) = 'Marketing'
            THEN 'Marketing.acquisition vs IT.cost' END,
       $now - to_days(floor(rnd(e, 25) * 90)::INTEGER)
FROM edges;

-- what teams report: a project status update per project, mostly green, a few weeks old at most
INSERT INTO status_reports
SELECT $sources[(p % 5)::INTEGER + 1] || ':project/' || p::VARCHAR, 'project',
       $sources[(p % 5)::INTEGER + 1], 'P' || p::VARCHAR,
       CASE WHEN rnd(p, 30) < 0.7 THEN 'on_track' WHEN rnd(p, 30) < 0.9 THEN 'at_risk' ELSE 'off_track' END,
       CASE WHEN rnd(p, 30) < 0.7 THEN 'green' WHEN rnd(p, 30) < 0.9 THEN 'amber' ELSE 'red' END,
       $now - to_days(floor(rnd(p, 31) * 30)::INTEGER), 'p' || (p % 5000)::VARCHAR || '@example.com',
       'Status update', 'asana_status_update'
FROM range($items // {cluster}) AS t(p);
-- due dates moved: one item in ten, one to four times in the last two months
INSERT INTO due_date_changes
SELECT item_id(i), $now - to_days((floor(rnd(i, 40) * 60) - k * 3)::INTEGER),
       $today + to_days((k * 7)::INTEGER), $today + to_days((k * 7 + 7)::INTEGER), 'observed'
FROM range($items) AS t(i), range(4) AS r(k)
WHERE rnd(i, 41) < 0.1 AND k < 1 + floor(rnd(i, 42) * 4);

INSERT INTO contracts VALUES ('it-to-ops', 'IT', 'Store Ops', 10, 'Store systems', NULL, NULL, NULL);
INSERT INTO kpi_tensions VALUES ('Marketing', 'acquisition', 'IT', 'cost', 'campaign capacity');
INSERT INTO sync_runs (run_id, source, started_at, status, last_success_at)
SELECT 'run-0', s, $now, CASE WHEN s = 'ops-sheet' THEN 'failed' ELSE 'success' END,
       CASE WHEN s = 'ops-sheet' THEN $now - INTERVAL 3 DAY ELSE $now END
FROM unnest($sources) AS t(s);
"""


def build(db_path: Path, items: int, deps: int) -> float:
    """Create the public model and fill it with the synthetic organisation; returns seconds."""
    started = time.perf_counter()
    con = duckdb.connect(str(db_path))
    con.execute((ROOT / "model" / "schema.sql").read_text())
    values = {
        "items": items,
        "deps": deps,
        "cluster": CLUSTER,
        "sources": SOURCES,
        "tools": TOOLS,
        "departments": DEPARTMENTS,
        "now": NOW,
        "today": NOW.date(),
    }
    constants = {  # fixed names of the synthetic organisation, not input
        "sources": str(SOURCES),
        "departments": str(DEPARTMENTS),
        "cluster": CLUSTER,
    }
    for statement in con.extract_statements(
        BUILD_SQL.replace("{", "{{")
        .replace("}", "}}")
        .replace("{{sources}}", "{sources}")
        .replace("{{departments}}", "{departments}")
        .replace("{{cluster}}", "{cluster}")
        .format(**constants)
    ):
        named = statement.named_parameters
        con.execute(statement.query, {k: v for k, v in values.items() if k in named})
    con.execute((ROOT / "model" / "item_numbers.sql").read_text())  # as the build numbers them
    con.close()
    return time.perf_counter() - started


def evaluate_child(db_path: Path) -> dict[str, object]:
    """Evaluate the pack twice on the model (first run, then the next night's run)."""
    from handoff.config import HandoffConfig
    from model.forecast import build_forecasts
    from rules.engine import evaluate

    config = HandoffConfig.model_validate({"base_dir": db_path.parent})
    con = duckdb.connect(str(db_path))  # the build's forecast step, measured in this process
    started, cpu_started = time.perf_counter(), time.process_time()
    build_forecasts(con, NOW, config.typical_cycle_days)
    forecast_seconds = round(time.perf_counter() - started, 3)
    forecast_cpu = round(time.process_time() - cpu_started, 3)
    forecasts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE slip_days > 0), max(len(chain)) FROM forecasts"
    ).fetchone()
    con.close()
    runs = []
    for night, run_id in enumerate(["bench-1", "bench-2"]):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = evaluate(db_path, config, now=NOW + timedelta(days=night), run_id=run_id)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        new_rules = sum(t.seconds for t in result.timings if t.rule_id in NEW_RULES)
        new_cpu = sum(t.cpu_seconds for t in result.timings if t.rule_id in NEW_RULES)
        runs.append(
            {
                "run_id": run_id,
                "seconds": round(seconds, 3),
                "original_pack_seconds": round(seconds - new_rules, 3),
                "new_rules_seconds": round(new_rules, 3),
                "new_rules_and_forecasts_seconds": round(new_rules + forecast_seconds, 3),
                "lifecycle_seconds": round(result.lifecycle_seconds, 3),
                "lifecycle_steps": result.lifecycle_steps,
                "cpu": {
                    "total": round(cpu, 3),
                    "original_pack": round(cpu - new_cpu, 3),
                    "lifecycle": round(result.lifecycle_cpu_seconds, 3),
                    "new_rules": round(new_cpu, 3),
                    "new_rules_and_forecasts": round(new_cpu + forecast_cpu, 3),
                },
                "summary": result.summary(),
                "problems": [str(p) for p in result.problems],
                "rules": [
                    {
                        "rule_id": t.rule_id,
                        "seconds": round(t.seconds, 3),
                        "cpu_seconds": round(t.cpu_seconds, 3),
                        "findings": t.findings,
                    }
                    for t in result.timings
                ],
            }
        )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "runs": runs,
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "forecast_seconds": forecast_seconds,
        "forecast_cpu_seconds": forecast_cpu,
        "forecasts": {"items": forecasts[0], "late": forecasts[1], "longest_chain": forecasts[2]}
        if forecasts
        else {},
    }


def _markdown(report: dict[str, object]) -> str:
    runs = report["runs"]
    assert isinstance(runs, list)
    lines = [
        f"# Rule pack benchmark — {report['items']:,} items, {report['dependencies']:,} dependencies",
        "",
        f"Machine: {report['machine']}. Model build: {report['build_seconds']} s. "
        f"Load average (1, 5, 15 min) before and after: {report['load_average']}.",
        f"Peak memory of the evaluating process: **{report['peak_rss_mb']} MB**.",
        f"Forecasts (the build step, timed in the same process): **{report['forecast_seconds']} s**"
        f" — {report['forecasts']}.",
        "",
        "Original pack = the whole evaluation (every rule, the exception lifecycle, loading) less",
        f"the rules added with the forecasts ({', '.join(sorted(NEW_RULES))}); the increment",
        "is those rules plus the forecast step.",
        "",
        "| run | total s | original pack + lifecycle s | lifecycle s (steps) "
        "| new rules s | new rules + forecasts s | result |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        steps = ", ".join(f"{k} {v}" for k, v in run["lifecycle_steps"].items())
        lines.append(
            f"| {run['run_id']} | {run['seconds']} | **{run['original_pack_seconds']}** "
            f"| {run['lifecycle_seconds']} ({steps}) | {run['new_rules_seconds']} "
            f"| **{run['new_rules_and_forecasts_seconds']}** | {run['summary']} |"
        )
    lines += [
        "",
        "CPU seconds of the process (DuckDB's two threads included; steadier than wall time when",
        f"the machine is shared), forecasts {report['forecast_cpu_seconds']}:",
        "",
        "| run | total | original pack + lifecycle | lifecycle | new rules | new rules + forecasts |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        cpu = run["cpu"]
        lines.append(
            f"| {run['run_id']} | {cpu['total']} | **{cpu['original_pack']}** | {cpu['lifecycle']} "
            f"| {cpu['new_rules']} | **{cpu['new_rules_and_forecasts']}** |"
        )
    lines += [
        "",
        "Time per rule (first run, then second run; wall s, CPU s):",
        "",
        "| rule | s | s | CPU s | CPU s | findings |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for first, second in zip(runs[0]["rules"], runs[1]["rules"], strict=True):
        lines.append(
            f"| {first['rule_id']} | {first['seconds']} | {second['seconds']} "
            f"| {first['cpu_seconds']} | {second['cpu_seconds']} | {first['findings']:,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--deps", type=int, default=2_000_000)
    parser.add_argument("--evaluate-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.evaluate_only:
        print(json.dumps(evaluate_child(args.evaluate_only)))
        return
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        db_path = Path(tmp) / "handoff.duckdb"
        print(f"building {args.items:,} items and {args.deps:,} dependencies ...", flush=True)
        build_seconds = build(db_path, args.items, args.deps)
        print(f"built in {build_seconds:.1f} s; evaluating the rule pack ...", flush=True)
        measured = measure_in_child("bench.bench_rules", "--evaluate-only", db_path)
    report = {
        "items": args.items,
        "dependencies": args.deps,
        "machine": machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "build_seconds": round(build_seconds, 1),
        **measured,
    }
    write_results(args.out, f"rules-{args.items}", report, _markdown(report))


if __name__ == "__main__":
    main()
