"""`handoff writeback`: print (dry run, the default) or make the comments findings call for."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from handoff.config import load_config
from handoff.errors import HandoffError


def writeback(
    config: Annotated[
        Path,
        typer.Option(
            "--config", "-c", envvar="HANDOFF_CONFIG", metavar="PATH", help="Path of handoff.yaml."
        ),
    ] = Path("handoff.yaml"),
    dry_run: Annotated[
        bool | None,
        typer.Option(
            "--dry-run/--apply",
            help="Print exactly what would be written (default unless every source has "
            "writeback.dry_run: false) or write it.",
        ),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME", help="Only this source (repeatable)."),
    ] = None,
) -> None:
    """Write open findings back as comments on the waiting items in Jira and Asana."""
    # the tools' clients load on use: every other command (and `--help`) starts without them
    from connectors.comment_clients import comment_clients
    from rules.writeback.flow import dry_by_default, run_writeback

    cfg = load_config(config)
    for name in source or []:
        cfg.source(name)
    clients = comment_clients(cfg, only=source)
    if not clients:
        raise HandoffError("no source has `writeback: {enabled: true}`; nothing to write")
    dry = dry_by_default(cfg, list(clients)) if dry_run is None else dry_run
    outcome = run_writeback(cfg, clients, dry_run=dry)
    typer.echo(outcome.text(dry))
    if outcome.refused:
        raise typer.Exit(4)
