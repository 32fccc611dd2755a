"""One asset per configured source: its raw store, fetched in parallel threads in one step."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from handoff.config import HandoffConfig, SourceBase
from handoff.errors import ConfigError
from handoff.redact import redact
from model.build import SourceOutcome
from model.fetch import fetch_source
from pipelines.resources import HandoffConfigResource
from pipelines.run_state import load_outcomes, save_outcomes

FULL_TAG = "handoff/full"


def source_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def _spec(source: SourceBase) -> dg.AssetSpec:
    name, kind = source.name, source.kind
    return dg.AssetSpec(
        key=source_key(name),
        group_name="sources",
        kinds={kind, "duckdb"},
        description=f"Raw landing of source {name!r} ({kind}): its full current state, "
        "tombstones and cursor in data/raw/{name}.duckdb.",
        tags={"handoff/source": name},
    )


def _metadata(outcome: SourceOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "full_sync": outcome.full_sync,
        "items_changed": outcome.changed,
        "items_deleted": outcome.deleted,
        "rejected_rows": outcome.rejected,
        "requests": outcome.requests,
        "retries": outcome.retries,
        "duration_seconds": round(outcome.seconds, 3),
        "error": redact(outcome.error or ""),
        "stale": outcome.status != "success",
    }


def _worth_fetching(outcome: SourceOutcome | None) -> bool:
    """Fetch a source not yet fetched in this run, or one whose failure a retry may fix."""
    return outcome is None or (outcome.status != "success" and not outcome.permanent)


def build_source_assets(config: HandoffConfig) -> list[dg.AssetsDefinition]:
    sources = [s for s in config.sources if s.enabled]
    if not sources:
        return []

    @dg.multi_asset(
        name="fetch_sources",
        specs=[_spec(s) for s in sources],
        can_subset=True,
        retry_policy=dg.RetryPolicy(
            max_retries=config.sync.retries,
            delay=config.sync.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
            jitter=dg.Jitter.PLUS_MINUS,
        ),
    )
    def fetch_sources(context: dg.AssetExecutionContext, handoff_config: HandoffConfigResource):  # type: ignore[no-untyped-def]
        """Fetch the selected sources concurrently; a failed source keeps its last good data."""
        try:
            cfg = handoff_config.parsed
        except ConfigError as err:  # retrying cannot fix a config: fail now, once
            raise dg.Failure(description=redact(err), allow_retries=False) from None
        full = context.run.tags.get(FULL_TAG) == "true"
        wanted = [
            s
            for s in cfg.sources
            if s.enabled and source_key(s.name) in context.selected_asset_keys
        ]
        outcomes = load_outcomes(cfg, context.run.run_id)  # kept from an earlier attempt
        todo = [s for s in wanted if _worth_fetching(outcomes.get(s.name))]
        with ThreadPoolExecutor(max_workers=max(1, cfg.sync.parallel_sources)) as pool:
            retrying = context.retry_number > 0  # a retry continues a full fetch's checkpoints
            fetch = lambda s: fetch_source(cfg, s, full=full, continue_full=retrying)  # noqa: E731
            for outcome in pool.map(fetch, todo):
                outcomes[outcome.source] = outcome
                context.log.info(
                    redact(
                        f"source {outcome.source}: {outcome.status}"
                        + (f" ({outcome.error})" if outcome.error else "")
                    )
                )
        save_outcomes(cfg, context.run.run_id, outcomes)
        retryable = [o for o in outcomes.values() if o.status == "failed" and not o.permanent]
        if retryable and context.retry_number < cfg.sync.retries:
            raise dg.Failure(
                description=redact(
                    "; ".join(o.error or o.source for o in retryable) + " (will retry)"
                ),
            )
        for source in wanted:
            yield dg.MaterializeResult(
                asset_key=source_key(source.name), metadata=_metadata(outcomes[source.name])
            )

    return [fetch_sources]
