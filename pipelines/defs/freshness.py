"""Freshness per source: its last successful fetch is recent enough (warns, never blocks).

The check is evaluated in the source's own step, after its fetch, success or not: a separate
check step would be skipped exactly on the nights a source fails, and would add a step per source.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb

from handoff.config import HandoffConfig
from model.landing import raw_store_path

CHECK_NAME = "fresh"


def last_success(raw: str) -> datetime | None:
    try:
        con = duckdb.connect(raw, read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute(
            "SELECT max(finished_at) FROM fetch_runs WHERE status = 'success'"
        ).fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return row[0] if row else None


def freshness_spec(key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=key,
        description="The source's last successful fetch is within sync.stale_after_hours.",
    )


def freshness_result(cfg: HandoffConfig, name: str, key: dg.AssetKey) -> dg.AssetCheckResult:
    limit = timedelta(hours=cfg.sync.stale_after_hours)
    raw = raw_store_path(cfg.raw_dir, name)
    when = last_success(str(raw)) if raw.exists() else None
    now = datetime.now(UTC).replace(tzinfo=None)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=when is not None and now - when <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"last success {when or 'never'}; allowed age {limit}",
        metadata={"last_success": str(when or "never")},
    )
