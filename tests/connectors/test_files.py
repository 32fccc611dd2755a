"""CSV and Excel connectors against real files written by the tests, landed for real."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest

from connectors.base import Batch, Census, ConnectorError, Page, RawRecord, Rejection
from connectors.files import CsvConnector, ExcelConnector, detect_delimiter, detect_encoding
from connectors.registry import build_connector
from handoff.config import CsvSource, ExcelSource
from model.landing import land

HEADER = ["ID", "Title", "Status", "Owner", "Due", "Depends on", "Department", "Milestone"]


def csv_source(path: Path, **extra: Any) -> CsvSource:
    return CsvSource.model_validate({"name": "plan-csv", "kind": "csv", "path": str(path), **extra})


def xlsx_source(path: Path, **extra: Any) -> ExcelSource:
    return ExcelSource.model_validate(
        {"name": "plan-xlsx", "kind": "xlsx", "path": str(path), **extra}
    )


def records(batches: list[Batch]) -> dict[str, RawRecord]:
    return {r.key: r for b in batches if isinstance(b, Page) for r in b.records}


def rejections(batches: list[Batch]) -> list[Rejection]:
    return [b for b in batches if isinstance(b, Rejection)]


def census(batches: list[Batch]) -> Census | None:
    found = [b for b in batches if isinstance(b, Census)]
    return found[0] if found else None


def write_csv(
    path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ";"), ("utf-8", ","), ("cp1252", ";"), ("cp1252", "\t"), ("utf-8", "\t")],
)
def test_csv_encoding_and_delimiter_are_detected(
    tmp_path: Path, encoding: str, delimiter: str
) -> None:
    rows = [
        ["Quartalsplan Finanzen"],
        HEADER,
        [
            "FIN-1",
            "Budget prüfen - Größe € (Q4)",
            "Done",
            "Jürgen Weiß",
            "31.12.2026",
            "",
            "Finance",
            "ja",
        ],
        [
            "FIN-2",
            "Forecast",
            "In Progress",
            "ann@x.org",
            "15.01.2027",
            "FIN-1; OPS-3",
            "Finance",
            "",
        ],
    ]
    path = write_csv(tmp_path / "plan.csv", rows, delimiter=delimiter, encoding=encoding)
    assert detect_encoding(path) == encoding
    connector = CsvConnector(csv_source(path, date_order="dmy"))
    batches = list(connector.fetch(None))
    got = records(batches)
    assert set(got) == {"FIN-1", "FIN-2"}
    first = got["FIN-1"].payload
    assert first["parsed"]["title"] == "Budget prüfen - Größe € (Q4)"
    assert first["parsed"]["owner"] == "Jürgen Weiß" and first["parsed"]["is_milestone"] is True
    assert first["row"] == 3 and first["sheet"] == "plan"
    assert got["FIN-2"].payload["parsed"]["depends_on"] == ["FIN-1", "OPS-3"]
    assert got["FIN-2"].payload["parsed"]["due"] == "2027-01-15"
    assert census(batches) == Census("row", {"FIN-1", "FIN-2"})
    assert connector.check().startswith("plan.csv")


def test_delimiter_sniffing_prefers_consistent_columns() -> None:
    assert detect_delimiter('a;b;c\n1;"x, y";3\n4;5;6\n') == ";"
    assert detect_delimiter("a,b\n1,2\n3,4\n") == ","
    assert detect_delimiter("a\tb\tc\n1\t2,5\t3\n") == "\t"


def test_configured_encoding_and_delimiter_win(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [["ID|Title"], ["1|a"]], delimiter=",")
    connector = CsvConnector(csv_source(path, delimiter="|", encoding="utf-8"))
    assert set(records(list(connector.fetch(None)))) == {"1"}


def test_registry_builds_file_connectors(tmp_path: Path) -> None:
    assert isinstance(build_connector(csv_source(tmp_path / "x.csv")), CsvConnector)
    assert isinstance(build_connector(xlsx_source(tmp_path / "x.xlsx")), ExcelConnector)


def test_missing_or_corrupt_files_raise_a_connector_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"plan-csv.*not found"):
        list(CsvConnector(csv_source(tmp_path / "nope.csv")).fetch(None))
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ConnectorError, match=r"plan-xlsx.*cannot read"):
        list(ExcelConnector(xlsx_source(broken)).fetch(None))


def build_workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    plan = wb.active
    assert plan is not None
    plan.title = "Plan"
    plan.append(["Store rollout plan"])  # title row above the header
    plan.merge_cells("A1:D1")
    plan.append(["ID", "Title", "Status", "Owner", None, "Due", "Start", "Depends on", "Type"])
    plan.merge_cells("D2:E2")  # a merged header cell: "Owner" spans two columns
    plan.append(
        [
            "ST-1",
            "Sign lease",
            "done",
            "Ann Lee",
            "ann@x.org",
            date(2026, 3, 1),
            datetime(2026, 2, 1, 9, 30),
            None,
            "Milestone",
        ]
    )
    plan.append([101, "Fit-out", "doing", "Bob", None, 46387, "2026-02-15", "ST-1", "Task"])
    plan.append(["ST-3", "Bad formula", "todo", None, None, "=1/0", None, None, None])
    plan["F5"].value = "#DIV/0!"  # what data_only reads back from a cached error
    plan["F5"].data_type = "e"
    plan.append([])
    plan.append(["ST-4", "Hire staff", "planned", None, None, "31.04.2026"])
    other = wb.create_sheet("Marketing")
    other.append(["Key", "Summary", "State", "Deadline"])
    other.append(["MK-1", "Launch ad", "started", date(2026, 5, 1)])
    wb.create_sheet("Notes").append(["Free text that is not a table"])
    wb.save(path)
    return path


def test_xlsx_sheets_merged_headers_serials_and_errors(tmp_path: Path) -> None:
    path = build_workbook(tmp_path / "plan.xlsx")
    connector = ExcelConnector(xlsx_source(path))
    batches = list(connector.fetch(None))
    got = records(batches)
    assert set(got) == {"ST-1", "101", "MK-1"}
    lease = got["ST-1"].payload
    assert lease["row"] == 3
    assert lease["cells"]["Owner (+1)"] == "ann@x.org"
    assert lease["parsed"]["due"] == "2026-03-01" and lease["parsed"]["start"] == "2026-02-01"
    assert lease["parsed"]["is_milestone"] is True
    assert got["101"].payload["parsed"]["due"] == "2026-12-31"
    assert got["MK-1"].payload["sheet"] == "Marketing"
    bad = {(r.location, r.column): r.reason for r in rejections(batches)}
    assert "#DIV/0!" in bad[("plan.xlsx / Plan / row 5", "Due")]
    assert "31.04.2026" in bad[("plan.xlsx / Plan / row 7", "Due")]
    stats = connector.stats
    assert (stats.loaded, stats.rejected, stats.empty) == (3, 2, 1)
    assert stats.loaded + stats.rejected + stats.empty == stats.rows_seen
    assert stats.sheets_skipped == 1  # Notes has no table
    assert census(batches) == Census("row", {"ST-1", "101", "ST-3", "ST-4", "MK-1"})


def test_a_missing_configured_sheet_is_reported_and_skips_the_census(tmp_path: Path) -> None:
    path = build_workbook(tmp_path / "plan.xlsx")
    batches = list(ExcelConnector(xlsx_source(path, sheets=["Plan", "Budget"])).fetch(None))
    assert any(r.location == "plan.xlsx / Budget" for r in rejections(batches))
    assert census(batches) is None  # a partial read must not tombstone anything
    assert "ST-1" in records(batches)


def raw_rows(raw: Path) -> dict[str, tuple[bool, dict[str, Any]]]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        rows = con.execute("SELECT record_key, is_deleted, payload FROM raw_records").fetchall()
    finally:
        con.close()
    return {key: (deleted, json.loads(payload)) for key, deleted, payload in rows}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_edits_between_syncs_become_upserts_and_tombstones(tmp_path: Path, kind: str) -> None:
    def write(rows: list[list[str]]) -> Path:
        if kind == "csv":
            return write_csv(tmp_path / "plan.csv", rows)
        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None
        for row in rows:
            ws.append(row)
        wb.save(tmp_path / "plan.xlsx")
        return tmp_path / "plan.xlsx"

    header = ["ID", "Title", "Status", "Due"]
    path = write(
        [
            header,
            ["A", "one", "todo", "2026-01-01"],
            ["B", "two", "todo", ""],
            ["C", "three", "todo", ""],
        ]
    )
    source = csv_source(path) if kind == "csv" else xlsx_source(path)
    raw = tmp_path / "raw.duckdb"
    connector = build_connector(source)
    first = land(raw, connector.fetch(None), full=True, stats=connector.stats)
    assert (first.records, first.changed, first.deleted) == (3, 3, 0)

    # B deleted, C changed, D added, A unchanged
    write(
        [
            header,
            ["A", "one", "todo", "2026-01-01"],
            ["C", "three", "done", ""],
            ["D", "four", "in progress", "2026-02-01"],
        ]
    )
    connector = build_connector(source)
    second = land(raw, connector.fetch(None), full=True, stats=connector.stats)
    assert (second.records, second.changed, second.deleted) == (3, 2, 1)  # C changed, D new
    state = raw_rows(raw)
    assert {k: v[0] for k, v in state.items()} == {"A": False, "B": True, "C": False, "D": False}
    assert state["C"][1]["parsed"]["status_category"] == "done"
    assert state["D"][1]["row"] == 4


def test_broken_corpus_of_ten_thousand_rows_never_stops_the_run(tmp_path: Path) -> None:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Big")
    ws.append(["Plan export"])
    ws.append(["Row ID", "Task", "Status", "Due", "Blocked by"])
    expected = {"loaded": 0, "rejected": 0, "empty": 0}
    for i in range(10_000):
        kind = i % 100  # one row in 100 of each broken kind
        if kind == 1:
            row: list[Any] = [f"R-{i}", "bad date", "todo", "32.01.2026", ""]
            expected["rejected"] += 1
        elif kind == 2:
            row = [f"R-{i - 2}", "duplicate id", "todo", "", ""]
            expected["rejected"] += 1
        elif kind == 3:
            row = []
            expected["empty"] += 1
        elif kind == 4:
            row = [f"R-{i}", "formula", "todo", "#REF!", ""]
            expected["rejected"] += 1
        elif kind == 5:
            row = [None, "no id", "todo", "", ""]
            expected["rejected"] += 1
        else:
            row = [f"R-{i}", f"task {i}", "in progress", date(2026, 1, 1 + i % 28), f"R-{i - 1}"]
            expected["loaded"] += 1
        ws.append(row)
    path = tmp_path / "big.xlsx"
    wb.save(path)

    connector = ExcelConnector(xlsx_source(path))
    raw = tmp_path / "raw.duckdb"
    result = land(raw, connector.fetch(None), full=True, stats=connector.stats)
    stats = connector.stats
    assert (stats.loaded, stats.rejected, stats.empty) == (
        expected["loaded"],
        expected["rejected"],
        expected["empty"],
    )
    assert stats.rows_seen == 10_000
    assert result.records == stats.loaded and result.rejected == stats.rejected
    con = duckdb.connect(str(raw), read_only=True)
    try:
        stored = con.execute("SELECT count(*), count(DISTINCT location) FROM rejections").fetchone()
    finally:
        con.close()
    assert stored == (stats.rejected, stats.rejected)


def test_an_unreadable_csv_record_is_rejected_and_the_rest_load(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("ID,Title\n1,a\n2," + "x" * 200_000 + "\n3,c\n")
    connector = CsvConnector(csv_source(path))
    batches = list(connector.fetch(None))
    assert set(records(batches)) == {"1", "3"}
    [rejection] = rejections(batches)
    assert rejection.location == "x.csv / x / row 3" and "field limit" in rejection.reason
    assert (connector.stats.rows_seen, connector.stats.rejected) == (3, 1)


def test_a_workbook_without_any_table_keeps_its_rows_alive(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(["Identifier", "Title"])  # the id column was renamed
    sheet.append(["A", "one"])
    wb.save(tmp_path / "plan.xlsx")
    batches = list(ExcelConnector(xlsx_source(tmp_path / "plan.xlsx")).fetch(None))
    assert [r.location for r in rejections(batches)] == ["plan.xlsx / (all sheets)"]
    assert census(batches) is None
