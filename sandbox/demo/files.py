"""Writes story items as the spreadsheets departments keep (CSV and xlsx), for the demo and tests."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook

from sandbox.demo.story import StoryItem

HEADER = ["ID", "Task", "Status", "Owner", "Due", "Depends on", "Type", "Milestone"]


def _rows(items: Sequence[StoryItem], today: date, date_format: str) -> list[list[str]]:
    rows = []
    for item in items:
        due = (
            ""
            if item.due_in_days is None
            else (today + timedelta(days=item.due_in_days)).strftime(date_format)
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
        writer.writerows(_rows(items, today, date_format))
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
        for item in items:
            due = None if item.due_in_days is None else today + timedelta(days=item.due_in_days)
            sheet.append(
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
    book.save(path)
    return path
