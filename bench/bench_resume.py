"""Resume benchmark: an uninterrupted Jira first sync against one killed at 50% and resumed.

    python -m bench.bench_resume --size 50000 [--remote-links off]

The sandbox (Jira Cloud) runs in its own process and counts requests; each sync is a fresh
`model.fetch` process with the default checkpointing (20 pages or 60 s). The interrupted run is
killed with SIGKILL once the sandbox has answered half the requests of the uninterrupted one;
the next run resumes. Writes bench/results/resume.md and resume.json, and checks that both
syncs land the same normalised result.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

RESULTS = Path(__file__).resolve().parent / "results"
STAGING = Path(__file__).resolve().parents[1] / "model" / "staging.sql"

SERVER = """
import json, sys
from sandbox.jira import JiraSandbox, generate_org
org = generate_org(int(sys.argv[1]), 42)
sb = JiraSandbox(org, deployment="cloud").start()
entry, env = sb.source_entry("bench-jira", "BENCH_JIRA_TOKEN")
print(json.dumps({"entry": entry, "env": env, "issues": len(org.issues)}), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "requests":
        print(json.dumps(sb.server.total_requests), flush=True)
    elif command == "reset":
        sb.server.reset_counts()
        print(json.dumps(0), flush=True)
    else:
        break
sb.stop()
"""
WORKER = """
import logging, sys
from handoff.config import load_config
from model.fetch import fetch_source
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
config = load_config(sys.argv[1])
outcome = fetch_source(config, config.sources[0])
print(outcome.status, outcome.error or "", flush=True)
"""


def _ask(server: subprocess.Popen[str], command: str) -> Any:
    assert server.stdin and server.stdout
    server.stdin.write(command + "\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())


def _config(root: Path, entry: dict[str, Any], remote_links: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "handoff.yaml"
    source = {**entry, "remote_links": remote_links}
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}))
    return path


def _start(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(config)],
        env={**os.environ, **env},
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate()
    lines = out.strip().splitlines()  # DuckDB may print progress bars before the outcome
    if proc.returncode != 0 or not lines or not lines[-1].startswith("success"):
        raise RuntimeError(f"sync failed: {out} {err[-2000:]}")
    return err


def _digest(config: Path) -> dict[str, Any]:
    """Row counts and a digest of the normalised tables, to show both syncs land the same."""
    import duckdb

    from handoff.config import JiraSource, load_config
    from model.landing import raw_store_path
    from model.normalise.jira import normalise

    cfg = load_config(config, require_env=False)  # normalising reads no token
    source = cfg.sources[0]
    assert isinstance(source, JiraSource)
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw_store_path(cfg.raw_dir, source.name)}' AS raw (READ_ONLY)")
    normalise(con, source, "raw", datetime(2026, 1, 1))
    out: dict[str, Any] = {}
    digest = hashlib.sha256()
    for table in ("stg_items", "stg_references", "stg_status_changes"):
        exclude = " EXCLUDE (synced_at)" if table == "stg_items" else ""
        rows = sorted(map(repr, con.execute(f"SELECT *{exclude} FROM {table}").fetchall()))
        out[table] = len(rows)
        digest.update("\n".join(rows).encode())
    out["digest"] = digest.hexdigest()[:16]
    con.close()
    return out


def bench(size: int, remote_links: bool, share: float) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout
        info = json.loads(server.stdout.readline())
        entry, env = info["entry"], info["env"]
        with tempfile.TemporaryDirectory() as tmp:
            whole_cfg = _config(Path(tmp) / "whole", entry, remote_links)
            started = time.perf_counter()
            _finish(_start(whole_cfg, env))
            whole = {"seconds": round(time.perf_counter() - started, 2)}
            whole["requests"] = _ask(server, "requests")
            whole.update(_digest(whole_cfg))

            _ask(server, "reset")
            cut_cfg = _config(Path(tmp) / "cut", entry, remote_links)
            target = round(whole["requests"] * share)
            started = time.perf_counter()
            proc = _start(cut_cfg, env)
            while _ask(server, "requests") < target:
                if proc.poll() is not None:
                    raise RuntimeError("the sync ended before it was killed")
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
            killed = {
                "seconds": round(time.perf_counter() - started, 2),
                "requests": _ask(server, "requests"),
            }

            _ask(server, "reset")
            started = time.perf_counter()
            log = _finish(_start(cut_cfg, env))
            resumed = {"seconds": round(time.perf_counter() - started, 2)}
            resumed["requests"] = _ask(server, "requests")
            resumed["resume_logged"] = "resuming an interrupted fetch" in log
            resumed.update(_digest(cut_cfg))
        total = {
            "seconds": round(killed["seconds"] + resumed["seconds"], 2),
            "requests": killed["requests"] + resumed["requests"],
        }
        return {
            "size": info["issues"],
            "remote_links": remote_links,
            "kill_share": share,
            "uninterrupted": whole,
            "killed": killed,
            "resumed": resumed,
            "interrupted_total": total,
            "refetched_requests": total["requests"] - whole["requests"],
            "same_result": whole["digest"] == resumed["digest"],
        }
    finally:
        if server.stdin:
            server.stdin.write("quit\n")
            server.stdin.close()
        server.wait(timeout=60)


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    (RESULTS / "resume.json").write_text(json.dumps({"meta": meta, "result": result}, indent=2))
    r = result
    lines = [
        "# Resume benchmark",
        "",
        f"{meta['when']}, {meta['cpus']} CPUs (shared, loaded), Python {meta['python']}; "
        f"Jira Cloud sandbox with {r['size']} issues in its own process, remote links "
        f"{'on' if r['remote_links'] else 'off'}, default checkpoints (20 pages or 60 s); "
        f"the interrupted sync is killed (SIGKILL) at {round(r['kill_share'] * 100)}% of the "
        "uninterrupted sync's requests, then run again. Both runs in the same session.",
        "",
        "| run | wall s | HTTP requests |",
        "|---|---:|---:|",
        f"| uninterrupted | {r['uninterrupted']['seconds']} | {r['uninterrupted']['requests']} |",
        f"| killed part | {r['killed']['seconds']} | {r['killed']['requests']} |",
        f"| resumed part | {r['resumed']['seconds']} | {r['resumed']['requests']} |",
        f"| killed + resumed | {r['interrupted_total']['seconds']} | "
        f"{r['interrupted_total']['requests']} |",
        "",
        f"Requests sent again because of the kill: {r['refetched_requests']}. "
        f"Resume logged: {r['resumed']['resume_logged']}. Same normalised result "
        f"(items, references, status changes): {r['same_result']} "
        f"({r['resumed']['stg_items']} items, {r['resumed']['stg_references']} references, "
        f"{r['resumed']['stg_status_changes']} status changes).",
    ]
    (RESULTS / "resume.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=50000)
    parser.add_argument("--remote-links", choices=["on", "off"], default="on")
    parser.add_argument("--kill-at", type=float, default=0.5)
    args = parser.parse_args()
    write(bench(args.size, args.remote_links == "on", args.kill_at))


if __name__ == "__main__":
    main()
