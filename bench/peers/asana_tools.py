"""Asana side by side: our connector against Singer's tap-asana on the Asana sandbox.

tap-asana cannot be pointed at a local URL by its own configuration: the Asana SDK it uses
fixes `Configuration.host` to app.asana.com, and the tap only logs in by exchanging an OAuth
refresh token at app.asana.com. To measure what can be measured, it runs with a start-up shim
(a `sitecustomize` on PYTHONPATH, never a change to its installed files) that sets the SDK's
host to the sandbox and hands the sandbox token over as the access token.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import duckdb

from bench.peers.envs import peer_python
from bench.peers.measure import Host, result_row, run_measured
from bench.peers.singer import select_streams, summarise

NOTES = [
    "- tap-asana (singer-io): not pointable at a local URL by its own configuration (the Asana "
    "SDK's host is fixed to app.asana.com and the tap logs in only by an OAuth refresh at "
    "app.asana.com). Measured with a start-up shim (sitecustomize) that sets the SDK host to "
    "the sandbox and uses the sandbox token; streams tasks + subtasks + stories selected. "
    "Singer has no delete detection. It still fails on the sandbox: its tasks stream sends "
    "`modified_since` without a time zone (`2000-01-01T00:00:00.000000`), which the sandbox "
    "refuses with a 400 as its Asana contract requires; its figures are up to that failure.",
]

SHIM = """
import os
import asana
_init = asana.Configuration.__init__
def _local(self, *a, **k):
    _init(self, *a, **k)
    self.host = os.environ["BENCH_ASANA_URL"]
asana.Configuration.__init__ = _local
try:
    import tap_asana.asana as _tap
    _tap.Asana.refresh_access_token = lambda self: os.environ["BENCH_ASANA_TOKEN"]
except ImportError:
    pass
"""

HANDOFF_WORKER = """
import json, os, resource, sys, time
from pathlib import Path
from connectors.asana import AsanaConnector
from handoff.config import AsanaSource
from model.landing import land, landing_memory, read_cursor
entry = {**json.loads(sys.argv[1]), "token": os.environ["BENCH_ASANA_TOKEN"]}
raw, full = Path(sys.argv[2]), sys.argv[3] == "full"
connector = AsanaConnector(AsanaSource.model_validate(entry))
result = land(raw, connector.fetch(None if full else read_cursor(raw), full=full),
              full=full, stats=connector.stats, memory_limit=landing_memory("asana"))
print(json.dumps({"tasks": result.record_counts.get("task", 0), "records": result.records,
                  "deleted": result.deleted}))
"""


def handoff(host: Host, work: Path, full: bool) -> dict[str, Any]:
    raw = work / "raw.duckdb"
    measured = run_measured(
        [
            sys.executable,
            "-c",
            HANDOFF_WORKER,
            json.dumps(host.info["entry"]),
            str(raw),
            "full" if full else "",
        ],
        env=host.info["env"],
    )
    figures = (
        json.loads(measured.stdout.strip().splitlines()[-1]) if measured.returncode == 0 else {}
    )
    row = result_row("handoff", full, measured, host, issues_fetched=figures.get("tasks", 0))
    if measured.returncode == 0:
        con = duckdb.connect(str(raw), read_only=True)
        held, deleted = con.execute(
            "SELECT count(*) FILTER (WHERE NOT is_deleted), count(*) FILTER (WHERE is_deleted) "
            "FROM raw_records WHERE record_type = 'task'"
        ).fetchone() or (0, 0)
        con.close()
        row.update(issues_held=int(held), deletions_seen=int(deleted))
    return row


def tap_asana(host: Host, work: Path, full: bool) -> dict[str, Any]:
    info = host.info
    tap = str(peer_python("tap-asana").parent / "tap-asana")
    shim = work / "shim"
    config, catalog, state = work / "config.json", work / "catalog.json", work / "state.json"
    env = {"PYTHONPATH": str(shim), "BENCH_ASANA_URL": info["url"], **info["env"]}
    if full:
        shim.mkdir(exist_ok=True)
        (shim / "sitecustomize.py").write_text(SHIM)
        config.write_text(
            json.dumps(
                {
                    "start_date": "2000-01-01T00:00:00Z",
                    "client_id": "bench",
                    "client_secret": "bench",
                    "redirect_uri": "http://127.0.0.1/",
                    "refresh_token": "bench",
                }
            )
        )
        discovered = run_measured([tap, "--config", str(config), "--discover"], env=env)
        if discovered.returncode != 0:
            return result_row("tap-asana (shimmed host)", full, discovered, host)
        catalog.write_text(
            json.dumps(
                select_streams(json.loads(discovered.stdout), {"tasks", "subtasks", "stories"})
            )
        )
        host.reset()
    args = [tap, "--config", str(config), "--catalog", str(catalog)]
    if not full and state.exists():
        args += ["--state", str(state)]
    output = work / "out.jsonl"
    with output.open("w") as out:
        measured = run_measured(args, env=env, stdout=out)
    summary = summarise(output)
    if summary["state"] is not None:
        state.write_text(json.dumps(summary["state"]))
    records = summary["records"]
    output.unlink()
    return result_row(
        "tap-asana (shimmed host)",
        full,
        measured,
        host,
        issues_fetched=records.get("tasks", 0) + records.get("subtasks", 0),
        records=records,
        deletions_seen=0,
    )


def tools(install_errors: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"handoff": handoff}
    if "tap-asana" not in install_errors:
        out["tap-asana (shimmed host)"] = tap_asana
    return out
