"""How `handoff sql` prints results: a table that fits, a record view when it does not, CSV and
JSON that other tools read back (arrays as JSON, booleans as true/false), and Parquet files."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from handoff.errors import HandoffError
from pipelines.analyst_sql import QueryResult
from pipelines.cli_output import csv_line, neutralise_cell, shorten

TABLE_PADDING = 3  # Rich's column separator and padding per column


def cell_text(value: Any) -> str:
    """One value as text that CSV readers and BI tools parse back: JSON for arrays, structs
    and maps; true/false; ISO dates; empty for NULL."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def write_csv(out: IO[str], result: QueryResult, *, raw: bool) -> None:
    neutral = (lambda v: v) if raw else neutralise_cell
    out.write(csv_line([neutral(c) for c in result.columns]))
    for row in result.rows:
        out.write(csv_line([cell_text(neutral(v)) for v in row]))  # numbers stay numbers


def json_rows(result: QueryResult) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def write_json(out: IO[str], results: Sequence[QueryResult]) -> None:
    """One statement: an array of records; several: an array of {statement, rows}."""
    data: Any = (
        json_rows(results[0])
        if len(results) == 1
        else [{"statement": r.statement, "rows": json_rows(r)} for r in results]
    )
    json.dump(data, out, default=_json_default, indent=1, ensure_ascii=False)
    out.write("\n")


def write_parquet(results: Sequence[QueryResult], path: Path) -> None:
    """The one result as a Parquet file (typed columns: lists stay lists, booleans booleans)."""
    import pyarrow.parquet as pq

    if len(results) != 1 or results[0].arrow is None:
        raise HandoffError(f"--format parquet writes one result; the query has {len(results)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(results[0].arrow, path)


def _shown(value: Any) -> str:
    return shorten(cell_text(value))


def table_width(result: QueryResult, limit: int) -> int:
    """Characters a table of the first `limit` rows needs, uncut."""
    widths = [len(c) for c in result.columns]
    for row in result.rows[:limit]:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(_shown(value)))
    return sum(widths) + TABLE_PADDING * len(widths) + 1


def terminal_width(stream: IO[str]) -> int | None:
    """The terminal's width, or None when the output goes to a file or pipe (nothing to fit)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if not stream.isatty():
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except OSError:
        return None


def print_records(out: IO[str], result: QueryResult, limit: int) -> None:
    """One block per row, one `column | value` line per column (like psql's \\x)."""
    name_width = max((len(c) for c in result.columns), default=0)
    for number, row in enumerate(result.rows[:limit], 1):
        out.write(f"-[ row {number} ]" + "-" * max(0, name_width - 6) + "\n")
        for column, value in zip(result.columns, row, strict=True):
            out.write(f"{column.ljust(name_width)} | {_shown(value)}\n")
    if not result.rows:
        out.write("(no rows)\n")


def print_table(out: IO[str], result: QueryResult, limit: int, width: int) -> None:
    table = Table(*(escape(c) for c in result.columns), show_lines=False)
    for row in result.rows[:limit]:
        table.add_row(*(escape(_shown(v)) for v in row))
    Console(file=out, width=width, soft_wrap=True).print(table)


def print_results(
    out: IO[str], results: Sequence[QueryResult], *, limit: int, vertical: bool
) -> None:
    """Each statement's result: a table when it fits the terminal, else (or with --vertical)
    one record per row, so no column is ever cut to `…`."""
    for index, result in enumerate(results):
        if len(results) > 1:
            out.write(("\n" if index else "") + f"-- {shorten(result.statement, 200)}\n")
        needed = table_width(result, limit)
        width = terminal_width(out)
        if vertical or (width is not None and needed > width):
            print_records(out, result, limit)
        else:
            print_table(out, result, limit, max(needed, width or 0))
        shown = min(len(result.rows), limit)
        more = len(result.rows) - shown
        if more > 0:
            out.write(f"… {more} more rows (use --limit, or --format csv for all)\n")
        elif len(result.rows) != 1:
            out.write(f"({len(result.rows)} rows)\n")
