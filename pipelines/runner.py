"""Runs the nightly job in-process for the CLI: the same Dagster job the schedule runs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg

from handoff.config import load_config
from handoff.lock import sync_lock
from handoff.redact import redact
from model.build import SourceOutcome, remove_stale_builds
from pipelines.definitions import build_definitions
from pipelines.defs.exceptions import EXCEPTIONS_KEY, RULES_NOT_EVALUATED
from pipelines.defs.run_time import NOW_TAG
from pipelines.defs.schedules import JOB_NAME
from pipelines.defs.sources import FULL_TAG, source_key
from pipelines.run_state import load_outcomes


@dataclass
class SyncReport:
    run_id: str
    success: bool
    outcomes: dict[str, SourceOutcome] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    published: bool = False
    rules_not_evaluated: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> bool:
        """The run succeeded but skipped something a reader must know about."""
        return self.success and bool(self.rules_not_evaluated)


def _rules_not_evaluated(event: Any) -> list[str] | None:
    """The skipped rules recorded in the `exceptions` materialization's metadata, if this is it."""
    if event.event_type_value != "ASSET_MATERIALIZATION" or event.asset_key != EXCEPTIONS_KEY:
        return None
    entry = event.step_materialization_data.materialization.metadata.get(RULES_NOT_EVALUATED)
    return [str(v) for v in entry.value] if entry is not None else []


# "dagster._core.definitions.events.Failure: ", "RuntimeError: ": class names say nothing to users
_CLASS_PREFIX = re.compile(
    r"^(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Failure|Interrupt)\w*: "
)


def _root_message(error: Any) -> str:
    """The innermost error's first line: what actually went wrong, not Dagster's wrapper."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return _CLASS_PREFIX.sub("", str(error.message).strip().splitlines()[0])


def _instance() -> dg.DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (run history), else an ephemeral one."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_sync(
    config_file: Path,
    *,
    full: bool = False,
    sources: list[str] | None = None,
    now: datetime | None = None,
    wait_seconds: float = 0,
    log_level: str = "CRITICAL",
) -> SyncReport:
    """Run `nightly_sync` (optionally for some sources only) under the sync lock."""
    config = load_config(config_file)  # fails early, naming any unset secret
    for name in sources or []:
        config.source(name)  # raises a ConfigError naming the unknown source
    defs = build_definitions(config, str(config_file.resolve()))
    job = defs.resolve_job_def(JOB_NAME)
    tags = {FULL_TAG: "true" if full else "false"}
    if now is not None:
        tags[NOW_TAG] = now.isoformat()
    selection = None
    if sources:
        others = [source_key(s.name) for s in config.sources if s.name not in sources]
        selection = [k for k in defs.resolve_all_asset_keys() if k not in others]
    published_before = (
        config.database_path.stat().st_mtime_ns if config.database_path.exists() else None
    )
    with sync_lock(config.path(config.data_dir), wait_seconds=wait_seconds):
        remove_stale_builds(config)
        result = job.execute_in_process(
            instance=_instance(),
            tags=tags,
            raise_on_error=False,
            asset_selection=selection,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    report = SyncReport(run_id=result.run_id, success=result.success)
    report.outcomes = load_outcomes(config, result.run_id)
    for event in result.all_events:
        if event.is_step_failure and event.step_key:
            report.failed_steps.append(event.step_key)
            data = event.step_failure_data
            if data and data.error:
                report.errors.append(redact(f"{event.step_key}: {_root_message(data.error)}"))
        skipped = _rules_not_evaluated(event)
        if skipped is not None:
            report.rules_not_evaluated = skipped
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            check: Any = event.event_specific_data
            if not check.passed:
                report.errors.append(f"check {check.check_name} failed: {check.description}")
    after = config.database_path.stat().st_mtime_ns if config.database_path.exists() else None
    report.published = after is not None and after != published_before
    return report
