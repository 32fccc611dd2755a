"""How the CLI prints results: tables, CSV, JSON and the sync summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from handoff.config import load_config
from handoff.redact import redact

if TYPE_CHECKING:
    from pipelines.runner import SyncReport


MAX_SHOWN_CHARS = 300  # a cell or message longer than this is cut: one line stays one line


def shorten(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def user_text(value: object, limit: int = 4000) -> str:
    """Text from data or errors made safe to print: secrets masked, length bounded, and
    square brackets escaped so Rich prints them instead of reading them as markup."""
    return escape(shorten(redact(value), limit))


# A spreadsheet opening the CSV runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, prefixed with `'` so it stays text.

    Numbers are left alone: -5 is data, not a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_line(values: list[Any] | tuple[Any, ...]) -> str:
    """One RFC 4180 record with a Unix line end; a field holding a comma, quote, CR or LF is
    quoted (Python 3.11's csv module leaves a lone CR unquoted, which breaks the row)."""
    fields = []
    for value in values:
        text = "" if value is None else str(value)
        if any(c in text for c in ',"\r\n'):
            text = '"' + text.replace('"', '""') + '"'
        fields.append(text)
    return ",".join(fields) + "\n"


def print_rows(
    columns: list[str],
    rows: list[tuple[Any, ...]],
    fmt: str,
    limit: int,
    *,
    raw_csv: bool = False,
) -> None:
    if fmt == "csv":
        cell = (lambda v: v) if raw_csv else neutralise_cell
        sys.stdout.write(csv_line([cell(c) for c in columns]))
        for row in rows:
            sys.stdout.write(csv_line([cell(v) for v in row]))
    elif fmt == "json":
        json.dump(
            [dict(zip(columns, r, strict=True)) for r in rows], sys.stdout, default=str, indent=1
        )
        sys.stdout.write("\n")
    else:
        table = Table(*columns, show_lines=False)
        for row in rows[:limit]:
            table.add_row(*("" if v is None else escape(shorten(str(v))) for v in row))
        out = Console()
        out.print(table)
        if len(rows) > limit:
            out.print(f"… {len(rows) - limit} more rows (use --limit or --format csv)")


def headline(database: Path) -> dict[str, Any]:
    """Figures from the published database for the end-of-run summary."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        return {
            "items": dict(
                q(
                    "SELECT source, count(*) FROM work_items WHERE NOT is_deleted GROUP BY 1 ORDER BY 1"
                )
            ),
            "dependencies": q(
                "SELECT count(*), count(*) FILTER (WHERE is_cross_department), "
                "count(*) FILTER (WHERE NOT is_resolved) FROM dependencies"
            )[0],
            "open": dict(q("SELECT severity, count(*) FROM open_exceptions GROUP BY 1")),
            "classification": dict(
                q("SELECT classification, count(*) FROM open_exceptions GROUP BY 1")
            ),
            "rejected": dict(
                q("SELECT source, count(*) FROM rejected_records GROUP BY 1 ORDER BY 1")
            ),
        }
    finally:
        con.close()


def print_sync_summary(console: Console, config_file: Path, report: SyncReport) -> None:
    config = load_config(config_file, require_env=False)
    for name, outcome in sorted(report.outcomes.items()):
        if outcome.status == "success":
            console.print(
                f"  [green]✓[/] {name}: {outcome.changed} changed, {outcome.deleted} deleted, "
                f"{outcome.requests} requests, {outcome.seconds:.1f}s"
            )
        else:
            console.print(
                f"  [red]✗[/] {escape(name)}: {user_text(outcome.error)} — kept its last good data"
            )
    for error in report.errors:
        console.print(f"  [red]{user_text(error)}[/]", highlight=False)
    print_rules_not_evaluated(console, report.rules_not_evaluated)
    if not config.database_path.exists():
        console.print("[red]no database was published[/]")
        return
    figures = headline(config.database_path)
    total_items = sum(figures["items"].values())
    deps, cross, unresolved = figures["dependencies"]
    opened = figures["open"]
    console.print(
        f"model: {total_items} items from {len(figures['items'])} sources, {deps} dependencies "
        f"({cross} cross-department, {unresolved} unmapped)"
    )
    console.print(
        "open findings: "
        + ", ".join(f"{opened.get(s, 0)} {s}" for s in ("fail", "warn", "info"))
        + f" — {figures['classification'].get('surprise', 0)} surprise, "
        f"{figures['classification'].get('planned', 0)} planned"
    )
    rejected = sum(figures["rejected"].values())
    if rejected:
        per_source = ", ".join(f"{s}: {n}" for s, n in figures["rejected"].items())
        console.print(
            f"[yellow]warning:[/] {rejected} rows rejected ({per_source}); see "
            '`handoff sql "select * from rejected_records"`'
        )
    state = "published" if report.published else "NOT published (previous database kept)"
    console.print(f"database {state}: {config.database_path}")
    console.print(f"report: {config.path(config.report.html)}")


def print_rules_not_evaluated(console: Console, problems: list[str]) -> None:
    """Every rule the evaluation skipped, with its file, field and reason (printed verbatim)."""
    if not problems:
        return
    console.print(
        f"[yellow]warning:[/] {len(problems)} rule problem(s); these rules were not evaluated "
        "and their open findings carry over unchanged:"
    )
    for problem in problems:
        console.print(f"  {shorten(redact(problem), 4000)}", markup=False, highlight=False)


def print_stopped(
    console: Console, config_file: Path, report: SyncReport, signal_name: str
) -> None:
    """What a stopped sync kept, and how to go on."""
    done = sorted(n for n, o in report.outcomes.items() if o.status == "success")
    stopped = sorted(n for n, o in report.outcomes.items() if o.status != "success")
    console.print(f"[yellow]sync stopped by {signal_name}[/]: the published database is unchanged")
    if done:
        console.print(f"  kept: {', '.join(done)} (fetched completely into their raw stores)")
    if stopped:
        console.print(
            f"  stopped: {', '.join(stopped)}; they keep their last good data (landed pages "
            "are kept from the next version)"
        )
    console.print(f"  to resume, run: handoff sync --config {config_file}")
