"""A long Asana first sync under the vendor's quota: the shared host throttle keeps it there.

    python -m bench.bench_quota --tasks 100000 --scale 8

The sandbox (own process) counts 1,500 requests per token in any "minute" of 60/scale real
seconds and answers every 429 with `Retry-After: 30` (vendor seconds). The client runs on a clock
`scale` times faster than real time, so the quota binds as it would on a paid workspace, and it
starts out believing in ten times that quota: the first burst is refused and the throttle must
learn the real one from it. Reports wall time, requests, 429s (and when), the most requests in any
quota window after the first pause, and whether every task landed; writes bench/results/quota.md
and quota.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
from handoff.retry import ScaledClock
from model.landing import land

RESULTS = Path(__file__).resolve().parent / "results"
QUOTA = 1500  # Asana's documented paid-plan quota, requests per minute per token
RETRY_AFTER = 30

SERVER = """
import bisect, json, sys
from sandbox.asana import AsanaSandbox, generate_org
tasks, window, retry_after = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
org = generate_org(tasks, 42)
sb = AsanaSandbox(org, strict=False, check_responses=False, quota=True, quota_window=window,
                  quota_retry_after=retry_after).start()
sb.server.record_times = True
top = sorted(g for g, t in org.tasks.items() if t.parent is None)
print(json.dumps({"url": sb.url, "token": sb.token, "workspace": org.workspace_gid,
                  "top_level": len(top)}), flush=True)
sys.stdin.readline()
log = sorted(sb.server.request_log)
times = [t for t, _ in log]
refused = [t for t, s in log if s == 429]
def most(ts):
    return max((bisect.bisect_right(ts, t + window) - i for i, t in enumerate(ts)), default=0)
pause_end = (refused[0] + retry_after * window / 60) if refused else 0.0
after = [t for t in times if t >= pause_end - 0.1]
print(json.dumps({"requests": len(log), "refused": len(refused),
                  "refused_span_s": (refused[-1] - refused[0]) if refused else 0.0,
                  "refused_after_first_pause": sum(1 for t in refused if t > pause_end),
                  "max_in_window_after_pause": most(after),
                  "max_in_window_answered": most([t for t, s in log if s != 429]),
                  "top_level": len(top)}), flush=True)
sb.stop()
"""


def run(tasks: int, scale: float) -> dict[str, Any]:
    window = 60.0 / scale
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tasks), str(window), str(RETRY_AFTER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin and server.stdout
    info = json.loads(server.stdout.readline())
    source = AsanaSource(
        name="bench-asana",
        kind="asana",
        url=info["url"],
        token=info["token"],
        workspace=info["workspace"],
        rate_limit_per_minute=QUOTA * 10,  # what the client believes at first
    )
    connector = AsanaConnector(source, clock=ScaledClock(scale))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "asana.duckdb"
        started = time.perf_counter()
        land(raw, connector.fetch(None, full=True), full=True, stats=connector.stats)
        wall = time.perf_counter() - started
        con = duckdb.connect(str(raw), read_only=True)
        landed = con.execute(
            "SELECT count(*) FROM raw_records WHERE record_type = 'task' AND NOT is_deleted"
        ).fetchone()
        con.close()
    server.stdin.write("done\n")
    server.stdin.flush()
    seen = json.loads(server.stdout.readline())
    server.wait(timeout=60)
    return {
        "tasks": tasks,
        "scale": scale,
        "window_s": window,
        "wall_s": round(wall, 1),
        "vendor_minutes": round(wall * scale / 60, 1),
        "tasks_landed": landed[0] if landed else 0,
        **seen,
    }


def write(result: dict[str, Any]) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    load = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quota.json").write_text(json.dumps({"when": stamp, "result": result}, indent=1))
    r = result
    (RESULTS / "quota.md").write_text(
        "# Asana first sync under the quota\n\n"
        f"{stamp}, {os.cpu_count()} CPUs (load average {load:.1f}), Python "
        f"{platform.python_version()}; sandbox in its own process, {QUOTA} requests per "
        f"{r['window_s']:.1f} s window (a vendor minute at scale {r['scale']:g}), "
        f"`Retry-After: {RETRY_AFTER}` on every 429; the client starts out believing in "
        f"{QUOTA * 10} per minute.\n\n"
        "| tasks | wall s | vendor minutes | requests | 429s | 429s after the first pause "
        "| most answered in any window | most in any window after the pause | top-level tasks "
        "landed / served |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        f"| {r['tasks']} | {r['wall_s']} | {r['vendor_minutes']} | {r['requests']} | "
        f"{r['refused']} | {r['refused_after_first_pause']} | {r['max_in_window_answered']} | "
        f"{r['max_in_window_after_pause']} | {r['tasks_landed']} / {r['top_level']} |\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=8.0)
    args = parser.parse_args()
    result = run(args.tasks, args.scale)
    write(result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
