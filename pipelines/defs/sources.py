"""One asset per configured source: its raw store, fetched in a step of its own.

Each source is its own step, so the multiprocess executor (or a Kubernetes step executor) fetches
sources in parallel; sources on the same API host share the pool `api:<host>`, whose limit the
instance sets. A fetch that fails for good emits no materialization: the raw store still holds
the last good data, the outcome is recorded as an observation, and the model is built without it.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import dagster as dg

from handoff.config import HandoffConfig, SourceBase
from handoff.errors import ConfigError
from handoff.interrupt import INTERRUPT
from handoff.redact import redact
from model.build import SourceOutcome
from pipelines.defs.freshness import freshness_result, freshness_spec
from pipelines.defs.locking import fetch_source_locked
from pipelines.defs.phase import enter_phase
from pipelines.resources import HandoffConfigResource
from pipelines.run_state import SOURCE_PREFIX, outcome_metadata

FULL_TAG = "handoff/full"
SOURCE_OWNERS = ["team:ops"]


def source_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([SOURCE_PREFIX, name])


def api_pool(source: SourceBase) -> str | None:
    """`api:<host>` for a source read over HTTP; None for a local file (nothing to throttle)."""
    if hasattr(source, "path"):
        return None
    url = getattr(source, "api_url", None) or getattr(source, "url", None)
    host = urlparse(str(url)).hostname if url else None
    return f"api:{host}" if host else None


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
        **outcome_metadata(outcome),
    }


def _source_asset(source: SourceBase, config: HandoffConfig) -> dg.AssetsDefinition:
    name, kind, key = source.name, source.kind, source_key(source.name)

    @dg.asset(
        key=key,
        group_name="sources",
        kinds={kind, "duckdb"},
        owners=SOURCE_OWNERS,
        tags={"handoff/source": name},
        description=f"Raw landing of source {name!r} ({kind}): its full current state, "
        f"tombstones and cursor in data/raw/{name}.duckdb.",
        pool=api_pool(source),
        output_required=False,
        check_specs=[freshness_spec(key)],
        retry_policy=dg.RetryPolicy(
            max_retries=config.sync.retries,
            delay=config.sync.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
            jitter=dg.Jitter.PLUS_MINUS,
        ),
    )
    def fetch(
        context: dg.AssetExecutionContext, handoff_config: HandoffConfigResource
    ) -> Iterator[Any]:
        try:
            cfg = handoff_config.parsed
        except ConfigError as err:  # retrying cannot fix a config: fail now, once
            raise dg.Failure(description=redact(err), allow_retries=False) from None
        enter_phase("fetch")
        full = context.run.tags.get(FULL_TAG) == "true"
        # a Dagster retry of a full fetch continues its checkpoints instead of starting over
        outcome = fetch_source_locked(
            context, cfg, cfg.source(name), full=full, continue_full=context.retry_number > 0
        )
        if INTERRUPT.requested:  # fail the run: nothing is modelled or published
            raise dg.Failure(
                description=f"stopped by {INTERRUPT.signal_name or 'request'} while fetching",
                allow_retries=False,
            )
        retryable = outcome.status == "failed" and not outcome.permanent
        if retryable and context.retry_number < cfg.sync.retries:
            raise dg.Failure(description=redact(f"{outcome.error} (will retry)"))
        if outcome.status == "success":
            context.log.info(f"source {name}: success")
            yield dg.MaterializeResult(asset_key=key, metadata=_metadata(outcome))
        else:
            context.log.error(redact(f"source {name}: {outcome.status} ({outcome.error})"))
            yield dg.AssetObservation(asset_key=key, metadata=_metadata(outcome))
        yield freshness_result(cfg, name, key)

    return fetch


def build_source_assets(config: HandoffConfig) -> list[dg.AssetsDefinition]:
    return [_source_asset(s, config) for s in config.sources if s.enabled]
