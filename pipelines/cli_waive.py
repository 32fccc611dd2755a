"""`handoff waive add|list|remove`: accepted findings, each with a reason, an expiry, who and when.

`handoff waive ID --until … --reason …` (the original form) still works: `main` reads it as
`waive add`.
"""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from handoff.config import load_config
from handoff.errors import HandoffError
from pipelines.cli_output import make_console, user_text

app = typer.Typer(
    help="Waive findings until a date, list the waivers, remove one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
SUBCOMMANDS = ("add", "list", "remove")
ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", envvar="HANDOFF_CONFIG", metavar="PATH", help="Path of handoff.yaml."
    ),
]


def _console() -> Console:
    return make_console(stderr=True)


def default_user() -> str:
    """The OS user who runs the command: who recorded the waiver, unless --by says otherwise."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@app.command("add")
def add(
    exception_id: Annotated[str, typer.Argument(metavar="ID", help="The finding's exception_id.")],
    until: Annotated[
        str,
        typer.Option(metavar="DATE", help="Expiry date YYYY-MM-DD; the finding reopens after it."),
    ],
    reason: Annotated[
        str, typer.Option(metavar="TEXT", help="Why the finding is accepted for now.")
    ],
    by: Annotated[
        str | None,
        typer.Option(metavar="WHO", help="Who accepts it (default: the current OS user)."),
    ] = None,
    replace: bool = typer.Option(False, "--replace", help="Overwrite an existing waiver."),
    config: ConfigOption = Path("handoff.yaml"),
) -> None:
    """Waive an open finding until a date (applied by the next `sync` or `check`)."""
    from rules.waivers import add_waiver, now_utc, validate_new_waiver

    try:
        expiry = date.fromisoformat(until)
    except ValueError:
        raise HandoffError(f"--until: {until!r} is not a date like 2026-12-31") from None
    cfg = load_config(config, require_env=False)
    finding = validate_new_waiver(cfg.database_path, exception_id, expiry, date.today())
    who = (by or default_user()).strip() or default_user()
    earlier = add_waiver(cfg, exception_id, expiry, reason, by=who, at=now_utc(), replace=replace)
    console = _console()
    if earlier is not None:
        console.print(
            f"replaced the waiver until {earlier.until} by {escape(earlier.by or 'unknown')}"
        )
    console.print(
        f"waived {exception_id} ({user_text(finding, 200)}) until {expiry} by {escape(who)}; "
        "run `handoff check` to apply it now"
    )


@app.command("list")
def list_waivers(config: ConfigOption = Path("handoff.yaml")) -> None:
    """List the waivers: finding, until, who, when, reason, and whether each still holds."""
    from rules.waivers import finding_status, load_waivers

    cfg = load_config(config, require_env=False)
    path = cfg.path(cfg.rules.waivers)
    waivers, problems = load_waivers(path)
    console = make_console()
    if not waivers:
        console.print(f"no waivers in {path}")
    else:
        table = Table("exception_id", "finding", "until", "by", "at", "state", "reason")
        today = date.today()
        published = cfg.database_path.exists()
        for w in waivers:
            found = finding_status(cfg.database_path, w.exception_id) if published else None
            table.add_row(
                w.exception_id,
                user_text(f"{found[1]}: {found[2]}", 120) if found else "(not in the model)",
                str(w.until),
                escape(w.by or ""),
                w.at.isoformat(sep=" ", timespec="minutes") if w.at else "",
                "active" if w.active(today) else "expired",
                user_text(w.reason, 300),
            )
        console.print(table)
    for problem in problems:
        _console().print(f"[red]problem:[/] {user_text(problem)}")
    if problems:
        raise typer.Exit(1)


@app.command("remove")
def remove(
    exception_id: Annotated[
        str, typer.Argument(metavar="ID", help="The finding whose waiver to delete.")
    ],
    config: ConfigOption = Path("handoff.yaml"),
) -> None:
    """Delete a waiver; the next `sync` or `check` reopens the finding if it is still found."""
    from rules.waivers import remove_waiver

    cfg = load_config(config, require_env=False)
    removed = remove_waiver(cfg, exception_id)
    _console().print(
        f"removed the waiver of {exception_id} (until {removed.until}); "
        "run `handoff check` to reopen the finding now"
    )


def as_subcommand(argv: list[str]) -> list[str]:
    """`waive ID --until …` (the original form) read as `waive add ID --until …`."""
    if len(argv) >= 2 and argv[0] == "waive" and argv[1] not in (*SUBCOMMANDS, "-h", "--help"):
        return ["waive", "add", *argv[1:]]
    return argv
