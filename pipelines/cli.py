"""The `handoff` command line: every command runs the same code as the Dagster job."""

from __future__ import annotations

import logging
import os
import re
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Literal

import typer
import typer.main
from rich.markup import escape
from typer._click import exceptions as click  # the click that typer vendors and raises

from handoff.dotenv import load_dotenv
from handoff.errors import HandoffError
from handoff.process_exit import skip_collection_at_exit
from pipelines import cli_rules, cli_sandbox, cli_waive, cli_writeback
from pipelines.cli_output import (
    headline,
    make_console,
    print_rules_not_evaluated,
    print_stopped,
    print_sync_summary,
    user_text,
)

app = typer.Typer(
    help="Handoff: expose cross-tool handoffs and stalled dependencies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: no <bool>/<path> type tags, no boxes in logs
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(cli_rules.app, name="rules")
app.add_typer(cli_sandbox.app, name="sandbox")
app.add_typer(cli_waive.app, name="waive")
app.command(name="writeback")(cli_writeback.writeback)
console = make_console(stderr=True)  # one finding or figure per line, never wrapped

# Exit codes of every command (documented in README's CLI section).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # bad arguments, configuration or input: nothing ran
EXIT_FINDINGS = 3  # completed, with open findings at or above --fail-on
EXIT_WARNINGS = 4  # completed, but some rules were not evaluated
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT); 143 when terminated (SIGTERM)

FailOnOption = Annotated[
    Literal["fail", "warn"] | None,
    typer.Option(
        "--fail-on",
        metavar="fail|warn",
        help="Exit 3 when open findings of this severity or worse remain (fail, or warn: "
        "warn and fail).",
        show_default=False,
    ),
]
FAILING = {"fail": ("fail",), "warn": ("fail", "warn")}


def findings_at(fail_on: str | None, open_by_severity: dict[str, int]) -> int:
    """How many open findings reach the --fail-on level (0 without --fail-on)."""
    return sum(open_by_severity.get(s, 0) for s in FAILING.get(fail_on or "", ()))


ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", envvar="HANDOFF_CONFIG", metavar="PATH", help="Path of handoff.yaml."
    ),
]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"handoff {version('handoff')}")
        except PackageNotFoundError:
            print("handoff (not installed)")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_print_version,
        help="Print the version and exit.",
    ),
) -> None:
    """Handoff: expose cross-tool handoffs and stalled dependencies."""


def _exit_on_findings(fail_on: str | None, open_by_severity: dict[str, int]) -> None:
    count = findings_at(fail_on, open_by_severity)
    if count:
        console.print(f"[red]{count} open finding(s) at --fail-on {fail_on} or worse[/]")
        raise typer.Exit(EXIT_FINDINGS)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Where to write the config.")] = Path(
        "handoff.yaml"
    ),
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
        list[str] | None,
        typer.Option("--source", "-s", metavar="NAME", help="Only this source (repeatable)."),
    ] = None,
    full: bool = typer.Option(
        False, "--full", help="Refetch everything instead of changes since the last sync."
    ),
    wait: float | None = typer.Option(
        None,
        metavar="SECONDS",
        help="Seconds to wait for another run's lock before giving up "
        "(default: sync.lock_wait_seconds).",
    ),
    progress_every: float = typer.Option(
        10,
        min=0.1,
        metavar="SECONDS",
        help="Seconds between progress lines when output is not a terminal.",
    ),
    fail_on: FailOnOption = None,
) -> None:
    """Fetch the sources, rebuild the model, evaluate the rules, publish and write the report.

    Ctrl-C or SIGTERM stops at the next page boundary and publishes nothing half-done (exit 130
    or 143); a second Ctrl-C exits at once.
    """
    from handoff.config import load_config

    load_config(config)  # config errors surface before the orchestrator loads
    from handoff.interrupt import INTERRUPT
    from pipelines.progress import sync_progress
    from pipelines.runner import run_sync
    from pipelines.signals import exit_code, graceful_stop

    with graceful_stop(), sync_progress(console, every=progress_every):
        report = run_sync(config, full=full, sources=source, wait_seconds=wait)
    print_sync_summary(console, config, report)
    if INTERRUPT.requested:
        print_stopped(console, config, report, INTERRUPT.signal_name or "a signal")
        raise typer.Exit(exit_code(INTERRUPT.signal_name))
    if not report.success:
        raise typer.Exit(EXIT_FAILED)
    if fail_on and report.published:
        _exit_on_findings(
            fail_on, headline(load_config(config, require_env=False).database_path)["open"]
        )
    if report.warnings:
        console.print("[yellow]sync completed with warnings[/]")
        raise typer.Exit(EXIT_WARNINGS)


@app.command()
def check(config: ConfigOption = Path("handoff.yaml"), fail_on: FailOnOption = None) -> None:
    """Re-evaluate the rules on the published model (no fetch), e.g. after editing rules or waivers."""
    from pipelines.evaluate_only import evaluate_published

    result = evaluate_published(config)
    console.print(f"findings: {result.summary()}")
    print_rules_not_evaluated(console, [str(p) for p in result.problems])
    _exit_on_findings(
        fail_on, {"fail": result.open_fail, "warn": result.open_warn, "info": result.open_info}
    )
    if result.problems:
        console.print("[yellow]check completed with warnings[/]")
        raise typer.Exit(EXIT_WARNINGS)


@app.command()
def report(
    config: ConfigOption = Path("handoff.yaml"),
    format: Annotated[
        Literal["html", "md", "json"], typer.Option("--format", "-f", metavar="html|md|json")
    ] = "html",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Output file (default from the config)."),
    ] = None,
    department: Annotated[
        str | None,
        typer.Option("--department", metavar="NAME", help="Write one department's page only."),
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


def _query_text(query: str | None, file: Path | None) -> str:
    """The SQL from the argument, `--file`, or standard input (`-` as either)."""
    if (query is None) == (file is None):
        raise HandoffError("give the SQL as an argument, `-` for standard input, or --file PATH")
    if query is not None and query != "-":
        return query
    if query == "-" or str(file) == "-":
        return sys.stdin.read()
    assert file is not None
    try:
        return file.read_text(encoding="utf-8")
    except OSError as err:
        raise HandoffError(f"--file {file}: {err.strerror or err}") from None


@app.command()
def sql(
    query: Annotated[
        str | None,
        typer.Argument(
            help="Read-only SQL over the published model; several statements are run in "
            "order and each result printed. `-` reads it from standard input.",
            show_default=False,
            metavar="SQL",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", metavar="PATH", help="Read the SQL from this file (`-`: stdin)."),
    ] = None,
    config: ConfigOption = Path("handoff.yaml"),
    format: Annotated[
        Literal["table", "csv", "json", "parquet"],
        typer.Option(
            "--format",
            "-f",
            metavar="table|csv|json|parquet",
            help="Output format; parquet needs --out.",
        ),
    ] = "table",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Write to this file instead of stdout."),
    ] = None,
    vertical: bool = typer.Option(
        False, "--vertical", "-x", help="One record per row (the default when a table is too wide)."
    ),
    limit: int = typer.Option(200, metavar="ROWS", help="Rows shown in table format."),
    timeout: float = typer.Option(
        60, min=0.1, metavar="SECONDS", help="Seconds after which the query is stopped."
    ),
    raw_csv: bool = typer.Option(
        False,
        "--raw-csv",
        help="Write CSV cells as they are (by default a cell starting with = + - @ is "
        "prefixed with ' so that a spreadsheet does not run it as a formula).",
    ),
) -> None:
    """Query the published database read-only (it never blocks a running sync).

    Every statement runs locked: SELECTs only, no file access, no ATTACH/COPY/EXPORT/INSTALL/LOAD.
    """
    from handoff.config import load_config
    from pipelines import sql_output
    from pipelines.analyst_sql import run_analyst_queries

    text = _query_text(query, file)
    if format == "parquet" and out is None:
        raise HandoffError("--format parquet needs --out FILE")
    cfg = load_config(config, require_env=False)
    if not cfg.database_path.exists():
        raise HandoffError(
            f"{cfg.database_path}: no published database yet; run `handoff sync` first"
        )
    results = run_analyst_queries(
        cfg.database_path, text, seconds=timeout, as_arrow=format == "parquet"
    )
    if format == "parquet":
        assert out is not None
        sql_output.write_parquet(results, out)
        console.print(f"wrote {sum(r.arrow.num_rows for r in results if r.arrow)} rows to {out}")
        return
    with open(out, "w", encoding="utf-8", newline="") if out else nullcontext(sys.stdout) as target:
        if format == "csv":
            for index, result in enumerate(results):
                target.write("\n" if index else "")
                sql_output.write_csv(target, result, raw=raw_csv)
        elif format == "json":
            sql_output.write_json(target, results)
        else:
            sql_output.print_results(target, results, limit=limit, vertical=vertical)


@app.command()
def export(
    parquet: Annotated[
        Path,
        typer.Option(
            "--parquet", metavar="DIR", help="Folder for one Parquet file per table and view."
        ),
    ],
    config: ConfigOption = Path("handoff.yaml"),
) -> None:
    """Export the published model as Parquet files (for BI tools that cannot open the database)."""
    from handoff.config import load_config
    from model.export import export_parquet

    cfg = load_config(config, require_env=False)
    if not cfg.database_path.exists():
        raise HandoffError(
            f"{cfg.database_path}: no published database yet; run `handoff sync` first"
        )
    counts = export_parquet(cfg.database_path, parquet)
    console.print(
        f"wrote {len(counts)} Parquet files ({sum(counts.values()):,} rows) and model.sql "
        f"to {parquet}"
    )


@app.command()
def doctor(config: ConfigOption = Path("handoff.yaml")) -> None:
    """Check the config, each source's credentials and reach, the database and the Dagster home."""
    from pipelines.doctor import run_doctor

    if not run_doctor(config, console):
        raise typer.Exit(1)


@app.command()
def demo(
    dir: Annotated[
        Path,
        typer.Option(
            "--dir", metavar="DIR", help="Where the demo writes its config, data and report."
        ),
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


VALIDATOR_PHRASES = re.compile(r"(Value error|Assertion failed), ")
INVALID_VALUE = re.compile(r"Invalid value for '([^']+)'(?: / '[^']+')?: ")


def usage_text(err: click.ClickException) -> str:
    """A usage error in the CLI's words: `--option: what is wrong`, no validator's phrasing."""
    message = VALIDATOR_PHRASES.sub("", err.format_message())
    return INVALID_VALUE.sub(r"\1: ", message)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error printed once, as one clear line, never a traceback."""
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    skip_collection_at_exit()
    load_dotenv()  # the tokens and Dagster home `handoff demo` left in ./.env
    # Library loggers (connectors, model) would print each source error again through Python's
    # last-resort handler; the summary prints it once.
    logging.getLogger().addHandler(logging.NullHandler())
    args = cli_waive.as_subcommand(list(sys.argv[1:] if argv is None else argv))
    command = typer.main.get_command(app)
    try:
        code = command.main(args, prog_name="handoff", standalone_mode=False)
    except HandoffError as err:
        console.print(f"[bold red]error:[/] {user_text(err)}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
    except click.NoArgsIsHelpError as err:
        print(err.ctx.get_help() if err.ctx else "", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except click.UsageError as err:
        hint = f"\n(`{err.ctx.command_path} -h` for help)" if err.ctx else ""
        console.print(f"[bold red]error:[/] {escape(usage_text(err))}{hint}", highlight=False)
        sys.exit(EXIT_USAGE)
    except click.ClickException as err:
        console.print(f"[bold red]error:[/] {escape(usage_text(err))}", highlight=False)
        sys.exit(err.exit_code)
    except typer.Abort:
        console.print("interrupted", highlight=False)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
