"""The `handoff` command line: every command runs the same code as the Dagster job."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from handoff.errors import HandoffError
from pipelines import cli_rules, cli_sandbox, cli_writeback
from pipelines.cli_output import (
    print_rows,
    print_rules_not_evaluated,
    print_sync_summary,
    user_text,
)

app = typer.Typer(
    help="Handoff: expose cross-tool handoffs and stalled dependencies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(cli_rules.app, name="rules")
app.add_typer(cli_sandbox.app, name="sandbox")
app.command(name="writeback")(cli_writeback.writeback)
console = Console(stderr=True, soft_wrap=True)  # one finding or figure per line, never wrapped

# Exit codes of every command (documented in README's CLI section).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # bad arguments, configuration or input: nothing ran
EXIT_WARNINGS = 4  # completed, but some rules were not evaluated

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="HANDOFF_CONFIG", help="Path of handoff.yaml."),
]


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("handoff.yaml"),
    force: bool = typer.Option(False, help="Overwrite an existing file."),
) -> None:
    """Write a commented handoff.yaml template to start from."""
    from handoff.template import CONFIG_TEMPLATE

    if path.exists() and not force:
        raise HandoffError(f"{path} exists; pass --force to overwrite it")
    path.write_text(CONFIG_TEMPLATE)
    console.print(f"wrote {path} — edit the sources, then run `handoff doctor` and `handoff sync`")


@app.command()
def sync(
    config: ConfigOption = Path("handoff.yaml"),
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
    full: bool = typer.Option(
        False, "--full", help="Refetch everything instead of changes since the last sync."
    ),
    wait: float | None = typer.Option(
        None,
        help="Seconds to wait for another run's lock before giving up "
        "(default: sync.lock_wait_seconds).",
    ),
) -> None:
    """Fetch the sources, rebuild the model, evaluate the rules, publish and write the report."""
    from handoff.config import load_config

    load_config(config)  # config errors surface before the orchestrator loads
    from pipelines.progress import sync_progress
    from pipelines.runner import run_sync

    with sync_progress(console):
        report = run_sync(config, full=full, sources=source, wait_seconds=wait)
    print_sync_summary(console, config, report)
    if not report.success:
        raise typer.Exit(EXIT_FAILED)
    if report.warnings:
        console.print("[yellow]sync completed with warnings[/]")
        raise typer.Exit(EXIT_WARNINGS)


@app.command()
def check(config: ConfigOption = Path("handoff.yaml")) -> None:
    """Re-evaluate the rules on the published model (no fetch), e.g. after editing rules or waivers."""
    from pipelines.evaluate_only import evaluate_published

    result = evaluate_published(config)
    console.print(f"findings: {result.summary()}")
    print_rules_not_evaluated(console, [str(p) for p in result.problems])
    if result.problems:
        console.print("[yellow]check completed with warnings[/]")
        raise typer.Exit(EXIT_WARNINGS)


@app.command()
def report(
    config: ConfigOption = Path("handoff.yaml"),
    format: Annotated[Literal["html", "md", "json"], typer.Option("--format", "-f")] = "html",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default from the config).")
    ] = None,
    department: Annotated[
        str | None, typer.Option("--department", help="Write one department's page only.")
    ] = None,
) -> None:
    """Write the exception report from the published model."""
    from handoff.config import load_config
    from rules.report.data import ReportSettings
    from rules.report.render import write_report

    cfg = load_config(config, require_env=False)
    default = {"html": cfg.report.html, "md": cfg.report.markdown, "json": cfg.report.json_path}[
        format
    ]
    try:
        path = write_report(
            cfg.database_path,
            out or cfg.path(default),
            format,
            settings=ReportSettings.from_config(cfg),
            department=department,
            mode=cfg.report.file_mode,
        )
    except ValueError as exc:
        console.print(f"[red]report: {exc}[/]")
        raise typer.Exit(EXIT_USAGE) from None
    console.print(f"wrote {path}")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query over the published model.")],
    config: ConfigOption = Path("handoff.yaml"),
    format: Annotated[Literal["table", "csv", "json"], typer.Option("--format", "-f")] = "table",
    limit: int = typer.Option(200, help="Rows shown in table format."),
    timeout: float = typer.Option(60, min=0.1, help="Seconds after which the query is stopped."),
    raw_csv: bool = typer.Option(
        False,
        "--raw-csv",
        help="Write CSV cells as they are (by default a cell starting with = + - @ is "
        "prefixed with ' so that a spreadsheet does not run it as a formula).",
    ),
) -> None:
    """Query the published database read-only (it never blocks a running sync).

    The query runs locked: one SELECT, no file access, no ATTACH/COPY/EXPORT/INSTALL/LOAD.
    """
    from handoff.config import load_config
    from pipelines.analyst_sql import run_analyst_query

    cfg = load_config(config, require_env=False)
    if not cfg.database_path.exists():
        raise HandoffError(
            f"{cfg.database_path}: no published database yet; run `handoff sync` first"
        )
    columns, rows = run_analyst_query(cfg.database_path, query, seconds=timeout)
    print_rows(columns, rows, format, limit, raw_csv=raw_csv)


@app.command()
def waive(
    exception_id: Annotated[str, typer.Argument(help="The finding's exception_id.")],
    until: Annotated[
        str, typer.Option(help="Expiry date YYYY-MM-DD; the finding reopens after it.")
    ],
    reason: Annotated[str, typer.Option(help="Why the finding is accepted for now.")],
    config: ConfigOption = Path("handoff.yaml"),
) -> None:
    """Waive a finding until a date (recorded in the waivers file, applied by the next sync/check)."""
    from handoff.config import load_config
    from rules.engine import add_waiver

    try:
        expiry = date.fromisoformat(until)
    except ValueError:
        raise HandoffError(f"--until: {until!r} is not a date like 2026-12-31") from None
    cfg = load_config(config, require_env=False)
    add_waiver(cfg, exception_id, expiry, reason)
    console.print(f"waived {exception_id} until {expiry}; run `handoff check` to apply it now")


@app.command()
def doctor(config: ConfigOption = Path("handoff.yaml")) -> None:
    """Check the config, each source's credentials and reach, the database and the Dagster home."""
    from pipelines.doctor import run_doctor

    if not run_doctor(config, console):
        raise typer.Exit(1)


@app.command()
def demo(
    dir: Annotated[
        Path, typer.Option("--dir", help="Where the demo writes its config, data and report.")
    ] = Path("."),
    open_report: bool = typer.Option(False, "--open", help="Open the report in a browser."),
    serve: bool = typer.Option(
        False, "--serve", help="Keep the sandbox servers running afterwards."
    ),
) -> None:
    """Run the whole pipeline on the demo organisation and write the database and the report."""
    from pipelines.demo import run_demo

    if not run_demo(dir, console, open_report=open_report, serve=serve):
        raise typer.Exit(1)


def main() -> None:
    """Entry point: user errors print one clear message, never a traceback."""
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    try:
        app()
    except HandoffError as err:
        console.print(f"[bold red]error:[/] {user_text(err)}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
