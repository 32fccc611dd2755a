"""Fetching one source: its connector's batches land in its raw store; failures are contained."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from connectors.base import ConnectorError, PermanentConnectorError
from connectors.registry import build_connector
from handoff.activity import ACTIVITY
from handoff.config import HandoffConfig, SourceBase
from handoff.interrupt import Watchdog
from handoff.redact import redact
from model.build import SourceOutcome
from model.landing import land, raw_store_path, read_cursor

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def fetch_source(config: HandoffConfig, source: SourceBase, *, full: bool = False) -> SourceOutcome:
    """Fetch `source` into its raw store. Never raises for a source failure: the outcome says
    `failed` with a message that names the source, and the raw store keeps its last good state."""
    started = utcnow()
    raw_path = raw_store_path(config.raw_dir, source.name)
    connector = None
    try:
        connector = build_connector(source)
        ACTIVITY.start_source(source.name, connector.stats)
        # every request checks it (stop asked for, or no progress for too long); pages beat it
        watchdog = Watchdog(source.name, config.sync.no_progress_minutes)
        connector.stats.guard = watchdog  # type: ignore[attr-defined]
        cursor = None if full else read_cursor(raw_path)
        result = land(
            raw_path,
            watchdog.watch(connector.fetch(cursor, full=full or cursor is None)),
            full=full or cursor is None,
            stats=connector.stats,
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
