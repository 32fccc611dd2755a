"""User rules run locked: no files, no SQL built from strings, a time and a row limit.

A rule that behaves on the load-time check (empty model, `$today` fixed) but reads a file at run
time must be refused when it is loaded; a runaway rule stops at its time limit; either is named in
the sync summary, the run's metadata and the report, and the sync ends "completed with warnings".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from handoff.config import HandoffConfig
from rules.engine import evaluate
from rules.harness import load_given
from rules.loading import load_rules

EXIT_WARNINGS = 4

# Passes a check run on 2025-01-01, reads the process environment on any later day.
ENVIRON_RULE = """\
format: 1
id: environ_leak
title: Looks harmless on the check day
description: Reads the environment once the date has passed.
severity: warn
query: |
  SELECT [content] AS subject_ids, content AS message
  FROM query(CASE WHEN $today > DATE '2025-06-01'
                  THEN 'SELECT content FROM read_text(''/proc/self/environ'')'
                  ELSE 'SELECT ''nothing'' AS content WHERE false' END)
"""

# 10^9 rows: fine on the empty-model check (LIMIT 0), minutes at run time.
CROSS_JOIN_RULE = """\
format: 1
id: cross_join
title: Runs away
description: Counts a billion pairs.
severity: info
query: |
  SELECT [a.range::VARCHAR] AS subject_ids, count(*)::VARCHAR AS message
  FROM range(100000) a, range(10000) b
  GROUP BY a.range
"""

# Returns 50 rows, over a limit of 10.
WIDE_RULE = """\
format: 1
id: too_many
title: Too many rows
description: One finding per number.
severity: info
query: |
  SELECT [range::VARCHAR] AS subject_ids, 'n' AS message FROM range(50)
"""


def _rule_folder(root: Path, **rules: str) -> Path:
    folder = root / "my_rules"
    folder.mkdir(exist_ok=True)
    for rule_id, text in rules.items():
        (folder / f"{rule_id}.yaml").write_text(text)
    return folder


def _config(root: Path, **rules_settings: object) -> HandoffConfig:
    return HandoffConfig.model_validate(
        {"rules": {"paths": ["my_rules"], "builtin": False, **rules_settings}, "base_dir": root}
    )


@pytest.mark.parametrize(
    ("call", "function"),
    [
        ("query('SELECT 1 AS x')", "query"),
        ("query_table('work_items')", "query_table"),
        ("read_text('/etc/hostname')", "read_text"),
        ("read_csv_auto('/etc/passwd')", "read_csv_auto"),
        ("glob('/*')", "glob"),
        ("\"READ_PARQUET\"('/x.parquet')", "read_parquet"),
    ],
)
def test_rule_calling_a_table_function_that_reads_files_or_runs_strings_is_refused(
    tmp_path: Path, call: str, function: str
) -> None:
    rule = ENVIRON_RULE.replace(
        ENVIRON_RULE[ENVIRON_RULE.index("  FROM query(") :],
        f"  FROM (SELECT 'x' AS content) t, (SELECT * FROM {call}) u\n",
    )
    _rule_folder(tmp_path, environ_leak=rule)
    rules, problems = load_rules(_config(tmp_path))
    assert rules == []
    (problem,) = problems
    assert problem.path == tmp_path / "my_rules" / "environ_leak.yaml"
    assert problem.field == "query"
    assert f"refused: calls the table function {function}()" in problem.message


def test_date_dependent_query_rule_is_refused_at_load_time(tmp_path: Path) -> None:
    _rule_folder(tmp_path, environ_leak=ENVIRON_RULE)
    rules, problems = load_rules(_config(tmp_path))
    assert rules == []
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'my_rules' / 'environ_leak.yaml'}: query: refused: calls the table "
        "function query(), which may read files or run SQL built from strings; "
        "allowed: generate_series, range, unnest"
    ]


def test_rule_reading_a_file_as_a_table_is_refused(tmp_path: Path) -> None:
    rule = CROSS_JOIN_RULE.replace("range(100000) a, range(10000) b", "'/etc/passwd' a")
    _rule_folder(tmp_path, cross_join=rule)
    _, (problem,) = load_rules(_config(tmp_path))
    assert "reads '/etc/passwd' as a file" in problem.message


def _model_with_items(path: Path) -> Path:
    schema = Path(__file__).resolve().parents[2] / "model" / "schema.sql"
    con = duckdb.connect(str(path))
    con.execute(schema.read_text())
    now = datetime(2026, 3, 2)
    load_given(con, {"work_items": [{"item_id": "plan:1", "title": "A"}]}, now)
    con.execute("INSERT INTO schema_info VALUES (2, ?, 'build')", [now])
    con.close()
    return path


def test_runaway_rule_stops_at_its_time_limit_and_others_still_run(tmp_path: Path) -> None:
    db = _model_with_items(tmp_path / "handoff.duckdb")
    quick = WIDE_RULE.replace("too_many", "quick").replace("range(50)", "range(3)")
    _rule_folder(tmp_path, cross_join=CROSS_JOIN_RULE, quick=quick)
    config = _config(tmp_path, timeout_seconds=2)
    started = time.perf_counter()
    result = evaluate(db, config, now=datetime(2026, 3, 2, 9), run_id="run-1")
    elapsed = time.perf_counter() - started
    # unbounded, the 10^9-row join runs for minutes; the slack is for the other rules on a
    # loaded machine
    assert elapsed < 30, f"evaluation took {elapsed:.1f}s with a 2 s rule limit"
    (problem,) = result.problems
    assert problem.rule_id == "cross_join" and problem.field == "query"
    assert "not evaluated: stopped at its time limit of 2 s" in problem.message
    assert result.open_info == 3  # the quick rule still ran
    con = duckdb.connect(str(db), read_only=True)
    recorded = con.execute("SELECT rule_id, field, reason FROM rule_problems").fetchall()
    con.close()
    assert recorded == [("cross_join", "query", problem.message)]


def test_rule_over_the_row_limit_is_not_evaluated(tmp_path: Path) -> None:
    db = _model_with_items(tmp_path / "handoff.duckdb")
    _rule_folder(tmp_path, too_many=WIDE_RULE)
    result = evaluate(db, _config(tmp_path, max_rows=10), now=datetime(2026, 3, 2), run_id="r")
    (problem,) = result.problems
    assert "not evaluated: returned more than 10 rows (rules.max_rows)" in problem.message
    assert result.open_total == 0


def _handoff(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_sync_refuses_environ_rule_stops_runaway_rule_and_warns(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    marker = f"leak-marker-{uuid.uuid4().hex}"
    _rule_folder(tmp_path, environ_leak=ENVIRON_RULE, cross_join=CROSS_JOIN_RULE)
    config = file_org(rules={"paths": ["my_rules"], "timeout_seconds": 2})
    env = {**os.environ, "HANDOFF_LEAK_MARKER": marker}
    env.pop("DAGSTER_HOME", None)

    started = time.perf_counter()
    sync = _handoff("sync", "--config", str(config), env=env)
    elapsed = time.perf_counter() - started

    assert sync.returncode == EXIT_WARNINGS, sync.stderr
    out = sync.stderr.replace("\n", " ")
    assert "completed with warnings" in out
    assert "environ_leak.yaml: query: refused: calls the table function query()" in out
    assert "cross_join.yaml: query: not evaluated: stopped at its time limit of 2 s" in out
    assert elapsed < 120

    report = json.loads((tmp_path / "reports" / "handoff.json").read_text())
    skipped = {p["rule_id"]: p for p in report["rules_not_evaluated"]}
    assert set(skipped) == {"environ_leak", "cross_join"}
    assert skipped["environ_leak"]["field"] == "query"
    assert "Rules not evaluated" in (tmp_path / "reports" / "handoff.html").read_text()
    assert "## Rules not evaluated" in (tmp_path / "reports" / "handoff.md").read_text()

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    leaked = [str(p) for p in written if marker.encode() in p.read_bytes()]
    assert leaked == []

    check = _handoff("check", "--config", str(config), env=env)
    assert check.returncode == EXIT_WARNINGS, check.stderr
    assert "environ_leak" in check.stderr and marker not in check.stdout + check.stderr


def test_a_file_built_before_rule_problems_existed_is_still_evaluated(tmp_path: Path) -> None:
    db = _model_with_items(tmp_path / "handoff.duckdb")
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE rule_problems")
    con.close()
    _rule_folder(tmp_path, environ_leak=ENVIRON_RULE)
    result = evaluate(db, _config(tmp_path), now=datetime(2026, 3, 2), run_id="check-1")
    assert [p.rule_id for p in result.problems] == ["environ_leak"]
