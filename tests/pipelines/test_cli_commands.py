"""The analyst and leader commands on a published model: sql, waive + check, report, rules."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.runner import run_sync

pytestmark = pytest.mark.slow  # a whole job, then the CLI in subprocesses


def handoff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=240
    )


def test_sql_waive_check_report_and_rules(file_org: Callable[..., Path], tmp_path: Path) -> None:
    config = file_org()
    assert run_sync(config).success
    c = ["--config", str(config)]
    as_json = handoff(
        "sql",
        "select exception_id, rule_id from open_exceptions order by 1",
        *c,
        "--format",
        "json",
    )
    assert as_json.returncode == 0, as_json.stderr
    findings = json.loads(as_json.stdout)
    target = findings[0]["exception_id"]
    as_csv = handoff("sql", "select count(*) AS n from work_items", *c, "--format", "csv")
    assert as_csv.stdout == "n\n16\n"
    refused = handoff("sql", "delete from work_items", *c)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    waived = handoff(
        "waive", target, "--until", "2099-12-31", "--reason", "accepted for the pilot", *c
    )
    assert waived.returncode == 0, waived.stderr
    checked = handoff("check", *c)
    assert checked.returncode == 0 and "1 waived" in checked.stderr.replace("\n", " "), (
        checked.stderr
    )
    status = handoff(
        "sql",
        f"select status, waiver_reason from exceptions where exception_id = '{target}'",
        *c,
        "--format",
        "csv",
    )
    assert status.stdout.splitlines()[1] == "waived,accepted for the pilot"
    out = tmp_path / "out" / "report.md"
    report = handoff("report", *c, "--format", "md", "--out", str(out))
    assert report.returncode == 0 and out.read_text().startswith("# Handoff report")
    rules = handoff("rules", "test", *c)
    assert rules.returncode == 0 and "0 failed" in rules.stdout
