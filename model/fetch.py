"""Fetching one source: its connector's batches land in its raw store; failures are contained."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from connectors.base import (
    Batch,
    Connector,
    ConnectorError,
    Cursor,
    PermanentConnectorError,
    ResumableConnector,
)
from connectors.registry import build_connector
from handoff.activity import ACTIVITY
from handoff.config import HandoffConfig, SourceBase
from handoff.interrupt import Watchdog
from handoff.redact import redact
from model.build import SourceOutcome
from model.landing import (
    Checkpointing,
    Progress,
    land,
    landing_memory,
    raw_store_path,
    read_cursor,
    read_progress,
)

log = logging.getLogger(__name__)
# settings that change how a fetch runs, not what it reads: changing them keeps a checkpoint
OPERATIONAL = {
    "enabled", "department", "max_drop_share", "max_retry_wait_seconds", "checkpoint_pages",
    "checkpoint_seconds",
}  # fmt: skip


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def query_settings(source: SourceBase, cursor: Cursor | None) -> dict[str, Any]:
    """What decides which records a fetch reads: the source's settings (secrets masked, so a
    rotated token keeps a checkpoint) and the incremental cursor it started from."""
    settings = source.model_dump(mode="json", exclude=OPERATIONAL)
    return {**settings, "incremental_cursor": cursor}


def fingerprint(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def resumable_progress(
    source: SourceBase, progress: Progress | None, settings: dict[str, Any], *, full: bool
) -> Progress | None:
    """The interrupted fetch to resume, or None; says in the log why one is discarded."""
    if progress is None:
        return None
    kept = f"{progress.records} record(s) staged by an interrupted fetch"
    if full:
        log.warning("source %s: --full requested: discarding %s", source.name, kept)
        return None
    if progress.fingerprint != fingerprint(settings):
        changed = sorted(
            k for k in {*settings, *progress.query} if settings.get(k) != progress.query.get(k)
        )
        log.warning(
            "source %s: the query changed since the interrupted fetch (%s): discarding %s",
            source.name,
            ", ".join(changed) or "settings",
            kept,
        )
        return None
    log.info(
        "source %s: resuming an interrupted fetch from checkpoint %d (%s kept)",
        source.name,
        progress.checkpoints,
        kept.split(" staged")[0],
    )
    return progress


def _batches(
    connector: Connector, cursor: Cursor | None, *, full: bool, resume: Progress | None
) -> Iterator[Batch]:
    if resume is None:
        return connector.fetch(cursor, full=full)
    resumable = cast(ResumableConnector, connector)
    return resumable.fetch(cursor, full=full, resume=resume.checkpoint)


def fetch_source(
    config: HandoffConfig, source: SourceBase, *, full: bool = False, continue_full: bool = False
) -> SourceOutcome:
    """Fetch `source` into its raw store. Never raises for a source failure: the outcome says
    `failed` with a message that names the source, and the raw store keeps its last good state
    plus, once a checkpoint was committed, what the next fetch resumes from. `full` starts
    afresh, discarding an interrupted fetch, unless `continue_full` (a retry of a full run)."""
    started = utcnow()
    raw_path = raw_store_path(config.raw_dir, source.name)
    connector = None
    cursor = None
    try:
        connector = build_connector(source)
        ACTIVITY.start_source(source.name, connector.stats)
        # every request checks it (stop asked for, or no progress for too long); pages beat it
        watchdog = Watchdog(source.name, config.sync.no_progress_minutes)
        connector.stats.guard = watchdog  # type: ignore[attr-defined]
        cursor = None if full else read_cursor(raw_path)
        settings = query_settings(source, cursor)
        progress = resumable_progress(
            source, read_progress(raw_path), settings, full=full and not continue_full
        )
        plan = Checkpointing(
            fingerprint=fingerprint(settings),
            query=settings,
            every_pages=source.checkpoint_pages,
            every_seconds=source.checkpoint_seconds,
            resume=progress,
        )
        result = land(
            raw_path,
            watchdog.watch(
                _batches(connector, cursor, full=full or cursor is None, resume=progress)
            ),
            full=full or cursor is None,
            stats=connector.stats,
            checkpointing=plan,
            memory_limit=landing_memory(source.kind),
        )
    except Exception as err:  # contained: one source never costs another its data
        message = str(err) if isinstance(err, ConnectorError) else f"{type(err).__name__}: {err}"
        if source.name not in message:
            message = f"source {source.name}: {message}"
        message = redact(message)  # libraries quote credentials in their errors
        log.error("%s", message)
        stats = getattr(connector, "stats", None)
        ACTIVITY.finish_source(source.name, "failed")
        return SourceOutcome(
            source=source.name,
            status="failed",
            started_at=started,
            finished_at=utcnow(),
            full_sync=full,
            requests=int(getattr(stats, "requests", 0)),
            retries=int(getattr(stats, "retries", 0)),
            error=message,
            permanent=isinstance(err, PermanentConnectorError),
        )
    ACTIVITY.finish_source(source.name, "success")
    return SourceOutcome(
        source=source.name,
        status="success",
        started_at=started,
        finished_at=utcnow(),
        full_sync=full or cursor is None,
        changed=result.changed,
        deleted=result.deleted,
        rejected=result.rejected,
        requests=result.requests,
        retries=result.retries,
        seconds=result.seconds,
    )
