"""The nightly job end to end on spreadsheet sources: publish, idempotence, rejects, readers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from handoff.config import load_config
from pipelines.runner import run_sync

pytestmark = pytest.mark.slow  # each test runs the whole job end to end

NOW = datetime(2026, 11, 20, 2, 0)


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_whole_job_materialises_and_publishes(file_org: Callable[..., Path]) -> None:
    config_path = file_org()
    report = run_sync(config_path, now=NOW)
    assert report.success, report.errors
    config = load_config(config_path)
    db = config.database_path
    assert db.exists() and not db.with_name(db.name + ".wal").exists()
    counts = dict(query(db, "SELECT source, count(*) FROM work_items GROUP BY 1"))
    assert counts == {"it-ops": 5, "marketing": 5, "finance": 3, "store-ops": 3}
    edge = query(
        db,
        "SELECT kind, origin, is_cross_department, contract_id FROM dependencies "
        "WHERE upstream_id = 'finance:FIN-1' AND downstream_id = 'marketing:MKT-1'",
    )
    assert edge == [("depends_on", "sheet_column", True, "finance-budget")]
    assert query(db, "SELECT count(*) FROM exceptions")[0][0] > 0
    assert config.path(config.report.html).read_text().startswith("<!")
    assert set(report.outcomes) == {"it-ops", "marketing", "finance", "store-ops"}


def test_two_syncs_with_unchanged_input_are_identical(file_org: Callable[..., Path]) -> None:
    config_path = file_org()
    assert run_sync(config_path, now=NOW).success
    db = load_config(config_path).database_path
    items_sql = "SELECT * EXCLUDE (synced_at) FROM work_items ORDER BY item_id"
    exc_sql = "SELECT exception_id, first_seen, last_seen, status FROM exceptions ORDER BY 1"
    items_1, exc_1 = query(db, items_sql), query(db, exc_sql)
    later = NOW + timedelta(hours=1)
    assert run_sync(config_path, now=later).success
    items_2, exc_2 = query(db, items_sql), query(db, exc_sql)
    assert items_1 == items_2
    assert [e[0] for e in exc_1] == [e[0] for e in exc_2]
    assert [e[1] for e in exc_1] == [e[1] for e in exc_2]  # first_seen stable
    assert all(e[2] == later for e in exc_2 if e[3] == "open")  # last_seen moved on
    assert query(db, "SELECT count(*) FROM sync_runs")[0][0] == 8  # 4 sources x 2 runs


def test_malformed_rows_are_rejected_and_the_rest_load(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    bad = tmp_path / "plans" / "ops-extra.csv"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(
        textwrap.dedent("""\
        ID,Task,Status,Owner,Due
        X-1,Good row,To Do,a@example.com,2026-12-01
        X-2,Bad date,To Do,a@example.com,2026-13-45
        ,No id,To Do,a@example.com,2026-12-01
        X-1,Duplicate id,To Do,a@example.com,2026-12-01
        X-3,Another good row,Done,,2026-12-02
        """)
    )
    config_path = file_org(
        extra_sources=[{"name": "extra", "kind": "csv", "path": "plans/ops-extra.csv"}]
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "rows rejected" in line]
    assert len(warning) == 1 and "3 rows rejected" in warning[0] and "extra: 3" in warning[0]
    db = load_config(config_path).database_path
    rejected = query(
        db, "SELECT location, reason FROM rejected_records WHERE source = 'extra' ORDER BY 1"
    )
    assert [loc.rsplit("/", 1)[-1].strip() for loc, _ in rejected] == ["row 3", "row 4", "row 5"]
    loaded = query(db, "SELECT source_key FROM work_items WHERE source = 'extra' ORDER BY 1")
    assert loaded == [("X-1",), ("X-3",)]


READER = textwrap.dedent("""\
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    before = con.execute("SELECT count(*) FROM work_items").fetchone()[0]
    print(before, flush=True)
    sys.stdin.readline()          # the test runs a sync meanwhile
    after = con.execute("SELECT count(*) FROM work_items").fetchone()[0]
    print(after, flush=True)
    """)


def test_open_reader_does_not_block_sync_and_keeps_old_snapshot(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    config_path = file_org()
    assert run_sync(config_path, now=NOW).success
    db = load_config(config_path).database_path
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None and reader.stdin is not None
    before = int(reader.stdout.readline())
    # Add an item, then sync while the reader holds its connection.
    plan = tmp_path / "plans" / "finance.csv"
    plan.write_text(
        plan.read_text(encoding="utf-8-sig")
        + "FIN-9;New approval;Pending;Priya Nair;01.12.2026;;Task;\n",
        encoding="utf-8-sig",
    )
    report = run_sync(config_path, now=NOW + timedelta(hours=1))
    assert report.success and report.published, report.errors
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert int(reader.stdout.readline()) == before  # still the old snapshot
    reader.wait(timeout=30)
    assert (
        query(db, "SELECT count(*) FROM work_items")[0][0] == before + 1
    )  # a reconnect sees the new one


def test_secret_from_environment_never_lands_anywhere(
    file_org: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from tests.conftest import SECRET

    monkeypatch.setenv("HANDOFF_TEST_WEBHOOK", f"http://127.0.0.1:9/hook/{SECRET}")
    config_path = file_org(webhook={"url": "${HANDOFF_TEST_WEBHOOK}", "format": "slack"})
    report = run_sync(config_path, now=NOW, log_level="DEBUG")
    assert report.success, report.errors  # a failing webhook never fails the run
    captured = capfd.readouterr()
    assert SECRET not in captured.out + captured.err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_stray_quote_fails_the_source_and_keeps_its_items(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    plan = tmp_path / "plans" / "big.csv"
    plan.parent.mkdir(parents=True, exist_ok=True)
    lines = ["ID,Task,Status,Due"] + [f"B-{i},Task {i},To Do,2026-12-01" for i in range(1, 1001)]
    plan.write_text("\n".join(lines) + "\n")
    config_path = file_org(extra_sources=[{"name": "big", "kind": "csv", "path": "plans/big.csv"}])
    assert run_sync(config_path, now=NOW).success
    db = load_config(config_path).database_path
    items = "SELECT count(*) FROM work_items WHERE source = 'big'"
    assert query(db, items) == [(1000,)]

    lines[700] = 'B-700,"Task 700,To Do,2026-12-01'  # one stray quote at row 700
    plan.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())
    assert "big.csv, line 701" in output and "stray" in output
    assert query(db, items) == [(1000,)]
    raw = load_config(config_path).raw_dir / "big.duckdb"
    assert query(raw, "SELECT count(*) FROM raw_records WHERE is_deleted") == [(0,)]
