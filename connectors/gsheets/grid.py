"""What the values API does not show: merged cells, links, smart chips, ids as displayed,
and hidden rows, read from `spreadsheets.get` grid data and laid over the values.

The values API puts a merged cell's value in its top-left cell only, shows a linked cell or a
chip as its text, and returns hidden rows like any other. The connector reads the values once
(unformatted, so dates are serial numbers), then asks `spreadsheets.get` for the grid data of
the few mapped columns whose display or link matters, and this module merges the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# model fields whose cells are read from grid data: ids as displayed, links and chips as targets
GRID_FIELDS = ("id", "url", "depends_on", "successors", "owner")
LINK_FIELDS = ("url", "depends_on", "successors")
METADATA_FIELDS = (
    "properties(title),sheets(properties(sheetId,title,index,sheetType,hidden),merges)"
)
GRID_DATA_FIELDS = (
    "sheets(properties(sheetId),data(startRow,startColumn,"
    "rowMetadata(hiddenByUser,hiddenByFilter),"
    "rowData(values(formattedValue,hyperlink,chipRuns,textFormatRuns(startIndex,format(link))))))"
)

Box = tuple[int, int, int, int]  # 0-based row0, col0, row1, col1; ends exclusive


def merge_boxes(sheet: dict[str, Any]) -> list[Box]:
    """A sheet's merges as boxes (the API leaves out zero start indexes)."""
    return [
        (
            m.get("startRowIndex", 0),
            m.get("startColumnIndex", 0),
            m.get("endRowIndex", 0),
            m.get("endColumnIndex", 0),
        )
        for m in sheet.get("merges", [])
    ]


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def fill_merges(rows: list[list[Any]], boxes: Iterable[Box], below: int) -> None:
    """Fill each merge's value down its first column, in rows after `below` that hold data.

    A merge down several rows (a department or owner for a block of tasks) means its value for
    each of them. A merge across columns is layout: the value belongs to the column it starts
    in. A row that is otherwise blank stays blank (it is a gap, not a task).
    """
    for row0, col0, row1, _ in boxes:
        if row0 <= below or row0 >= len(rows):
            continue
        top = rows[row0]
        value = top[col0] if col0 < len(top) else None
        if value is None or value == "":
            continue
        for index in range(row0 + 1, min(row1, len(rows))):
            row = rows[index]
            if not any(v not in (None, "") for v in row):
                continue
            row.extend([""] * (col0 + 1 - len(row)))
            if row[col0] in (None, ""):
                row[col0] = value


def _segments(text: str, runs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The text cut at each run's start: (segment, run); text before the first run has {}."""
    starts = sorted(runs, key=lambda r: r.get("startIndex", 0))
    cuts: list[tuple[int, dict[str, Any]]] = (
        [(0, {})] if not starts or starts[0].get("startIndex", 0) > 0 else []
    )
    cuts += [(r.get("startIndex", 0), r) for r in starts]
    pieces = []
    for i, (start, run) in enumerate(cuts):
        end = cuts[i + 1][0] if i + 1 < len(cuts) else len(text)
        pieces.append((text[start:end], run))
    return pieces


def _chip_text(chip: dict[str, Any], shown: str, owner: bool) -> str | None:
    person = chip.get("personProperties")
    if person and person.get("email"):
        email = str(person["email"])
        shown = shown.strip()
        return f"{shown} <{email}>" if owner and shown and shown != email else email
    link = chip.get("richLinkProperties")
    if link and link.get("uri"):
        return str(link["uri"])
    return None


def linked_text(cell: dict[str, Any], *, owner: bool = False) -> str | None:
    """The cell with each linked or chipped part replaced by its target; None when it has none.

    A depends-on cell showing "OPS-12" linked to `…/browse/OPS-12` reads as the URL, a people
    chip as the person's e-mail (the owner column keeps the shown name: `Ann Lee <ann@x.org>`),
    a mailto: link as the address.
    """
    text = str(cell.get("formattedValue", ""))
    runs = [
        {"startIndex": r.get("startIndex", 0), "chip": r["chip"]}
        for r in cell.get("chipRuns", [])
        if r.get("chip")
    ] + [
        {"startIndex": r.get("startIndex", 0), "link": r["format"]["link"].get("uri")}
        for r in cell.get("textFormatRuns", [])
        if r.get("format", {}).get("link", {}).get("uri")
    ]
    if not runs:
        link = cell.get("hyperlink")
        return _target(str(link)) if link else None
    parts = []
    for segment, run in _segments(text, _runs_by_start(runs, cell)):
        if "chip" in run and (chipped := _chip_text(run["chip"], segment, owner)):
            parts.append(chipped)
        elif run.get("link"):
            parts.append(_target(str(run["link"])))
        else:
            parts.append(segment)
    return "".join(parts)


def _runs_by_start(runs: list[dict[str, Any]], cell: dict[str, Any]) -> list[dict[str, Any]]:
    """One run per start index (a chip wins over a link at the same place); text runs without
    a link in between end the previous link."""
    by_start: dict[int, dict[str, Any]] = {}
    for run in runs:
        by_start.setdefault(run["startIndex"], run)
    for run in cell.get("textFormatRuns", []):
        start = run.get("startIndex", 0)
        if start not in by_start:
            by_start[start] = {"startIndex": start}
    return list(by_start.values())


def _target(link: str) -> str:
    return link[len("mailto:") :] if link.lower().startswith("mailto:") else link


@dataclass
class GridOverlay:
    """Cells to replace in a tab's values, and the rows the spreadsheet hides."""

    cells: dict[tuple[int, int], str] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)

    def add(self, data: dict[str, Any], fields_by_column: dict[int, str]) -> None:
        """Read one GridData block (a column range) of `spreadsheets.get`."""
        row0, col0 = data.get("startRow", 0), data.get("startColumn", 0)
        for offset, meta in enumerate(data.get("rowMetadata", [])):
            if meta.get("hiddenByUser") or meta.get("hiddenByFilter"):
                self.hidden_rows.add(row0 + offset)
        for r, row in enumerate(data.get("rowData", []), start=row0):
            for c, cell in enumerate(row.get("values", []), start=col0):
                what = fields_by_column.get(c)
                if what is None or not cell:
                    continue
                if what == "id":
                    shown = cell.get("formattedValue")
                    value = str(shown) if shown is not None else None
                else:
                    value = linked_text(cell, owner=what == "owner")
                    if value is None and what in LINK_FIELDS and "formattedValue" in cell:
                        value = str(cell["formattedValue"])  # "00123" stays as shown
                if value is not None:
                    self.cells[(r, c)] = value

    def apply(self, rows: list[list[Any]], boxes: Iterable[Box], below: int) -> None:
        """Lay the cells over `rows` (data rows after `below` only), merges filled down."""
        for (r, c), value in self.cells.items():
            if below < r < len(rows):
                row = rows[r]
                row.extend([""] * (c + 1 - len(row)))
                row[c] = value
        fill_merges(rows, boxes, below)
