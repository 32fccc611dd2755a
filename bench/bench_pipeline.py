"""The whole nightly job at scale: sync + model + rules + report, with the time of each stage.

    python -m bench.bench_pipeline --jira 100000 --asana 50000 --sheet-rows 10000

The organisation (`bench.scale`) is served from its own process. The job runs in a child
process through `pipelines.runner.run_sync`, exactly as `handoff sync` runs it, with a
throw-away DAGSTER_HOME so the step timings can be read from Dagster's event log. A full run
is followed by a working day of changes and the next night's incremental run. Writes
bench/results/pipeline-<items>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
STAGES = {  # Dagster step key -> the stage it is
    "fetch_sources": "sync (fetch + raw landing, sources in parallel)",
    "governance_model": "model (normalise + build + checks)",
    "exceptions": "rules (evaluate + publish)",
    "exception_report": "report (HTML, Markdown, JSON)",
}


def step_timings(run_id: str) -> dict[str, float]:
    """Seconds per step from the instance's event log (start to success or failure)."""
    import dagster as dg

    starts: dict[str, float] = {}
    spans: dict[str, float] = {}
    for entry in dg.DagsterInstance.get().all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            began = starts.get(event.step_key)
            if began is not None:
                spans[event.step_key] = round(entry.timestamp - began, 2)
    return spans


def child(config_file: Path, full: bool) -> dict[str, Any]:
    """One run of the job in this process (DAGSTER_HOME set by the parent); prints figures."""
    from pipelines.runner import run_sync

    started = time.perf_counter()
    report = run_sync(config_file, full=full)
    seconds = time.perf_counter() - started
    return {
        "success": report.success,
        "errors": report.errors,
        "seconds": round(seconds, 2),
        "steps": step_timings(report.run_id),
        "sources": {
            name: {
                "status": o.status,
                "seconds": round(o.seconds, 2),
                "changed": o.changed,
                "deleted": o.deleted,
                "rejected": o.rejected,
                "requests": o.requests,
                "retries": o.retries,
            }
            for name, o in report.outcomes.items()
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _run_child(config_file: Path, env: dict[str, str], home: Path, full: bool) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.bench_pipeline", "--child", str(config_file)]
    if full:
        args.append("--full")
    started = time.perf_counter()
    done = subprocess.run(
        args,
        env={**os.environ, **env, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_seconds"] = round(wall, 2)  # with interpreter start-up and Dagster's imports
    return out


def _ask(server: subprocess.Popen[str], command: str) -> Any:
    assert server.stdin and server.stdout
    server.stdin.write(command + "\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())


def bench(jira: int, asana: int, sheet_rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        folder = Path(tmp)
        home = folder / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.scale", "--jira", str(jira), "--asana", str(asana),
             "--sheet-rows", str(sheet_rows), "--dir", str(folder)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            assert server.stdout
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("the scale organisation did not start")
            org = json.loads(line)
            generated = round(time.perf_counter() - started, 1)
            config_file = Path(org["config"])
            print(f"organisation ready in {generated} s; full run ...", flush=True)
            full = _run_child(config_file, org["env"], home, True)
            full["requests"] = _ask(server, "requests")
            print(json.dumps(full), flush=True)
            mutation = _ask(server, "mutate")
            incremental = _run_child(config_file, org["env"], home, False)
            incremental["requests"] = _ask(server, "requests")
            print(json.dumps(incremental), flush=True)
            database = folder / "data" / "handoff.duckdb"
            model = _model_figures(database) if database.exists() else {}
        finally:
            if server.stdin:
                server.stdin.write("quit\n")
                server.stdin.close()
            server.wait(timeout=120)
    return {
        "organisation": {k: v for k, v in org.items() if k not in ("env", "config")},
        "generate_seconds": generated,
        "mutation": mutation,
        "full": full,
        "incremental": incremental,
        "model": model,
    }


def _model_figures(database: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        out = {}
        for table in ("work_items", "dependencies", "exceptions"):
            try:
                out[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            except duckdb.Error:
                continue
        return out
    finally:
        con.close()


def markdown(report: dict[str, Any]) -> str:
    org, m = report["organisation"], report["machine"]
    items = org["jira_issues"] + org["asana_tasks"] + org["sheet_rows"]
    lines = [
        f"# Whole pipeline at scale — {items:,} items",
        "",
        f"{m['when']}, revision {m.get('revision', '?')}, {m['cores']} cores, "
        f"Python {m['python']}, load at start "
        f"{m['load_1_5_15']} (other work shares this machine). Jira Cloud "
        f"{org['jira_issues']:,} issues ({org['jira_links']:,} links, "
        f"{org['jira_remote_links']:,} remote links), Asana {org['asana_tasks']:,} tasks, "
        f"Google Sheets {org['sheet_rows']:,} rows; sandboxes in their own process "
        f"(generated in {report['generate_seconds']} s). The job runs through "
        "`pipelines.runner.run_sync` in a child process; stage times are Dagster's step times.",
        "",
        "| stage | full s | incremental s |",
        "|---|---:|---:|",
    ]
    full, inc = report["full"], report["incremental"]
    for step, label in STAGES.items():
        lines.append(
            f"| {label} | {full['steps'].get(step, '—')} | {inc['steps'].get(step, '—')} |"
        )
    checks = [sum(v for k, v in run["steps"].items() if k not in STAGES) for run in (full, inc)]
    overhead = [round(run["seconds"] - sum(run["steps"].values()), 1) for run in (full, inc)]
    lines += [
        f"| asset checks (freshness, model checks) | {checks[0]:.2f} | {checks[1]:.2f} |",
        f"| Dagster run overhead (job minus its steps) | {overhead[0]} | {overhead[1]} |",
        f"| **job (run_sync)** | **{full['seconds']}** | **{inc['seconds']}** |",
        f"| process (with start-up and imports) | {full['process_seconds']} | "
        f"{inc['process_seconds']} |",
        f"| peak RSS MB (job process) | {full['peak_rss_mb']} | {inc['peak_rss_mb']} |",
        "",
        "Per source (fetch time inside the sync stage, requests as the sandboxes counted them):",
        "",
        "| source | full s | full requests | incremental s | incremental requests | "
        "incremental changed | deleted |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    sandbox_of = {"it-jira": "jira", "mkt-asana": "asana", "ops-sheet": "sheets"}
    for name, f in full["sources"].items():
        i = inc["sources"].get(name, {})
        sandbox = sandbox_of.get(name, "")
        lines.append(
            f"| {name} | {f['seconds']} | {full['requests'].get(sandbox, '—')} | "
            f"{i.get('seconds', '—')} | {inc['requests'].get(sandbox, '—')} | "
            f"{i.get('changed', '—')} | {i.get('deleted', '—')} |"
        )
    target = 300
    verdict = "met" if full["seconds"] < target else f"missed by {full['seconds'] - target:.0f} s"
    lines += [
        "",
        f"Target: the whole pipeline at {items:,} items under 5 minutes: full run "
        f"{full['seconds']} s ({verdict}).",
        f"Model after the incremental run: {report['model']}; mutation: {report['mutation']}.",
    ]
    if not (full["success"] and inc["success"]):
        lines.append(f"Errors: {full['errors'] + inc['errors']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jira", type=int, default=100_000)
    parser.add_argument("--asana", type=int, default=50_000)
    parser.add_argument("--sheet-rows", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.full)))
        return
    from bench.peers.report import machine

    report = {"machine": machine(), **bench(args.jira, args.asana, args.sheet_rows)}
    report["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    items = args.jira + args.asana + args.sheet_rows
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"pipeline-{items}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = markdown(report)
    stem.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
