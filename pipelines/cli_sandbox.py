"""`handoff sandbox serve|config`: local stand-ins for Jira, Asana and Google Sheets."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
import yaml
from rich.console import Console

from handoff.errors import HandoffError
from handoff.interrupt import INTERRUPT
from handoff.kinds import registered_kinds, resolve
from pipelines.signals import exit_code, stop_serving

if TYPE_CHECKING:
    from sandbox.generated import RunningSandbox

app = typer.Typer(
    help="Run the sandbox servers that follow the vendors' API contracts.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console()
STATE_FILE = Path(".handoff-sandbox.json")


def _ports(specs: list[str]) -> dict[str, int]:
    """`--port jira=8080` (repeatable) -> {"jira": 8080}; kinds without a sandbox are refused."""
    names = [kind.name for kind in registered_kinds() if kind.sandbox is not None]
    ports: dict[str, int] = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        if name.strip() not in names or not value.strip().isdigit():
            raise HandoffError(
                f"--port {spec!r}: expected KIND=PORT, KIND one of {', '.join(names)}"
            )
        ports[name.strip()] = int(value)
    return ports


def start_generated(
    *,
    size: int,
    seed: int,
    faults: str | None,
    tls: bool,
    deployment: Literal["cloud", "data_center"],
    ports: Mapping[str, int] | None = None,
) -> tuple[list[RunningSandbox], list[dict[str, Any]], dict[str, str]]:
    """Start the sandbox of every registered kind that has one, on a generated organisation;
    returns the servers, their source entries and the env vars those entries reference."""
    from sandbox.generated import GeneratedSettings, SandboxStarter
    from sandbox.server import Faults, test_ca_context

    fault_modes = Faults.parse(faults)
    context, bundle = (
        test_ca_context(tempfile.mkdtemp(prefix="handoff-ca-")) if tls else (None, None)
    )
    servers: list[RunningSandbox] = []
    sources: list[dict[str, Any]] = []
    env: dict[str, str] = {}
    try:
        for kind in registered_kinds():
            if kind.sandbox is None:
                continue
            try:
                starter: SandboxStarter = resolve(kind.sandbox)
            except ImportError as err:  # an optional dependency of this sandbox is missing
                console.print(f"no {kind.name} sandbox: {err}", highlight=False)
                continue
            started = starter(
                GeneratedSettings(
                    size=size,
                    seed=seed,
                    faults=fault_modes,
                    tls=context,
                    ca_bundle=bundle,
                    deployment=deployment,
                    port=(ports or {}).get(kind.name, 0),
                )
            )
            servers.append(started.server)
            if bundle:
                started.source["ca_bundle"] = bundle
            sources.append(started.source)
            env.update(started.env)
    except BaseException:
        for server in servers:
            server.stop()
        raise
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
        500, metavar="N", help="Jira issues to generate (Asana gets half, Sheets a tenth)."
    ),
    seed: int = typer.Option(7, metavar="N", help="Seed of the generated organisation."),
    faults: Annotated[
        str | None,
        typer.Option(metavar="SPEC", help="e.g. rate_limit_every=5,retry_after=date,slow_ms=20"),
    ] = None,
    tls: bool = typer.Option(False, help="Serve HTTPS with a locally generated test CA."),
    deployment: Annotated[
        Literal["cloud", "data_center"], typer.Option(metavar="cloud|data_center")
    ] = "cloud",
    port: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KIND=PORT",
            help="KIND=PORT, e.g. jira=8080 (repeatable); any free port otherwise.",
        ),
    ] = None,
) -> None:
    """Start the sandbox servers on 127.0.0.1 and keep them running (Ctrl-C stops them)."""
    ports = _ports(port or [])
    try:
        servers, sources, env = start_generated(
            size=size, seed=seed, faults=faults, tls=tls, deployment=deployment, ports=ports
        )
    except ValueError as err:
        raise HandoffError(f"--faults: {err}") from None
    try:
        with stop_serving():
            for server in servers:
                console.print(server.banner(), highlight=False, soft_wrap=True)
            write_private(STATE_FILE, json.dumps({"sources": sources, "env": env}))
            console.print(
                f"`handoff sandbox config > sandbox.yaml` writes a config for these servers; "
                f"export {' '.join(f'{k}=…' for k in env)} first (values above)"
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        console.print(f"stopped by {INTERRUPT.signal_name or 'SIGINT'}; sandbox servers shut down")
        raise typer.Exit(exit_code(INTERRUPT.signal_name)) from None
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
