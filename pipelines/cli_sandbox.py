"""`handoff sandbox serve|config`: local stand-ins for Jira, Asana and Google Sheets."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import yaml
from rich.console import Console

from handoff.errors import HandoffError

app = typer.Typer(
    help="Run the sandbox servers that follow the vendors' API contracts.", no_args_is_help=True
)
console = Console()
STATE_FILE = Path(".handoff-sandbox.json")


def start_generated(
    *,
    size: int,
    seed: int,
    faults: str | None,
    tls: bool,
    deployment: str,
    jira_port: int = 0,
    asana_port: int = 0,
    sheets_port: int = 0,
) -> tuple[list[Any], list[dict[str, Any]], dict[str, str]]:
    """Start the three servers on a generated organisation; returns servers, sources and env."""
    from sandbox.asana import AsanaSandbox
    from sandbox.asana import generate_org as generate_asana
    from sandbox.jira import JiraSandbox
    from sandbox.jira import generate_org as generate_jira
    from sandbox.server import Faults, test_ca_context

    fault_modes = Faults.parse(faults)
    context, bundle = (
        test_ca_context(tempfile.mkdtemp(prefix="handoff-ca-")) if tls else (None, None)
    )
    jira = JiraSandbox(
        generate_jira(size, seed),
        deployment=deployment,  # type: ignore[arg-type]
        faults=fault_modes,
        port=jira_port,
        tls=context,
        ca_bundle=bundle,
    ).start()
    asana = AsanaSandbox(
        generate_asana(max(1, size // 2), seed), faults=fault_modes, port=asana_port, tls=context
    ).start()
    servers: list[Any] = [jira, asana]
    sources, env = [], {}
    for server, name, var in (
        (jira, "it-jira", "HANDOFF_JIRA_TOKEN"),
        (asana, "marketing-asana", "HANDOFF_ASANA_TOKEN"),
    ):
        entry, values = server.source_entry(name, var)
        if bundle:
            entry["ca_bundle"] = bundle
        sources.append(entry)
        env.update(values)
    try:
        from sandbox.gsheets import SheetsSandbox, generate_book

        book_id, book = "finance-budget", generate_book(max(10, size // 10), seed)
        sheets = SheetsSandbox(
            {book_id: book}, faults=fault_modes, port=sheets_port, tls=context
        ).start()
        creds = sheets.write_credentials()  # a private temporary file, deleted on stop
        entry, values = sheets.source_entry("finance-sheets", book_id, str(creds))
        sources.append(entry)
        env.update(values)
        servers.append(sheets)
    except ImportError:
        pass
    return servers, sources, env


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by its owner only: the file holds the sandbox tokens."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


@app.command()
def serve(
    size: int = typer.Option(
        500, help="Jira issues to generate (Asana gets half, Sheets a tenth)."
    ),
    seed: int = typer.Option(7, help="Seed of the generated organisation."),
    faults: Annotated[
        str | None, typer.Option(help="e.g. rate_limit_every=5,retry_after=date,slow_ms=20")
    ] = None,
    tls: bool = typer.Option(False, help="Serve HTTPS with a locally generated test CA."),
    deployment: Annotated[Literal["cloud", "data_center"], typer.Option()] = "cloud",
    jira_port: int = 0,
    asana_port: int = 0,
    sheets_port: int = 0,
) -> None:
    """Start the sandbox servers on 127.0.0.1 and keep them running (Ctrl-C stops them)."""
    try:
        servers, sources, env = start_generated(
            size=size,
            seed=seed,
            faults=faults,
            tls=tls,
            deployment=deployment,
            jira_port=jira_port,
            asana_port=asana_port,
            sheets_port=sheets_port,
        )
    except ValueError as err:
        raise HandoffError(f"--faults: {err}") from None
    for server in servers:
        console.print(server.banner(), highlight=False, soft_wrap=True)
    write_private(STATE_FILE, json.dumps({"sources": sources, "env": env}))
    console.print(
        f"`handoff sandbox config > sandbox.yaml` writes a config for these servers; "
        f"export {' '.join(f'{k}=…' for k in env)} first (values above)"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()
        STATE_FILE.unlink(missing_ok=True)


@app.command()
def config() -> None:
    """Print a handoff.yaml that points at the running sandbox servers."""
    if not STATE_FILE.exists():
        raise HandoffError("no sandbox is running here; start one with `handoff sandbox serve`")
    state = json.loads(STATE_FILE.read_text())
    names = ", ".join(state["env"]) or "none"
    print(
        f"# Sandbox config. Export the token variables first ({names}); "
        "`handoff sandbox serve` printed their values"
    )
    print(yaml.safe_dump({"version": 1, "sources": state["sources"]}, sort_keys=False))
