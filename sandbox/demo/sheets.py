"""The Finance plan as a Google spreadsheet for the Sheets sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sandbox.demo.files import HEADER
from sandbox.demo.story import StoryItem
from sandbox.gsheets.book import Spreadsheet


def finance_book(items: Sequence[StoryItem], today: date) -> Spreadsheet:
    """A title row, then the plan; dates as the sheet shows them (ISO)."""
    rows: list[list[object]] = [["Finance — loyalty launch approvals"], [], list(HEADER)]
    for item in items:
        due = (
            ""
            if item.due_in_days is None
            else (today + timedelta(days=item.due_in_days)).isoformat()
        )
        rows.append(
            [
                item.key,
                item.title,
                item.status,
                item.owner or "",
                due,
                ", ".join(item.depends_on),
                item.item_type,
                "yes" if item.milestone else "",
            ]
        )
    book = Spreadsheet(title="Finance plan 2026")
    book.add_sheet("Approvals", rows)
    return book
