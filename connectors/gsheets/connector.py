"""Google Sheets source: gspread with service-account credentials, three reads per sync.

The spreadsheet is read whole each sync (Sheets has no change feed for values) and ends with a
census, like the file sources: `spreadsheets.get` for the tabs and their merges, one
`values:batchGet` for every tab's values (unformatted: dates arrive as serial numbers), and one
`spreadsheets.get` restricted to the mapped id, link and owner columns for what the values API
hides (ids as displayed, hyperlink and smart-chip targets, hidden rows; see `grid.py`). gspread talks to `source.api_url` through an HTTPClient that
rebases Google's URLs, so the real client code runs against Google or the sandbox alike.
Quota answers (429), 5xx, timeouts and answers whose JSON body was cut off are retried under the
shared policy (`handoff.retry`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from requests.adapters import HTTPAdapter

from connectors.base import (
    Batch,
    ConnectorError,
    Cursor,
    PermanentConnectorError,
    RawRecord,
    Rejection,
)
from connectors.files import paged
from connectors.gsheets.grid import (
    GRID_DATA_FIELDS,
    GRID_FIELDS,
    METADATA_FIELDS,
    GridOverlay,
    column_letters,
    merge_boxes,
)
from connectors.spreadsheet import (
    HEADER_SCAN_ROWS,
    Header,
    RowMapper,
    SheetFetchStats,
    find_header,
)
from handoff.config import GoogleSheetsSource
from handoff.retry import Clock, Retrier, RetryPolicy, Transient, Verdict
from handoff.throttle import source_throttle

SCOPES = ["https://www.googleapis.com/auth/spreadsheets.readonly"]
GOOGLE_API = "https://sheets.googleapis.com"
log = logging.getLogger(__name__)
GRID_RANGES_PER_READ = 100  # column ranges per grid-data read (each a quota read)
RETRYABLE = {429, 500, 502, 503, 504}
# Refused credentials, an unshared or missing spreadsheet: no retry changes the answer.
REFUSED = {401, 403, 404}
READ_PARAMS = {
    "valueRenderOption": "UNFORMATTED_VALUE",  # numbers and date serials, not locale text
    "dateTimeRenderOption": "SERIAL_NUMBER",
    "majorDimension": "ROWS",
}


class TruncatedBody(requests.exceptions.ContentDecodingError):
    """A successful answer whose JSON ends early (the connection was cut mid-body)."""


def require_whole_json(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: a 2xx JSON answer that does not parse is cut off, so it is retried
    rather than handed to gspread or google-auth (which fail on it with a TypeError)."""
    if not response.ok or "json" not in response.headers.get("Content-Type", "json"):
        return
    try:
        json.loads(response.content)
    except ValueError:
        path = urlsplit(response.url).path
        raise TruncatedBody(
            f"{path} answered {len(response.content)} bytes of incomplete JSON"
        ) from None


def is_truncated(err: BaseException) -> bool:
    """A cut-off body, as raised by the hook or wrapped by google-auth's token request."""
    return isinstance(err, TruncatedBody) or isinstance(err.__cause__, TruncatedBody)


def sheet_range(title: str) -> str:
    """A whole tab in A1 notation (quotes doubled, as Sheets expects)."""
    return "'" + title.replace("'", "''") + "'"


class CaBundleAdapter(HTTPAdapter):
    """Verifies TLS against the configured CA bundle.

    `session.verify` alone is not enough: requests lets REQUESTS_CA_BUNDLE override it.
    """

    def __init__(self, bundle: str):
        super().__init__()
        self.bundle = bundle

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = self.bundle
        return super().send(request, **kwargs)


class SheetsHttpClient(HTTPClient):
    """gspread's HTTP client, rebased to `api_url` (Google's own or the sandbox's)."""

    api_url = GOOGLE_API

    def configure(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")

    def request(  # type: ignore[override]
        self, method: str, endpoint: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if endpoint.startswith(GOOGLE_API):
            endpoint = self.api_url + endpoint[len(GOOGLE_API) :]
        return super().request(method, endpoint, *args, **kwargs)


def classify(err: BaseException, what: str) -> Verdict:
    """Quota answers (429), 5xx, timeouts and dropped connections are retried (the token request's
    too); the rest is final and becomes a message in `GoogleSheetsConnector._call`."""
    if isinstance(err, APIError):
        if err.code in RETRYABLE:
            headers = err.response.headers if err.response is not None else {}
            return Transient(f"HTTP {err.code}", headers.get("Retry-After"))
        return None
    if is_truncated(err):
        return Transient("an answer whose JSON body was cut off")
    if isinstance(err, requests.Timeout | requests.ConnectionError):
        return Transient(f"connection failed ({type(err).__name__})")
    if isinstance(err, TransportError):  # the token request timed out or was cut off
        return Transient(f"the token request failed ({type(err).__name__})")
    return None


class GoogleSheetsConnector:
    """Pulls the configured tabs of one spreadsheet (all grid tabs when none are named)."""

    def __init__(
        self,
        source: GoogleSheetsSource,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout: float = 60.0,
    ):
        self.source = source
        self.timeout = timeout  # seconds one request may take before it is retried
        self.stats = SheetFetchStats()
        self.throttle = source_throttle(source, source.api_url, clock)  # shared per host
        self.retrier = Retrier(
            f"source {source.name!r}",
            classify,
            policy=retry or RetryPolicy(base_delay=1.0, deadline=source.max_retry_wait_seconds),
            clock=clock,
            stats=self.stats,
            error=ConnectorError,
            advice="try again later or raise the project's read quota",
            throttle=self.throttle,
        )

    # -- client ------------------------------------------------------------------------------
    def _service_account_info(self) -> dict[str, Any]:
        name = self.source.name
        if self.source.credentials_json is not None:
            try:
                info = json.loads(self.source.credentials_json.get_secret_value())
            except ValueError:
                raise ConnectorError(
                    f"source {name!r}: credentials_json is not valid JSON"
                ) from None
        elif self.source.credentials_file is not None:
            path = self.source.credentials_file
            try:
                info = json.loads(path.read_text())
            except OSError as err:
                raise ConnectorError(
                    f"source {name!r}: cannot read credentials_file {path} ({err.strerror})"
                ) from None
            except ValueError:
                raise ConnectorError(
                    f"source {name!r}: credentials_file {path} is not JSON"
                ) from None
        else:
            raise ConnectorError(
                f"source {name!r}: set credentials_file or credentials_json (a service account)"
            )
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ConnectorError(f"source {name!r}: the credentials are not a service-account key")
        return info

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.stats.requests += 1
        if urlsplit(response.url).netloc == urlsplit(self.source.api_url).netloc:
            self.throttle.observe(response.status_code, response.headers)

    def client(self) -> SheetsHttpClient:
        """A gspread HTTP client with service-account auth, pointed at `source.api_url`."""
        info = self._service_account_info()
        try:
            credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        except (ValueError, KeyError, GoogleAuthError):
            raise ConnectorError(
                f"source {self.source.name!r}: the service-account key cannot be loaded"
            ) from None
        if self.source.token_uri:
            credentials = credentials.with_token_uri(self.source.token_uri)
        token_session = requests.Session()
        session = AuthorizedSession(credentials, auth_request=AuthRequest(token_session))
        for each in (token_session, session):
            each.hooks["response"].extend([self._count, require_whole_json])
            if self.source.ca_bundle:
                each.mount("https://", CaBundleAdapter(str(self.source.ca_bundle)))
        gc = gspread.Client(auth=credentials, session=session, http_client=SheetsHttpClient)
        http = gc.http_client
        assert isinstance(http, SheetsHttpClient)
        http.configure(self.source.api_url)
        http.set_timeout(self.timeout)
        return http

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one API call under the retry policy; failures become messages a user can act on."""
        name, sheet_id = self.source.name, self.source.spreadsheet_id
        try:
            return self.retrier.call(
                f"{what} of spreadsheet {sheet_id}", lambda: func(*args, **kwargs)
            )
        except APIError as err:
            hint = {
                401: "the service account was not accepted",
                403: "share the spreadsheet with the service account's e-mail",
                404: "check spreadsheet_id",
            }.get(err.code, err.error.get("message", ""))
            error = PermanentConnectorError if err.code in REFUSED else ConnectorError
            raise error(
                f"source {name!r}: {what} of spreadsheet {sheet_id} failed with {err.code} ({hint})"
            ) from None
        except RefreshError as err:
            # The token endpoint refused the key (google-auth marks the answers worth retrying).
            error = ConnectorError if err.retryable else PermanentConnectorError
            raise error(
                f"source {name!r}: no access token from the token endpoint ({err.args[0]})"
            ) from None
        except (requests.RequestException, TransportError) as err:
            raise ConnectorError(
                f"source {name!r}: cannot reach {self.source.api_url} ({type(err).__name__})"
            ) from None

    # -- contract ----------------------------------------------------------------------------
    def check(self) -> str:
        http = self.client()
        meta = self._call(
            "reading the metadata", http.fetch_sheet_metadata, self.source.spreadsheet_id
        )
        return f"{meta['properties']['title']}: {len(meta.get('sheets', []))} worksheet(s)"

    def fetch(self, cursor: Cursor | None, *, full: bool = False) -> Iterator[Batch]:
        """Read every wanted tab: metadata and merges, all values in one batchGet, then the grid
        data of the mapped id/link/owner columns; end with the census when complete."""
        self.stats.reset()
        http = self.client()
        spreadsheet_id = self.source.spreadsheet_id
        meta = self._call(
            "reading the metadata",
            http.fetch_sheet_metadata,
            spreadsheet_id,
            params={"fields": METADATA_FIELDS},
        )
        origin = meta["properties"]["title"]
        mapper = RowMapper(self.source, origin, self.stats)
        yield from paged(self._rows(http, meta, mapper), mapper, {"spreadsheet_id": spreadsheet_id})
        if self.stats.hidden or self.stats.sheets_hidden:
            log.info(
                "source %r: skipped %d hidden row(s) and %d hidden tab(s); their items are not "
                "live (set include_hidden: true to read them)",
                self.source.name,
                self.stats.hidden,
                self.stats.sheets_hidden,
            )

    def _tabs(
        self, meta: dict[str, Any], mapper: RowMapper
    ) -> tuple[list[dict[str, Any]], list[Rejection]]:
        """The grid tabs to read, in order, and rejections for configured tabs that are absent.

        Hidden tabs are left out unless `include_hidden` is set or `sheets` names them.
        """
        tabs = {
            s["properties"]["title"]: s
            for s in meta.get("sheets", [])
            if s["properties"].get("sheetType", "GRID") == "GRID"
        }
        wanted, missing = [], []
        for title in list(self.source.sheets) or list(tabs):
            if title not in tabs:
                missing.append(
                    mapper.missing_sheet(title, "worksheet not found in the spreadsheet")
                )
            elif (
                tabs[title]["properties"].get("hidden")
                and not self.source.include_hidden
                and not self.source.sheets
            ):
                self.stats.sheets_hidden += 1
            else:
                wanted.append(tabs[title])
        return wanted, missing

    def _rows(
        self, http: SheetsHttpClient, meta: dict[str, Any], mapper: RowMapper
    ) -> Iterator[RawRecord | Rejection]:
        tabs, missing = self._tabs(meta, mapper)
        yield from missing
        if not tabs:
            return
        titles = [t["properties"]["title"] for t in tabs]
        answer = self._call(
            f"reading {len(titles)} tab(s)",
            http.values_batch_get,
            self.source.spreadsheet_id,
            [sheet_range(title) for title in titles],
            params=dict(READ_PARAMS),
        )
        ranges = answer.get("valueRanges") or []
        values = [
            [list(row) for row in (ranges[i] if i < len(ranges) else {}).get("values", [])]
            for i in range(len(tabs))
        ]
        headers = [
            find_header(rows[:HEADER_SCAN_ROWS], mapper.aliases, mapper.header_rows)
            for rows in values
        ]
        overlays = self._overlays(http, tabs, headers)
        for tab, rows, header in zip(tabs, values, headers, strict=True):
            properties = tab["properties"]
            overlay = overlays.get(properties["sheetId"], GridOverlay())
            hidden: set[int] = set()
            if header is not None:
                overlay.apply(rows, merge_boxes(tab), header.index)
                hidden = set() if self.source.include_hidden else overlay.hidden_rows
            yield from mapper.sheet(
                properties["title"],
                rows,
                required=bool(self.source.sheets),
                extra={"sheet_id": properties["sheetId"]},
                hidden=hidden,
            )

    def _overlays(
        self,
        http: SheetsHttpClient,
        tabs: list[dict[str, Any]],
        headers: list[Header | None],
    ) -> dict[int, GridOverlay]:
        """Grid data of the mapped id, url, depends-on, successors and owner columns of every
        tab, in one `spreadsheets.get` restricted to those columns."""
        wanted: dict[int, dict[int, str]] = {}  # sheet id -> column -> model field
        ranges = []
        for tab, header in zip(tabs, headers, strict=True):
            if header is None:
                continue
            columns = {header.columns[f]: f for f in GRID_FIELDS if f in header.columns}
            wanted[tab["properties"]["sheetId"]] = columns
            for column in sorted(columns):
                letters = column_letters(column)
                ranges.append(f"{sheet_range(tab['properties']['title'])}!{letters}:{letters}")
        overlays: dict[int, GridOverlay] = {}
        for start in range(0, len(ranges), GRID_RANGES_PER_READ):  # keeps the URL short
            answer = self._call(
                "reading links, chips and hidden rows",
                http.fetch_sheet_metadata,
                self.source.spreadsheet_id,
                params={
                    "ranges": ranges[start : start + GRID_RANGES_PER_READ],
                    "fields": GRID_DATA_FIELDS,
                },
            )
            for sheet in answer.get("sheets", []):
                sheet_id = sheet.get("properties", {}).get("sheetId", 0)
                overlay = overlays.setdefault(sheet_id, GridOverlay())
                for data in sheet.get("data", []):
                    overlay.add(data, wanted.get(sheet_id, {}))
        return overlays
