"""`handoff waive add|list|remove` on a really synced model: only open findings, no dates in the
past, no silent overwrite, who and when recorded and shown in the report."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.runner import run_sync
from tests.conftest import file_org_config

pytestmark = pytest.mark.slow  # a whole sync, then the CLI in subprocesses

EXIT_USAGE = 2
NEXT_WEEK = str(date.today() + timedelta(days=7))


@pytest.fixture
def synced(tmp_path: Path) -> Path:
    config = file_org_config(tmp_path)
    assert run_sync(config).success
    return config


def handoff(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "400"},
    )


def open_finding(config: Path) -> tuple[str, str]:
    con = duckdb.connect(str(config.parent / "data" / "handoff.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT exception_id, rule_id FROM open_exceptions ORDER BY exception_id LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0]), str(row[1])


def finding(config: Path, exception_id: str) -> tuple[str, str | None, str | None]:
    con = duckdb.connect(str(config.parent / "data" / "handoff.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT status, waived_by, CAST(waived_at AS VARCHAR) FROM exceptions "
            "WHERE exception_id = ?",
            [exception_id],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0], row[1], row[2]


def test_a_waiver_is_validated_recorded_listed_reported_and_removed(synced: Path) -> None:
    waivers = synced.parent / "waivers.yaml"
    exception_id, rule_id = open_finding(synced)

    unknown = handoff(synced, "waive", "0123456789abcdef", "--until", NEXT_WEEK, "--reason", "x")
    assert unknown.returncode == EXIT_USAGE
    assert "no finding '0123456789abcdef'" in unknown.stderr
    past = str(date.today() - timedelta(days=1))
    expired = handoff(synced, "waive", exception_id, "--until", past, "--reason", "x")
    assert expired.returncode == EXIT_USAGE and f"--until {past} is in the past" in expired.stderr
    assert not waivers.exists()

    # the original form is `waive add`; who defaults to the OS user
    added = handoff(synced, "waive", exception_id, "--until", NEXT_WEEK, "--reason", "agreed")
    assert added.returncode == 0, added.stderr
    assert rule_id in added.stderr
    (entry,) = yaml.safe_load(waivers.read_text())
    assert entry["by"] == getpass.getuser() and entry["reason"] == "agreed"
    assert entry["at"].startswith(str(date.today())[:7])

    again = handoff(synced, "waive", "add", exception_id, "--until", NEXT_WEEK, "--reason", "y")
    assert again.returncode == EXIT_USAGE
    assert "already waived" in again.stderr and "--replace" in again.stderr
    assert yaml.safe_load(waivers.read_text()) == [entry]  # untouched

    replaced = handoff(
        synced, "waive", "add", exception_id, "--until", NEXT_WEEK, "--reason", "steering",
        "--by", "ana@retail.example", "--replace",
    )  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    (entry,) = yaml.safe_load(waivers.read_text())
    assert (entry["by"], entry["reason"]) == ("ana@retail.example", "steering")

    listed = handoff(synced, "waive", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if exception_id in line)
    for shown in (rule_id, NEXT_WEEK, "ana@retail.example", "active", "steering"):
        assert shown in line

    assert handoff(synced, "check").returncode == 0
    status, by, at = finding(synced, exception_id)
    assert (status, by) == ("waived", "ana@retail.example") and at is not None
    report = handoff(synced, "report", "--format", "md", "--out", str(synced.parent / "r.md"))
    assert report.returncode == 0, report.stderr
    markdown = (synced.parent / "r.md").read_text()
    assert f"(until {NEXT_WEEK}) — by ana@retail.example on {at[:10]}" in markdown

    removed = handoff(synced, "waive", "remove", exception_id)
    assert removed.returncode == 0, removed.stderr
    assert yaml.safe_load(waivers.read_text()) == []
    assert handoff(synced, "check").returncode == 0
    assert finding(synced, exception_id)[0] == "open"
    twice = handoff(synced, "waive", "remove", exception_id)
    assert twice.returncode == EXIT_USAGE and "no waiver for" in twice.stderr
