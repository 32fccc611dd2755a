"""Formula cells saved without their result, found by reading a worksheet twice.

Reading values (`data_only`) gives None for a formula whose workbook was written by a program
that does not calculate (a script, an export) and never opened in Excel since; reading formulas
gives the formula text. Only where both are read can such a cell be told from an empty one, so
that a title computed by a formula is rejected with a reason instead of landing as NULL. The
second read only happens for worksheets that hold formulas at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import zip_longest
from typing import Any

from connectors.spreadsheet import UncachedFormula

FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
CHUNK = 1 << 16


def has_formulas(workbook: Any, worksheet: Any) -> bool:
    """Whether the worksheet's XML holds any formula (True when it cannot tell)."""
    archive = getattr(workbook, "_archive", None)
    member = getattr(worksheet, "_worksheet_path", None)
    if archive is None or member is None:
        return True
    tail = b""
    with archive.open(member) as xml:
        for chunk in iter(lambda: xml.read(CHUNK), b""):
            if FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-16:]
    return False


def formula_text(value: Any) -> str | None:
    """The formula a cell holds as openpyxl reads it (`=…` text or an array formula), or None."""
    from openpyxl.worksheet.formula import ArrayFormula

    if isinstance(value, str):
        return value if value.startswith("=") else None
    if isinstance(value, ArrayFormula):
        text = value.text or ""
        return text if text.startswith("=") else "=" + text
    return None


def mark_uncached(
    values: Iterable[Sequence[Any]], formulas: Iterable[Sequence[Any]]
) -> Iterator[Sequence[Any]]:
    """The value rows, with every empty cell that holds a formula replaced by UncachedFormula."""
    for row, formula_row in zip_longest(values, formulas, fillvalue=()):
        if None in row and formula_row:
            marked = list(row)
            for i, value in enumerate(row):
                text = formula_text(formula_row[i]) if i < len(formula_row) else None
                if value is None and text is not None:
                    marked[i] = UncachedFormula(text)
            row = marked
        yield row
