"""Spreadsheets the Sheets sandbox serves: built by hand or generated, editable between syncs.

Cells hold Python values as a user typed them (text, numbers, booleans, dates, datetimes) or a
`Formula` with its computed value (which may be an error such as `#REF!`). Rendering to the
API's shapes lives in `render.py`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any


@dataclass
class Formula:
    """A formula cell: `text` is what FORMULA rendering shows, `value` what it evaluates to."""

    text: str
    value: Any


@dataclass
class Link:
    """A cell whose text is a hyperlink: the values API shows `text`, grid data also `url`."""

    text: str
    url: str


@dataclass
class PersonChip:
    """A people smart chip: shown as the person's name (or e-mail when there is none)."""

    email: str
    name: str = ""


@dataclass
class RichLinkChip:
    """A rich link smart chip (a Drive file, a Jira issue...): shown as its `title`."""

    uri: str
    title: str


@dataclass
class Number:
    """A number with a number format; `pattern` "00000" shows 123 as 00123 (zero-padded ids)."""

    value: float | int
    pattern: str


@dataclass
class Worksheet:
    """One tab. `rows[0]` is spreadsheet row 1; rows may be ragged or empty.

    `merges` are 0-based (row0, col0, row1, col1) boxes, ends exclusive, whose value lives in
    the top-left cell; `hidden_rows` are hidden by the user, `filtered_rows` by the basic filter
    (`basic_filter` is its 0-based box); `filter_views` are saved views (they hide nothing for
    the API).
    """

    title: str
    sheet_id: int
    rows: list[list[Any]] = field(default_factory=list)
    date_format: str = "%Y-%m-%d"  # how FORMATTED_VALUE shows date cells
    hidden: bool = False
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden_rows: set[int] = field(default_factory=set)
    filtered_rows: set[int] = field(default_factory=set)
    basic_filter: tuple[int, int, int, int] | None = None
    filter_views: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)

    def merge(self, row0: int, col0: int, row1: int, col1: int) -> None:
        """Merge a box (0-based, ends exclusive), as Format > Merge cells does."""
        if row1 - row0 < 1 or col1 - col0 < 1 or (row1 - row0) * (col1 - col0) < 2:
            raise ValueError("a merge covers at least two cells")
        self.merges.append((row0, col0, row1, col1))

    @property
    def header_index(self) -> int:
        """Index of the first row whose first cell reads like an id header (for the editors)."""
        for index, row in enumerate(self.rows):
            if (
                row
                and isinstance(row[0], str)
                and row[0].strip().lower() in {"id", "key", "row id"}
            ):
                return index
        return 0

    def _column(self, header: str) -> int:
        names = [str(c).strip().lower() for c in self.rows[self.header_index]]
        return names.index(header.strip().lower())

    def _find(self, key: Any) -> int:
        for index in range(self.header_index + 1, len(self.rows)):
            row = self.rows[index]
            if row and str(row[0]) == str(key):
                return index
        raise KeyError(f"no row with id {key!r} in {self.title!r}")

    def append(self, row: list[Any]) -> int:
        """Add a row at the bottom; returns its 1-based row number."""
        self.rows.append(list(row))
        return len(self.rows)

    def delete(self, key: Any) -> None:
        """Delete the row whose first cell is `key` (the rows below move up, as in Sheets)."""
        del self.rows[self._find(key)]

    def set(self, key: Any, header: str, value: Any) -> None:
        """Change one cell of the row `key`, in the column named `header`."""
        row = self.rows[self._find(key)]
        column = self._column(header)
        row.extend([None] * (column + 1 - len(row)))
        row[column] = value


@dataclass
class Spreadsheet:
    """A spreadsheet with its tabs. `shared_with` limits access (None: any service account)."""

    title: str
    sheets: list[Worksheet] = field(default_factory=list)
    shared_with: set[str] | None = None
    locale: str = "en_US"
    time_zone: str = "Europe/Berlin"

    def add_sheet(
        self, title: str, rows: list[list[Any]] | None = None, **options: Any
    ) -> Worksheet:
        sheet_id = 0 if not self.sheets else max(s.sheet_id for s in self.sheets) + 1_000_001
        worksheet = Worksheet(title, sheet_id, [list(r) for r in rows or []], **options)
        self.sheets.append(worksheet)
        return worksheet

    def worksheet(self, title: str) -> Worksheet:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise KeyError(f"no worksheet {title!r} in {self.title!r}")


PLAN_HEADER = [
    "ID",
    "Title",
    "Status",
    "Owner",
    "Start",
    "Due",
    "Depends on",
    "Department",
    "Type",
    "Milestone",
]
STATUSES = ["Not started", "In progress", "Blocked", "Done", "Planned", "In review"]
DEPARTMENTS = ["Finance", "Store Operations", "Marketing", "IT", "Supply Chain"]
PEOPLE = [
    "Ann Lee",
    "bob.kim@example.org",
    "Chen Wu <chen.wu@example.org>",
    "Dana Roy",
    "eve.ortiz@example.org",
    "",
]


def generate_book(rows: int, seed: int, *, title: str = "Store rollout plan") -> Spreadsheet:
    """A deterministic plan with `rows` task rows on the "Plan" tab, under a title row.

    Rows depend on earlier rows (row ids and the odd Jira key), about one in twenty is a
    milestone, and dates are real date cells so they are served as serial numbers.
    """
    rng = random.Random(seed)
    book = Spreadsheet(title)
    plan = book.add_sheet("Plan", [[f"{title} (generated, seed {seed})"], PLAN_HEADER])
    start0 = date(2026, 1, 5)
    for i in range(1, rows + 1):
        start = start0 + timedelta(days=rng.randrange(0, 300))
        due = start + timedelta(days=rng.randrange(1, 60))
        depends: list[str] = []
        if i > 1 and rng.random() < 0.4:
            depends.append(f"PL-{rng.randrange(max(1, i - 50), i)}")
        if rng.random() < 0.05:
            depends.append(f"OPS-{rng.randrange(1, 500)}")
        milestone = rng.random() < 0.05
        plan.append(
            [
                f"PL-{i}",
                f"Task {i}: {rng.choice(['prepare', 'review', 'order', 'sign off', 'install'])}"
                f" {rng.choice(['budget', 'lease', 'fixtures', 'staffing', 'campaign'])}",
                rng.choice(STATUSES),
                rng.choice(PEOPLE),
                start,
                due,
                ", ".join(depends),
                rng.choice(DEPARTMENTS),
                "Milestone" if milestone else "Task",
                "yes" if milestone else "",
            ]
        )
    book.add_sheet("Notes", [["Free text notes; no table here."]])
    return book
