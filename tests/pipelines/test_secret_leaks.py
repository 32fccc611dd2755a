"""A token never lands in any file a sync writes, nor in what it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from sandbox.demo import story
from sandbox.demo.files import write_csv

TOKEN = "tok-3f9a1c77e2b84d1f9a0c55e1d2b7c4a9"


class _EchoingProxy(BaseHTTPRequestHandler):
    """A misbehaving gateway that quotes the request's credentials in its error body."""

    def _answer(self) -> None:
        body = json.dumps(
            {"errorMessages": [f"gateway refused request with {self.headers.get('Authorization')}"]}
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def echoing_proxy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _write_config(root: Path, jira_url: str) -> Path:
    write_csv(root / "plans" / "it.csv", story.IT_OPS, date.today())
    config = {
        "version": 1,
        "sync": {"retries": 1, "retry_delay_seconds": 0},
        "sources": [
            {"name": "it-ops", "kind": "csv", "path": "plans/it.csv", "date_order": "dmy"},
            {
                "name": "ops-jira",
                "kind": "jira",
                "deployment": "data_center",
                "url": jira_url,
                "token": "${HANDOFF_TEST_JIRA_TOKEN}",
                "projects": ["OPS"],
            },
        ],
    }
    path = root / "handoff.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _sync(root: Path, config: Path, token: str) -> subprocess.CompletedProcess[str]:
    home = root / "dagster_home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HANDOFF_TEST_JIRA_TOKEN": token, "DAGSTER_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=root,
    )


def _files_holding(root: Path, secret: str) -> list[str]:
    needle = secret.encode()
    return [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    ]


def test_token_with_trailing_newline_is_refused_before_anything_runs(
    tmp_path: Path, echoing_proxy: str
) -> None:
    config = _write_config(tmp_path, echoing_proxy)
    result = _sync(tmp_path, config, TOKEN + "\n")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "sources[1](ops-jira).token" in output or "sources[1].token" in output, output
    assert "HANDOFF_TEST_JIRA_TOKEN" in output and "line break" in output
    assert TOKEN not in output
    assert not (tmp_path / "data").exists()  # refused up front: no fetch, no publish
    assert _files_holding(tmp_path, TOKEN) == []


def test_token_quoted_in_an_error_reaches_no_file_and_no_output(
    tmp_path: Path, echoing_proxy: str
) -> None:
    config = _write_config(tmp_path, echoing_proxy)
    result = _sync(tmp_path, config, TOKEN)
    output = result.stdout + result.stderr
    assert _files_holding(tmp_path, TOKEN) == []
    # the failing source is reported (with the gateway's words), the other one published
    assert "ops-jira" in output and "gateway refused request with Bearer ***" in output, output
    assert (tmp_path / "data" / "handoff.duckdb").exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any("dagster_home" in str(p) for p in written)  # run and event storage were written
    assert TOKEN not in output
    assert _files_holding(tmp_path, TOKEN) == []
