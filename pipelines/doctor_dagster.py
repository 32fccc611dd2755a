"""`handoff doctor` on the Dagster instance: its storage answers, the daemon is alive, and the
schedule and the failure sensor are running. Each problem names its fix."""

from __future__ import annotations

import importlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import yaml

from pipelines.doctor import Finding

SCHEDULE = "nightly_sync_schedule"
SENSOR = "nightly_sync_failed"
HEARTBEAT_TOLERANCE_SECONDS = 300  # the daemon beats every 30 s
START_DAEMON = (
    "start the daemon: `dagster-daemon run -m pipelines.definitions` with this DAGSTER_HOME "
    "(handoff-daemon.service in docs/operations.md)"
)


def _resolve(value: Any) -> Any:
    """A dagster.yaml value, with `{env: NAME}` read from the environment."""
    if isinstance(value, dict) and set(value) == {"env"}:
        return os.environ.get(value["env"], "")
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    return value


def postgres_settings(home: Path) -> dict[str, Any] | None:
    """The PostgreSQL block of dagster.yaml (`storage: postgres:` or a Postgres run storage)."""
    settings = yaml.safe_load((home / "dagster.yaml").read_text()) or {}
    storage = settings.get("storage") or {}
    if "postgres" in storage:
        return dict(_resolve(storage["postgres"]) or {})
    run_storage = settings.get("run_storage") or {}
    if str(run_storage.get("module", "")).startswith("dagster_postgres"):
        return dict(_resolve(run_storage.get("config")) or {})
    return None


def postgres_url(settings: dict[str, Any]) -> str:
    if settings.get("postgres_url"):
        return str(settings["postgres_url"])
    db = settings.get("postgres_db") or {}
    scheme = db.get("scheme", "postgresql")
    return f"{scheme}://{db.get('username', '')}@{db.get('hostname', '')}:{db.get('port', 5432)}/{db.get('db_name', '')}"


def _postgres_problem(settings: dict[str, Any]) -> Finding | None:
    """Why Dagster could not open this PostgreSQL storage, checked before it tries (it retries)."""
    from sqlalchemy.engine import make_url

    check = "dagster storage"
    try:
        importlib.import_module("dagster_postgres")
    except ImportError:
        return Finding(
            check,
            False,
            "dagster.yaml uses PostgreSQL storage but dagster-postgres is not installed",
            "install it: `pip install 'handoff[postgres]'` (dagster-postgres and psycopg2)",
        )
    try:
        url = make_url(postgres_url(settings))
        url.get_dialect().import_dbapi()
    except ImportError as err:
        return Finding(
            check,
            False,
            f"the PostgreSQL driver of scheme {url.drivername!r} is not installed ({err})",
            "use the installed psycopg2 driver: a postgres_url starting `postgresql+psycopg2://`, "
            "or `scheme: postgresql+psycopg2` under postgres_db",
        )
    except Exception as err:  # an unparsable URL
        return Finding(check, False, f"postgres_url: {err}", "fix postgres_url in dagster.yaml")
    host, port = url.host or "localhost", url.port or 5432
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError:
        return Finding(
            check,
            False,
            f"PostgreSQL at {host}:{port} refused the connection",
            "start it or fix postgres_url",
        )
    except OSError as err:
        return Finding(
            check,
            False,
            f"PostgreSQL at {host}:{port} is unreachable: {err}",
            "check the host and firewall, or fix postgres_url",
        )
    return None


def _heartbeats(instance: Any) -> Finding:
    beats = instance.get_daemon_heartbeats()
    required = instance.get_required_daemon_types()
    now = time.time()
    missing = [d for d in required if d not in beats]
    if len(missing) == len(required):
        # A laptop or a CLI-only setup never runs one: `handoff sync` works without it. Only a
        # daemon that ran and went quiet is a problem (a stale heartbeat, below).
        return Finding(
            "dagster daemon",
            True,
            "no daemon has run on this instance: the schedule and the failure sensor wait for "
            "one (handoff sync works without it)",
            START_DAEMON,
        )
    stale = {
        d: now - beats[d].timestamp
        for d in required
        if d in beats and now - beats[d].timestamp > HEARTBEAT_TOLERANCE_SECONDS
    }
    if stale or missing:
        ages = ", ".join(f"{d} {age / 60:.0f} min ago" for d, age in stale.items())
        detail = f"last heartbeats: {ages}" if ages else ""
        detail += f"{'; ' if detail else ''}never seen: {', '.join(missing)}" if missing else ""
        return Finding(
            "dagster daemon", False, f"the daemon is not running ({detail})", START_DAEMON
        )
    newest = min(now - beats[d].timestamp for d in required)
    return Finding("dagster daemon", True, f"running (heartbeat {newest:.0f} s ago)")


def _automation(instance: Any) -> list[Finding]:
    stopped = {
        state.name
        for state in instance.all_instigator_state()
        if state.name in (SCHEDULE, SENSOR) and state.status.value == "STOPPED"
    }
    findings = []
    for kind, name in (("schedule", SCHEDULE), ("sensor", SENSOR)):
        if name in stopped:
            findings.append(
                Finding(
                    f"{kind} {name}",
                    False,
                    "stopped (in the UI or the CLI)",
                    f"start it in the UI (Automation) or with "
                    f"`dagster {kind} start {name} -m pipelines.definitions`",
                )
            )
        else:
            findings.append(Finding(f"{kind} {name}", True, "running"))
    return findings


def instance_findings() -> list[Finding]:
    """Open the Dagster instance under DAGSTER_HOME and report on it (nothing if unset)."""
    home = os.environ.get("DAGSTER_HOME")
    if not home or not (Path(home) / "dagster.yaml").exists():
        return []  # the dagster home check already says so
    try:
        settings = postgres_settings(Path(home))
    except yaml.YAMLError as err:
        return [Finding("dagster storage", False, f"{home}/dagster.yaml: {err}", "fix the YAML")]
    if settings is not None:
        problem = _postgres_problem(settings)
        if problem is not None:
            return [problem]
    import dagster as dg

    try:
        instance = dg.DagsterInstance.get()
    except Exception as err:  # doctor reports whatever stops Dagster from starting
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return [Finding("dagster storage", False, first, f"fix {home}/dagster.yaml")]
    try:
        kind = "PostgreSQL" if settings is not None else "sqlite files under DAGSTER_HOME"
        runs = instance.get_runs_count()
        findings = [Finding("dagster storage", True, f"{kind}: {runs} runs recorded")]
        return [*findings, _heartbeats(instance), *_automation(instance)]
    except Exception as err:
        first = str(err).strip().splitlines()[0]
        return [
            Finding("dagster storage", False, first, f"check the storage in {home}/dagster.yaml")
        ]
    finally:
        instance.dispose()
