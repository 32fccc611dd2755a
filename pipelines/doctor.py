"""`handoff doctor`: every problem an ops team would otherwise find at 2 a.m., with its fix."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connectors.registry import check_source
from handoff.config import HandoffConfig, SourceBase, load_config
from handoff.errors import ConfigError
from handoff.redact import redact
from pipelines.cli_output import user_text


@dataclass
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


UNSET_VARIABLE = re.compile(r"environment variable (\w+) is not set")


def _config_fix(message: str) -> str:
    """An unset variable is fixed in the shell, not in the file; anything else in the file."""
    unset = list(dict.fromkeys(UNSET_VARIABLE.findall(message)))
    if unset:
        exports = "; ".join(f"export {name}=…" for name in unset)
        return (
            f"set the variable in the environment ({exports}) or as NAME=value in ./.env "
            "(`handoff demo` writes it there)"
        )
    return "fix the key named above in the config file"


def _config(path: Path) -> tuple[HandoffConfig | None, Finding]:
    try:
        config = load_config(path)
    except ConfigError as err:
        return None, Finding("config", False, str(err), _config_fix(str(err)))
    return config, Finding("config", True, f"{path}: {len(config.sources)} sources")


def _source(source: SourceBase) -> Finding:
    name = source.name
    try:
        detail = check_source(source)
    except Exception as err:  # doctor reports every failure, whatever its type
        message = redact(err)
        lowered = message.lower()
        if (
            "401" in message
            or "403" in message
            or "auth" in lowered
            or "token" in lowered
            or "credential" in lowered
        ):
            fix = f"check the credentials of source {name!r} (the token/credentials variable in the config)"
        elif "not found" in lowered or "no such file" in lowered:
            fix = f"check the path or id configured for source {name!r}"
        else:
            fix = f"check that {name!r} is reachable from this machine (url, proxy, CA bundle)"
        return Finding(f"source {name}", False, message, fix)
    return Finding(f"source {name}", True, detail)


def _database(config: HandoffConfig) -> Finding:
    path = config.database_path
    folder = path.parent
    if not folder.exists():
        try:
            folder.mkdir(parents=True)
        except OSError as err:
            return Finding("database", False, str(err), f"create {folder} or change `database:`")
    if not os.access(folder, os.W_OK):
        return Finding(
            "database", False, f"{folder} is not writable", "give the sync's user write access"
        )
    if path.exists():
        try:
            con = duckdb.connect(str(path), read_only=True)
            version = con.execute("SELECT max(schema_version) FROM schema_info").fetchone()
            con.close()
        except duckdb.Error as err:
            return Finding(
                "database", False, f"{path}: {err}", "move the file away; the next sync rebuilds it"
            )
        return Finding(
            "database", True, f"{path} (schema version {version[0] if version else '?'})"
        )
    return Finding("database", True, f"{path} (created by the first sync)")


def _dagster_home() -> Finding:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return Finding(
            "dagster home",
            True,
            "DAGSTER_HOME not set: `handoff sync` keeps no run history",
            "set DAGSTER_HOME=<repo>/dagster_home for run history and the schedule",
        )
    if not (Path(home) / "dagster.yaml").exists():
        return Finding(
            "dagster home",
            False,
            f"{home}/dagster.yaml is missing",
            "point DAGSTER_HOME at the repository's dagster_home/ folder",
        )
    return Finding("dagster home", True, home)


def run_doctor(config_path: Path, console: Console) -> bool:
    config, first = _config(config_path)
    findings = [first]
    if config is not None:
        findings += [_source(s) for s in config.sources if s.enabled]
        findings.append(_database(config))
    findings.append(_dagster_home())
    from pipelines.doctor_dagster import instance_findings  # imports Finding from here

    findings += instance_findings()
    table = Table("check", "status", "detail", "fix")
    for f in findings:
        table.add_row(
            escape(f.check),
            "[green]ok[/]" if f.ok else "[red]problem[/]",
            user_text(f.detail),
            escape(f.fix),
        )
    console.print(table)
    return all(f.ok for f in findings)
