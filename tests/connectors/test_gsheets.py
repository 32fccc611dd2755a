"""Google Sheets connector through real gspread and google-auth against the Sheets sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.base import (
    Census,
    ConnectorError,
    Page,
    PermanentConnectorError,
    RawRecord,
    Rejection,
)
from connectors.gsheets import GoogleSheetsConnector
from connectors.registry import build_connector
from handoff.config import GoogleSheetsSource
from handoff.retry import FakeClock
from model.landing import land
from sandbox.gsheets import Formula, ServiceAccount, SheetsSandbox, Spreadsheet, generate_book
from sandbox.server import Faults
from sandbox.server import test_ca_context as ca_context

ACCOUNT = ServiceAccount()  # one generated key for the module: RSA generation is slow


def plan_book() -> Spreadsheet:
    book = Spreadsheet("Store plan")
    book.add_sheet(
        "Rollout",
        [
            ["Store rollout 2026"],
            [None, None, None, "Dates"],
            ["ID", "Title", "Status", "Due", "Start", "Owner", None, "Depends on", "Milestone"],
            [
                "ST-1",
                "Sign lease",
                "Done",
                date(2026, 3, 1),
                "01.02.2026",
                "Ann Lee",
                "ann@x.org",
                "",
                "TRUE",
            ],
            [2, "Fit-out", "Doing", 46387, None, "bob@x.org", None, "ST-1, OPS-7 2"],
            [],
            ["ST-3", "Broken", "todo", Formula("=VLOOKUP(A6,X!A:B,2)", "#N/A")],
            ["ST-1", "Duplicate", "todo"],
            ["ST-4", "Bad date", "todo", "31.02.2026"],
            ["ST-5", "Odd", "Parked"],
        ],
    )
    book.add_sheet("Marketing", [["Key", "Summary", "State"], ["MK-1", "Campaign", "planned"]])
    book.add_sheet("Notes", [["not a table"]])
    return book


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SheetsSandbox]:
    with SheetsSandbox({"plan": plan_book()}, account=ACCOUNT) as running:
        yield running


def source_for(
    sandbox: SheetsSandbox, tmp_path: Path, spreadsheet_id: str = "plan", **extra: Any
) -> GoogleSheetsSource:
    credentials = sandbox.write_credentials(tmp_path / "sa.json")
    entry, _ = sandbox.source_entry("store-plan", spreadsheet_id, credentials)
    return GoogleSheetsSource.model_validate({**entry, "date_order": "dmy", **extra})


def test_reads_every_tab_through_gspread(sandbox: SheetsSandbox, tmp_path: Path) -> None:
    sandbox.server.reset_counts()
    connector = build_connector(source_for(sandbox, tmp_path))
    assert isinstance(connector, GoogleSheetsConnector)
    batches = list(connector.fetch(None))
    records = {r.key: r for b in batches if isinstance(b, Page) for r in b.records}
    assert set(records) == {"ST-1", "2", "MK-1"}
    lease = records["ST-1"].payload
    assert lease["sheet"] == "Rollout" and lease["row"] == 4 and lease["sheet_id"] == 0
    assert lease["parsed"]["due"] == "2026-03-01" and lease["parsed"]["start"] == "2026-02-01"
    assert lease["parsed"]["is_milestone"] is True and lease["parsed"]["owner"] == "Ann Lee"
    assert lease["cells"]["Owner (+1)"] == "ann@x.org"
    assert records["2"].payload["parsed"]["due"] == "2026-12-31"
    assert records["2"].payload["parsed"]["depends_on"] == ["ST-1", "OPS-7", "2"]
    assert records["2"].payload["parsed"]["status_category"] == "in_progress"
    rejected = {(b.location, b.column): b.reason for b in batches if isinstance(b, Rejection)}
    assert set(rejected) == {
        ("Store plan / Rollout / row 7", "Due"),
        ("Store plan / Rollout / row 8", "ID"),
        ("Store plan / Rollout / row 9", "Due"),
        ("Store plan / Rollout / row 10", "Status"),
    }
    assert "#N/A" in rejected[("Store plan / Rollout / row 7", "Due")]
    stats = connector.stats
    assert (stats.rows_seen, stats.loaded, stats.rejected, stats.empty) == (8, 3, 4, 1)
    assert stats.sheets_skipped == 1
    census = [b for b in batches if isinstance(b, Census)]
    assert census == [Census("row", {"ST-1", "2", "ST-3", "ST-4", "ST-5", "MK-1"})]
    # one token, the metadata, one batchGet for all tabs, the grid data of the mapped columns
    assert sandbox.server.requests == {
        "POST /token": 1,
        "GET /v4/spreadsheets/plan": 2,
        "GET /v4/spreadsheets/plan/values:batchGet": 1,
    }
    assert stats.requests == 4 and stats.retries == 0
    assert connector.check() == "Store plan: 3 worksheet(s)"


def test_credentials_from_a_secret_and_named_sheets(sandbox: SheetsSandbox, tmp_path: Path) -> None:
    secret = json.dumps(sandbox.service_account_info())
    source = source_for(
        sandbox,
        tmp_path,
        credentials_file=None,
        credentials_json=secret,
        sheets=["Marketing", "Budget"],
    )
    batches = list(GoogleSheetsConnector(source).fetch(None))
    assert [r.key for b in batches if isinstance(b, Page) for r in b.records] == ["MK-1"]
    missing = [b for b in batches if isinstance(b, Rejection)]
    assert [m.location for m in missing] == ["Store plan / Budget"]
    assert not any(isinstance(b, Census) for b in batches)  # partial read: no tombstones


@pytest.mark.parametrize(
    ("spreadsheet_id", "message"),
    [("nope", "failed with 404"), ("locked", "failed with 403 (share the spreadsheet")],
)
def test_access_errors_name_the_source(
    sandbox: SheetsSandbox, tmp_path: Path, spreadsheet_id: str, message: str
) -> None:
    sandbox.books["locked"] = Spreadsheet("Locked", shared_with={"someone@else.test"})
    with pytest.raises(ConnectorError, match="'store-plan'") as err:
        list(GoogleSheetsConnector(source_for(sandbox, tmp_path, spreadsheet_id)).fetch(None))
    assert message in str(err.value)


def test_bad_credentials_never_leak_the_key(sandbox: SheetsSandbox, tmp_path: Path) -> None:
    info = sandbox.service_account_info()
    wrong_key = {**ServiceAccount(client_email=info["client_email"]).info(info["token_uri"])}
    secret = json.dumps(wrong_key)
    source = source_for(sandbox, tmp_path, credentials_file=None, credentials_json=secret)
    with pytest.raises(ConnectorError, match="no access token") as err:
        list(GoogleSheetsConnector(source).fetch(None))
    assert wrong_key["private_key"][40:80] not in str(err.value)
    not_json = source_for(sandbox, tmp_path, credentials_file=None, credentials_json="{oops secret")
    with pytest.raises(ConnectorError) as err:
        list(GoogleSheetsConnector(not_json).fetch(None))
    assert "oops" not in str(err.value)


def test_refusals_are_permanent_and_outages_are_not(sandbox: SheetsSandbox, tmp_path: Path) -> None:
    """A refused key, an unshared or a missing spreadsheet fail the source at once; the sync
    spends no retries on them. A server error stays worth retrying."""
    sandbox.books["locked"] = Spreadsheet("Locked", shared_with={"someone@else.test"})
    info = sandbox.service_account_info()
    wrong_key = ServiceAccount(client_email=info["client_email"]).info(info["token_uri"])
    refused = [
        source_for(
            sandbox, tmp_path, credentials_file=None, credentials_json=json.dumps(wrong_key)
        ),
        source_for(sandbox, tmp_path, "locked"),
        source_for(sandbox, tmp_path, "nope"),
    ]
    for source in refused:
        with pytest.raises(PermanentConnectorError, match="'store-plan'"):
            list(GoogleSheetsConnector(source).fetch(None))
    with SheetsSandbox(
        {"plan": plan_book()}, faults=Faults(always_status=503), account=ACCOUNT
    ) as down:
        source = source_for(down, tmp_path, max_retry_wait_seconds=5)
        with pytest.raises(ConnectorError) as err:
            list(GoogleSheetsConnector(source, clock=FakeClock()).fetch(None))
    assert not isinstance(err.value, PermanentConnectorError)


@pytest.mark.parametrize("retry_after", ["seconds", "date"])
def test_quota_answers_are_retried_after_the_wait_google_asks(
    tmp_path: Path, retry_after: str
) -> None:
    faults = Faults(rate_limit_every=2, retry_after=retry_after, retry_after_seconds=30)
    clock = FakeClock()
    with SheetsSandbox({"plan": plan_book()}, faults=faults, account=ACCOUNT) as sandbox:
        source = source_for(sandbox, tmp_path, sheets=["Marketing"])
        connector = GoogleSheetsConnector(source, clock=clock)
        batches = list(connector.fetch(None))
        assert [r.key for b in batches if isinstance(b, Page) for r in b.records] == ["MK-1"]
        # every second read is refused: the batchGet's first try and the grid read's first try
        assert connector.stats.retries == 2
        assert connector.stats.waited_seconds == sum(clock.sleeps)
        waited = clock.sleeps[0]  # (the fake clock is 30 s ahead of the server after it)
        if retry_after == "seconds":
            assert clock.sleeps == [30, 30]
        else:  # 30 s after the server's now, to the second
            assert 29 <= waited <= 31
        assert sandbox.server.requests["GET /v4/spreadsheets/plan/values:batchGet"] == 2


def test_the_wait_is_bounded_by_the_per_call_deadline(tmp_path: Path) -> None:
    clock = FakeClock()
    with SheetsSandbox(
        {"plan": plan_book()}, faults=Faults(always_status=429), account=ACCOUNT
    ) as sandbox:
        source = source_for(sandbox, tmp_path, max_retry_wait_seconds=10)
        connector = GoogleSheetsConnector(source, clock=clock)
        with pytest.raises(ConnectorError) as err:
            list(connector.fetch(None))
    message = str(err.value)
    assert "'store-plan'" in message and "reading the metadata" in message
    assert "HTTP 429" in message and "try again later" in message
    assert "10s allowed per call" in message
    assert clock.slept <= 10


def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    context, bundle = ca_context(str(tmp_path))
    with SheetsSandbox({"plan": plan_book()}, tls=context, account=ACCOUNT) as sandbox:
        assert sandbox.url.startswith("https://")
        source = source_for(sandbox, tmp_path, ca_bundle=bundle, sheets=["Marketing"])
        batches = list(GoogleSheetsConnector(source).fetch(None))
        assert [r.key for b in batches if isinstance(b, Page) for r in b.records] == ["MK-1"]


def test_edits_between_syncs_land_as_upserts_and_tombstones(tmp_path: Path) -> None:
    book = generate_book(30, seed=3)
    with SheetsSandbox({"gen": book}, account=ACCOUNT) as sandbox:
        source = source_for(sandbox, tmp_path, "gen", date_order="iso")
        raw = tmp_path / "raw.duckdb"
        connector = GoogleSheetsConnector(source)
        first = land(raw, connector.fetch(None), full=True, stats=connector.stats)
        assert (first.records, first.deleted, first.requests) == (30, 0, 4)

        plan = book.worksheet("Plan")
        with sandbox.edit():
            plan.delete("PL-30")  # the last row: nothing below it moves
            plan.set("PL-29", "Status", "Done")
            plan.append(["PL-31", "Late addition", "Planned"])
        connector = GoogleSheetsConnector(source)
        second = land(raw, connector.fetch(None), full=True, stats=connector.stats)
        assert (second.records, second.changed, second.deleted) == (30, 2, 1)

    con = duckdb.connect(str(raw), read_only=True)
    try:
        rows = dict(
            con.execute(
                "SELECT record_key, is_deleted FROM raw_records"
                " WHERE record_key IN ('PL-29', 'PL-30', 'PL-31')"
            ).fetchall()
        )
        status = con.execute(
            "SELECT payload->>'$.parsed.status_category' FROM raw_records"
            " WHERE record_key = 'PL-29'"
        ).fetchone()
    finally:
        con.close()
    assert rows == {"PL-29": False, "PL-30": True, "PL-31": False}
    assert status == ("done",)


def test_ten_thousand_rows_with_broken_ones_all_accounted(tmp_path: Path) -> None:
    book = generate_book(10_000, seed=11)
    plan = book.worksheet("Plan")
    for index in range(5, len(plan.rows), 97):
        plan.rows[index][5] = Formula("=1/0", "#DIV/0!")
    plan.rows[100] = []
    plan.rows[200][0] = plan.rows[201][0]
    with SheetsSandbox({"big": book}, account=ACCOUNT) as sandbox:
        connector = GoogleSheetsConnector(source_for(sandbox, tmp_path, "big", date_order="iso"))
        batches = list(connector.fetch(None))
    stats = connector.stats
    loaded = sum(len(b.records) for b in batches if isinstance(b, Page))
    rejected = sum(1 for b in batches if isinstance(b, Rejection))
    assert stats.rows_seen == 10_000
    assert (loaded, rejected) == (stats.loaded, stats.rejected)
    assert stats.loaded + stats.rejected + stats.empty == stats.rows_seen
    assert stats.empty == 1 and stats.rejected == len(range(5, 10_002, 97)) + 1  # + the repeated id
    assert all(isinstance(r, RawRecord) for b in batches if isinstance(b, Page) for r in b.records)


def test_a_cut_off_body_is_retried(tmp_path: Path) -> None:
    # every third answer is cut in half, the first token answer included
    with SheetsSandbox(
        {"plan": plan_book()}, faults=Faults(truncate_every=3), account=ACCOUNT
    ) as sandbox:
        connector = GoogleSheetsConnector(source_for(sandbox, tmp_path))
        batches = list(connector.fetch(None))
    assert {r.key for b in batches if isinstance(b, Page) for r in b.records} == {
        "ST-1",
        "2",
        "MK-1",
    }
    assert connector.stats.retries >= 2
    assert [b for b in batches if isinstance(b, Census)]


def test_cut_off_bodies_that_never_stop_fail_within_the_bound(tmp_path: Path) -> None:
    with SheetsSandbox(
        {"plan": plan_book()}, faults=Faults(truncate_every=1), account=ACCOUNT
    ) as sandbox:
        clock = FakeClock()
        source = source_for(sandbox, tmp_path, max_retry_wait_seconds=10)
        connector = GoogleSheetsConnector(source, clock=clock)
        with pytest.raises(ConnectorError, match=r"'store-plan'.*cut off"):
            list(connector.fetch(None))
    assert clock.slept <= 10
