"""Jira ingestion benchmark: full and 1%-incremental sync against a sandbox in its own process.

    python -m bench.bench_jira --sizes 20000 100000 --deployment data_center cloud --links both

The sandbox (Jira Cloud by default) runs in one process; every sync runs in a fresh worker
process, so its peak memory (RSS) is its own. Measures wall time, issues per second, HTTP
requests (as the sandbox counted them), retries, normalisation time and peak memory; writes
bench/results/jira.md and jira.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
CENSUS_PAGE = 1000  # the connector's key census page
STAGING = Path(__file__).resolve().parents[1] / "model" / "staging.sql"

SERVER = """
import json, sys
from sandbox.jira import JiraSandbox, generate_org
org = generate_org(int(sys.argv[1]), 42)
sb = JiraSandbox(org, deployment=sys.argv[2], check_requests=False).start()
entry, env = sb.source_entry("bench-jira", "BENCH_JIRA_TOKEN")
print(json.dumps({"entry": entry, "env": env, "issues": len(org.issues)}), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "mutate":
        changed = org.mutate_share(0.01, 7)
        sb.server.reset_counts()
        print(json.dumps(len(changed)), flush=True)
    elif command == "requests":
        print(json.dumps(sb.server.total_requests), flush=True)
    elif command == "linked":  # issues whose history shows a remote link: one request each
        linked = sum(1 for i in org.issues.values()
                     if any(it[0] == "RemoteIssueLink" for h in i.histories for it in h.items))
        print(json.dumps(linked), flush=True)
    else:
        break
sb.stop()
"""


def _ask(server: subprocess.Popen[str], command: str) -> Any:
    assert server.stdin and server.stdout
    server.stdin.write(command + "\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())


def worker(entry: dict[str, Any], raw: Path, full: bool, normalise_too: bool) -> dict[str, Any]:
    """One sync in this process: connector -> raw landing (-> normaliser); prints figures."""
    import duckdb

    from connectors.jira import JiraConnector
    from handoff.config import JiraSource
    from handoff.process_exit import skip_collection_at_exit
    from model.landing import land, read_cursor

    skip_collection_at_exit()  # as the `handoff` command does
    source = JiraSource.model_validate({**entry, "token": os.environ["BENCH_JIRA_TOKEN"]})
    connector = JiraConnector(source)
    started, cpu = time.perf_counter(), time.process_time()
    result = land(
        raw, connector.fetch(read_cursor(raw), full=full), full=full, stats=connector.stats
    )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    out: dict[str, Any] = {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),  # the sync process's own CPU time (all threads)
        "issues": result.record_counts.get("issue", 0),
        "records": result.records,
        "deleted": result.deleted,
        "client_requests": connector.stats.requests,
        "retries": connector.stats.retries,
    }
    out["sync_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if normalise_too:
        from model.normalise.jira import normalise

        con = duckdb.connect()
        con.execute(STAGING.read_text())
        con.execute(f"ATTACH '{raw}' AS raw_jira (READ_ONLY)")
        started = time.perf_counter()
        normalise(con, source, "raw_jira", datetime.now(UTC).replace(tzinfo=None))
        out["normalise_seconds"] = round(time.perf_counter() - started, 2)
        out["status_changes"] = con.execute("SELECT count(*) FROM stg_status_changes").fetchone()[0]  # type: ignore[index]
        out["references"] = con.execute("SELECT count(*) FROM stg_references").fetchone()[0]  # type: ignore[index]
        con.close()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def _run_worker(entry: dict[str, Any], env: dict[str, str], raw: Path, full: bool) -> Any:
    args = [sys.executable, "-m", "bench.bench_jira", "--worker", json.dumps(entry), str(raw)]
    if full:
        args.append("--full")
    done = subprocess.run(
        args, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def api_minimum(size: int, deployment: str, linked: int) -> int:
    """Search pages + bulk changelog calls (Cloud) + one call per linked issue + census."""
    page = 100 if deployment == "cloud" else 1000
    bulk = math.ceil(size / 1000) if deployment == "cloud" else 0
    return math.ceil(size / page) + bulk + linked + math.ceil(size / CENSUS_PAGE)


def bench(size: int, deployment: str, remote_links: bool = True) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(size), deployment],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout
        info = json.loads(server.stdout.readline())
        entry = {
            **info["entry"],
            "remote_links": remote_links,
        }  # the token stays "${BENCH_JIRA_TOKEN}": workers read the env
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "bench-jira.duckdb"
            load = os.getloadavg()[0]
            full = _run_worker(entry, info["env"], raw, True)
            full["load_before"] = round(load, 2)
            full["requests"] = _ask(server, "requests")
            linked = _ask(server, "linked") if remote_links else 0
            full["api_minimum"] = api_minimum(info["issues"], deployment, linked)
            full["issues_with_remote_links"] = linked
            changed = _ask(server, "mutate")
            load = os.getloadavg()[0]
            incremental = _run_worker(entry, info["env"], raw, False)
            incremental["load_before"] = round(load, 2)
            incremental["requests"] = _ask(server, "requests")
            incremental["changed"] = changed
        for run in (full, incremental):
            run["issues_per_second"] = round(run["issues"] / max(run["seconds"], 1e-9), 1)
        return {
            "size": info["issues"],
            "deployment": deployment,
            "remote_links": remote_links,
            "full": full,
            "incremental": incremental,
        }
    finally:
        if server.stdin:
            server.stdin.write("quit\n")
            server.stdin.close()
        server.wait(timeout=60)


def write(results: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    (RESULTS / "jira.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    lines = [
        "# Jira ingestion benchmark",
        "",
        f"{meta['when']}, {meta['cpus']} CPUs, Python {meta['python']}; sandbox in its own "
        "process, each sync in a fresh process (1% of issues changed for the incremental run; "
        f"load average {os.getloadavg()} at the end). API minimum = search pages + bulk "
        "changelog calls (Cloud, 1 per 1,000) + one call per issue with remote links"
        " + census pages.",
        "",
        "| issues | deployment | remote links | sync | wall s | CPU s | load before "
        "| issues/s | HTTP requests | API minimum (linked issues) | retries | sync peak RSS MB "
        "| normalise s | peak RSS with normalise MB |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for kind in ("full", "incremental"):
            run = r[kind]
            lines.append(
                f"| {r['size']} | {r['deployment']} | {'on' if r['remote_links'] else 'off'} | "
                f"{kind} | {run['seconds']} | {run.get('cpu_seconds', '')} | "
                f"{run.get('load_before', '')} | {run['issues_per_second']} | {run['requests']} | "
                + (
                    f"{run['api_minimum']} ({run['issues_with_remote_links']})"
                    if "api_minimum" in run
                    else ""
                )
                + f" | {run['retries']} | "
                f"{run['sync_peak_rss_mb']} | {run.get('normalise_seconds', '')} | "
                f"{run['peak_rss_mb']} |"
            )
    (RESULTS / "jira.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000])
    parser.add_argument(
        "--deployment", choices=["cloud", "data_center"], nargs="+", default=["cloud"]
    )
    parser.add_argument("--worker", nargs=2, metavar=("SOURCE_JSON", "RAW_PATH"))
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--links", choices=["on", "off", "both"], default="on")
    args = parser.parse_args()
    if args.worker:
        entry, raw = json.loads(args.worker[0]), Path(args.worker[1])
        print(json.dumps(worker(entry, raw, args.full, normalise_too=True)))
        return
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.links]
    write(
        [
            bench(size, deployment, links)
            for size in args.sizes
            for deployment in args.deployment
            for links in modes
        ]
    )


if __name__ == "__main__":
    main()
