"""Runs the nightly job in-process for the CLI: the same Dagster job the schedule runs.

The job's own asset code takes the data directory's locks (see `pipelines.defs.locking`), so the
CLI needs no lock of its own: it waits for, and is waited for by, every other run alike."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg

from handoff.config import load_config
from handoff.redact import redact
from model.build import SourceOutcome
from pipelines.definitions import build_definitions
from pipelines.defs.exceptions import EXCEPTIONS_KEY, RULES_NOT_EVALUATED
from pipelines.defs.locking import LOCK_WAIT_TAG, STARTED_BY_TAG
from pipelines.defs.run_time import NOW_TAG
from pipelines.defs.schedules import JOB_NAME, executor_run_config
from pipelines.defs.sources import FULL_TAG, source_key
from pipelines.reconstruct import reconstructable_job
from pipelines.run_state import load_outcomes

T = TypeVar("T")


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


@contextmanager
def _instance() -> Iterator[dg.DagsterInstance]:
    """The persistent instance when DAGSTER_HOME is set (run history), else a throwaway one in a
    temporary folder (step processes of a multiprocess run must reach the same event log)."""
    if os.environ.get("DAGSTER_HOME"):
        yield dg.DagsterInstance.get()
        return
    with (
        tempfile.TemporaryDirectory(prefix="handoff-dagster-") as home,
        dg.DagsterInstance.local_temp(home) as instance,
    ):
        yield instance


def _wait(running: Future[T]) -> T:
    """The result, waiting in short steps so signal handlers run promptly on the main thread."""
    while True:
        try:
            return running.result(timeout=0.2)
        except FuturesTimeout:
            continue


def run_sync(
    config_file: Path,
    *,
    full: bool = False,
    sources: list[str] | None = None,
    now: datetime | None = None,
    wait_seconds: float | None = None,
    log_level: str = "CRITICAL",
) -> SyncReport:
    """Run `nightly_sync` (optionally for some sources only); `wait_seconds` overrides
    sync.lock_wait_seconds for this run."""
    config = load_config(config_file)  # fails early, naming any unset secret
    for name in sources or []:
        config.source(name)  # raises a ConfigError naming the unknown source
    defs = build_definitions(config, str(config_file.resolve()))
    job = defs.resolve_job_def(JOB_NAME)
    tags = {FULL_TAG: "true" if full else "false", STARTED_BY_TAG: "handoff sync"}
    if wait_seconds is not None:
        tags[LOCK_WAIT_TAG] = str(wait_seconds)
    if now is not None:
        tags[NOW_TAG] = now.isoformat()
    selection = None
    if sources:
        others = [source_key(s.name) for s in config.sources if s.name not in sources]
        selection = [k for k in defs.resolve_all_asset_keys() if k not in others]
    published_before = (
        config.database_path.stat().st_mtime_ns if config.database_path.exists() else None
    )
    run_config = {
        **executor_run_config(config),
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }
    with _instance() as instance:

        def execute() -> tuple[Any, list[Any]]:  # (the run's result, its events)
            if config.sync.executor == "in_process":
                done = job.execute_in_process(
                    instance=instance,
                    tags=tags,
                    raise_on_error=False,
                    asset_selection=selection,
                    run_config=run_config,
                )
                return done, list(done.all_events)
            # every step in a process of its own, each rebuilding the job from the config
            with dg.execute_job(
                reconstructable_job(str(config_file.resolve())),
                instance=instance,
                tags=tags,
                raise_on_error=False,
                asset_selection=selection,
                run_config=run_config,
            ) as finished:
                return finished, list(finished.all_events)

        # Off the main thread, Dagster leaves the signal handlers alone: Ctrl-C and SIGTERM
        # reach the command's own handlers, which stop the run cleanly.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync") as runner:
            result, events = _wait(runner.submit(execute))
        report = SyncReport(run_id=result.run_id, success=result.success)
        report.outcomes = load_outcomes(instance, result.run_id)
    for event in events:
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
