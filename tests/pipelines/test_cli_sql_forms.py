"""`handoff sql` input and output forms: SQL from an argument, a file or stdin; every statement's
result; a record view when a table would not fit; CSV and JSON that tools read back; Parquet."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rules.report.sample import build_sample_model

pytestmark = pytest.mark.slow  # the CLI in subprocesses

EXIT_USAGE = 2


@pytest.fixture
def published(file_org: Callable[..., Path], tmp_path: Path) -> Path:
    config = file_org()
    (tmp_path / "data").mkdir(exist_ok=True)
    build_sample_model(tmp_path / "data" / "handoff.duckdb")
    return config


def handoff(
    config: Path, *args: str, stdin: str | None = None, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "sql", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


QUERY = "select exception_id, severity from exceptions order by exception_id limit 3"


def test_sql_from_an_argument_a_file_and_stdin_give_the_same_result(
    published: Path, tmp_path: Path
) -> None:
    query_file = tmp_path / "q.sql"
    query_file.write_text(QUERY + ";\n")
    forms = [
        handoff(published, QUERY, "-f", "csv"),
        handoff(published, "--file", str(query_file), "-f", "csv"),
        handoff(published, "-", "-f", "csv", stdin=QUERY),
        handoff(published, "--file", "-", "-f", "csv", stdin=QUERY),
    ]
    for result in forms:
        assert result.returncode == 0, result.stderr
    assert len({r.stdout for r in forms}) == 1
    assert forms[0].stdout.count("\n") == 4  # header and three rows


def test_no_sql_or_an_unreadable_file_is_a_usage_error(published: Path, tmp_path: Path) -> None:
    missing = handoff(published)
    assert missing.returncode == EXIT_USAGE
    assert "give the SQL as an argument, `-` for standard input, or --file PATH" in missing.stderr
    unreadable = handoff(published, "--file", str(tmp_path / "nope.sql"))
    assert unreadable.returncode == EXIT_USAGE
    assert "nope.sql" in unreadable.stderr and "Traceback" not in unreadable.stderr


def test_every_statement_prints_its_own_result(published: Path) -> None:
    sql = "select count(*) as findings from exceptions; select 'second' as label, 2 as n"
    table = handoff(published, sql, columns=200)
    assert table.returncode == 0, table.stderr
    assert "findings" in table.stdout and "second" in table.stdout
    assert table.stdout.count("-- select") == 2  # each result under its statement
    as_json = json.loads(handoff(published, sql, "-f", "json").stdout)
    assert [r["rows"] for r in as_json] == [[{"findings": 10}], [{"label": "second", "n": 2}]]


def test_a_refused_statement_stops_the_whole_batch_before_anything_runs(
    published: Path, tmp_path: Path
) -> None:
    target = tmp_path / "leak.csv"
    result = handoff(published, f"select 1 as first; copy (select 1) to '{target}'")
    assert result.returncode == EXIT_USAGE
    assert "statement 2: query refused: COPY statements are not allowed" in result.stderr
    assert result.stdout == ""  # statement 1 did not run either
    assert not target.exists()


def test_a_table_wider_than_the_terminal_is_shown_one_record_per_row(published: Path) -> None:
    wide = handoff(published, "select * from exceptions order by exception_id", columns=160)
    assert wide.returncode == 0, wide.stderr
    assert "-[ row 1 ]" in wide.stdout
    lines = wide.stdout.splitlines()
    for column in ("exception_id", "subject_ids", "waiver_reason", "waived_until", "waived_by"):
        assert any(line.startswith(column.ljust(len(column)) + " ") for line in lines), column
    assert "…" not in wide.stdout  # nothing cut
    fits = handoff(published, QUERY, columns=160)
    assert "-[ row 1 ]" not in fits.stdout and "severity" in fits.stdout
    forced = handoff(published, QUERY, "--vertical", columns=160)
    assert forced.stdout.count("-[ row ") == 3


def test_csv_writes_arrays_as_json_and_booleans_as_true_false(published: Path) -> None:
    sql = (
        "select ['a', 'b,c'] as tags, true as yes, false as no, {'k': 1} as struct, "
        "NULL as nothing, 1.5 as number"
    )
    result = handoff(published, sql, "-f", "csv")
    assert result.returncode == 0, result.stderr
    header, row = list(csv.reader(io.StringIO(result.stdout)))
    assert header == ["tags", "yes", "no", "struct", "nothing", "number"]
    assert json.loads(row[0]) == ["a", "b,c"]
    assert row[1:3] == ["true", "false"]
    assert json.loads(row[3]) == {"k": 1}
    assert row[4:] == ["", "1.5"]


def test_parquet_export_keeps_the_types(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "findings.parquet"
    result = handoff(
        published,
        "select exception_id, subject_ids, status = 'open' as is_open from exceptions",
        "--format",
        "parquet",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.num_rows == 10
    assert str(table.schema.field("subject_ids").type).startswith("list")
    assert str(table.schema.field("is_open").type) == "bool"
    no_out = handoff(published, "select 1", "--format", "parquet")
    assert no_out.returncode == EXIT_USAGE and "--format parquet needs --out FILE" in no_out.stderr
    two = handoff(published, "select 1; select 2", "-f", "parquet", "-o", str(tmp_path / "x.pq"))
    assert two.returncode == EXIT_USAGE and "writes one result" in two.stderr
