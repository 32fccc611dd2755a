"""One full or incremental Jira sync per tool, each in its own process, with what it produced.

Every function takes a running sandbox `Host`, a work folder that persists between the full and
the incremental run of the same tool (its state lives there), and returns one result row:
seconds, peak RSS, the requests the sandbox counted, and what the output holds.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import duckdb

from bench.peers.envs import peer_python, trust_ca
from bench.peers.measure import ROOT, Host, result_row, run_measured
from bench.peers.singer import select_streams, summarise

HANDOFF_WORKER = """
import json, sys
from pathlib import Path
from bench.bench_jira import worker
print(json.dumps(worker(json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "full", False)))
"""


# dlt's normaliser held 7.3 GB at 20,000 issues; on a shared 24 GB machine it is stopped here
DLT_RSS_LIMIT_MB = 12_000


CODE_ENV = "HANDOFF_BENCH_CODE"  # measure our sync from this source tree instead of the checkout


def _raw_contents(raw: Path) -> dict[str, Any]:
    """What our raw store holds: issues, link ends, status histories, remote links, tombstones."""
    con = duckdb.connect(str(raw), read_only=True)
    try:
        issues, deleted, links = con.execute(
            "SELECT count(*) FILTER (WHERE NOT is_deleted), count(*) FILTER (WHERE is_deleted), "
            "coalesce(sum(json_array_length(payload, '$.fields.issuelinks')) "
            "FILTER (WHERE NOT is_deleted), 0) FROM raw_records WHERE record_type = 'issue'"
        ).fetchone() or (0, 0, 0)
        histories = con.execute(
            "SELECT coalesce(sum(json_array_length(payload, '$.histories')), 0) FROM raw_records "
            "WHERE record_type = 'changelog' AND NOT is_deleted"
        ).fetchone()
        remote = con.execute(
            "SELECT coalesce(sum(json_array_length(payload, '$.links')), 0) FROM raw_records "
            "WHERE record_type = 'remotelink' AND NOT is_deleted"
        ).fetchone()
    finally:
        con.close()
    return {
        "issues_held": int(issues),
        "issue_links": int(links),
        "status_histories": int(histories[0]) if histories else 0,
        "remote_links": int(remote[0]) if remote else 0,
        "deletions_seen": int(deleted),
    }


def handoff(host: Host, work: Path, *, full: bool, remote_links: bool = True) -> dict[str, Any]:
    """Our connector + raw landing (the sync step of the job), as `bench.bench_jira` runs it."""
    entry = {**host.info["entry"], "remote_links": remote_links}
    raw = work / "raw.duckdb"
    code = Path(os.environ.get(CODE_ENV) or ROOT)  # another revision's tree, e.g. `git archive`
    measured = run_measured(
        [sys.executable, "-c", HANDOFF_WORKER, json.dumps(entry), str(raw), "full" if full else ""],
        env={**host.info["env"], "PYTHONPATH": str(code)},
        cwd=code,
    )
    figures = (
        json.loads(measured.stdout.strip().splitlines()[-1]) if measured.returncode == 0 else {}
    )
    tool = "handoff" if remote_links else "handoff (remote links off)"
    row = result_row(tool, full, measured, host)
    row["issues_fetched"] = figures.get("issues", 0)
    row["sync_seconds"] = figures.get("seconds")  # in-process: without interpreter start-up
    if raw.exists() and measured.returncode == 0:
        row.update(_raw_contents(raw))
    return row


def tap_jira(host: Host, work: Path, full: bool) -> dict[str, Any]:
    """Singer's tap-jira against Data Center (https only; basic auth), issues + changelogs."""
    info = host.info
    tap = str(peer_python("tap-jira").parent / "tap-jira")
    trust_ca("tap-jira", info["ca_bundle"])
    env = {"REQUESTS_CA_BUNDLE": info["ca_bundle"]}
    config, catalog, state = work / "config.json", work / "catalog.json", work / "state.json"
    if full:
        config.write_text(
            json.dumps(
                {
                    "base_url": info["url"],
                    "username": info["user"],
                    "password": info["token"],
                    "start_date": "2000-01-01T00:00:00Z",
                    "user_agent": "handoff-bench",
                }
            )
        )
        config.chmod(0o600)
        discovered = run_measured([tap, "--config", str(config), "--discover"], env=env)
        if discovered.returncode != 0:
            return result_row("tap-jira", True, discovered, host)
        catalog.write_text(
            json.dumps(select_streams(json.loads(discovered.stdout), {"issues", "changelogs"}))
        )
        host.reset()  # discovery is set-up, not sync
    args = [tap, "--config", str(config), "--properties", str(catalog)]
    if not full and state.exists():
        args += ["--state", str(state)]
    output = work / ("full.jsonl" if full else "incremental.jsonl")
    with output.open("w") as out:
        measured = run_measured(args, env=env, stdout=out)
    summary = summarise(output)
    if summary["state"] is not None:
        state.write_text(json.dumps(summary["state"]))
    row = result_row("tap-jira", full, measured, host)
    records = summary["records"]
    row.update(
        issues_fetched=records.get("issues", 0),
        records=records,
        issue_links=summary["issue_links"],
        status_histories=summary["status_histories"],
        remote_links=None,
        deletions_seen=0,
    )
    output.unlink()  # the stream can be large; its counts are kept
    return row


def dlt_jira(host: Host, work: Path, full: bool) -> dict[str, Any]:
    """dlt's rest_api source on Cloud `search/jql` into DuckDB (merge on id, incremental)."""
    info = host.info
    config = {"url": info["url"], "email": info["email"], "projects": info["projects"]}
    config["workdir"] = str(work)
    measured = run_measured(
        [
            str(peer_python("dlt")),
            str(ROOT / "bench" / "peers" / "dlt_jira.py"),
            json.dumps(config),
        ],
        env={"BENCH_JIRA_TOKEN": info["token"], "RUNTIME__LOG_LEVEL": "ERROR"},
        cwd=work,
        rss_limit_mb=DLT_RSS_LIMIT_MB,
    )
    row = result_row("dlt rest_api", full, measured, host)
    if measured.returncode == 0:
        out = json.loads(measured.stdout.strip().splitlines()[-1])
        row.update(
            issues_fetched=out["loaded_rows"].get("issues", 0),
            issues_held=out.get("issues"),
            issue_links=out.get("issue_links"),
            status_histories=out.get("status_histories"),
            remote_links=None,
            deletions_seen=0,
        )
    return row
