"""Google Sheets as customers' plans really are: merged cells, links and smart chips, hidden
tabs and rows, zero-padded ids, many tabs under the read quota; and successor columns in every
spreadsheet kind. All through gspread against the strict Sheets sandbox."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
import yaml

from connectors.base import Batch, Census, Page, RawRecord, Rejection
from connectors.gsheets import GoogleSheetsConnector
from handoff.config import GoogleSheetsSource, load_config
from handoff.retry import FakeClock, RetryPolicy
from model.build import build_model
from model.fetch import fetch_source
from model.landing import land
from sandbox.gsheets import ServiceAccount, SheetsSandbox, Spreadsheet
from sandbox.gsheets.book import Link, Number, PersonChip, RichLinkChip
from sandbox.server import Faults

ACCOUNT = ServiceAccount()
JIRA = "https://it.atlassian.net/browse"


def source_for(sandbox: SheetsSandbox, tmp_path: Path, **extra: Any) -> GoogleSheetsSource:
    credentials = sandbox.write_credentials(tmp_path / "sa.json")
    entry, _ = sandbox.source_entry("plan", "plan", credentials)
    return GoogleSheetsSource.model_validate({**entry, **extra})


def fetched(source: GoogleSheetsSource, **kwargs: Any) -> tuple[list[Batch], Any]:
    connector = GoogleSheetsConnector(source, **kwargs)
    return list(connector.fetch(None)), connector.stats


def records(batches: list[Batch]) -> dict[str, RawRecord]:
    return {r.key: r for b in batches if isinstance(b, Page) for r in b.records}


def parsed(batches: list[Batch], key: str) -> dict[str, Any]:
    result: dict[str, Any] = records(batches)[key].payload["parsed"]
    return result


@pytest.fixture
def served() -> Iterator[tuple[SheetsSandbox, Spreadsheet]]:
    book = Spreadsheet("Store plan")
    with SheetsSandbox({"plan": book}, account=ACCOUNT) as sandbox:
        yield sandbox, book


def test_merged_department_and_owner_fill_down_their_rows(
    served: tuple[SheetsSandbox, Spreadsheet], tmp_path: Path
) -> None:
    sandbox, book = served
    tab = book.add_sheet(
        "Plan",
        [
            ["ID", "Title", "Department", "Owner", "Status"],
            ["P-1", "Lease", "Finance", "Ann Lee <ann@x.org>", "todo"],
            ["P-2", "Budget", None, None, "todo"],
            ["P-3", "Forecast", None, "bob@x.org", "todo"],
            [],  # a gap inside the merge stays a gap
            ["P-4", "Close", None, None, "todo"],
            ["P-5", "Store fit-out banner spanning two columns", None, None, "todo"],
        ],
    )
    tab.merge(1, 2, 6, 3)  # Department C2:C6
    tab.merge(1, 3, 3, 4)  # Owner D2:D3
    tab.merge(6, 1, 7, 3)  # Title B7:C7, across: the department column stays empty
    batches, stats = fetched(source_for(sandbox, tmp_path))
    departments = {key: parsed(batches, key)["department"] for key in records(batches)}
    assert departments == {
        "P-1": "Finance",
        "P-2": "Finance",
        "P-3": "Finance",
        "P-4": "Finance",
        "P-5": None,
    }
    assert parsed(batches, "P-2")["owner_email"] == "ann@x.org"
    assert parsed(batches, "P-3")["owner_email"] == "bob@x.org"
    assert (stats.loaded, stats.empty, stats.rejected) == (5, 1, 0)


def test_links_and_chips_give_their_targets(
    served: tuple[SheetsSandbox, Spreadsheet], tmp_path: Path
) -> None:
    sandbox, book = served
    book.add_sheet(
        "Plan",
        [
            ["ID", "Title", "Owner", "Depends on", "Link"],
            [
                "P-1",
                "Cut over",
                PersonChip("ann.lee@x.org", "Ann Lee"),
                Link("OPS-12", f"{JIRA}/OPS-12"),
                Link("ticket", "https://wiki.x.org/p1"),
            ],
            [
                "P-2",
                "Train staff",
                PersonChip("bob@x.org"),
                RichLinkChip(f"{JIRA}/OPS-13", "OPS-13: Router swap"),
            ],
            ["P-3", "Open", Link("Dana", "mailto:dana@x.org"), "P-1, P-2"],
        ],
    )
    batches, _ = fetched(source_for(sandbox, tmp_path))
    first, second, third = (parsed(batches, k) for k in ("P-1", "P-2", "P-3"))
    assert first["depends_on"] == [f"{JIRA}/OPS-12"]
    assert first["url"] == "https://wiki.x.org/p1"
    assert (first["owner"], first["owner_email"]) == ("Ann Lee", "ann.lee@x.org")
    assert second["depends_on"] == [f"{JIRA}/OPS-13"]
    assert (second["owner"], second["owner_email"]) == (None, "bob@x.org")
    assert third["owner_email"] == "dana@x.org"
    assert third["depends_on"] == ["P-1", "P-2"]  # plain text stays as typed


def test_hidden_tabs_and_rows_are_skipped_and_counted(
    served: tuple[SheetsSandbox, Spreadsheet], tmp_path: Path
) -> None:
    sandbox, book = served
    plan = book.add_sheet(
        "Plan",
        [
            ["ID", "Title", "Status"],
            ["P-1", "Visible", "todo"],
            ["P-2", "Hidden by the user", "todo"],
            ["P-3", "Filtered out", "done"],
            ["P-4", "Visible too", "todo"],
        ],
        hidden_rows={2},
        filtered_rows={3},
        basic_filter=(0, 0, 5, 3),
    )
    book.add_sheet("Archive", [["ID", "Title"], ["A-1", "Old"]], hidden=True)
    source = source_for(sandbox, tmp_path)
    batches, stats = fetched(source)
    assert set(records(batches)) == {"P-1", "P-4"}
    assert not [b for b in batches if isinstance(b, Rejection)]  # skipped, not rejected
    assert (stats.hidden, stats.sheets_hidden, stats.rows_seen) == (2, 1, 4)
    assert [b for b in batches if isinstance(b, Census)] == [Census("row", {"P-1", "P-4"})]

    everything, stats = fetched(source_for(sandbox, tmp_path, include_hidden=True))
    assert set(records(everything)) == {"P-1", "P-2", "P-3", "P-4", "A-1"}
    assert (stats.hidden, stats.sheets_hidden) == (0, 0)

    # a row the user hides later leaves the live items, like a deleted row
    raw = tmp_path / "raw.duckdb"
    land(raw, iter(everything), full=True)
    with sandbox.edit():
        plan.hidden_rows.add(4)
    connector = GoogleSheetsConnector(source)
    second = land(raw, connector.fetch(None), full=True, stats=connector.stats)
    # P-2, P-3 and the hidden tab's A-1 (read only with include_hidden) and now P-4
    assert second.deleted == 4
    con = duckdb.connect(str(raw), read_only=True)
    try:
        query = "SELECT record_key FROM raw_records WHERE NOT is_deleted"
        live = {k for (k,) in con.execute(query).fetchall()}
    finally:
        con.close()
    assert live == {"P-1"}


def test_a_named_hidden_tab_is_read(
    served: tuple[SheetsSandbox, Spreadsheet], tmp_path: Path
) -> None:
    sandbox, book = served
    book.add_sheet("Plan", [["ID", "Title"], ["P-1", "Visible"]])
    book.add_sheet("Archive", [["ID", "Title"], ["A-1", "Old"]], hidden=True)
    batches, _ = fetched(source_for(sandbox, tmp_path, sheets=["Archive"]))
    assert set(records(batches)) == {"A-1"}


def test_ids_read_as_displayed_and_dates_still_parsed(
    served: tuple[SheetsSandbox, Spreadsheet], tmp_path: Path
) -> None:
    sandbox, book = served
    book.add_sheet(
        "Plan",
        [
            ["ID", "Title", "Due", "Depends on", "Cost"],
            [Number(123, "00000"), "Padded", date(2026, 3, 1), None, Number(1200, "0.00")],
            [Number(7, "00000"), "Next", date(2026, 12, 31), Number(123, "00000")],
            [42, "Plain number id", 46387],
        ],
        date_format="%d/%m/%Y",  # the locale's display, which must not confuse the dates
    )
    batches, _ = fetched(source_for(sandbox, tmp_path))
    assert set(records(batches)) == {"00123", "00007", "42"}
    assert parsed(batches, "00123")["due"] == "2026-03-01"
    assert parsed(batches, "00007")["due"] == "2026-12-31"
    assert parsed(batches, "00007")["depends_on"] == ["00123"]
    assert parsed(batches, "42")["due"] == "2026-12-31"


def test_all_tabs_in_one_batch_get_within_the_read_quota(tmp_path: Path) -> None:
    book = Spreadsheet("Regional plans")
    for region in range(70):  # more tabs than the 60 reads a minute a user may make
        book.add_sheet(f"Region {region}", [["ID", "Title"], [f"R{region}-1", "Open store"]])
    clock = FakeClock()
    with SheetsSandbox({"plan": book}, account=ACCOUNT, quota=True) as sandbox:
        source = source_for(sandbox, tmp_path, max_retry_wait_seconds=30)
        batches, stats = fetched(source, clock=clock)
        assert sandbox.server.requests["GET /v4/spreadsheets/plan/values:batchGet"] == 1
        assert sandbox.server.requests["GET /v4/spreadsheets/plan"] == 2
    assert len(records(batches)) == 70
    assert stats.retries == 0 and clock.sleeps == []


class RecoveringClock(FakeClock):
    """A fake clock for a service that is slow until the connector first backs off."""

    def __init__(self, faults: Faults):
        super().__init__()
        self.faults = faults

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.faults.slow_ms = 0


def test_a_timed_out_read_is_retried_and_the_sync_completes(tmp_path: Path) -> None:
    book = Spreadsheet("Plan")
    book.add_sheet("Tasks", [["ID", "Title"], ["T-1", "One"]])
    faults = Faults(slow_ms=400)
    clock = RecoveringClock(faults)
    with SheetsSandbox({"plan": book}, faults=faults, account=ACCOUNT) as sandbox:
        source = source_for(sandbox, tmp_path)
        connector = GoogleSheetsConnector(
            source, clock=clock, timeout=0.1, retry=RetryPolicy(max_attempts=3)
        )
        batches = list(connector.fetch(None))
    assert set(records(batches)) == {"T-1"}
    assert connector.stats.retries == 1 and len(clock.sleeps) == 1


# -- successors in every spreadsheet kind --------------------------------------------------
PLAN = [
    ["ID", "Title", "Status", "Depends on", "Successors"],
    ["P-1", "Design", "done", "", "P-2, P-3"],
    ["P-2", "Build", "todo", "", ""],
    ["P-3", "Test", "todo", "P-2", "OPS-9"],
]
EXPECTED_EDGES = {
    ("plan:P-1", "plan:P-2", "sheet_column", True),
    ("plan:P-1", "plan:P-3", "sheet_column", True),
    ("plan:P-2", "plan:P-3", "sheet_column", True),
    ("plan:P-3", "unresolved:OPS-9", "sheet_column", False),
}


def edges_after_sync(tmp_path: Path, entry: dict[str, Any]) -> set[tuple[str, str, str, bool]]:
    config_path = tmp_path / "handoff.yaml"
    config_path.write_text(yaml.safe_dump({"version": 1, "sources": [entry]}))
    config = load_config(config_path)
    [source] = config.sources
    outcome = fetch_source(config, source, full=True)
    assert outcome.status == "success", outcome.error
    now = datetime(2026, 1, 5, 2, 0, tzinfo=UTC).replace(tzinfo=None)
    result = build_model(config, run_id="t", now=now, outcomes={"plan": outcome})
    con = duckdb.connect(str(result.path), read_only=True)
    try:
        rows = con.execute(
            "SELECT upstream_id, downstream_id, origin, is_resolved FROM dependencies"
        ).fetchall()
    finally:
        con.close()
    return {(str(a), str(b), str(c), bool(d)) for a, b, c, d in rows}


def test_successors_from_a_csv_file(tmp_path: Path) -> None:
    with (tmp_path / "plan.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(PLAN)
    entry = {"name": "plan", "kind": "csv", "path": "plan.csv"}
    assert edges_after_sync(tmp_path, entry) == EXPECTED_EDGES


def test_blocks_column_from_an_xlsx_workbook(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [[*PLAN[0][:4], "Blocks"], *PLAN[1:]]:
        sheet.append(row)
    workbook.save(tmp_path / "plan.xlsx")
    entry = {"name": "plan", "kind": "xlsx", "path": "plan.xlsx"}
    assert edges_after_sync(tmp_path, entry) == EXPECTED_EDGES


def test_successors_from_google_sheets_with_a_configured_header(tmp_path: Path) -> None:
    book = Spreadsheet("Plan")
    book.add_sheet("Tasks", [[*PLAN[0][:4], "Hands off to"], *PLAN[1:]])
    with SheetsSandbox({"plan": book}, account=ACCOUNT) as sandbox:
        credentials = sandbox.write_credentials(tmp_path / "sa.json")
        entry, _ = sandbox.source_entry("plan", "plan", credentials)
        entry["columns"] = {"successors": ["hands off to"]}
        assert edges_after_sync(tmp_path, entry) == EXPECTED_EDGES
