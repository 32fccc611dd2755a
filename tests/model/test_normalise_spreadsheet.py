"""Spreadsheet normaliser: landed rows -> stg_items / stg_references, tombstones flagged."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from connectors.files import CsvConnector
from handoff.config import CsvSource, GoogleSheetsSource
from model.landing import land
from model.normalise import normaliser_for
from model.normalise.spreadsheet import row_link

STAGING = Path(__file__).resolve().parents[2] / "model" / "staging.sql"


def write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def normalised(raw: Path, source: Any) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_plan (READ_ONLY)")
    normaliser_for(source.kind)(con, source, "raw_plan", datetime(2026, 1, 5, 2, 0))
    return con


def test_rows_become_items_references_and_tombstones(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    header = [
        "ID",
        "Title",
        "Status",
        "Owner",
        "Due",
        "Start",
        "Depends on",
        "Department",
        "Type",
        "Milestone",
        "Link",
    ]
    write(
        path,
        [
            header,
            [
                "F-1",
                "Budget",
                "Done",
                "Ann Lee <ann@x.org>",
                "2026-03-01",
                "2026-01-01",
                "",
                "Finance",
                "Milestone",
                "",
                "",
            ],
            [
                "F-2",
                "Forecast",
                "doing",
                "Bob",
                "2026-04-01",
                "",
                "F-1, OPS-7 https://j.test/browse/OPS-8",
                "",
                "Task",
                "no",
                "https://wiki.test/f2",
            ],
            ["F-3", "Old", "todo", "", "", "", "F-1", "", "", "", ""],
        ],
    )
    source = CsvSource(name="fin-plan", kind="csv", path=path)
    raw = tmp_path / "raw.duckdb"
    land(raw, CsvConnector(source).fetch(None), full=True)
    write(
        path,
        [
            header,
            [
                "F-1",
                "Budget",
                "Done",
                "Ann Lee <ann@x.org>",
                "2026-03-01",
                "2026-01-01",
                "",
                "Finance",
                "Milestone",
                "",
                "",
            ],
            [
                "F-2",
                "Forecast",
                "doing",
                "Bob",
                "2026-04-01",
                "",
                "F-1, OPS-7 https://j.test/browse/OPS-8",
                "",
                "Task",
                "no",
                "https://wiki.test/f2",
            ],
        ],
    )
    land(raw, CsvConnector(source).fetch(None), full=True)

    con = normalised(raw, source)
    items = {
        row[0]: row
        for row in con.execute(
            """SELECT item_id, tool, source_key, title, status, status_category, department,
                      owner_email, owner_name, due_date, start_date, is_milestone, project, url,
                      is_deleted, item_type, synced_at
               FROM stg_items"""
        ).fetchall()
    }
    assert set(items) == {"fin-plan:F-1", "fin-plan:F-2", "fin-plan:F-3"}
    f1 = items["fin-plan:F-1"]
    assert f1[1:12] == (
        "csv",
        "F-1",
        "Budget",
        "Done",
        "done",
        "Finance",
        "ann@x.org",
        "Ann Lee",
        date(2026, 3, 1),
        date(2026, 1, 1),
        True,
    )
    assert f1[12] == "plan" and f1[13] == path.resolve().as_uri() + "#plan!A2"
    f2 = items["fin-plan:F-2"]
    assert (f2[5], f2[6], f2[8], f2[11], f2[13], f2[15]) == (
        "in_progress",
        None,
        "Bob",
        False,
        "https://wiki.test/f2",
        "Task",
    )
    assert items["fin-plan:F-3"][14] is True and not f1[14]
    assert f1[16] == datetime(2026, 1, 5, 2, 0)
    refs = con.execute(
        "SELECT item_id, ref, ref_kind, direction, kind, origin FROM stg_references ORDER BY ref"
    ).fetchall()
    assert refs == [
        ("fin-plan:F-2", "F-1", "text", "upstream", "depends_on", "sheet_column"),
        ("fin-plan:F-2", "OPS-7", "text", "upstream", "depends_on", "sheet_column"),
        (
            "fin-plan:F-2",
            "https://j.test/browse/OPS-8",
            "text",
            "upstream",
            "depends_on",
            "sheet_column",
        ),
    ]  # the deleted F-3's reference is gone with it


def test_row_links_use_the_configured_template_or_the_sheet() -> None:
    templated = CsvSource(
        name="p", kind="csv", path=Path("p.csv"), url="https://share.test/p?s={sheet}&r={row}"
    )
    assert row_link(templated) == "https://share.test/p?s={sheet}&r={row}"
    sheets = GoogleSheetsSource(name="g", kind="gsheets", spreadsheet_id="abc")
    assert (
        row_link(sheets) == "https://docs.google.com/spreadsheets/d/abc/edit#gid={gid}&range=A{row}"
    )


def test_template_is_filled_per_row(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    write(path, [["ID", "Title"], ["1", "a"], ["2", "b"]])
    source = CsvSource(
        name="p", kind="csv", path=path, url="https://share.test/p?s={sheet}&r={row}"
    )
    raw = tmp_path / "raw.duckdb"
    land(raw, CsvConnector(source).fetch(None), full=True)
    urls = normalised(raw, source).execute("SELECT url FROM stg_items ORDER BY 1").fetchall()
    assert urls == [("https://share.test/p?s=p&r=2",), ("https://share.test/p?s=p&r=3",)]
