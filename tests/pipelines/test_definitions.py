"""The code location loads for every source kind, validates with Dagster's CLI, and is served."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from handoff.config import load_config
from pipelines.definitions import build_definitions

EVERY_KIND = {
    "schedule": {"cron": "30 1 * * 1-5", "timezone": "Europe/Berlin"},
    "sources": [
        {
            "name": "it-jira",
            "kind": "jira",
            "url": "https://jira.example",
            "email": "a@b.c",
            "token": "${T}",
        },
        {"name": "mkt", "kind": "asana", "token": "${T}"},
        {"name": "fin", "kind": "gsheets", "spreadsheet_id": "abc", "credentials_file": "sa.json"},
        {"name": "store", "kind": "xlsx", "path": "store.xlsx"},
        {"name": "plan", "kind": "csv", "path": "plan.csv"},
    ],
}


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "handoff.yaml"
    path.write_text(yaml.safe_dump(EVERY_KIND))
    return path


def test_definitions_load_for_every_source_kind(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    defs = build_definitions(load_config(path, require_env=False), str(path))
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert keys == {
        "raw/it-jira",
        "raw/mkt",
        "raw/fin",
        "raw/store",
        "raw/plan",
        "governance_model",
        "exceptions",
        "exception_report",
        "tool_comments",  # write-back into Jira and Asana, after the publish
        "owner_digests",  # each person's action list, after the publish
    }
    job = defs.resolve_job_def("nightly_sync")
    assert job.name == "nightly_sync"
    schedule = defs.resolve_schedule_def("nightly_sync_schedule")
    assert (
        schedule.cron_schedule == "30 1 * * 1-5" and schedule.execution_timezone == "Europe/Berlin"
    )
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {
        "unique_item_ids",
        "dependencies_point_at_items",
        "no_source_collapsed",
        "fresh",
    } <= checks


@pytest.mark.slow  # `dagster definitions validate` in a subprocess
def test_dagster_cli_validates_the_code_location(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HANDOFF_CONFIG": str(write_config(tmp_path)),
        "DAGSTER_HOME": str(tmp_path),
    }
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "pipelines.definitions"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow  # starts `dagster dev`
@pytest.mark.timeout(240)
def test_dagster_dev_serves_the_asset_graph(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    repo_yaml = Path(__file__).resolve().parents[2] / "dagster_home" / "dagster.yaml"
    (home / "dagster.yaml").write_text(repo_yaml.read_text())
    port = free_port()
    env = {**os.environ, "HANDOFF_CONFIG": str(write_config(tmp_path)), "DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).with_name("dagster")
    server = subprocess.Popen(
        [str(dagster), "dev", "-m", "pipelines.definitions", "-p", str(port), "-h", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    query = {"query": "{ assetNodes { assetKey { path } groupName } }"}
    try:
        nodes = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and nodes is None:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=json.dumps(query).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = json.load(response)
                nodes = body["data"]["assetNodes"] or None
            except (OSError, KeyError, TypeError):
                time.sleep(1)
        assert nodes, "the webserver never served the asset graph"
        paths = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {"raw/it-jira", "governance_model", "exceptions", "exception_report"} <= paths
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: do not let the server outlive us
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
