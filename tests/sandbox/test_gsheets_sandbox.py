"""The Sheets sandbox speaks Sheets API v4: shapes, render options, errors and the token flow.

Google publishes no OpenAPI document for Sheets, so the response schemas below transcribe the
resources of Google's discovery document (Spreadsheet, ValueRange, BatchGetValuesResponse and
the error envelope) and every answer is validated against them.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import jsonschema
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from sandbox.gsheets import Formula, ServiceAccount, SheetsSandbox, Spreadsheet, generate_book
from sandbox.server import Faults

SCOPES = ["https://www.googleapis.com/auth/spreadsheets.readonly"]
VALUE_RANGE = {
    "type": "object",
    "required": ["range", "majorDimension"],
    "additionalProperties": False,
    "properties": {
        "range": {"type": "string", "pattern": "^.+![A-Z]+[0-9]+:[A-Z]+[0-9]+$"},
        "majorDimension": {"enum": ["ROWS", "COLUMNS"]},
        "values": {"type": "array", "minItems": 1, "items": {"type": "array"}},
    },
}
BATCH_GET = {
    "type": "object",
    "required": ["spreadsheetId", "valueRanges"],
    "additionalProperties": False,
    "properties": {
        "spreadsheetId": {"type": "string"},
        "valueRanges": {"type": "array", "items": VALUE_RANGE},
    },
}
SPREADSHEET = {
    "type": "object",
    "required": ["spreadsheetId", "properties", "sheets", "spreadsheetUrl"],
    "properties": {
        "spreadsheetId": {"type": "string"},
        "properties": {
            "type": "object",
            "required": ["title", "locale", "timeZone"],
            "properties": {"title": {"type": "string"}},
        },
        "sheets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["properties"],
                "properties": {
                    "properties": {
                        "type": "object",
                        "required": ["sheetId", "title", "index", "sheetType", "gridProperties"],
                        "properties": {
                            "sheetId": {"type": "integer"},
                            "sheetType": {"enum": ["GRID", "OBJECT", "DATA_SOURCE"]},
                            "gridProperties": {
                                "type": "object",
                                "required": ["rowCount", "columnCount"],
                            },
                        },
                    }
                },
            },
        },
    },
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "properties": {"code": {"type": "integer"}, "status": {"type": "string"}},
        }
    },
}


def book() -> Spreadsheet:
    sheet = Spreadsheet("Finance plan")
    sheet.add_sheet(
        "Q1 Plan",
        [
            ["ID", "Title", "Due", "Done", "Cost", None, None],
            ["F-1", "Budget", date(2026, 12, 31), True, 12.5, None, ""],
            [],
            ["F-2", Formula("=A1&B1", "#REF!"), datetime(2026, 1, 2, 12, 0), False, 3.0],
            [None, None],
        ],
        date_format="%d.%m.%Y",
    )
    sheet.add_sheet("Empty")
    return sheet


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SheetsSandbox]:
    books = {
        "fin": book(),
        "secret": Spreadsheet("Locked", shared_with={"other@x.iam.gserviceaccount.com"}),
    }
    with SheetsSandbox(books) as running:
        yield running


@pytest.fixture(scope="module")
def session(sandbox: SheetsSandbox) -> AuthorizedSession:
    credentials = service_account.Credentials.from_service_account_info(
        sandbox.service_account_info(), scopes=SCOPES
    )
    return AuthorizedSession(credentials)


def batch_get(
    session: AuthorizedSession, sandbox: SheetsSandbox, ranges: list[str], **params: str
) -> Any:
    response = session.get(
        f"{sandbox.url}/v4/spreadsheets/fin/values:batchGet", params={"ranges": ranges, **params}
    )
    assert response.status_code == 200, response.text
    jsonschema.validate(response.json(), BATCH_GET)
    return response.json()["valueRanges"]


def test_metadata_lists_tabs(sandbox: SheetsSandbox, session: AuthorizedSession) -> None:
    response = session.get(
        f"{sandbox.url}/v4/spreadsheets/fin", params={"includeGridData": "false"}
    )
    body = response.json()
    jsonschema.validate(body, SPREADSHEET)
    assert [s["properties"]["title"] for s in body["sheets"]] == ["Q1 Plan", "Empty"]
    assert body["properties"]["title"] == "Finance plan"


def test_values_drop_trailing_empties_and_render_serials(
    sandbox: SheetsSandbox, session: AuthorizedSession
) -> None:
    unformatted = batch_get(session, sandbox, ["'Q1 Plan'"], valueRenderOption="UNFORMATTED_VALUE")[
        0
    ]
    assert unformatted["range"] == "'Q1 Plan'!A1:Z1000"
    assert unformatted["values"] == [
        ["ID", "Title", "Due", "Done", "Cost"],
        ["F-1", "Budget", 46387, True, 12.5],
        [],
        ["F-2", "#REF!", 46024.5, False, 3.0],
    ]
    formatted = batch_get(session, sandbox, ["'Q1 Plan'!A2:E4"])[0]
    assert formatted["values"] == [
        ["F-1", "Budget", "31.12.2026", "TRUE", "12.5"],
        [],
        ["F-2", "#REF!", "02.01.2026 12:00:00", "FALSE", "3"],
    ]
    strings = batch_get(
        session,
        sandbox,
        ["'Q1 Plan'!C2"],
        valueRenderOption="UNFORMATTED_VALUE",
        dateTimeRenderOption="FORMATTED_STRING",
    )[0]
    assert strings["values"] == [["31.12.2026"]]
    formulas = batch_get(session, sandbox, ["'Q1 Plan'!B4"], valueRenderOption="FORMULA")[0]
    assert formulas["values"] == [["=A1&B1"]]
    columns = batch_get(session, sandbox, ["'Q1 Plan'!A1:B2"], majorDimension="COLUMNS")[0]
    assert columns["values"] == [["ID", "F-1"], ["Title", "Budget"]]


def test_empty_ranges_have_no_values(sandbox: SheetsSandbox, session: AuthorizedSession) -> None:
    empty_tab, outside = batch_get(session, sandbox, ["Empty", "'Q1 Plan'!H1:J9"])
    assert "values" not in empty_tab and "values" not in outside
    single = session.get(f"{sandbox.url}/v4/spreadsheets/fin/values/%27Q1%20Plan%27%21A1%3AB1")
    jsonschema.validate(single.json(), VALUE_RANGE)
    assert single.json()["values"] == [["ID", "Title"]]


@pytest.mark.parametrize(
    ("path", "status", "google_status"),
    [
        ("/v4/spreadsheets/nope", 404, "NOT_FOUND"),
        ("/v4/spreadsheets/secret", 403, "PERMISSION_DENIED"),
        ("/v4/spreadsheets/fin/values/Nope%21A1", 400, "INVALID_ARGUMENT"),
        ("/v4/spreadsheets/fin/values/Empty?valueRenderOption=RAW", 400, "INVALID_ARGUMENT"),
    ],
)
def test_errors_use_googles_envelope(
    sandbox: SheetsSandbox, session: AuthorizedSession, path: str, status: int, google_status: str
) -> None:
    response = session.get(sandbox.url + path)
    assert response.status_code == status
    jsonschema.validate(response.json(), ERROR)
    assert response.json()["error"]["status"] == google_status


def test_requests_without_a_valid_token_are_refused(sandbox: SheetsSandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer forged"}):
        response = requests.get(f"{sandbox.url}/v4/spreadsheets/fin", headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def _assertion(account: ServiceAccount, claims: dict[str, Any]) -> str:
    def encode(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{encode({'alg': 'RS256', 'typ': 'JWT'})}.{encode(claims)}"
    signature = account.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def test_token_endpoint_verifies_the_assertion(sandbox: SheetsSandbox) -> None:
    now = int(time.time())
    claims = {
        "iss": sandbox.account.client_email,
        "aud": sandbox.token_uri,
        "scope": SCOPES[0],
        "iat": now,
        "exp": now + 3600,
    }
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

    def token(assertion: str, grant_type: str = grant) -> requests.Response:
        data = {"grant_type": grant_type, "assertion": assertion}
        return requests.post(sandbox.token_uri, data=data, timeout=5)

    good = token(_assertion(sandbox.account, claims))
    assert good.status_code == 200 and good.json()["token_type"] == "Bearer"
    impostor = ServiceAccount(client_email=sandbox.account.client_email)  # same name, other key
    for response in (
        token(_assertion(impostor, claims)),
        token(_assertion(sandbox.account, {**claims, "exp": now - 4000, "iat": now - 7600})),
        token(_assertion(sandbox.account, {**claims, "aud": "https://elsewhere.test/token"})),
        token(_assertion(sandbox.account, claims), grant_type="password"),
        token("not-a-jwt"),
    ):
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


def test_quota_faults_answer_429_but_spare_the_token_endpoint() -> None:
    with SheetsSandbox({"fin": book()}, faults=Faults(rate_limit_every=1)) as sandbox:
        credentials = service_account.Credentials.from_service_account_info(
            sandbox.service_account_info(), scopes=SCOPES
        )
        response = AuthorizedSession(credentials).get(f"{sandbox.url}/v4/spreadsheets/fin")
        assert response.status_code == 429
        jsonschema.validate(response.json(), ERROR)
        assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert response.headers["Retry-After"] == "1"
        assert sandbox.server.requests["POST /token"] == 1


def test_generated_books_are_deterministic_and_editable(tmp_path: Any) -> None:
    first, second = generate_book(50, seed=7), generate_book(50, seed=7)
    assert first.sheets[0].rows == second.sheets[0].rows
    plan = first.worksheet("Plan")
    assert plan.rows[1][0] == "ID" and len(plan.rows) == 52
    plan.delete("PL-3")
    plan.set("PL-4", "Status", "Done")
    plan.append(["PL-51", "New"])
    assert [r[0] for r in plan.rows[3:5]] == ["PL-2", "PL-4"] and plan.rows[4][2] == "Done"
    with SheetsSandbox({"gen": first}) as sandbox:
        assert sandbox.banner().startswith(f"sheets {sandbox.url} credentials=")
        sandbox.write_credentials(tmp_path / "sa.json")
        entry, env = sandbox.source_entry("plan", "gen", tmp_path / "sa.json")
        assert entry["kind"] == "gsheets" and entry["api_url"] == sandbox.url and env == {}
        assert json.loads((tmp_path / "sa.json").read_text())["token_uri"] == sandbox.token_uri
        assert sandbox.banner() == f"sheets {sandbox.url} credentials={tmp_path / 'sa.json'}"


def test_gspread_high_level_reads_work_against_the_sandbox(
    sandbox: SheetsSandbox, tmp_path: Any
) -> None:
    import gspread

    from connectors.gsheets import GoogleSheetsConnector
    from handoff.config import GoogleSheetsSource

    sandbox.write_credentials(tmp_path / "sa.json")
    entry, _ = sandbox.source_entry("fin", "fin", tmp_path / "sa.json")
    http = GoogleSheetsConnector(GoogleSheetsSource.model_validate(entry)).client()
    spreadsheet = gspread.Spreadsheet(http, {"id": "fin"})
    assert spreadsheet.title == "Finance plan"
    tab = spreadsheet.worksheet("Q1 Plan")
    assert tab.get_all_values()[1] == ["F-1", "Budget", "31.12.2026", "TRUE", "12.5"]
    assert tab.acell("B2").value == "Budget"
    assert tab.get("A1:B2") == [["ID", "Title"], ["F-1", "Budget"]]
    empty = spreadsheet.worksheet("Empty").get_all_values()
    assert empty == [[]]  # gspread fills in the missing "values" key


# -- what Google's reference documents for merges, links, chips, hidden rows, formats ---------


def _realistic_book() -> Spreadsheet:
    from sandbox.gsheets.book import Link, Number, PersonChip, RichLinkChip

    book = Spreadsheet("Rollout")
    plan = book.add_sheet(
        "Plan",
        [
            ["ID", "Department", "Jira", "Owner", "Spec"],
            [
                Number(123, "00000"),
                "Finance",
                Link("OPS-12", "https://acme.atlassian.net/browse/OPS-12"),
                PersonChip("ana@acme.example", "Ana Lopez"),
                RichLinkChip("https://acme.atlassian.net/browse/OPS-13", "OPS-13"),
            ],
            ["00124", "stale value under the merge", "", ""],
            [Number(125, "00000"), "IT"],
        ],
    )
    plan.merge(1, 1, 3, 2)  # Department B2:B3
    plan.hidden_rows.add(2)
    plan.filtered_rows.add(3)
    plan.basic_filter = (0, 0, 4, 5)
    plan.filter_views.append(("Mine", (0, 0, 4, 5)))
    book.add_sheet("Archive", [["ID"], ["X-1"]], hidden=True)
    return book


def _sheets_client(sb: SheetsSandbox) -> AuthorizedSession:
    creds = service_account.Credentials.from_service_account_info(
        sb.service_account_info(), scopes=SCOPES
    )
    return AuthorizedSession(creds)


def test_values_api_shows_merges_links_and_formats_as_google_does() -> None:
    with SheetsSandbox({"b": _realistic_book()}) as sb:
        http = _sheets_client(sb)
        base = f"{sb.url}/v4/spreadsheets/b"
        one = http.get(f"{base}/values/Plan").json()
        jsonschema.validate(one, VALUE_RANGE)
        assert one["values"][1] == ["00123", "Finance", "OPS-12", "Ana Lopez", "OPS-13"]
        assert one["values"][2] == ["00124"]  # merged-away cell empty; hidden row still served
        assert one["values"][3] == ["00125", "IT"]  # filtered row still served
        raw = http.get(f"{base}/values/Plan", params={"valueRenderOption": "UNFORMATTED_VALUE"})
        assert [r[0] for r in raw.json()["values"][1:]] == [123, "00124", 125]
        both = http.get(f"{base}/values:batchGet", params={"ranges": ["Plan!A1:B2", "Archive"]})
        jsonschema.validate(both.json(), BATCH_GET)
        assert [v["range"] for v in both.json()["valueRanges"]] == [
            "Plan!A1:B2",
            "Archive!A1:Z1000",
        ]
        bad = http.get(f"{base}/values/Plan", params={"render": "x"})
        assert (
            bad.status_code == 400
            and "Cannot bind query parameter" in bad.json()["error"]["message"]
        )
        assert [c.ok for c in sb.checks] == [True, True, True, False]


def test_spreadsheet_get_reports_merges_hidden_rows_links_and_chips() -> None:
    with SheetsSandbox({"b": _realistic_book()}) as sb:
        http = _sheets_client(sb)
        base = f"{sb.url}/v4/spreadsheets/b"
        meta = http.get(base).json()
        jsonschema.validate(meta, SPREADSHEET)
        plan, archive = meta["sheets"]
        assert "data" not in plan and archive["properties"]["hidden"] is True
        assert plan["merges"] == [
            {
                "sheetId": 0,
                "startRowIndex": 1,
                "endRowIndex": 3,
                "startColumnIndex": 1,
                "endColumnIndex": 2,
            }
        ]
        assert (
            plan["basicFilter"]["range"]["endRowIndex"] == 4
            and plan["filterViews"][0]["title"] == "Mine"
        )
        fields = "sheets.data(rowMetadata,rowData.values(hyperlink,chipRuns,formattedValue,textFormatRuns))"
        grid = http.get(base, params={"ranges": "Plan!A1:E4", "fields": fields}).json()
        assert list(grid) == ["sheets"] and list(grid["sheets"][0]) == ["data"]
        data = grid["sheets"][0]["data"][0]
        cells = data["rowData"][1]["values"]
        assert cells[0] == {"formattedValue": "00123"}
        assert cells[2]["hyperlink"] == "https://acme.atlassian.net/browse/OPS-12"
        assert cells[2]["textFormatRuns"][0]["format"]["link"]["uri"].endswith("OPS-12")
        assert cells[3]["chipRuns"][0]["chip"]["personProperties"]["email"] == "ana@acme.example"
        assert cells[4]["chipRuns"][0]["chip"]["richLinkProperties"]["uri"].endswith("OPS-13")
        assert data["rowData"][2]["values"][1] == {}  # inside the merge
        hidden = [
            (m.get("hiddenByUser", False), m.get("hiddenByFilter", False))
            for m in data["rowMetadata"]
        ]
        assert hidden == [(False, False), (False, False), (True, False), (False, True)]
        full = http.get(base, params={"includeGridData": "true"}).json()
        assert all("data" in s for s in full["sheets"])


def test_read_quota_per_user_answers_resource_exhausted() -> None:
    with SheetsSandbox({"b": _realistic_book()}, quota=True, quota_window=30.0) as sb:
        http = _sheets_client(sb)
        codes = [http.get(f"{sb.url}/v4/spreadsheets/b/values/Plan").status_code for _ in range(61)]
        assert codes[:60] == [200] * 60 and codes[60] == 429
        body = http.get(f"{sb.url}/v4/spreadsheets/b/values/Plan").json()
        jsonschema.validate(body, ERROR)
        assert (
            body["error"]["status"] == "RESOURCE_EXHAUSTED"
            and "per user" in body["error"]["message"]
        )
        sb.clock.advance(timedelta(seconds=30))
        assert http.get(f"{sb.url}/v4/spreadsheets/b/values/Plan").status_code == 200
