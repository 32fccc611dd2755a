"""The data directory's locks as every run takes them, however it was started.

A scheduled run, a UI materialization (`__ASSET_JOB`), a backfill and `handoff sync` all execute
the same asset code, so they all take the same locks here: the fetch of a source holds its raw
store, the build and the publish hold the model. A run that finds a lock held waits
(`sync.lock_wait_seconds`, or the run tag below) and then fails naming the holder.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import dagster as dg

from handoff.config import HandoffConfig
from handoff.errors import SyncLockedError
from handoff.lock import source_lock, sync_lock
from model.build import RawLock, SourceOutcome
from model.fetch import fetch_source, utcnow

STARTED_BY_TAG = "handoff/started_by"  # set by `handoff sync`
LOCK_WAIT_TAG = "handoff/lock_wait_seconds"  # overrides sync.lock_wait_seconds for one run

Context = dg.AssetExecutionContext | dg.AssetCheckExecutionContext | dg.OpExecutionContext


def started_by(tags: Mapping[str, str]) -> str:
    """How the run was started, in the words an operator would use."""
    if "dagster/schedule_name" in tags:
        return f"scheduled by {tags['dagster/schedule_name']}"
    if "dagster/backfill" in tags:
        return f"backfill {tags['dagster/backfill']}"
    if "dagster/sensor_name" in tags:
        return f"requested by sensor {tags['dagster/sensor_name']}"
    return tags.get(STARTED_BY_TAG) or "launched from the UI or API"


def describe(context: Context, doing: str) -> str:
    run = context.run
    return f"{doing} for run {run.run_id[:8]} of {run.job_name} ({started_by(run.tags)})"


def wait_seconds(context: Context, config: HandoffConfig) -> float:
    tag = context.run.tags.get(LOCK_WAIT_TAG)
    return float(tag) if tag else config.sync.lock_wait_seconds


@contextmanager
def model_lock(context: Context, config: HandoffConfig, doing: str) -> Iterator[None]:
    """Hold the model lock for this step; a timeout fails the step naming the holder."""
    try:
        with sync_lock(
            config.path(config.data_dir),
            wait_seconds=wait_seconds(context, config),
            doing=describe(context, doing),
            on_wait=context.log.warning,
        ):
            yield
    except SyncLockedError as err:
        raise dg.Failure(description=str(err), allow_retries=False) from None


def raw_reader(context: Context, config: HandoffConfig) -> RawLock:
    """Shared locks on the raw stores a build reads: no fetch rewrites one while it is read."""

    def lock(source: str) -> AbstractContextManager[Any]:
        return source_lock(
            config.raw_dir,
            source,
            shared=True,
            wait_seconds=wait_seconds(context, config),
            doing=describe(context, f"reading source {source} into the model"),
            on_wait=context.log.warning,
        )

    return lock


def fetch_source_locked(
    context: Context,
    config: HandoffConfig,
    source: Any,
    *,
    full: bool,
    continue_full: bool = False,
) -> SourceOutcome:
    """Fetch one source holding its raw store; if another run keeps it past the wait, the source
    fails (naming the holder) and keeps its last good data, like any failed fetch."""
    try:
        with source_lock(
            config.raw_dir,
            source.name,
            wait_seconds=wait_seconds(context, config),
            doing=describe(context, f"fetching source {source.name}"),
            on_wait=context.log.warning,
        ):
            return fetch_source(config, source, full=full, continue_full=continue_full)
    except SyncLockedError as err:
        now = utcnow()
        return SourceOutcome(
            source=source.name,
            status="failed",
            started_at=now,
            finished_at=now,
            full_sync=full,
            error=f"source {source.name}: {err}",
        )
