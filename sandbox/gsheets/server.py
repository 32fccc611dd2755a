"""The Google Sheets sandbox: Sheets API v4 reads plus the service-account token endpoint.

Serves `GET /v4/spreadsheets/{id}`, `GET /v4/spreadsheets/{id}/values/{range}` and
`GET /v4/spreadsheets/{id}/values:batchGet`, with errors in Google's envelope (401, 403, 404,
400, 429 RESOURCE_EXHAUSTED). `POST /token` runs the JWT-bearer grant google-auth uses; quota
faults never hit it (Google's OAuth endpoint is not under the Sheets read quota).
"""

from __future__ import annotations

import json
import shutil
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sandbox.gsheets.auth import GrantError, ServiceAccount, TokenIssuer
from sandbox.gsheets.book import Spreadsheet
from sandbox.gsheets.render import (
    DATETIME_OPTIONS,
    VALUE_OPTIONS,
    RangeError,
    metadata,
    parse_range,
    value_range,
)
from sandbox.server import Faults, HttpError, Request, Response, SandboxServer, ServedSandbox

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
    """The shared server, except that the token endpoint is exempt from injected faults."""

    token_handler: Any = None

    def _respond(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/token" and self.token_handler:
            return self.token_handler(request)  # type: ignore[no-any-return]
        return super()._respond(request)


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
    ):
        self.books = books
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

    def _value_range(
        self, book: Spreadsheet, text: str, options: tuple[str, str, str]
    ) -> dict[str, Any]:
        try:
            grid = parse_range(book, text)
        except RangeError:
            raise HttpError(400, google_error(400, f"Unable to parse range: {text}")) from None
        with self._lock:
            return value_range(grid, *options)

    def _routes(self) -> None:
        route = self.server.route

        @route("GET", "/v4/spreadsheets/{id}")
        def get_spreadsheet(request: Request) -> Any:
            spreadsheet_id, book = self._book(request)
            with self._lock:
                return metadata(spreadsheet_id, book)

        @route("GET", "/v4/spreadsheets/{id}/values/{range}")
        def get_values(request: Request) -> Any:
            _, book = self._book(request)
            return self._value_range(book, unquote(request.params["range"]), self._options(request))

        @route("GET", "/v4/spreadsheets/{id}/values:batchGet")
        def batch_get(request: Request) -> Any:
            spreadsheet_id, book = self._book(request)
            options = self._options(request)
            ranges = request.query.get("ranges", [])
            return {
                "spreadsheetId": spreadsheet_id,
                "valueRanges": [self._value_range(book, r, options) for r in ranges],
            }

    def edit(self) -> threading.Lock:
        """Hold this lock while editing a served book from another thread."""
        return self._lock
