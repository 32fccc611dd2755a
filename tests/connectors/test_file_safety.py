"""A file that cannot be read whole fails its source instead of deleting what was not read."""

from __future__ import annotations

import codecs
import random
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest

from connectors.base import Batch, Census, ConnectorError, Page, RawRecord, Rejection
from connectors.files import CsvConnector, ExcelConnector
from connectors.registry import build_connector
from handoff.config import CsvSource, ExcelSource
from model.landing import land

HEADER = "ID,Title,Status,Due"


def csv_source(path: Path, **extra: Any) -> CsvSource:
    return CsvSource.model_validate({"name": "plan", "kind": "csv", "path": str(path), **extra})


def xlsx_source(path: Path, **extra: Any) -> ExcelSource:
    return ExcelSource.model_validate({"name": "book", "kind": "xlsx", "path": str(path), **extra})


def records(batches: list[Batch]) -> dict[str, RawRecord]:
    return {r.key: r for b in batches if isinstance(b, Page) for r in b.records}


def rejections(batches: list[Batch]) -> list[Rejection]:
    return [b for b in batches if isinstance(b, Rejection)]


def censuses(batches: list[Batch]) -> list[Census]:
    return [b for b in batches if isinstance(b, Census)]


def plan_lines(rows: int = 1000) -> list[str]:
    return [HEADER] + [f"T-{i},Task {i},todo,2026-01-{1 + i % 28:02d}" for i in range(1, rows + 1)]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def live_and_deleted(raw: Path) -> tuple[int, int]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        row = con.execute(
            "SELECT count(*) FILTER (NOT is_deleted), count(*) FILTER (is_deleted) FROM raw_records"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_stray_quote_fails_the_source_and_keeps_the_landed_rows(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "plan.csv", plan_lines())
    raw = tmp_path / "raw.duckdb"
    connector = CsvConnector(csv_source(path))
    land(raw, connector.fetch(None), full=True, stats=connector.stats)
    assert live_and_deleted(raw) == (1000, 0)

    lines = plan_lines()
    lines[700] = 'T-700,"Task 700,todo,2026-01-01'  # the quote is never closed
    write_lines(path, lines)
    connector = CsvConnector(csv_source(path))
    with pytest.raises(ConnectorError) as err:
        land(raw, connector.fetch(None), full=True, stats=connector.stats)
    message = str(err.value)
    assert "'plan'" in message and f"{path}, line 701" in message
    assert "stray" in message and "keeps its last good data" in message
    assert live_and_deleted(raw) == (1000, 0)


def test_a_stray_quote_closed_further_down_still_fails(tmp_path: Path) -> None:
    lines = plan_lines(100)
    lines[40] = 'T-40,"Task 40,todo,2026-01-01'
    lines[60] = 'T-60,Task 60",todo,2026-01-01'  # closes the quote, then a delimiter
    path = write_lines(tmp_path / "plan.csv", lines)
    with pytest.raises(ConnectorError, match=r"line 41: .*line 42, which looks like a row"):
        list(CsvConnector(csv_source(path)).fetch(None))


def test_a_real_multi_line_cell_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_text('ID,Title,Status,Due\nA,"Line one\nline two, with a comma",todo,\nB,b,done,\n')
    batches = list(CsvConnector(csv_source(path)).fetch(None))
    assert records(batches)["A"].payload["parsed"]["title"] == "Line one\nline two, with a comma"
    assert censuses(batches) == [Census("row", {"A", "B"})]


def test_a_quote_broken_within_one_line_is_a_rejected_row_that_stays_alive(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plan.csv"
    path.write_text('ID,Title,Status\nA,"Big" plan,todo\nB,b,done\n')
    batches = list(CsvConnector(csv_source(path)).fetch(None))
    [rejected] = rejections(batches)
    assert rejected.location == "plan.csv / plan / row 2" and "unreadable" in rejected.reason
    assert set(records(batches)) == {"B"}
    assert censuses(batches) == [Census("row", {"A", "B"})]  # A is not deleted


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (random.Random(7).randbytes(4096), r"binary content|not cp1252 text"),
        (b"PK\x03\x04" + bytes(200), r"zip archive \(an \.xlsx workbook"),
        (b"ID,Title\nA,a\nB,b\x00\x00\x01\n", r"line 3: binary content \(a NUL byte\)"),
        (b"ID,Title\n" + b"A,\x01\x02\x03\x04\x05\x06\x07\x08\n" * 20, r"binary content"),
    ],
    ids=["random", "zip", "nul", "controls"],
)
def test_binary_content_fails_instead_of_becoming_work_items(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "plan.csv"
    path.write_bytes(content)
    with pytest.raises(ConnectorError, match=expected):
        list(CsvConnector(csv_source(path)).fetch(None))
    with pytest.raises(ConnectorError, match=expected):
        CsvConnector(csv_source(path)).check()


def test_a_wrong_encoding_fails_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_bytes(b"ID,Title\nA,plain\nB,Gr\xf6\xdfe\n")  # cp1252, configured as UTF-8
    with pytest.raises(ConnectorError, match=r"line 3: bytes that are not utf-8 text"):
        list(CsvConnector(csv_source(path, encoding="utf-8")).fetch(None))
    path.write_bytes(b"ID,Title\nA,a\nB,\x81\x8d\n")  # neither UTF-8 nor cp1252
    with pytest.raises(ConnectorError, match=r"line 3: bytes that are not cp1252 text"):
        list(CsvConnector(csv_source(path)).fetch(None))
    with pytest.raises(ConnectorError, match=r"unknown encoding 'klingon'"):
        list(CsvConnector(csv_source(path, encoding="klingon")).fetch(None))


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "ID\tTitle\nA\tÄpfel\n".encode("utf-16-le"))
    got = records(list(CsvConnector(csv_source(path)).fetch(None)))
    assert got["A"].payload["parsed"]["title"] == "Äpfel"


def header_only_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize("kind", ["empty-csv", "blank-csv", "header-csv", "header-xlsx"])
def test_an_empty_or_header_only_file_fails_unless_allowed(tmp_path: Path, kind: str) -> None:
    raw = tmp_path / "raw.duckdb"
    if kind.endswith("csv"):
        path = write_lines(tmp_path / "plan.csv", plan_lines(3))
        make: Any = csv_source
    else:
        path = header_only_xlsx(tmp_path / "plan.xlsx", [["ID", "Title"], ["A", "a"]])
        make = xlsx_source
    connector = build_connector(make(path))
    land(raw, connector.fetch(None), full=True, stats=connector.stats)
    if kind == "empty-csv":
        path.write_bytes(b"")
    elif kind == "blank-csv":
        path.write_text("\n  \n\n")
    elif kind == "header-csv":
        path.write_text(HEADER + "\n")
    else:
        header_only_xlsx(path, [["ID", "Title"]])
    before = live_and_deleted(raw)
    connector = build_connector(make(path))
    with pytest.raises(ConnectorError, match=r"no data rows .*set allow_empty: true"):
        land(raw, connector.fetch(None), full=True, stats=connector.stats)
    assert live_and_deleted(raw) == before

    allowed = build_connector(make(path, allow_empty=True))
    result = land(raw, allowed.fetch(None), full=True, stats=allowed.stats)
    assert result.deleted == before[0] and live_and_deleted(raw) == (0, before[0])


def test_a_formula_without_a_cached_value_is_a_rejected_row(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()  # openpyxl writes formulas but never calculates them
    ws = wb.active
    assert ws is not None
    ws.title = "Plan"
    ws.append(["ID", "Title", "Status", "Notes"])
    ws.append(["A", '=CONCAT("Sign ", "lease")', "todo", None])
    ws.append(["B", "Fit-out", "todo", "=1+1"])  # an unmapped column: kept as its formula
    ws.append(['="C"', "Hire", "todo", None])  # the id itself is unknown
    wb.save(tmp_path / "plan.xlsx")
    batches = list(ExcelConnector(xlsx_source(tmp_path / "plan.xlsx")).fetch(None))
    got = records(batches)
    assert set(got) == {"B"} and got["B"].payload["cells"]["Notes"] == "=1+1"
    title, ident = rejections(batches)
    assert (title.location, title.column) == ("plan.xlsx / Plan / row 2", "Title")
    assert 'cell B2 holds the formula =CONCAT("Sign ", "lease") without a saved result' in (
        title.reason
    )
    assert (ident.location, ident.column) == ("plan.xlsx / Plan / row 4", "ID")
    assert "no rows are removed this run" in ident.reason
    assert censuses(batches) == []  # an unknown id: nothing may be tombstoned


def merged_header_book(path: Path, group_row: list[Any], header_row: list[Any]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Plan"
    ws.append(group_row)
    ws.append(header_row)
    ws.append(["A-1", "Sign lease", "Done", "2026-03-01"])
    ws.append(["A-2", "Fit-out", "Blocked-ish", "2026-04-01"])
    wb.save(path)
    return path


@pytest.mark.parametrize(
    ("group_row", "header_row"),
    [
        (["ID", "Title", "Progress", None], [None, None, "Status", "Due"]),  # ID merged down
        (["ID", "Plan", None, None], [None, "Title", "Status", "Due"]),  # "Plan" over B:D
        (["Task", None, "Status", "Dates"], ["ID", "Title", None, "Due"]),  # Status merged down
    ],
    ids=["id-merged-down", "title-over-columns", "status-merged-down"],
)
def test_a_two_row_merged_header_keeps_every_column(
    tmp_path: Path, group_row: list[Any], header_row: list[Any]
) -> None:
    path = merged_header_book(tmp_path / "plan.xlsx", group_row, header_row)
    batches = list(ExcelConnector(xlsx_source(path)).fetch(None))
    got = records(batches)
    assert set(got) == {"A-1"}
    parsed = got["A-1"].payload["parsed"]
    assert (parsed["title"], parsed["status_category"], parsed["due"]) == (
        "Sign lease",
        "done",
        "2026-03-01",
    )
    assert got["A-1"].payload["row"] == 3
    [rejected] = rejections(batches)  # the status column is read, so its value is checked
    assert rejected.location == "plan.xlsx / Plan / row 4" and rejected.column == "Status"


def test_header_rows_reads_a_configured_two_row_header(tmp_path: Path) -> None:
    path = merged_header_book(
        tmp_path / "plan.xlsx", ["ID", "Title", "Progress", None], [None, None, "Status", "Due"]
    )
    got = records(list(ExcelConnector(xlsx_source(path, header_rows=2)).fetch(None)))
    assert got["A-1"].payload["parsed"]["status"] == "Done"
    assert list(got["A-1"].payload["cells"]) == ["ID", "Title", "Status", "Due"]
    # one header row: the upper row alone, so Status and Due are not columns of the plan
    single = records(list(ExcelConnector(xlsx_source(path, header_rows=1)).fetch(None)))
    assert single["A-1"].payload["parsed"]["status"] is None
