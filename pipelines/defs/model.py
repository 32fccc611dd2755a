"""The governance model asset and the blocking checks that guard its publication."""

from pathlib import Path

import dagster as dg

from handoff.config import HandoffConfig
from model import checks
from model.build import BuildResult, build_model, remove_stale_builds, staging_path
from pipelines.defs.locking import Context, model_lock, raw_reader
from pipelines.defs.phase import enter_phase
from pipelines.defs.run_time import run_time
from pipelines.defs.sources import source_key
from pipelines.resources import HandoffConfigResource
from pipelines.run_state import load_outcomes

MODEL_KEY = dg.AssetKey("governance_model")
BASIS = "published_basis"  # metadata: identity of the published file the build carried history from


def build_for_run(context: Context, cfg: HandoffConfig) -> BuildResult:
    """Build this run's model; the caller holds the model lock, so the history it carries is the
    latest published one."""
    return build_model(
        cfg,
        run_id=context.run.run_id,
        now=run_time(context),
        outcomes=load_outcomes(cfg, context.run.run_id),
        raw_lock=raw_reader(context, cfg),
    )


def failed_checks(cfg: HandoffConfig, built: Path) -> list[str]:
    """The blocking checks, for a model rebuilt inside the publish step."""
    limits = {s.name: s.max_drop_share for s in cfg.sources}
    outcomes = {
        "unique_item_ids": checks.unique_item_ids(built),
        "dependencies_point_at_items": checks.resolved_dependencies_exist(built),
        "no_source_collapsed": checks.no_source_collapsed(built, cfg.database_path, limits),
    }
    return [f"{name}: {o.description}" for name, o in outcomes.items() if not o.passed]


def build_model_assets(
    config: HandoffConfig,
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    deps = [source_key(s.name) for s in config.sources if s.enabled]

    @dg.asset(
        key=MODEL_KEY,
        deps=deps,
        pool="duckdb",
        group_name="model",
        kinds={"duckdb"},
        owners=["team:ops"],
        description="The governance model (work_items, dependencies, history, people, contracts) "
        "built into a new DuckDB file from every source's raw store; published after the checks "
        "and rules pass.",
    )
    def governance_model(
        context: dg.AssetExecutionContext, handoff_config: HandoffConfigResource
    ) -> dg.MaterializeResult:
        enter_phase("model")
        cfg = handoff_config.parsed
        with model_lock(context, cfg, "building the model"):
            remove_stale_builds(cfg)
            result = build_for_run(context, cfg)
        for source, error in result.normalise_errors.items():
            context.log.error(
                f"source {source}: normalisation failed, its items are missing: {error}"
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(result.items.values()),
                "items_per_source": result.items,
                "dependencies": result.dependencies,
                "unresolved_dependencies": result.unresolved,
                "rejected_rows": result.rejected,
                "build_file": str(result.path),
                BASIS: result.based_on,
            }
        )

    def _as_result(outcome: checks.CheckOutcome) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            passed=outcome.passed,
            description=outcome.description,
            metadata={k: dg.MetadataValue.json(v) for k, v in outcome.metadata.items()},
        )

    @dg.asset_check(asset=MODEL_KEY, blocking=True, description="item_id is unique in work_items.")
    def unique_item_ids(
        context: dg.AssetCheckExecutionContext, handoff_config: HandoffConfigResource
    ) -> dg.AssetCheckResult:
        return _as_result(
            checks.unique_item_ids(staging_path(handoff_config.parsed, context.run.run_id))
        )

    @dg.asset_check(
        asset=MODEL_KEY,
        blocking=True,
        description="Every resolved dependency points at items that exist.",
    )
    def dependencies_point_at_items(
        context: dg.AssetCheckExecutionContext, handoff_config: HandoffConfigResource
    ) -> dg.AssetCheckResult:
        return _as_result(
            checks.resolved_dependencies_exist(
                staging_path(handoff_config.parsed, context.run.run_id)
            )
        )

    @dg.asset_check(
        asset=MODEL_KEY,
        blocking=True,
        description="No source lost more than its max_drop_share of live items since the last run.",
    )
    def no_source_collapsed(
        context: dg.AssetCheckExecutionContext, handoff_config: HandoffConfigResource
    ) -> dg.AssetCheckResult:
        cfg = handoff_config.parsed
        limits = {s.name: s.max_drop_share for s in cfg.sources}
        return _as_result(
            checks.no_source_collapsed(
                staging_path(cfg, context.run.run_id), cfg.database_path, limits
            )
        )

    return [governance_model], [unique_item_ids, dependencies_point_at_items, no_source_collapsed]
