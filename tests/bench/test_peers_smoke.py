"""The benchmark scripts run: a tiny side-by-side round, its report, and the suite summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.peers import compare
from bench.peers.envs import peer_python
from bench.peers.measure import Host
from bench.peers.report import markdown, write_peers
from bench.peers.singer import select_streams, summarise
from bench.run_all import summary
from bench.scale import ScaleOrganisation
from handoff.config import load_config


def _tiny_report(tmp_path: Path, tools: dict[str, compare.Tool]) -> dict[str, Any]:
    sandbox, rows = compare.rounds("jira", 40, "data_center", tools, 1, tls=True)
    return {
        "machine": {"when": "now", "cores": 2, "load_1_5_15": [0, 0, 0], "python": "3.11"},
        "jira_size": 40,
        "asana_size": 0,
        "repeat": 1,
        "peers": {},
        "install_errors": {},
        "sandboxes": {"jira-data_center": sandbox},
        "rows": rows,
        "results": compare.medians(rows),
    }


@pytest.mark.slow  # our sync as a child process against a TLS sandbox, twice
def test_round_of_our_sync_over_tls_counts_requests_and_contents(tmp_path: Path) -> None:
    tools = {"handoff": compare.JIRA_SETUPS["data_center"]["tools"]["handoff"]}
    report = _tiny_report(tmp_path, tools)
    full, incremental = report["results"]
    assert full["ok"] and incremental["ok"], full.get("error") or incremental.get("error")
    assert full["issues_fetched"] == 40 and full["issues_held"] == 40
    assert full["requests"] > 0 and full["peak_rss_mb"] > 0
    assert full["client_cpu_s"] > 0 and full["sandbox_cpu_s"] > 0  # both sides of the wire
    # the host deletes one issue before the incremental run: our census turns it into a tombstone
    assert incremental["deletions_seen"] == 1 and incremental["issues_held"] == 39
    assert incremental["requests"] < full["requests"]
    text = write_peers(report, tmp_path)
    assert "| handoff | full |" in text and "## Targets" in text
    kept = json.loads((tmp_path / "peers-40.json").read_text())
    assert [r["requests"] for r in kept["results"]] == [full["requests"], incremental["requests"]]
    assert "rows" not in kept and not any("routes" in r for r in kept["results"])
    raw = json.loads((tmp_path / "raw" / "peers-40.json").read_text())
    assert len(raw["rows"]) == 2 and all(r["routes"] for r in raw["results"])
    assert "## Handoff and its peers" in summary(tmp_path, [40], 0)
    assert (tmp_path / "README.md").exists()


def test_singer_stream_is_read_back(tmp_path: Path) -> None:
    catalog: dict[str, Any] = {
        "streams": [
            {"tap_stream_id": s, "metadata": [{"breadcrumb": [], "metadata": {}}]}
            for s in ("issues", "users")
        ]
    }
    chosen = select_streams(catalog, {"issues"})["streams"]
    assert [e["metadata"][0]["metadata"]["selected"] for e in chosen] == [True, False]
    stream = tmp_path / "out.jsonl"
    lines = [
        {"type": "SCHEMA", "stream": "issues", "schema": {}},
        {"type": "RECORD", "stream": "issues", "record": {"fields": {"issuelinks": [1, 2]}}},
        {"type": "RECORD", "stream": "changelogs", "record": {"items": [{"field": "status"}]}},
        {"type": "STATE", "value": {"bookmarks": {"issues": {"updated": "x"}}}},
    ]
    stream.write_text("INFO noise\n" + "\n".join(json.dumps(m) for m in lines) + "\n")
    read = summarise(stream)
    assert read["records"] == {"issues": 1, "changelogs": 1}
    assert read["issue_links"] == 2 and read["status_histories"] == 1
    assert read["state"]["bookmarks"]["issues"]["updated"] == "x"


@pytest.mark.slow  # tap-jira in its own venv, as a subprocess
@pytest.mark.skipif(not peer_python("tap-jira").exists(), reason="tap-jira venv not installed")
def test_tap_jira_runs_against_the_tls_sandbox(tmp_path: Path) -> None:
    from bench.peers.jira_tools import tap_jira

    with Host("jira", 30, deployment="data_center", tls=tmp_path) as host:
        work = tmp_path / "tap"
        work.mkdir()
        row = tap_jira(host, work, True)
    assert row["ok"], row.get("error")
    assert row["issues_fetched"] == 30 and row["requests"] > 0


def test_scale_organisation_writes_a_loadable_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = ScaleOrganisation(30, 20, 10, tmp_path)
    try:
        figures = org.figures()
        assert figures["jira_issues"] == 30 and figures["sheet_rows"] == 10
        raw = yaml.safe_load(org.config_path.read_text())
        assert all("token" not in s or s["token"].startswith("${") for s in raw["sources"])
        for key, value in org.env.items():
            monkeypatch.setenv(key, value)
        config = load_config(org.config_path)
        assert [s.name for s in config.sources] == ["it-jira", "mkt-asana", "ops-sheet"]
        changed = org.mutate()
        assert changed["jira_changed"] == 1 and changed["sheet_rows_edited"] >= 1
    finally:
        org.stop()


def test_report_marks_failed_tools() -> None:
    row = {"deployment": "cloud", "tool": "dlt rest_api", "run": "full", "ok": False,
           "seconds": 1.0, "requests": 0, "peak_rss_mb": 1.0, "error": "boom\nlast line"}  # fmt: skip
    text = markdown(
        {
            "machine": {"when": "now", "cores": 2, "load_1_5_15": [0, 0, 0], "python": "3.11"},
            "jira_size": 1,
            "repeat": 1,
            "peers": {},
            "sandboxes": {},
            "results": [row],
        }
    )
    assert "failed: ['last line']" in text
