"""`handoff sandbox serve` for Google Sheets: one generated budget book (a tenth of the size)."""

from __future__ import annotations

from sandbox.generated import GeneratedSandbox, GeneratedSettings
from sandbox.gsheets.book import generate_book
from sandbox.gsheets.server import SheetsSandbox

BOOK_ID = "finance-budget"


def start_generated(settings: GeneratedSettings) -> GeneratedSandbox:
    server = SheetsSandbox(
        {BOOK_ID: generate_book(max(10, settings.size // 10), settings.seed)},
        faults=settings.faults,
        port=settings.port,
        tls=settings.tls,
    ).start()
    credentials = server.write_credentials()  # a private temporary file: it holds a key
    entry, env = server.source_entry("finance-sheets", BOOK_ID, str(credentials))
    return GeneratedSandbox(server, entry, env)
