"""Asana ingestion benchmark: full and 1%-incremental sync against a sandbox in its own process.

    python -m bench.bench_asana --sizes 20000 100000

Measures wall time, tasks per second, requests (as the sandbox counted them), retries and the
client's peak memory (RSS); writes bench/results/asana.md and asana.json.
"""

from __future__ import annotations

import argparse
import json
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
from model.landing import land, read_cursor
from model.normalise.asana import normalise

RESULTS = Path(__file__).resolve().parent / "results"
STAGING = Path(__file__).resolve().parents[1] / "model" / "staging.sql"

SERVER = """
import json, sys
from sandbox.asana import AsanaSandbox, generate_org
org = generate_org(int(sys.argv[1]), 42)
sb = AsanaSandbox(org).start()
print(json.dumps({"url": sb.url, "token": sb.token, "tasks": len(org.tasks)}), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "mutate":
        changes = org.mutate_share(0.01, 7)
        sb.server.reset_counts()
        print(json.dumps({k: len(v) for k, v in changes.items()}), flush=True)
    elif command == "requests":
        print(json.dumps(sb.server.total_requests), flush=True)
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
    result = land(raw, connector.fetch(cursor, full=full), full=full, stats=connector.stats)
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
            minimum = _ask(server, "minimum")
            changes = _ask(server, "mutate")
            inc_s, inc_result, inc_conn = _sync(source, raw, full=False)
            inc_requests = _ask(server, "requests")
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
            "retries": full_conn.stats.retries,
            "records": full_result.records,
        },
        "incremental": {
            "seconds": round(inc_s, 2),
            "changed": changes,
            "requests": inc_requests,
            "retries": inc_conn.stats.retries,
            "records": inc_result.records,
            "deleted": inc_result.deleted,
        },
        "normalise": {"seconds": round(norm_s, 2), "items": items},
        "peak_rss_mb": round(_peak_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000])
    args = parser.parse_args()
    runs = []
    for size in args.sizes:
        print(f"asana: {size} tasks ...", flush=True)
        runs.append(bench(size))
        print(json.dumps(runs[-1]), flush=True)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "asana.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=2))
    lines = [
        "# Asana ingestion benchmark",
        "",
        f"{meta['when']}, Python {meta['python']}, {meta['cpus']} CPUs; sandbox in its own "
        "process; client peak RSS includes DuckDB landing; load average "
        f"{__import__('os').getloadavg()} at the end.",
        "",
        "| tasks | full s | tasks/s | full requests | task pages + open stories | incr. s | incr. requests | incr. records "
        "| normalise s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['tasks']} | {r['full']['seconds']} | {r['full']['tasks_per_s']} "
            f"| {r['full']['requests']} | {r['full']['pages_and_open_stories']} "
            f"| {r['incremental']['seconds']} "
            f"| {r['incremental']['requests']} | {r['incremental']['records']} "
            f"| {r['normalise']['seconds']} | {r['peak_rss_mb']} |"
        )
    (RESULTS / "asana.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
