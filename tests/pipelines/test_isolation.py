"""Ops guarantees: a failing source costs nobody data, a collapsed source is stopped, syncs never overlap."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from handoff.config import load_config
from handoff.lock import sync_lock
from pipelines.demo import write_demo
from pipelines.runner import run_sync
from sandbox.demo.organisation import DemoOrganisation, build_demo
from sandbox.server import Faults

pytestmark = pytest.mark.slow  # whole-job runs, concurrent syncs and subprocesses

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@pytest.fixture
def demo_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, DemoOrganisation, list[Any]]]:
    servers: list[Any] = []
    demo = build_demo(NOW)
    for key, value in write_demo(tmp_path, demo, servers).items():
        monkeypatch.setenv(key, value)
    try:
        yield tmp_path, demo, servers
    finally:
        for server in servers:
            server.stop()


def rows(root: Path, sql: str) -> list[tuple[Any, ...]]:
    db = load_config(root / "handoff.yaml", require_env=False).database_path
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_failing_source_keeps_everyones_data_and_fails_the_run(
    demo_env: tuple[Path, DemoOrganisation, list[Any]],
) -> None:
    root, demo, servers = demo_env
    config = root / "handoff.yaml"
    assert run_sync(config, now=NOW.replace(tzinfo=None)).success
    jira_before = rows(
        root, "SELECT item_id, title, status FROM work_items WHERE source = 'it-jira' ORDER BY 1"
    )
    # Marketing renames a task; Jira goes down for good (every request answers 503).
    gid = demo.asana_gids["MKT-2"]
    demo.asana.tasks[gid].name = "Launch e-mail blast to 2.5M customers"
    demo.asana.touch([gid], NOW + timedelta(minutes=30))
    jira = next(s for s in servers if type(s).__name__ == "JiraSandbox")
    jira.server.faults = Faults(always_status=503)
    report = run_sync(config, now=(NOW + timedelta(hours=1)).replace(tzinfo=None))
    assert not report.success  # never a silent green
    assert report.outcomes["it-jira"].status == "failed"
    assert "it-jira" in (report.outcomes["it-jira"].error or "")
    assert report.published  # the others' fresh data was published
    assert (
        rows(
            root,
            "SELECT item_id, title, status FROM work_items WHERE source = 'it-jira' ORDER BY 1",
        )
        == jira_before
    )
    renamed = demo.asana.tasks[gid].name
    assert renamed.startswith("Launch e-mail blast to 2.5M customers")
    assert rows(root, f"SELECT title FROM work_items WHERE item_id = 'marketing-asana:{gid}'") == [
        (renamed,)
    ]
    status = dict(
        rows(
            root,
            "SELECT source, status FROM sync_runs WHERE run_id = "
            "(SELECT run_id FROM sync_runs ORDER BY started_at DESC LIMIT 1)",
        )
    )
    assert status["it-jira"] == "failed" and status["marketing-asana"] == "success"


def test_half_empty_source_is_stopped_by_the_blocking_check(
    demo_env: tuple[Path, DemoOrganisation, list[Any]],
) -> None:
    root, demo, _ = demo_env
    config = root / "handoff.yaml"
    assert run_sync(config, now=NOW.replace(tzinfo=None)).success
    published = load_config(config, require_env=False).database_path
    before = published.read_bytes()
    demo.jira.delete(["OPS-101", "OPS-102", "OPS-103"])  # 3 of 5 issues vanish
    report = run_sync(config, now=(NOW + timedelta(hours=1)).replace(tzinfo=None))
    assert not report.success
    assert not report.published
    assert any("no_source_collapsed" in e and "it-jira" in e for e in report.errors), report.errors
    assert published.read_bytes() == before


def _has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` holds `path` open (Linux): a waiting sync keeps the lock file open."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    return any(os.path.realpath(fd) == str(path.resolve()) for fd in fds if fd.exists())


def test_a_second_sync_is_refused_while_one_runs_and_waits_with_wait(
    file_org: Callable[..., Path],
) -> None:
    config = file_org()
    loaded = load_config(config, require_env=False)
    data_dir = loaded.path(loaded.data_dir)
    lock = data_dir / ".sync.lock"
    command = [sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config)]
    with sync_lock(data_dir, doing="publishing the model for a test"):  # a sync is running
        impatient = subprocess.run(
            [*command, "--wait", "0"], capture_output=True, text=True, timeout=180
        )
        assert impatient.returncode != 0
        assert "another sync is running" in impatient.stderr, impatient.stderr
        # names the holder: pid, host, since when, doing what
        assert f"pid {os.getpid()} on {socket.gethostname()} since " in impatient.stderr
        assert "publishing the model for a test" in impatient.stderr
        assert "--wait" in impatient.stderr and "lock_wait_seconds" in impatient.stderr
        assert "Traceback" not in impatient.stderr
        assert not loaded.database_path.exists()  # refused before publishing anything
        patient = subprocess.Popen(
            [*command, "--wait", "180"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while not _has_open(patient.pid, lock):  # it is now waiting for the lock
            assert patient.poll() is None, patient.stderr.read() if patient.stderr else ""
            assert time.monotonic() < deadline, "the waiting sync never reached the lock"
            time.sleep(0.05)
        assert patient.poll() is None and not loaded.database_path.exists()
    _, err = patient.communicate(timeout=240)
    assert patient.returncode == 0, err
    assert "waiting up to 180 s" in err and f"pid {os.getpid()}" in err  # it said why it waited
    assert lock.read_text().startswith(f"pid {patient.pid} on ")  # it took the lock once released
    assert "of nightly_sync (handoff sync)" in lock.read_text()
    assert rows(config.parent, "SELECT count(DISTINCT run_id) FROM sync_runs") == [(1,)]


def test_two_concurrent_syncs_leave_a_consistent_model(file_org: Callable[..., Path]) -> None:
    config = file_org()
    command = [sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config), "--wait"]
    syncs = [
        subprocess.Popen(
            [*command, "180"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for sync in syncs:
        assert sync.wait(timeout=240) == 0, sync.stderr.read() if sync.stderr else ""
    db = load_config(config, require_env=False).database_path
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute(
            "SELECT count(*), count(DISTINCT item_id) FROM work_items"
        ).fetchone() == (16, 16)
        assert con.execute("SELECT count(DISTINCT run_id) FROM sync_runs").fetchone() == (2,)
        assert con.execute(
            "SELECT count(*) - count(DISTINCT exception_id) FROM exceptions"
        ).fetchone() == (0,)
    finally:
        con.close()
