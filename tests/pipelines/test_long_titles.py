"""A 100 KB title is data, not something to print: every command and report bounds it, and the
model still holds it whole."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow  # the CLI in subprocesses

TITLE = "Scale " + "Q" * 100_000
REJECTED = "Bad " + "R" * 100_000
LONGEST_SHOWN = 1_000  # no output may hold a longer run of either title


def handoff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=240
    )


def longest_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"Q+|R+", text)), default=0)


def test_a_100_kb_title_is_shown_bounded_everywhere(file_org: Callable[..., Path]) -> None:
    config = file_org()
    plan = config.parent / "plans" / "it.csv"
    lines = plan.read_text(encoding="utf-8-sig").splitlines()
    # OPS-101 is the demo's stalled root cause: its title reaches findings and every report.
    lines[1] = lines[1].replace("Scale loyalty API for launch traffic", TITLE)
    lines.append(f"OPS-900;{REJECTED};In Progress;raj.patel@retail.example;99.99.2026;;Story;")
    plan.write_text("\n".join(lines) + "\n", encoding="utf-8")
    c = ["--config", str(config)]
    reports = config.parent / "reports"

    runs = {
        "sync": handoff("sync", *c),
        "check": handoff("check", *c),
        "report md": handoff("report", *c, "--format", "md", "--out", str(reports / "r.md")),
        "report json": handoff("report", *c, "--format", "json", "--out", str(reports / "r.json")),
        "sql": handoff("sql", "select title from work_items", *c),
        "sql rejected": handoff("sql", "select * from rejected_records", *c),
        "doctor": handoff("doctor", *c),
    }
    assert runs["sync"].returncode == 0, runs["sync"].stderr[-2000:]
    assert "1 rows rejected" in runs["sync"].stderr.replace("\n", " ")
    for name, run in runs.items():
        assert longest_run(run.stdout + run.stderr) <= LONGEST_SHOWN, name
        assert "Traceback" not in run.stderr, name
    files = sorted(reports.glob("*.*"))
    assert {f.suffix for f in files} >= {".html", ".md", ".json"}
    for report in files:
        text = report.read_text(encoding="utf-8")
        assert longest_run(text) <= LONGEST_SHOWN, report.name
        assert report.stat().st_size < 300_000, report.name
    html = (reports / "handoff.html").read_text(encoding="utf-8")
    assert "Scale QQQQ" in html and "characters left out" in html  # cut, and saying so

    con = duckdb.connect(str(config.parent / "data" / "handoff.duckdb"), read_only=True)
    [(length,)] = con.execute(
        "SELECT length(title) FROM work_items WHERE source_key = 'OPS-101'"
    ).fetchall()
    con.close()
    assert length == len(TITLE)  # the model keeps the whole title
