"""Asana ingestion benchmark: full and 1%-incremental sync against a sandbox in its own process.

    python -m bench.bench_asana --sizes 20000 100000

Measures wall time, tasks per second, requests (as the sandbox counted them, per kind), retries
and the client's peak memory (RSS); writes bench/results/asana.md and asana.json.

Each size runs in a fresh client process, so its peak RSS is its own: `sync_peak_rss_mb` is the
peak after the full and the incremental sync (connector plus DuckDB landing), `peak_rss_mb`
after normalising too. The API minimum (task pages + one stories listing per open task) is
computed by the sandbox from its org, not from anything the connector reports.
"""

from __future__ import annotations

import argparse
import json
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

import duckdb

from connectors.asana import AsanaConnector
from handoff.config import AsanaSource
from model.landing import land, landing_memory, read_cursor
from model.normalise.asana import normalise

RESULTS = Path(__file__).resolve().parent / "results"
STAGING = Path(__file__).resolve().parents[1] / "model" / "staging.sql"

SERVER = """
import json, re, sys
from sandbox.asana import AsanaSandbox, generate_org
org = generate_org(int(sys.argv[1]), 42)
# requests are checked against Asana's document as in the tests; responses are not: validating
# each of the 100 items of a page costs the sandbox far more than serving it, and would make a
# page of 100 tasks weigh like a dozen requests
sb = AsanaSandbox(org, check_responses=False).start()
print(json.dumps({"url": sb.url, "token": sb.token, "tasks": len(org.tasks)}), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "mutate":
        changes = org.mutate_share(0.01, 7)
        sb.server.reset_counts()
        print(json.dumps({k: len(v) for k, v in changes.items()}), flush=True)
    elif command == "requests":
        print(json.dumps(sb.server.total_requests), flush=True)
    elif command == "kinds":
        kinds = {}
        for path, n in sb.server.requests.items():
            kind = re.sub(r"/[0-9]{6,}", "/{gid}", path.split("?")[0])
            kinds[kind] = kinds.get(kind, 0) + n
        print(json.dumps(dict(sorted(kinds.items(), key=lambda kv: -kv[1]))), flush=True)
    elif command == "minimum":  # task pages + one stories listing per open task or subtask
        pages = sum((len(org.project_tasks(p)) + 99) // 100 for p in org.projects)
        print(json.dumps(pages + sum(1 for t in org.tasks.values() if not t.completed)), flush=True)
    else:
        break
sb.stop()
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ask(server: subprocess.Popen[str], command: str) -> Any:
    assert server.stdin and server.stdout
    server.stdin.write(command + "\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())


def _normalise_seconds(raw: Path, source: AsanaSource) -> tuple[float, int]:
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_src (READ_ONLY)")
    started = time.perf_counter()
    normalise(con, source, "raw_src", datetime.now(UTC).replace(tzinfo=None))
    seconds = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM stg_items").fetchone()[0]  # type: ignore[index]
    con.close()
    return seconds, int(rows)


def _sync(source: AsanaSource, raw: Path, full: bool) -> tuple[float, Any, AsanaConnector]:
    connector = AsanaConnector(source)
    cursor = None if full else read_cursor(raw)
    started = time.perf_counter()
    result = land(
        raw,
        connector.fetch(cursor, full=full),
        full=full,
        stats=connector.stats,
        memory_limit=landing_memory(source.kind),
    )
    return time.perf_counter() - started, result, connector


def bench(size: int) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert server.stdout
        info = json.loads(server.stdout.readline())
        source = AsanaSource(name="bench-asana", kind="asana", url=info["url"], token=info["token"])
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "bench-asana.duckdb"
            full_s, full_result, full_conn = _sync(source, raw, full=True)
            full_requests = _ask(server, "requests")
            full_kinds = _ask(server, "kinds")
            minimum = _ask(server, "minimum")
            changes = _ask(server, "mutate")
            inc_s, inc_result, inc_conn = _sync(source, raw, full=False)
            inc_requests = _ask(server, "requests")
            inc_kinds = _ask(server, "kinds")
            sync_peak = _peak_mb()
            norm_s, items = _normalise_seconds(raw, source)
    finally:
        if server.stdin:
            server.stdin.write("stop\n")
            server.stdin.close()
        server.wait(timeout=60)
    return {
        "tasks": info["tasks"],
        "full": {
            "seconds": round(full_s, 2),
            "tasks_per_s": round(info["tasks"] / full_s),
            "requests": full_requests,
            "pages_and_open_stories": minimum,
            "requests_over_minimum": round(full_requests / minimum, 3),
            "requests_by_kind": full_kinds,
            "retries": full_conn.stats.retries,
            "records": full_result.records,
        },
        "incremental": {
            "seconds": round(inc_s, 2),
            "changed": changes,
            "requests": inc_requests,
            "share_of_full_seconds": round(inc_s / full_s, 4),
            "share_of_full_requests": round(inc_requests / full_requests, 4),
            "requests_by_kind": inc_kinds,
            "retries": inc_conn.stats.retries,
            "records": inc_result.records,
            "deleted": inc_result.deleted,
        },
        "normalise": {"seconds": round(norm_s, 2), "items": items},
        "sync_peak_rss_mb": round(sync_peak),
        "peak_rss_mb": round(_peak_mb()),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process's size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(bench(args.one)), flush=True)
        return
    runs = []
    for size in args.sizes:
        print(f"asana: {size} tasks ...", flush=True)
        child = subprocess.run(
            [sys.executable, "-m", "bench.bench_asana", "--one", str(size)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]), flush=True)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "asana.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=2))
    lines = [
        "# Asana ingestion benchmark",
        "",
        f"{meta['when']}, Python {meta['python']}, {meta['cpus']} CPUs; sandbox in its own "
        "process, each size in a fresh client process; sync peak RSS includes DuckDB landing, "
        "peak RSS adds normalising. Load average (1, 5, 15 min) after each size: "
        + "; ".join(f"{r['tasks']}: {r['load_average']}" for r in runs)
        + ".",
        "",
        "| tasks | full s | tasks/s | full requests | task pages + open stories | ratio "
        "| incr. s | incr. / full s | incr. requests | incr. records | normalise s "
        "| sync peak MB | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        full, inc = r["full"], r["incremental"]
        lines.append(
            f"| {r['tasks']} | {full['seconds']} | {full['tasks_per_s']} "
            f"| {full['requests']} | {full['pages_and_open_stories']} "
            f"| {full['requests_over_minimum']} | {inc['seconds']} "
            f"| {inc['share_of_full_seconds']:.1%} | {inc['requests']} | {inc['records']} "
            f"| {r['normalise']['seconds']} | {r['sync_peak_rss_mb']} | {r['peak_rss_mb']} |"
        )
    lines += ["", "Requests per kind (full; incremental):", ""]
    for r in runs:
        lines.append(
            f"- {r['tasks']} tasks: {r['full']['requests_by_kind']}; "
            f"{r['incremental']['requests_by_kind']}"
        )
    (RESULTS / "asana.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
