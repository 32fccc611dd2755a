"""The Finance plan as a Google spreadsheet for the Sheets sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sandbox.demo.files import HEADER, plan_rows
from sandbox.demo.story import StoryItem
from sandbox.gsheets.book import Spreadsheet


def finance_book(items: Sequence[StoryItem], today: date) -> Spreadsheet:
    """A title row, then the plan; dates as the sheet shows them (ISO)."""
    rows: list[list[object]] = [["Finance — loyalty launch approvals"], [], list(HEADER)]
    rows += plan_rows(items, today, date.isoformat)
    book = Spreadsheet(title="Finance plan 2026")
    book.add_sheet("Approvals", rows)
    return book
