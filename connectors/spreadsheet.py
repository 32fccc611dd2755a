"""Maps spreadsheet rows (CSV, Excel, Google Sheets) to row records and row-level rejections.

One mapping serves the three kinds so a plan behaves the same whichever tool holds it: the
header row is found below any title rows, columns are matched by header name (with aliases),
cells are parsed into typed values, and every row ends up counted as loaded, rejected or empty.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from itertools import chain
from typing import Any

from connectors.base import FetchStats, RawRecord, Rejection
from handoff.config import SheetSourceBase

HEADER_SCAN_ROWS = 25  # title rows above the header are searched this far down
SERIAL_EPOCH = date(1899, 12, 30)  # Excel's and Sheets' day zero (1900 date system)
MAX_SERIAL = 2958465  # 9999-12-31
ERROR_VALUE = re.compile(
    r"^#(REF|N/A|NAME|DIV/0|VALUE|NUM|NULL|SPILL|CALC|ERROR|GETTING_DATA|FIELD|BLOCKED|"
    r"UNKNOWN|CONNECT|BUSY|EXTERNAL|PYTHON)[!?]?$"
)
TRUE_FLAGS = {"yes", "y", "true", "x", "1", "1.0", "ja", "oui", "si", "wahr", "✓", "✔", "☑"}
ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ].*)?$")
LOCAL_DATE = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?: .*)?$")
SERIAL_TEXT = re.compile(r"^\d{5}(?:\.\d+)?$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
NAMED_EMAIL = re.compile(r"^(.*?)\s*<([^@\s<>]+@[^@\s<>]+\.[^@\s<>]+)>$")
REF_SPLIT = re.compile(r"[,;|\s]+")

FIELDS = (
    "id",
    "title",
    "status",
    "owner",
    "due",
    "start",
    "depends_on",
    "successors",
    "department",
    "item_type",
    "milestone",
    "url",
    "rag",
)


@dataclass
class SheetFetchStats(FetchStats):
    """Request counts plus the row accounting: loaded + rejected + empty + hidden == rows_seen.

    `hidden` rows (hidden by the user or a filter in Google Sheets) are skipped, not rejected;
    `sheets_hidden` counts hidden tabs left unread.
    """

    rows_seen: int = 0
    loaded: int = 0
    rejected: int = 0
    empty: int = 0
    hidden: int = 0
    sheets_read: int = 0
    sheets_skipped: int = 0
    sheets_hidden: int = 0

    def reset(self) -> None:
        """Zero every count in place (the landing step may already hold this object)."""
        for item in fields(self):
            setattr(self, item.name, type(getattr(self, item.name))())


@dataclass
class UnreadableRow:
    """A row the reader itself could not parse (e.g. a broken CSV line); it is rejected.

    `cells` is a best-effort reading of the same text, used only to keep the row's id alive:
    a row that cannot be read must not make its item look deleted.
    """

    reason: str
    cells: Sequence[Any] | None = None


@dataclass(frozen=True)
class UncachedFormula:
    """A formula cell saved without its result (the workbook was never recalculated)."""

    formula: str

    def __str__(self) -> str:
        return self.formula


class BadCell(ValueError):
    """A cell whose value cannot be read as the column's type."""


# -- cell parsing ------------------------------------------------------------------------------
def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_blank_row(row: Sequence[Any] | UnreadableRow) -> bool:
    return not isinstance(row, UnreadableRow) and all(is_blank(v) for v in row)


def is_error(value: Any) -> bool:
    """Formula results such as `#REF!` or `#N/A`, as Excel, openpyxl and Sheets return them."""
    return isinstance(value, str) and bool(ERROR_VALUE.match(value.strip()))


def as_text(value: Any) -> str | None:
    """A cell as trimmed text; integral numbers lose their `.0` (ids typed as numbers)."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def jsonable(value: Any) -> Any:
    """Raw cell value as stored in the payload (dates become ISO text)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def from_serial(serial: float) -> date:
    if not 1 <= serial <= MAX_SERIAL:
        raise BadCell(f"number {serial!r} is not a date serial")
    return SERIAL_EPOCH + timedelta(days=int(serial))


def parse_date(value: Any, order: str = "iso") -> date | None:
    """Read a date cell: date objects, serial numbers, ISO text or `d.m.y` / `m/d/y` text.

    `order` is the source's `date_order`; with "iso" a local date is only accepted when it is
    unambiguous (dots mean day first; a part above 12 says which is the day).
    """
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise BadCell(f"{value!r} is not a date")
    if isinstance(value, int | float):
        return from_serial(float(value))
    text = str(value).strip()
    try:
        if match := ISO_DATE.match(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := LOCAL_DATE.match(text):
            first, sep, second, year_text = match[1], match[2], match[3], match[4]
            a, b = int(first), int(second)
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            if order == "dmy" or (order == "iso" and (sep == "." or a > 12 >= b)):
                day, month = a, b
            elif order == "mdy" or (order == "iso" and b > 12 >= a):
                month, day = a, b
            else:
                raise BadCell(f"ambiguous date {text!r}: set date_order to dmy or mdy")
            return date(year, month, day)
        if SERIAL_TEXT.match(text):
            return from_serial(float(text))
    except ValueError as err:
        if isinstance(err, BadCell):
            raise
        raise BadCell(f"bad date {text!r}: {err}") from None
    raise BadCell(f"bad date {text!r}")


def parse_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = as_text(value)
    return text is not None and text.lower() in TRUE_FLAGS


def parse_owner(value: Any) -> tuple[str | None, str | None]:
    """(name, e-mail) from `Ann Lee`, `ann@x.org` or `Ann Lee <ann@x.org>`."""
    text = as_text(value)
    if text is None:
        return None, None
    if EMAIL.match(text):
        return None, text.lower()
    if match := NAMED_EMAIL.match(text):
        return (match[1].strip() or None), match[2].lower()
    return text, None


def split_refs(value: Any) -> list[str]:
    """Several keys, URLs or row ids in one cell, separated by commas, semicolons or spaces."""
    text = as_text(value)
    if text is None:
        return []
    return [part for part in REF_SPLIT.split(text) if part]


def normalise_header(value: Any) -> str:
    text = as_text(value) or ""
    return re.sub(r"\s+", " ", text.replace("_", " ")).strip().strip(":*").strip().lower()


def uncached(value: Any, index: int, number: int) -> str:
    """Why a formula without a saved result is rejected, and how to fix it."""
    return (
        f"cell {column_letter(index)}{number} holds the formula {value} without a saved result "
        "(open the workbook in Excel or LibreOffice and save it to calculate it)"
    )


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# -- header detection --------------------------------------------------------------------------
@dataclass
class Header:
    """The header row: where it is, the display name of every column, and the mapped fields."""

    index: int  # 0-based position of the (last) header row in the rows read
    names: list[str]
    columns: dict[str, int]  # model field -> column index
    rows: int = 1  # header rows stacked above the data (a merged two-row header has 2)


def header_names(row: Sequence[Any]) -> list[str]:
    """Display names; blank cells of a merged header take the name on their left, numbered."""
    names: list[str] = []
    seen: dict[str, int] = {}
    last, last_index = "", 0
    for i, value in enumerate(row):
        name = as_text(value)
        if name is None:
            name = f"{last} (+{i - last_index})" if last else f"column {column_letter(i)}"
        else:
            name = re.sub(r"\s+", " ", name)
            last, last_index = name, i
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name} ({count + 1})")
    return names


def match_columns(row: Sequence[Any], aliases: dict[str, list[str]]) -> dict[str, int]:
    normalised = [normalise_header(v) for v in row]
    columns: dict[str, int] = {}
    for field, names in aliases.items():
        for alias in names:
            if alias in normalised:
                columns[field] = normalised.index(alias)
                break
    return columns


def stack_header(rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Header rows read as one: each column takes its lowest name.

    A name merged down over two rows sits in the upper cell only, and a group label above
    ("Dates" over "Start" and "Due") gives way to the names below it.
    """
    width = max((len(r) for r in rows), default=0)
    stacked: list[Any] = [None] * width
    for row in rows:
        for i, value in enumerate(row):
            if not is_blank(value):
                stacked[i] = value
    return stacked


def header_blocks(
    rows: Sequence[Sequence[Any] | UnreadableRow], aliases: dict[str, list[str]], depth: int
) -> Iterator[Header]:
    """Every run of `depth` rows among the first ones that, stacked, names an id column."""
    scanned = rows[:HEADER_SCAN_ROWS]
    for index in range(len(scanned) - depth + 1):
        block = scanned[index : index + depth]
        if any(isinstance(row, UnreadableRow) for row in block):
            continue
        stacked = stack_header(block)  # type: ignore[arg-type]
        columns = match_columns(stacked, aliases)
        if "id" in columns:
            yield Header(index + depth - 1, header_names(stacked), columns, depth)


def continues_header(row: Sequence[Any], header: Header, aliases: dict[str, list[str]]) -> bool:
    """Whether `row`, under the header row, can be its second line rather than data.

    A data row carries an id; the second line of a merged header has none (or the id
    column's own name) in the id column.
    """
    i = header.columns["id"]
    value = row[i] if i < len(row) else None
    return is_blank(value) or normalise_header(value) in aliases["id"]


def find_header(
    rows: Sequence[Sequence[Any] | UnreadableRow],
    aliases: dict[str, list[str]],
    depth: int | None = None,
) -> Header | None:
    """The header among the first rows: the one naming an id column and the most others.

    `depth` is the configured number of header rows; when None a two-row header is taken
    only where it maps more columns than any single row (a merged header would otherwise
    lose the columns named in its other row).
    """

    def most_columns(found: Iterator[Header]) -> Header | None:
        best: Header | None = None
        for header in found:
            if best is None or len(header.columns) > len(best.columns):
                best = header
        return best

    if depth is not None:
        return most_columns(header_blocks(rows, aliases, depth))
    single = most_columns(header_blocks(rows, aliases, 1))
    double = most_columns(
        h
        for h in header_blocks(rows, aliases, 2)
        if continues_header(rows[h.index], h, aliases)  # type: ignore[arg-type]
    )
    if double is not None and (single is None or len(double.columns) > len(single.columns)):
        return double
    return single


# -- row mapping -------------------------------------------------------------------------------
class RowMapper:
    """Maps the worksheets of one source; ids are unique across all of its sheets.

    `live_ids` collects every id found (rows rejected for a bad cell included, so a typo does
    not turn a known item into a tombstone); `complete` turns false when a sheet the config
    names could not be read, or a row's id could not be read, and then no census may be taken.
    """

    def __init__(self, source: SheetSourceBase, origin: str, stats: SheetFetchStats):
        self.source = source
        self.origin = origin
        self.stats = stats
        self.order: str = getattr(source, "date_order", "iso")
        self.aliases = {
            field: [normalise_header(a) for a in getattr(source.columns, field)] for field in FIELDS
        }
        self.live_ids: set[str] = set()
        self.first_seen: dict[str, str] = {}
        self.complete = True
        self.allow_empty: bool = getattr(source, "allow_empty", False)
        self.header_rows: int | None = getattr(source, "header_rows", None)
        self.sheets_seen = 0
        self.blank_sheets: list[str] = []
        self._categories: dict[str, str | None] = {}

    def category(self, status: str) -> str | None:
        """The status's category from the source's vocabulary (memoised: few distinct values)."""
        if status not in self._categories:
            self._categories[status] = self.source.status_category(status)
        return self._categories[status]

    def missing_sheet(self, sheet: str, reason: str) -> Rejection:
        """A configured sheet that is absent or unreadable: reported, and no census this run."""
        self.complete = False
        return Rejection(location=f"{self.origin} / {sheet}", reason=reason)

    def sheet(
        self,
        sheet: str,
        rows: Iterable[Sequence[Any] | UnreadableRow],
        *,
        required: bool,
        extra: dict[str, Any] | None = None,
        hidden: Collection[int] = (),
    ) -> Iterator[RawRecord | Rejection]:
        """Map one worksheet's rows (from row 1). `extra` is added to every payload.

        `hidden` holds the 0-based indexes of rows to skip (hidden in the spreadsheet): they are
        counted, not mapped, so their items are not live this run.
        """
        iterator = iter(rows)
        head: list[Any] = []
        for row in iterator:
            head.append(row)
            if len(head) >= HEADER_SCAN_ROWS:
                break
        self.sheets_seen += 1
        header = find_header(head, self.aliases, self.header_rows)
        if header is None:
            if all(map(is_blank_row, head)) and all(map(is_blank_row, iterator)):
                self.blank_sheets.append(sheet)
                if required and not self.allow_empty:
                    yield self.missing_sheet(
                        sheet, "the worksheet is blank (set allow_empty: true if it may be)"
                    )
                elif not required:
                    self.stats.sheets_skipped += 1
            elif required:
                yield self.missing_sheet(
                    sheet,
                    "no header row with an id column in the first rows "
                    f"(looked for {', '.join(self.source.columns.id)})",
                )
            else:
                self.stats.sheets_skipped += 1
            return
        self.stats.sheets_read += 1
        number = header.index + 1
        for row in chain(head[header.index + 1 :], iterator):
            number += 1
            if number - 1 in hidden:
                self.stats.rows_seen += 1
                self.stats.hidden += 1
                continue
            if (result := self.row(sheet, number, row, header, extra)) is not None:
                yield result

    def row(
        self,
        sheet: str,
        number: int,
        values: Sequence[Any] | UnreadableRow,
        header: Header,
        extra: dict[str, Any] | None,
    ) -> RawRecord | Rejection | None:
        """One row -> record, rejection, or None when it is empty (counted, not reported)."""
        self.stats.rows_seen += 1
        location = f"{self.origin} / {sheet} / row {number}"
        if isinstance(values, UnreadableRow):
            return self._unreadable(location, values, header)
        cells: dict[str, Any] = {}
        for i, value in enumerate(values):
            if not is_blank(value):
                name = header.names[i] if i < len(header.names) else f"column {column_letter(i)}"
                cells[name] = jsonable(value)
        if not cells:
            self.stats.empty += 1
            return None

        def cell(field: str) -> Any:
            i = header.columns.get(field)
            return values[i] if i is not None and i < len(values) else None

        def column(field: str) -> str:
            return header.names[header.columns[field]]

        if isinstance(cell("id"), UncachedFormula) or is_error(cell("id")):
            # the id is unknown, so the item it names may still be there: no census this run
            self.complete = False
            problem = (
                uncached(cell("id"), header.columns["id"], number)
                if isinstance(cell("id"), UncachedFormula)
                else f"formula error {str(cell('id')).strip()} in the id column"
            )
            reason = f"{problem}; no rows are removed this run"
            return self._reject(location, reason, column("id"), cells)
        row_id = as_text(cell("id"))
        if row_id is None:
            return self._reject(location, "missing id", column("id"), cells)
        if row_id in self.first_seen:
            reason = f"repeated id {row_id!r} (first at {self.first_seen[row_id]})"
            return self._reject(location, reason, column("id"), cells)
        self.first_seen[row_id] = location
        self.live_ids.add(row_id)

        for field in header.columns:
            if isinstance(cell(field), UncachedFormula):
                reason = uncached(cell(field), header.columns[field], number)
                return self._reject(location, reason, column(field), cells)
            if is_error(cell(field)):
                reason = f"formula error {str(cell(field)).strip()} in a mapped column"
                return self._reject(location, reason, column(field), cells)
        status = as_text(cell("status"))
        category = self.category(status) if status else "todo"
        if category is None:
            reason = f"unknown status {status!r}: add it to the source's status_map"
            return self._reject(location, reason, column("status"), cells)
        dates: dict[str, str | None] = {}
        for field in ("due", "start"):
            try:
                parsed = parse_date(cell(field), self.order)
            except BadCell as err:
                return self._reject(location, str(err), column(field), cells)
            dates[field] = parsed.isoformat() if parsed else None
        owner, owner_email = parse_owner(cell("owner"))
        item_type = as_text(cell("item_type"))
        is_milestone = parse_flag(cell("milestone")) or (item_type or "").lower() == "milestone"
        payload = {
            "sheet": sheet,
            "row": number,
            **(extra or {}),
            "cells": cells,
            "parsed": {
                "id": row_id,
                "title": as_text(cell("title")),
                "status": status,
                "status_category": category,
                "owner": owner,
                "owner_email": owner_email,
                "due": dates["due"],
                "start": dates["start"],
                "depends_on": split_refs(cell("depends_on")),
                "successors": split_refs(cell("successors")),
                "department": as_text(cell("department")),
                "item_type": item_type,
                "is_milestone": is_milestone,
                "url": as_text(cell("url")),
                "rag": as_text(cell("rag")),
            },
        }
        self.stats.loaded += 1
        return RawRecord("row", row_id, payload)

    def _unreadable(self, location: str, row: UnreadableRow, header: Header) -> Rejection:
        """Reject a row the reader could not parse, keeping its id alive when it can be seen."""
        i = header.columns["id"]
        value = row.cells[i] if row.cells is not None and i < len(row.cells) else None
        row_id = as_text(value) if not is_error(value) else None
        if row_id is not None and row_id not in self.first_seen:
            self.first_seen[row_id] = location
            self.live_ids.add(row_id)
        elif row.cells is None or (row_id is None and not is_blank(value)):
            self.complete = False  # its id is unknown: the item may still be there
            return self._reject(location, f"{row.reason}; no rows are removed this run", None, None)
        return self._reject(location, row.reason, None, None)

    def _reject(
        self, location: str, reason: str, column: str | None, cells: dict[str, Any] | None
    ) -> Rejection:
        self.stats.rejected += 1
        return Rejection(location=location, reason=reason, raw=cells, column=column)
