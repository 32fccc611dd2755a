"""How the CLI prints results: tables, CSV, JSON and the sync summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from rich.console import Console
from rich.markup import escape

from handoff.config import load_config
from handoff.redact import redact

if TYPE_CHECKING:
    from pipelines.runner import SyncReport


NOT_A_TERMINAL_WIDTH = 1000  # logs and pipes get whole lines; a terminal gets its own width


def make_console(*, stderr: bool = False) -> Console:
    """A console that fits a terminal, and prints tables uncut to a file, pipe or log
    (Rich would otherwise assume 80 columns). COLUMNS, when set, wins."""
    probe = Console(stderr=stderr)
    if probe.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return Console(stderr=stderr, soft_wrap=True)
    return Console(stderr=stderr, soft_wrap=True, width=NOT_A_TERMINAL_WIDTH)


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


# Departments items carry that the config does not declare (only when it declares some).
UNDECLARED_DEPARTMENTS_SQL = """
SELECT department, count(*) FROM work_items
WHERE NOT is_deleted AND department IS NOT NULL
  AND department NOT IN (SELECT name FROM departments)
  AND EXISTS (SELECT 1 FROM departments)
GROUP BY 1 ORDER BY 2 DESC, 1
"""


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
            "undeclared_departments": q(UNDECLARED_DEPARTMENTS_SQL),
        }
    finally:
        con.close()


PLANNED_SURPRISE = (
    "planned: a declared contract covers the handoff (a known bottleneck); "
    "surprise: no contract covers it"
)


def print_sync_summary(console: Console, config_file: Path, report: SyncReport) -> None:
    """The run in one unit: items per source, then dependencies and findings of the model."""
    config = load_config(config_file, require_env=False)
    published = config.database_path.exists()
    figures = headline(config.database_path) if published else None
    for name, outcome in sorted(report.outcomes.items()):
        if outcome.status == "success":
            items = figures["items"].get(name, 0) if figures else "?"
            console.print(
                f"  [green]✓[/] {escape(name)}: {items} items ({outcome.changed} records fetched, "
                f"{outcome.deleted} deleted; {outcome.requests} requests, {outcome.seconds:.1f}s)"
            )
        else:
            console.print(
                f"  [red]✗[/] {escape(name)}: {user_text(outcome.error)} — kept its last good data"
            )
    shown = [o.error for o in report.outcomes.values() if o.error]
    for error in report.errors:
        if any(message in error for message in shown):
            continue  # a later step failing on a source's error: that line is printed above
        console.print(f"  [red]{user_text(error)}[/]", highlight=False)
    print_rules_not_evaluated(console, report.rules_not_evaluated)
    if figures is None:
        console.print("[red]no database was published[/]")
        return
    total_items = sum(figures["items"].values())
    deps, cross, unresolved = figures["dependencies"]
    opened = figures["open"]
    console.print(
        f"model: {total_items} items from {len(figures['items'])} sources, {deps} dependencies "
        f"({cross} cross-department, {unresolved} unmapped)"
    )
    console.print(
        f"findings: {sum(opened.values())} open ("
        + ", ".join(f"{opened.get(s, 0)} {s}" for s in ("fail", "warn", "info"))
        + f"): {figures['classification'].get('surprise', 0)} surprise, "
        f"{figures['classification'].get('planned', 0)} planned"
    )
    console.print(f"  ({PLANNED_SURPRISE})", highlight=False)
    undeclared = figures["undeclared_departments"]
    if undeclared:
        listed = ", ".join(
            f"{user_text(repr(name), 80)} ({n} items)" for name, n in undeclared[:10]
        )
        console.print(
            f"[yellow]warning:[/] {len(undeclared)} department(s) not declared in the config: "
            f"{listed}; declare them under `departments:` or list the spelling under a "
            "department's `aliases:`",
            highlight=False,
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
