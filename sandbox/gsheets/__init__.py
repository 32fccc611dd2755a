"""Google Sheets stand-in: spreadsheets served over Sheets API v4 with a service-account flow."""

from sandbox.gsheets.auth import ServiceAccount
from sandbox.gsheets.book import Formula, Spreadsheet, Worksheet, generate_book
from sandbox.gsheets.server import SheetsSandbox

__all__ = [
    "Formula",
    "ServiceAccount",
    "SheetsSandbox",
    "Spreadsheet",
    "Worksheet",
    "generate_book",
]
