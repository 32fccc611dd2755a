"""`handoff sync` stops cleanly on Ctrl-C / SIGTERM, and logs its progress without a terminal.

Each test runs the real CLI in a subprocess against a Jira sandbox slowed down per request, so
the sync is still fetching when the signal arrives.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from handoff.config import load_config
from pipelines.runner import run_sync
from sandbox.jira import JiraSandbox, generate_org
from sandbox.server import Faults

pytestmark = pytest.mark.slow  # whole-job runs of the CLI in subprocesses

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    sandbox = JiraSandbox(generate_org(240, seed=5, now=NOW), faults=Faults())
    with sandbox:
        yield sandbox


@pytest.fixture
def published(tmp_path: Path, jira: JiraSandbox) -> Iterator[tuple[Path, dict[str, str]]]:
    """A config whose first sync was published (fast); then every request takes 80 ms."""
    entry, env = jira.source_entry("it-jira", "IT_JIRA_TOKEN")
    config = tmp_path / "handoff.yaml"
    config.write_text(
        yaml.safe_dump({"version": 1, "sources": [{**entry, "page_size": 20}]}, sort_keys=False)
    )
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        report = run_sync(config)
        assert report.success and report.published, report.errors
        jira.server.faults.slow_ms = 80
        yield config, {**os.environ, **env}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def start_sync(config: Path, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`handoff sync` with stdout and stderr going to `log` (no terminal)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "sync",
                "--config",
                str(config),
                "--full",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_for_requests(jira: JiraSandbox, count: int, timeout: float = 60) -> None:
    """Until the sandbox has answered `count` more requests (the first pages landed)."""
    start = jira.server.total_requests
    deadline = time.monotonic() + timeout
    while jira.server.total_requests < start + count:
        assert time.monotonic() < deadline, "the sync never started fetching"
        time.sleep(0.05)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_sync_and_publishes_nothing(
    published: tuple[Path, dict[str, str]],
    jira: JiraSandbox,
    tmp_path: Path,
    sig: signal.Signals,
    code: int,
) -> None:
    config, env = published
    database = load_config(config).database_path
    before = database.read_bytes()
    log = tmp_path / "sync.log"
    sync = start_sync(config, env, log)
    wait_for_requests(jira, 12)
    sent_at = time.monotonic()
    sync.send_signal(sig)
    returncode = sync.wait(timeout=60)
    stopped_in = time.monotonic() - sent_at
    output = log.read_text()
    assert returncode == code, output
    assert stopped_in < 10, f"took {stopped_in:.1f}s to stop"
    assert f"sync stopped by {sig.name}" in output, output
    assert "the published database is unchanged" in output
    assert f"to resume, run: handoff sync --config {config}" in output
    assert "Traceback" not in output
    assert database.read_bytes() == before  # byte for byte: nothing was published


def test_a_second_ctrl_c_exits_at_once(
    published: tuple[Path, dict[str, str]], jira: JiraSandbox, tmp_path: Path
) -> None:
    config, env = published
    database = load_config(config).database_path
    before = database.read_bytes()
    jira.server.faults.slow_ms = 2000  # the first stop would wait for a slow answer
    sync = start_sync(config, env, tmp_path / "sync.log")
    wait_for_requests(jira, 3)
    sync.send_signal(signal.SIGINT)
    time.sleep(0.3)
    sent_at = time.monotonic()
    sync.send_signal(signal.SIGINT)
    assert sync.wait(timeout=30) == 130
    assert time.monotonic() - sent_at < 1.5
    assert "exiting now" in (tmp_path / "sync.log").read_text()
    assert database.read_bytes() == before


def test_progress_lines_without_a_terminal(
    published: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    config, env = published
    log = tmp_path / "sync.log"
    sync = start_sync(config, env, log, "--progress-every", "1")
    assert sync.wait(timeout=240) == 0, log.read_text()
    lines = [
        (float(m.group(1)), m.group(2))
        for m in re.finditer(r"^\[\s*([\d.]+)s\] (.*)$", log.read_text(), re.MULTILINE)
    ]
    fetching = [(t, text) for t, text in lines if text.startswith("source it-jira:")]
    assert len(fetching) >= 3, log.read_text()
    assert all(re.search(r"[\d,]+ records, [\d,]+ requests \([\d.]+/s\)", t) for _, t in fetching)
    assert "ETA" in " ".join(t for _, t in fetching[:-1])  # Jira told how many issues to expect
    assert "success" in fetching[-1][1]
    phases = [text.removeprefix("phase: ") for _, text in lines if text.startswith("phase: ")]
    for phase in ("fetch", "model", "rules", "publish", "report"):
        assert phase in phases, phases
    times = [t for t, _ in lines]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # never silent much longer than the 1 s interval (the default is 10 s); the slack absorbs
    # scheduling delays of a loaded machine
    assert max(gaps) <= 2.5, gaps


def test_sandbox_serve_stops_on_sigterm(tmp_path: Path) -> None:
    serve = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sandbox", "serve", "--size", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    assert serve.stdout is not None
    deadline = time.monotonic() + 60
    for line in serve.stdout:
        if b"sandbox config" in line or time.monotonic() > deadline:
            break
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=30) == 143
    assert b"stopped by SIGTERM" in serve.stdout.read()
