"""Freshness per source: its last successful fetch is recent enough (warns, never blocks)."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb

from handoff.config import HandoffConfig
from model.landing import raw_store_path
from pipelines.defs.sources import source_key
from pipelines.resources import HandoffConfigResource


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


def _freshness_check(name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=source_key(name),
        name="fresh",
        description="The source's last successful fetch is within sync.stale_after_hours.",
    )
    def fresh(handoff_config: HandoffConfigResource) -> dg.AssetCheckResult:
        cfg = handoff_config.parsed
        limit = timedelta(hours=cfg.sync.stale_after_hours)
        raw = raw_store_path(cfg.raw_dir, name)
        when = last_success(str(raw)) if raw.exists() else None
        now = datetime.now(UTC).replace(tzinfo=None)
        passed = when is not None and now - when <= limit
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"last success {when or 'never'}; allowed age {limit}",
            metadata={"last_success": str(when or "never")},
        )

    return fresh


def build_freshness_checks(config: HandoffConfig) -> list[dg.AssetChecksDefinition]:
    return [_freshness_check(s.name) for s in config.sources if s.enabled]
