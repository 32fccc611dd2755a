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

from sandbox.gsheets.book import (
    Formula,
    Link,
    Number,
    PersonChip,
    RichLinkChip,
    Spreadsheet,
    Worksheet,
)

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


def display_text(value: Any) -> str | None:
    """What a link, chip or formatted number shows in the cell (None for other values)."""
    if isinstance(value, Link):
        return value.text
    if isinstance(value, PersonChip):
        return value.name or value.email
    if isinstance(value, RichLinkChip):
        return value.title
    if isinstance(value, Number):
        return format_number(value.value, value.pattern)
    return None


def format_number(value: float | int, pattern: str) -> str:
    """Sheets number formats made of zeros (and one decimal point): "00000", "0.00"."""
    whole, _, decimals = pattern.partition(".")
    text = f"{value:.{len(decimals)}f}"
    head, _, tail = text.partition(".")
    sign = "-" if head.startswith("-") else ""
    head = head.lstrip("-").rjust(whole.count("0"), "0")
    return sign + head + ("." + tail if decimals else "")


def render_cell(value: Any, value_option: str, datetime_option: str, date_format: str) -> Any:
    """One cell as the API returns it; "" for an empty cell.

    Links and chips are text to the values API; a formatted number is its display under
    FORMATTED_VALUE and the bare number otherwise.
    """
    if isinstance(value, Number):
        return (
            format_number(value.value, value.pattern)
            if value_option == "FORMATTED_VALUE"
            else (value.value)
        )
    shown = display_text(value)
    if shown is not None:
        return shown
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
    covered = merged_away(grid.sheet)
    for r, row in enumerate(grid.sheet.rows[grid.row0 : grid.row1], start=grid.row0):
        cells = [
            ""
            if (r, c) in covered
            else render_cell(v, value_option, datetime_option, grid.sheet.date_format)
            for c, v in enumerate(row[grid.col0 : grid.col1], start=grid.col0)
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


def merged_away(sheet: Worksheet) -> set[tuple[int, int]]:
    """Cells inside a merge other than its top-left one: Sheets keeps no value in them."""
    return {
        (r, c)
        for r0, c0, r1, c1 in sheet.merges
        for r in range(r0, r1)
        for c in range(c0, c1)
        if (r, c) != (r0, c0)
    }


def grid_range(sheet: Worksheet, box: tuple[int, int, int, int]) -> dict[str, int]:
    """A GridRange object (0-based, ends exclusive)."""
    r0, c0, r1, c1 = box
    return {
        "sheetId": sheet.sheet_id,
        "startRowIndex": r0,
        "endRowIndex": r1,
        "startColumnIndex": c0,
        "endColumnIndex": c1,
    }


def _extended(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    return {"stringValue": str(value)}


def cell_data(value: Any, date_format: str) -> dict[str, Any]:
    """A CellData object: entered and effective value, formatted text, links and chips."""
    if value is None:
        return {}
    formatted = render_cell(value, "FORMATTED_VALUE", "SERIAL_NUMBER", date_format)
    cell: dict[str, Any] = {"formattedValue": formatted}
    if isinstance(value, Link):
        cell["userEnteredValue"] = cell["effectiveValue"] = {"stringValue": value.text}
        cell["hyperlink"] = value.url
        cell["textFormatRuns"] = [{"format": {"link": {"uri": value.url}}}]
    elif isinstance(value, PersonChip):
        cell["userEnteredValue"] = {"stringValue": "@"}
        cell["effectiveValue"] = {"stringValue": formatted}
        cell["chipRuns"] = [
            {"chip": {"personProperties": {"email": value.email, "displayFormat": "DEFAULT"}}}
        ]
    elif isinstance(value, RichLinkChip):
        cell["userEnteredValue"] = {"stringValue": "@"}
        cell["effectiveValue"] = {"stringValue": formatted}
        cell["chipRuns"] = [{"chip": {"richLinkProperties": {"uri": value.uri}}}]
    elif isinstance(value, Number):
        cell["userEnteredValue"] = cell["effectiveValue"] = {"numberValue": value.value}
        cell["userEnteredFormat"] = {"numberFormat": {"type": "NUMBER", "pattern": value.pattern}}
    elif isinstance(value, Formula):
        cell["userEnteredValue"] = {"formulaValue": value.text}
        computed = value.value
        if isinstance(computed, str) and computed.startswith("#"):
            cell["effectiveValue"] = {"errorValue": {"type": "ERROR", "message": computed}}
        else:
            cell["effectiveValue"] = _extended(
                render_cell(computed, "UNFORMATTED_VALUE", "SERIAL_NUMBER", date_format)
            )
    else:
        raw = render_cell(value, "UNFORMATTED_VALUE", "SERIAL_NUMBER", date_format)
        cell["userEnteredValue"] = cell["effectiveValue"] = _extended(raw)
        if isinstance(value, date):
            kind = "DATE_TIME" if isinstance(value, datetime) else "DATE"
            cell["userEnteredFormat"] = {"numberFormat": {"type": kind}}
    return cell


def grid_data(grid: GridRange) -> dict[str, Any]:
    """A GridData object for a range: rowData (trailing empties dropped) and row metadata
    with hiddenByUser / hiddenByFilter, as `spreadsheets.get` with grid data returns it."""
    sheet = grid.sheet
    covered = merged_away(sheet)
    row_data = []
    row_meta = []
    last = min(grid.row1, len(sheet.rows))
    for r in range(grid.row0, grid.row1):
        if r < last:
            row = sheet.rows[r]
            values = [
                {} if (r, c) in covered else cell_data(v, sheet.date_format)
                for c, v in enumerate(row[grid.col0 : grid.col1], start=grid.col0)
            ]
            while values and not values[-1]:
                values.pop()
            row_data.append({"values": values} if values else {})
        meta: dict[str, Any] = {"pixelSize": 21}
        if r in sheet.hidden_rows:
            meta["hiddenByUser"] = True
        if r in sheet.filtered_rows:
            meta["hiddenByFilter"] = True
        row_meta.append(meta)
    while row_data and not row_data[-1]:
        row_data.pop()
    data: dict[str, Any] = {"rowMetadata": row_meta}
    if grid.row0:
        data["startRow"] = grid.row0
    if grid.col0:
        data["startColumn"] = grid.col0
    if row_data:
        data["rowData"] = row_data
    data["columnMetadata"] = [{"pixelSize": 100} for _ in range(grid.col0, grid.col1)]
    return data


def sheet_extras(sheet: Worksheet) -> dict[str, Any]:
    """Merges, the basic filter and filter views of a sheet (omitted when there are none)."""
    extras: dict[str, Any] = {}
    if sheet.merges:
        extras["merges"] = [grid_range(sheet, box) for box in sheet.merges]
    if sheet.basic_filter:
        extras["basicFilter"] = {"range": grid_range(sheet, sheet.basic_filter)}
    if sheet.filter_views:
        extras["filterViews"] = [
            {
                "filterViewId": sheet.sheet_id * 100 + i + 1,
                "title": t,
                "range": grid_range(sheet, b),
            }
            for i, (t, b) in enumerate(sheet.filter_views)
        ]
    return extras


def metadata(
    spreadsheet_id: str, book: Spreadsheet, data: dict[int, list[GridRange]] | None = None
) -> dict[str, Any]:
    """The Spreadsheet resource; with `data` (sheet id -> ranges) only those sheets, each with
    its GridData (what `includeGridData=true` or a `sheets.data` field mask returns)."""
    sheets = []
    for index, sheet in enumerate(book.sheets):
        if data is not None and sheet.sheet_id not in data:
            continue
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
        entry: dict[str, Any] = {"properties": properties, **sheet_extras(sheet)}
        if data is not None:
            entry["data"] = [grid_data(grid) for grid in data[sheet.sheet_id]]
        sheets.append(entry)
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


FieldMask = dict[str, "FieldMask"]


def parse_fields(text: str) -> FieldMask:
    """Google's field mask syntax: `a.b(c,d),e` -> {"a": {"b": {"c": {}, "d": {}}}, "e": {}}."""
    position = 0

    def parse_list() -> FieldMask:
        nonlocal position
        tree: FieldMask = {}
        while True:
            match = re.compile(r"\s*([A-Za-z_*][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)").match(
                text, position
            )
            if not match:
                raise ValueError(f"Invalid field selection {text!r} at {position}")
            position = match.end()
            node = tree
            for part in match[1].split("."):
                node = node.setdefault(part, {})
            if position < len(text) and text[position] == "(":
                position += 1
                sub = parse_list()
                _merge(node, sub)
                if position >= len(text) or text[position] != ")":
                    raise ValueError(f"Invalid field selection {text!r}: unbalanced parenthesis")
                position += 1
            if position < len(text) and text[position] == ",":
                position += 1
                continue
            return tree

    tree = parse_list()
    if position != len(text.rstrip()):
        raise ValueError(f"Invalid field selection {text!r} at {position}")
    return tree


def _merge(into: FieldMask, other: FieldMask) -> None:
    for key, sub in other.items():
        _merge(into.setdefault(key, {}), sub)


def mask_mentions(mask: FieldMask, *path: str) -> bool:
    node = mask
    for part in path:
        if "*" in node:
            return True
        if part not in node:
            return False
        node = node[part]
    return True


def apply_mask(value: Any, mask: FieldMask) -> Any:
    """Keep only the masked fields (an empty mask node keeps the whole value)."""
    if not mask or "*" in mask:
        return value
    if isinstance(value, list):
        return [apply_mask(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: apply_mask(v, mask[k]) for k, v in value.items() if k in mask}
    return value
