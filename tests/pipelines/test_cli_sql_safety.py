"""`handoff sql` stays inside the published model: no files, no ATTACH/COPY, a time limit, and
CSV that a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from handoff.errors import HandoffError
from pipelines.analyst_sql import run_analyst_query
from pipelines.runner import run_sync
from rules.report.sample import build_sample_model

EXIT_USAGE = 2


@pytest.fixture
def published(file_org: Callable[..., Path], tmp_path: Path) -> Path:
    """A config whose published model holds findings, plus a raw store beside it."""
    config = file_org()
    (tmp_path / "data" / "raw").mkdir(parents=True)
    build_sample_model(tmp_path / "data" / "handoff.duckdb")
    raw = duckdb.connect(str(tmp_path / "data" / "raw" / "it-ops.duckdb"))
    raw.execute("CREATE TABLE records AS SELECT range AS id FROM range(5)")
    raw.close()
    return config


def handoff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=120
    )


def csv_rows(*args: str) -> list[list[str]]:
    """The CSV a command prints, read as bytes so that a CR inside a cell stays a CR."""
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return list(csv.reader(io.StringIO(result.stdout.decode("utf-8"), newline="")))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reading_a_file_is_refused_with_a_clear_message(published: Path) -> None:
    hostname = Path("/etc/hostname").read_text().strip()
    result = handoff(
        "sql", "select content from read_text('/etc/hostname')", "--config", str(published)
    )
    assert result.returncode == EXIT_USAGE
    assert "Traceback" not in result.stderr
    message = result.stderr.replace("\n", " ")
    assert "query refused: it calls the table function read_text()" in message
    assert hostname not in result.stdout


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("COPY (select 1) TO '{raw}' (FORMAT csv)", "COPY statements are not allowed"),
        ("ATTACH '{raw}' AS raw_store", "ATTACH statements are not allowed"),
        ("EXPORT DATABASE '{dir}'", "EXPORT statements are not allowed"),
        ("INSTALL httpfs", "LOAD statements are not allowed"),
        ("LOAD httpfs", "LOAD statements are not allowed"),
        ("SET enable_external_access = true", "SET statements are not allowed"),
        ("select 1; select * from '{raw}'", "exactly one query, found 2 statements"),
        ("select * from '{raw}'", "as a file; only model tables are allowed"),
        ("select * from query('select 1')", "calls the table function query()"),
        ("select * from glob('{dir}/*')", "calls the table function glob()"),
    ],
)
def test_statements_that_leave_the_model_are_refused_and_the_raw_store_is_untouched(
    published: Path, template: str, reason: str
) -> None:
    raw = published.parent / "data" / "raw" / "it-ops.duckdb"
    before = _digest(raw)
    query = template.format(raw=raw, dir=published.parent / "export")
    with pytest.raises(HandoffError) as refused:
        run_analyst_query(published.parent / "data" / "handoff.duckdb", query, seconds=10)
    assert reason in str(refused.value)
    assert _digest(raw) == before
    assert not (published.parent / "export").exists()
    con = duckdb.connect(str(raw), read_only=True)  # not held open by anyone
    assert con.execute("select count(*) from records").fetchall() == [(5,)]
    con.close()


def test_copy_over_a_raw_store_from_the_cli_is_refused(published: Path) -> None:
    raw = published.parent / "data" / "raw" / "it-ops.duckdb"
    before = _digest(raw)
    result = handoff("sql", f"COPY (select 1) TO '{raw}'", "--config", str(published))
    assert result.returncode == EXIT_USAGE
    assert "COPY statements are not allowed" in result.stderr.replace("\n", " ")
    assert _digest(raw) == before


def test_a_runaway_query_stops_at_its_time_limit(published: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(HandoffError, match=r"stopped at its time limit of 1 s \(--timeout\)"):
        run_analyst_query(
            published.parent / "data" / "handoff.duckdb",
            "select count(*) from range(100000) a, range(10000) b where a.range <> b.range",
            seconds=1,
        )
    assert time.perf_counter() - started < 4


def test_csv_cells_that_spreadsheets_run_are_neutralised(published: Path) -> None:
    query = (
        "select '=cmd|'' /C calc''!A0' as formula, '+1' as plus, '-2+3' as minus, "
        "'@SUM(A1)' as at, chr(9) || 'tab' as tab, chr(13) || 'cr' as cr, "
        "-5 as number, 'plain' as text"
    )
    assert csv_rows("sql", query, "--config", str(published), "--format", "csv") == [
        ["formula", "plus", "minus", "at", "tab", "cr", "number", "text"],
        ["'=cmd|' /C calc'!A0", "'+1", "'-2+3", "'@SUM(A1)", "'\ttab", "'\rcr", "-5", "plain"],
    ]
    raw = csv_rows("sql", query, "--config", str(published), "--format", "csv", "--raw-csv")
    assert raw[1] == [
        "=cmd|' /C calc'!A0",
        "+1",
        "-2+3",
        "@SUM(A1)",
        "\ttab",
        "\rcr",
        "-5",
        "plain",
    ]


def test_analyst_queries_on_views_and_tables_still_work(published: Path) -> None:
    database = published.parent / "data" / "handoff.duckdb"
    columns, rows = run_analyst_query(
        database,
        """
        with open_by_rule as (
            select rule_id, count(*) as n from open_exceptions group by rule_id
        )
        select o.rule_id, o.n, count(w.item_id) as items
        from open_by_rule o
        left join exceptions e using (rule_id)
        left join work_items w on w.item_id = e.subject_ids[1]
        cross join range(1)
        group by all order by o.rule_id
        """,
        seconds=10,
    )
    assert columns == ["rule_id", "n", "items"] and len(rows) > 1
    _, tables = run_analyst_query(
        database, "select table_name from duckdb_tables() order by 1", seconds=10
    )
    assert ("work_items",) in tables
    described, _ = run_analyst_query(database, "describe work_items", seconds=10)
    assert "column_name" in described
    result = handoff(
        "sql", "select count(*) as n from handoffs", "--config", str(published), "-f", "csv"
    )
    assert result.returncode == 0 and result.stdout.startswith("n\n"), result.stderr


def _locked(path: Path) -> bool:
    """Whether another process holds the DuckDB file's lock."""
    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException:
        return True
    return False


@pytest.mark.slow
def test_an_attach_of_a_raw_store_during_a_sync_cannot_fail_its_source(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    """An analyst attaching a raw store and then running a long query held the store's lock,
    so the sync running meanwhile failed that source. Now the statement is refused."""
    config = file_org()
    assert run_sync(config).success
    raw = tmp_path / "data" / "raw" / "it-ops.duckdb"
    assert raw.exists()
    slow = "select count(*) from range(300000) a, range(100000) b where a.range <> b.range"
    holder = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sql", f"ATTACH '{raw}' AS r; {slow}",
         "--config", str(config), "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while holder.poll() is None and not _locked(raw) and time.monotonic() < deadline:
            time.sleep(0.2)
        report = run_sync(config)
    finally:
        holder.kill()
        _, stderr = holder.communicate(timeout=30)
    assert report.outcomes["it-ops"].status == "success", report.outcomes["it-ops"].error
    assert report.success
    assert holder.returncode == EXIT_USAGE
    assert "refused" in stderr or "exactly one query" in stderr.replace("\n", " ")
