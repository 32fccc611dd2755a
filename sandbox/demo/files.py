"""Writes story items as the spreadsheets departments keep (CSV, xlsx, Google Sheets rows)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from sandbox.demo.story import StoryItem

HEADER = ["ID", "Task", "Status", "Owner", "Due", "Depends on", "Type", "Milestone"]


def plan_rows(
    items: Sequence[StoryItem], today: date, show_date: Callable[[date], Any]
) -> list[list[Any]]:
    """One row per item under HEADER; `show_date` decides how a due date is written."""
    rows: list[list[Any]] = []
    for item in items:
        due = None if item.due_in_days is None else today + timedelta(days=item.due_in_days)
        rows.append(
            [
                item.key,
                item.title,
                item.status,
                item.owner or "",
                "" if due is None else show_date(due),
                ", ".join(item.depends_on),
                item.item_type,
                "yes" if item.milestone else "",
            ]
        )
    return rows


def write_csv(
    path: Path,
    items: Sequence[StoryItem],
    today: date,
    *,
    date_format: str = "%d.%m.%Y",
    delimiter: str = ";",
    encoding: str = "utf-8-sig",
) -> Path:
    """A CSV the way European spreadsheet exports look: BOM, semicolons, day-first dates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(HEADER)
        writer.writerows(plan_rows(items, today, lambda d: d.strftime(date_format)))
    return path


def write_xlsx(
    path: Path, sheets: dict[str, Sequence[StoryItem]], today: date, *, title: str = ""
) -> Path:
    """An Excel plan with a title row above the header and real date cells."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for name, items in sheets.items():
        sheet = book.create_sheet(name)
        if title:
            sheet.append([title])
            sheet.append([])
        sheet.append(HEADER)
        for row in plan_rows(items, today, lambda d: d):
            sheet.append(row)
    book.save(path)
    return path
