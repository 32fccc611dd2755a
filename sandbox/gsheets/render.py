"""Sheets API shapes: A1 ranges, value rendering options, and the metadata document.

What real Sheets does and clients rely on: trailing empty cells and rows are omitted, an empty
range has no `values` key, dates are serial numbers under UNFORMATTED_VALUE (unless
`dateTimeRenderOption=FORMATTED_STRING`), and the answered `range` is the quoted, clipped one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sandbox.gsheets.book import Formula, Spreadsheet, Worksheet

SERIAL_EPOCH = datetime(1899, 12, 30)
MIN_ROWS, MIN_COLUMNS = 1000, 26
VALUE_OPTIONS = {"FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"}
DATETIME_OPTIONS = {"SERIAL_NUMBER", "FORMATTED_STRING"}
CELL = re.compile(r"^([A-Za-z]*)(\d*)$")


class RangeError(ValueError):
    """A range the API would answer with 400 "Unable to parse range"."""


def column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def quote_title(title: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(
        r"[A-Za-z]{1,3}\d+", title
    ):
        return title
    return "'" + title.replace("'", "''") + "'"


def grid_size(sheet: Worksheet) -> tuple[int, int]:
    columns = max((len(r) for r in sheet.rows), default=0)
    return max(MIN_ROWS, len(sheet.rows)), max(MIN_COLUMNS, columns)


@dataclass
class GridRange:
    """A resolved range: 0-based start row/column, exclusive end row/column."""

    sheet: Worksheet
    row0: int
    col0: int
    row1: int
    col1: int

    def a1(self) -> str:
        start = f"{column_letters(self.col0)}{self.row0 + 1}"
        end = f"{column_letters(self.col1 - 1)}{self.row1}"
        return f"{quote_title(self.sheet.title)}!{start}:{end}"


def split_sheet(text: str) -> tuple[str | None, str | None]:
    """("title", "A1:B2") from `'My tab'!A1:B2`, `Tab!A1`, `Tab` or `A1:B2`."""
    if text.startswith("'"):
        match = re.match(r"^'((?:[^']|'')*)'(?:!(.*))?$", text)
        if not match:
            raise RangeError(text)
        return match[1].replace("''", "'"), match[2]
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    return text, None


def parse_range(book: Spreadsheet, text: str) -> GridRange:
    """Resolve an A1 range against the book; a bare cell range means the first sheet."""
    title, cells = split_sheet(text.strip())
    sheet = next((s for s in book.sheets if s.title == title), None)
    if sheet is None:
        if cells is not None or not title or not book.sheets:
            raise RangeError(text)
        sheet, cells = book.sheets[0], title  # "A1:C3" without a sheet
    rows, columns = grid_size(sheet)
    if not cells:
        return GridRange(sheet, 0, 0, rows, columns)
    first, _, last = cells.partition(":")
    start = CELL.match(first)
    end = CELL.match(last or first)
    if not start or not end or not (start[1] or start[2]):
        raise RangeError(text)
    col0 = column_index(start[1]) if start[1] else 0
    row0 = int(start[2]) - 1 if start[2] else 0
    col1 = column_index(end[1]) + 1 if end[1] else columns
    row1 = int(end[2]) if end[2] else rows
    if row0 < 0 or col0 < 0 or row1 <= row0 or col1 <= col0:
        raise RangeError(text)
    return GridRange(sheet, row0, col0, row1, col1)


def serial(value: date | datetime) -> float | int:
    if isinstance(value, datetime):
        delta = value.replace(tzinfo=None) - SERIAL_EPOCH
        return delta.days + delta.seconds / 86400
    return (value - SERIAL_EPOCH.date()).days


def render_cell(value: Any, value_option: str, datetime_option: str, date_format: str) -> Any:
    """One cell as the API returns it; "" for an empty cell."""
    if isinstance(value, Formula):
        if value_option == "FORMULA":
            return value.text
        value = value.value
    if value is None:
        return ""
    if isinstance(value, datetime | date) and not isinstance(value, time):
        if value_option == "FORMATTED_VALUE" or datetime_option == "FORMATTED_STRING":
            fmt = date_format + (" %H:%M:%S" if isinstance(value, datetime) else "")
            return value.strftime(fmt)
        return serial(value)
    if value_option == "FORMATTED_VALUE":
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    return value


def value_range(
    grid: GridRange, value_option: str, datetime_option: str, major: str = "ROWS"
) -> dict[str, Any]:
    """A ValueRange: trailing empty cells and rows dropped; no `values` when nothing is left."""
    rows: list[list[Any]] = []
    for row in grid.sheet.rows[grid.row0 : grid.row1]:
        cells = [
            render_cell(v, value_option, datetime_option, grid.sheet.date_format)
            for v in row[grid.col0 : grid.col1]
        ]
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    if major == "COLUMNS" and rows:
        width = max(len(r) for r in rows)
        padded = [r + [""] * (width - len(r)) for r in rows]
        rows = [list(column) for column in zip(*padded, strict=True)]
        for column in rows:
            while column and column[-1] == "":
                column.pop()
    body: dict[str, Any] = {"range": grid.a1(), "majorDimension": major}
    if rows:
        body["values"] = rows
    return body


def metadata(spreadsheet_id: str, book: Spreadsheet) -> dict[str, Any]:
    """The Spreadsheet resource without grid data (what `includeGridData=false` returns)."""
    sheets = []
    for index, sheet in enumerate(book.sheets):
        rows, columns = grid_size(sheet)
        properties: dict[str, Any] = {
            "sheetId": sheet.sheet_id,
            "title": sheet.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": rows, "columnCount": columns},
        }
        if sheet.hidden:
            properties["hidden"] = True
        sheets.append({"properties": properties})
    return {
        "spreadsheetId": spreadsheet_id,
        "properties": {
            "title": book.title,
            "locale": book.locale,
            "autoRecalc": "ON_CHANGE",
            "timeZone": book.time_zone,
        },
        "sheets": sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit",
    }
