"""The shared row mapping: header detection, typed parsing, and row-level rejections."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import RawRecord, Rejection
from connectors.spreadsheet import (
    BadCell,
    RowMapper,
    SheetFetchStats,
    UnreadableRow,
    column_letter,
    header_names,
    is_error,
    parse_date,
    parse_flag,
    parse_owner,
    split_refs,
)
from handoff.config import CsvSource


def source(**extra: object) -> CsvSource:
    return CsvSource.model_validate({"name": "plan", "kind": "csv", "path": "plan.csv", **extra})


def run(
    rows: list[list[object]], **extra: object
) -> tuple[list[object], SheetFetchStats, RowMapper]:
    stats = SheetFetchStats()
    mapper = RowMapper(source(**extra), "plan.csv", stats)
    return list(mapper.sheet("Plan", rows, required=True)), stats, mapper


@pytest.mark.parametrize(
    ("value", "order", "expected"),
    [
        ("2026-12-31", "iso", date(2026, 12, 31)),
        ("2026-12-31T10:30:00Z", "iso", date(2026, 12, 31)),
        ("2026/12/31", "iso", date(2026, 12, 31)),
        ("31.12.2026", "iso", date(2026, 12, 31)),
        ("31.12.2026", "dmy", date(2026, 12, 31)),
        ("12/31/2026", "mdy", date(2026, 12, 31)),
        ("12/31/2026", "iso", date(2026, 12, 31)),
        ("01/02/2026", "dmy", date(2026, 2, 1)),
        ("01/02/2026", "mdy", date(2026, 1, 2)),
        ("31.12.26", "dmy", date(2026, 12, 31)),
        (46387, "iso", date(2026, 12, 31)),
        (46387.75, "iso", date(2026, 12, 31)),
        ("46387", "iso", date(2026, 12, 31)),
        (datetime(2026, 12, 31, 9, 0), "iso", date(2026, 12, 31)),
        (date(2026, 12, 31), "iso", date(2026, 12, 31)),
        ("", "iso", None),
        (None, "iso", None),
    ],
)
def test_dates_are_read_in_every_common_spelling(
    value: object, order: str, expected: object
) -> None:
    assert parse_date(value, order) == expected


@pytest.mark.parametrize(
    ("value", "order"),
    [
        ("31.13.2026", "dmy"),
        ("next week", "iso"),
        ("01/02/2026", "iso"),
        ("2026-02-30", "iso"),
        (True, "iso"),
        (-3, "iso"),
    ],
)
def test_bad_and_ambiguous_dates_are_bad_cells(value: object, order: str) -> None:
    with pytest.raises(BadCell):
        parse_date(value, order)


@given(st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)))
def test_serial_numbers_round_trip(day: date) -> None:
    serial = (day - date(1899, 12, 30)).days
    assert parse_date(serial) == day
    assert parse_date(day.strftime("%d.%m.%Y"), "dmy") == day
    assert parse_date(day.strftime("%m/%d/%Y"), "mdy") == day


def test_cell_helpers() -> None:
    assert parse_owner("Ann Lee <Ann@Example.org>") == ("Ann Lee", "ann@example.org")
    assert parse_owner("ann@example.org") == (None, "ann@example.org")
    assert parse_owner("Ann Lee") == ("Ann Lee", None)
    assert split_refs("FIN-3, OPS-4;https://x.test/a  17\n18") == [
        "FIN-3",
        "OPS-4",
        "https://x.test/a",
        "17",
        "18",
    ]
    assert split_refs(17.0) == ["17"]
    assert [parse_flag(v) for v in ("yes", "X", "TRUE", 1, True, "no", "", None, 0)] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert all(is_error(v) for v in ("#REF!", "#N/A", "#DIV/0!", "#NAME?", "#VALUE!", "#ERROR!"))
    assert not is_error("#1 priority")
    assert [column_letter(i) for i in (0, 25, 26, 701)] == ["A", "Z", "AA", "ZZ"]
    assert header_names(["ID", "Owner", None, None, "ID"]) == [
        "ID",
        "Owner",
        "Owner (+1)",
        "Owner (+2)",
        "ID (2)",
    ]


def test_header_below_title_rows_and_aliases() -> None:
    rows: list[list[object]] = [
        ["Finance plan 2026"],
        [],
        ["", "Dates", None, ""],
        ["Task ID", "Task", "Deadline", "Blocked by", "Responsible", "Milestone?", "Notes"],
        ["FIN-1", "Budget", "31.12.2026", "OPS-4, https://x.test/r/9", "Ann <ann@x.org>", "x", "n"],
    ]
    out, stats, _ = run(rows, columns={"milestone": ["milestone?"]}, date_order="dmy")
    assert len(out) == 1 and isinstance(out[0], RawRecord)
    record = out[0]
    assert record.key == "FIN-1"
    assert record.payload["row"] == 5 and record.payload["sheet"] == "Plan"
    parsed = record.payload["parsed"]
    assert parsed["due"] == "2026-12-31"
    assert parsed["depends_on"] == ["OPS-4", "https://x.test/r/9"]
    assert parsed["owner"] == "Ann" and parsed["owner_email"] == "ann@x.org"
    assert parsed["is_milestone"] is True
    assert parsed["status"] is None and parsed["status_category"] == "todo"
    assert record.payload["cells"]["Notes"] == "n"
    assert (stats.rows_seen, stats.loaded) == (1, 1)


def test_each_bad_row_is_rejected_with_place_column_and_reason() -> None:
    rows: list[list[object]] = [
        ["ID", "Title", "Status", "Due", "Start", "Owner"],
        ["A-1", "ok", "In Progress", "2026-01-05", None, "bob@x.org"],
        [None, "no id", "Done"],
        ["A-1", "again", "Done"],
        ["A-2", "bad date", "Done", "someday"],
        ["A-3", "odd status", "Parked"],
        ["A-4", "error cell", "Done", "#REF!"],
        ["#N/A", "error id"],
        [None, "", "  "],
        UnreadableRow("unreadable CSV record: boom", ["A-6", "x"]),  # type: ignore[list-item]
        ["A-5", "custom status", "Parked-ish"],
    ]
    out, stats, mapper = run(rows, status_map={"Parked-ish": "todo"})
    rejections = [o for o in out if isinstance(o, Rejection)]
    records = [o for o in out if isinstance(o, RawRecord)]
    assert [r.key for r in records] == ["A-1", "A-5"]
    assert [(r.location, r.column) for r in rejections] == [
        ("plan.csv / Plan / row 3", "ID"),
        ("plan.csv / Plan / row 4", "ID"),
        ("plan.csv / Plan / row 5", "Due"),
        ("plan.csv / Plan / row 6", "Status"),
        ("plan.csv / Plan / row 7", "Due"),
        ("plan.csv / Plan / row 8", "ID"),
        ("plan.csv / Plan / row 10", None),
    ]
    reasons = [r.reason for r in rejections]
    assert reasons[0] == "missing id"
    assert "repeated id 'A-1'" in reasons[1] and "row 2" in reasons[1]
    assert "someday" in reasons[2]
    assert "Parked" in reasons[3] and "status_map" in reasons[3]
    assert "#REF!" in reasons[4]
    assert rejections[0].raw == {"Title": "no id", "Status": "Done"}
    assert (stats.rows_seen, stats.loaded, stats.rejected, stats.empty) == (10, 2, 7, 1)
    assert stats.loaded + stats.rejected + stats.empty == stats.rows_seen
    # rows rejected for a bad cell stay alive (no tombstone for a typo), unreadable ones too
    assert mapper.live_ids == {"A-1", "A-2", "A-3", "A-4", "A-5", "A-6"}
    # but an id that cannot be read (#N/A) may name a live item: no census this run
    assert "#N/A" in reasons[5] and "no rows are removed" in reasons[5]
    assert not mapper.complete


def test_an_unreadable_row_whose_id_is_unknown_stops_the_census() -> None:
    rows: list[object] = [
        ["ID", "Title"],
        ["A-1", "ok"],
        UnreadableRow("unreadable CSV record: boom"),
        UnreadableRow("unreadable CSV record: boom", [None, "no id"]),
    ]
    out, _, mapper = run(rows)  # type: ignore[arg-type]
    reasons = [o.reason for o in out if isinstance(o, Rejection)]
    assert "no rows are removed this run" in reasons[0]
    assert "no rows are removed" not in reasons[1]  # a blank id is a blank id
    assert not mapper.complete


def test_sheet_without_header_is_reported_only_when_required() -> None:
    stats = SheetFetchStats()
    mapper = RowMapper(source(), "book.xlsx", stats)
    assert list(mapper.sheet("Notes", [["just", "text"]], required=False)) == []
    assert mapper.complete and stats.sheets_skipped == 1
    out = list(mapper.sheet("Plan", [["just", "text"]], required=True))
    assert isinstance(out[0], Rejection) and out[0].location == "book.xlsx / Plan"
    assert not mapper.complete
