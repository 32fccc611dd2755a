"""The Google Sheets sandbox: Sheets API v4 reads plus the service-account token endpoint.

Serves `GET /v4/spreadsheets/{id}`, `GET /v4/spreadsheets/{id}/values/{range}` and
`GET /v4/spreadsheets/{id}/values:batchGet`, with errors in Google's envelope (401, 403, 404,
400, 429 RESOURCE_EXHAUSTED). `POST /token` runs the JWT-bearer grant google-auth uses; quota
faults never hit it (Google's OAuth endpoint is not under the Sheets read quota).

What Google's reference says and the sandbox does (each switchable per instance):
- `strict`: a query parameter the method does not document is refused with 400
  INVALID_ARGUMENT ("Cannot bind query parameter"); every request is kept in `checks`.
- merged cells keep their value in the top-left cell only; links, chips, hidden rows, filters
  and number formats show through `spreadsheets.get` grid data (`includeGridData`, `ranges`,
  `fields` masks), while the values API shows display text and still returns hidden rows.
- `quota`: 60 read requests per minute per user and 300 per project, 429 RESOURCE_EXHAUSTED
  (Google sends no Retry-After); `quota_window` shortens the "minute" for tests.
"""

from __future__ import annotations

import json
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sandbox.clock import Quota, SandboxClock
from sandbox.gsheets.auth import GrantError, ServiceAccount, TokenIssuer
from sandbox.gsheets.book import Spreadsheet
from sandbox.gsheets.render import (
    DATETIME_OPTIONS,
    VALUE_OPTIONS,
    GridRange,
    RangeError,
    apply_mask,
    mask_mentions,
    metadata,
    parse_fields,
    parse_range,
    value_range,
)
from sandbox.server import Faults, HttpError, Request, Response, SandboxServer, ServedSandbox

# system parameters every Google API method takes
STANDARD_PARAMS = {
    "$.xgafv",
    "access_token",
    "alt",
    "callback",
    "fields",
    "key",
    "oauth_token",
    "prettyPrint",
    "quotaUser",
    "upload_protocol",
    "uploadType",
}
METHOD_PARAMS = {
    "spreadsheets.get": {"ranges", "includeGridData", "excludeTablesInBandedRanges"},
    "spreadsheets.values.get": {"majorDimension", "valueRenderOption", "dateTimeRenderOption"},
    "spreadsheets.values.batchGet": {
        "ranges",
        "majorDimension",
        "valueRenderOption",
        "dateTimeRenderOption",
    },
}
READS_PER_MINUTE_PER_USER = 60
READS_PER_MINUTE_PER_PROJECT = 300


@dataclass(frozen=True)
class Check:
    """One request checked against the method's documented parameters."""

    method: str
    path: str
    ok: bool
    problem: str = ""


STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
QUOTA_MESSAGE = (
    "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per "
    "user' of service 'sheets.googleapis.com' for consumer 'project_number:100000000001'."
)


def google_error(status: int, message: str) -> dict[str, Any]:
    """Google's JSON error envelope."""
    return {
        "error": {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}
    }


class _SheetsServer(SandboxServer):
    """The shared server, except that the token endpoint is exempt from injected faults, and
    Google's gate (parameters, quotas) runs before the Sheets methods."""

    token_handler: Any = None
    gate: Any = None

    def _respond(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/token" and self.token_handler:
            return self.token_handler(request)  # type: ignore[no-any-return]
        early = self.gate(request) if self.gate else None
        return early if early is not None else super()._respond(request)


class SheetsSandbox(ServedSandbox):
    """A running Sheets stand-in serving `books` (spreadsheet id -> Spreadsheet)."""

    def __init__(
        self,
        books: dict[str, Spreadsheet],
        *,
        faults: Faults | None = None,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        account: ServiceAccount | None = None,
        strict: bool = True,
        clock: SandboxClock | None = None,
        quota: bool = False,
        quota_window: float = 60.0,
    ):
        self.books = books
        self.strict = strict
        self.checks: list[Check] = []
        self.clock = clock or SandboxClock()
        self.user_quota = Quota(READS_PER_MINUTE_PER_USER, quota_window, self.clock)
        self.project_quota = Quota(READS_PER_MINUTE_PER_PROJECT, quota_window, self.clock)
        self.quota = quota
        self.account = account or ServiceAccount()
        self.issuer = TokenIssuer([self.account])
        self.credentials_file: Path | None = None
        self._key_folders: list[Path] = []  # temporary folders holding private keys we wrote
        self._lock = threading.Lock()
        self.server = _SheetsServer(
            "sheets",
            auth=lambda request: (
                self.issuer.caller(request.headers.get("authorization")) is not None
            ),
            unauthorized_body=google_error(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            ),
            rate_limit_body=lambda: google_error(429, QUOTA_MESSAGE),
            error_body=lambda status: google_error(status, "The service is currently unavailable."),
            faults=faults,
            port=port,
            tls=tls,
        )
        self.server.token_handler = self._token
        self.server.gate = self._gate
        self._routes()

    # -- where it listens ----------------------------------------------------------------
    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    # -- what users are handed -----------------------------------------------------------------
    def service_account_info(self) -> dict[str, Any]:
        """The service-account JSON (generated key pair) whose token_uri is this sandbox."""
        return self.account.info(self.token_uri)

    def write_credentials(self, path: Path | str | None = None) -> Path:
        """Write the service-account file (private to its owner); returns its path."""
        if path is None:
            folder = Path(tempfile.mkdtemp(prefix="sheets-sandbox-"))
            self._key_folders.append(folder)
            path = folder / "service-account.json"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(self.service_account_info(), indent=2))
        self.credentials_file = path
        return path

    def stop(self) -> None:
        """Stop serving and delete the private keys written to temporary folders."""
        super().stop()
        for folder in self._key_folders:
            shutil.rmtree(folder, ignore_errors=True)
        if self.credentials_file is not None and not self.credentials_file.exists():
            self.credentials_file = None
        self._key_folders.clear()

    def banner(self) -> str:
        credentials = self.credentials_file or self.write_credentials()
        return f"sheets {self.url} credentials={credentials}"

    def source_entry(
        self, name: str, spreadsheet_id: str, credentials_file: Path | str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """A handoff.yaml source mapping and the env vars it needs (none: the key is a file).

        The caller writes the key to `credentials_file` (see `write_credentials`); the banner
        then names that file.
        """
        self.credentials_file = Path(credentials_file)
        entry = {
            "name": name,
            "kind": "gsheets",
            "spreadsheet_id": spreadsheet_id,
            "credentials_file": str(credentials_file),
            "api_url": self.url,
            "token_uri": self.token_uri,
        }
        return entry, {}

    # -- Google's gate -------------------------------------------------------------------------
    def _gate(self, request: Request) -> Response | None:
        caller = self.issuer.caller(request.headers.get("authorization"))
        problem = _parameter_problem(request)
        with self._lock:
            self.checks.append(Check(request.method, request.path, not problem, problem))
        if caller is None:
            return None  # the server answers 401
        if self.quota:
            for quota, key, limit in (
                (self.user_quota, caller, "Read requests per minute per user"),
                (self.project_quota, "project", "Read requests per minute"),
            ):
                if quota.take(key) is not None:
                    message = QUOTA_MESSAGE.replace("Read requests per minute per user", limit)
                    return Response(429, google_error(429, message))
        if problem and self.strict:
            return Response(400, google_error(400, problem))
        return None

    # -- routes ------------------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        try:
            return Response(200, self.issuer.grant(request.body, self.token_uri))
        except GrantError as err:
            return Response(400, {"error": "invalid_grant", "error_description": str(err)})

    def _book(self, request: Request) -> tuple[str, Spreadsheet]:
        spreadsheet_id = unquote(request.params["id"])
        book = self.books.get(spreadsheet_id)
        if book is None:
            raise HttpError(404, google_error(404, "Requested entity was not found."))
        caller = self.issuer.caller(request.headers.get("authorization"))
        if book.shared_with is not None and caller not in book.shared_with:
            raise HttpError(403, google_error(403, "The caller does not have permission"))
        return spreadsheet_id, book

    def _options(self, request: Request) -> tuple[str, str, str]:
        value = request.arg("valueRenderOption", "FORMATTED_VALUE") or "FORMATTED_VALUE"
        when = request.arg("dateTimeRenderOption", "SERIAL_NUMBER") or "SERIAL_NUMBER"
        major = request.arg("majorDimension", "ROWS") or "ROWS"
        if value not in VALUE_OPTIONS:
            raise HttpError(
                400, google_error(400, f"Invalid value at 'value_render_option' ({value})")
            )
        if when not in DATETIME_OPTIONS:
            raise HttpError(
                400, google_error(400, f"Invalid value at 'date_time_render_option' ({when})")
            )
        if major not in {"ROWS", "COLUMNS"}:
            raise HttpError(400, google_error(400, f"Invalid value at 'major_dimension' ({major})"))
        return value, when, major

    def _grid(self, book: Spreadsheet, text: str) -> GridRange:
        try:
            return parse_range(book, text)
        except RangeError:
            raise HttpError(400, google_error(400, f"Unable to parse range: {text}")) from None

    def _value_range(
        self, book: Spreadsheet, text: str, options: tuple[str, str, str]
    ) -> dict[str, Any]:
        grid = self._grid(book, text)
        with self._lock:
            return value_range(grid, *options)

    def _routes(self) -> None:
        route = self.server.route

        @route("GET", "/v4/spreadsheets/{id}")
        def get_spreadsheet(request: Request) -> Any:
            spreadsheet_id, book = self._book(request)
            mask = _mask(request)
            # "includeGridData ... is ignored if a field mask was set in the request"
            if mask:
                with_data = mask_mentions(mask, "sheets", "data")
            else:
                with_data = (request.arg("includeGridData") or "false").lower() == "true"
            ranges = request.query.get("ranges", [])
            with self._lock:
                grids: dict[int, list[GridRange]] | None = None
                if ranges:
                    grids = {}
                    for text in ranges:
                        grid = self._grid(book, text)
                        grids.setdefault(grid.sheet.sheet_id, []).append(grid)
                elif with_data:
                    grids = {s.sheet_id: [self._grid(book, _whole(s.title))] for s in book.sheets}
                body = metadata(spreadsheet_id, book, grids)
            if grids is not None and not with_data:
                for sheet in body["sheets"]:
                    sheet.pop("data", None)
            return apply_mask(body, mask) if mask else body

        @route("GET", "/v4/spreadsheets/{id}/values/{range}")
        def get_values(request: Request) -> Any:
            _, book = self._book(request)
            body = self._value_range(book, unquote(request.params["range"]), self._options(request))
            mask = _mask(request)
            return apply_mask(body, mask) if mask else body

        @route("GET", "/v4/spreadsheets/{id}/values:batchGet")
        def batch_get(request: Request) -> Any:
            spreadsheet_id, book = self._book(request)
            options = self._options(request)
            ranges = request.query.get("ranges", [])
            body = {
                "spreadsheetId": spreadsheet_id,
                "valueRanges": [self._value_range(book, r, options) for r in ranges],
            }
            mask = _mask(request)
            return apply_mask(body, mask) if mask else body

    def edit(self) -> threading.Lock:
        """Hold this lock while editing a served book from another thread."""
        return self._lock


def _whole(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _mask(request: Request) -> dict[str, Any]:
    text = request.arg("fields")
    if not text:
        return {}
    try:
        return parse_fields(text)
    except ValueError as err:
        raise HttpError(400, google_error(400, str(err))) from None


def _method(request: Request) -> str | None:
    parts = request.path.split("/")
    if request.method != "GET" or parts[:3] != ["", "v4", "spreadsheets"] or len(parts) < 4:
        return None
    if len(parts) == 4:
        return (
            "spreadsheets.values.batchGet"
            if parts[3].endswith(":batchGet")
            else ("spreadsheets.get")
        )
    if len(parts) == 5 and parts[4] == "values:batchGet":
        return "spreadsheets.values.batchGet"
    if len(parts) >= 6 and parts[4] == "values":
        return "spreadsheets.values.get"
    return None


def _parameter_problem(request: Request) -> str:
    """Google's answer to a parameter the method does not document (empty when all are)."""
    method = _method(request)
    if method is None:
        return f"no such method in Sheets API v4: {request.method} {request.path}"
    allowed = METHOD_PARAMS[method] | STANDARD_PARAMS
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        return (
            f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot bind query '
            f"parameter. Field '{unknown[0]}' could not be found in request message."
        )
    return ""
