"""The governance model asset and the blocking checks that guard its publication.

The model is a graph-backed asset whose build op takes every source as one fan-in input: a
source that failed for good emits no materialization, and Dagster skips a step only when all
inputs of a fan-in are missing, so the model is still built from the others' raw stores. The
tidy op is always an input too, so the build runs even when every source failed.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from handoff.config import HandoffConfig
from model import checks
from model.build import BuildResult, build_model, remove_stale_builds, staging_path
from model.landing import raw_store_path
from pipelines.defs.locking import Context, model_lock, raw_reader
from pipelines.defs.phase import enter_phase
from pipelines.defs.run_time import run_time
from pipelines.defs.sources import source_key
from pipelines.resources import HandoffConfigResource
from pipelines.run_state import load_outcomes

MODEL_KEY = dg.AssetKey("governance_model")
MODEL_OWNERS = ["team:ops"]
BASIS = "published_basis"  # metadata: identity of the published file the build carried history from


def build_for_run(context: Context, cfg: HandoffConfig) -> BuildResult:
    """Build this run's model; the caller holds the model lock, so the history it carries is the
    latest published one."""
    return build_model(
        cfg,
        run_id=context.run.run_id,
        now=run_time(context),
        outcomes=load_outcomes(context.instance, context.run.run_id),
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


@dg.op(out=dg.Out(dg.Nothing))
def tidy_run_files(context: dg.OpExecutionContext, handoff_config: HandoffConfigResource) -> None:
    """Removes run files older than sync.keep_run_state_days (runs after a crash leave some)."""
    cfg = handoff_config.parsed
    removed = remove_stale_builds(cfg, older_than_seconds=cfg.sync.keep_run_state_days * 86_400)
    if removed:
        context.log.info(f"removed {len(removed)} build files of interrupted runs")


def _missing_raw_stores(cfg: HandoffConfig, fetched: list[str]) -> list[str]:
    return [n for n in fetched if not raw_store_path(cfg.raw_dir, n).exists()]


@dg.op(ins={"sources": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing), pool="duckdb")
def build(context: dg.OpExecutionContext, handoff_config: HandoffConfigResource) -> Iterator[Any]:
    cfg = handoff_config.parsed
    run_id = context.run.run_id
    outcomes = load_outcomes(context.instance, run_id)
    fetched = [n for n, o in outcomes.items() if o.status == "success"]
    missing = _missing_raw_stores(cfg, fetched)
    if missing:
        # The fetch ran on another machine or volume: building now would publish an empty model.
        raise dg.Failure(
            description=f"raw stores of {', '.join(missing)} are not in {cfg.raw_dir}, though "
            "they were fetched in this run: the data directory must be shared by every step",
            allow_retries=False,
        )
    enter_phase("model")
    with model_lock(context, cfg, "building the model"):
        result = build_for_run(context, cfg)
    for source, error in result.normalise_errors.items():
        context.log.error(f"source {source}: normalisation failed, its items are missing: {error}")
    yield dg.Output(
        None,
        metadata={
            "dagster/row_count": sum(result.items.values()),
            "items_per_source": result.items,
            "dependencies": result.dependencies,
            "unresolved_dependencies": result.unresolved,
            "rejected_rows": result.rejected,
            "build_file": str(result.path),
            BASIS: result.based_on,
        },
    )


def _input_name(index: int) -> str:
    return f"source_{index}"


def _model_asset(config: HandoffConfig) -> dg.AssetsDefinition:
    names = [s.name for s in config.sources if s.enabled]
    ins = {
        _input_name(i): dg.AssetIn(key=source_key(n), dagster_type=dg.Nothing)
        for i, n in enumerate(names)
    }

    @dg.graph_asset(
        key=MODEL_KEY,
        ins=ins,
        group_name="model",
        kinds={"duckdb"},
        owners=MODEL_OWNERS,
        description="The governance model (work_items, dependencies, history, people, contracts) "
        "built into a new DuckDB file from every source's raw store; published after the checks "
        "and rules pass.",
    )
    def governance_model(**sources: Any) -> Any:
        return build([tidy_run_files(), *(sources[_input_name(i)] for i in range(len(names)))])

    return governance_model


CHECK_DESCRIPTIONS = {
    "unique_item_ids": "item_id is unique in work_items.",
    "dependencies_point_at_items": "Every resolved dependency points at items that exist.",
    "no_source_collapsed": "No source lost more than its max_drop_share of live items since "
    "the last run.",
}


def _as_result(name: str, outcome: checks.CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=MODEL_KEY,
        check_name=name,
        passed=outcome.passed,
        description=outcome.description,
        metadata={k: dg.MetadataValue.json(v) for k, v in outcome.metadata.items()},
    )


@dg.multi_asset_check(
    name="model_checks",
    specs=[
        dg.AssetCheckSpec(name, asset=MODEL_KEY, blocking=True, description=text)
        for name, text in CHECK_DESCRIPTIONS.items()
    ],
    can_subset=True,
)
def model_checks(
    context: dg.AssetCheckExecutionContext, handoff_config: HandoffConfigResource
) -> Iterator[dg.AssetCheckResult]:
    """The publication guards, in one step: each reads the build file of this run."""
    cfg = handoff_config.parsed
    built = staging_path(cfg, context.run.run_id)
    selected = {k.name for k in context.selected_asset_check_keys}
    limits = {s.name: s.max_drop_share for s in cfg.sources}
    run: dict[str, Any] = {
        "unique_item_ids": lambda: checks.unique_item_ids(built),
        "dependencies_point_at_items": lambda: checks.resolved_dependencies_exist(built),
        "no_source_collapsed": lambda: checks.no_source_collapsed(built, cfg.database_path, limits),
    }
    for name in CHECK_DESCRIPTIONS:
        if name in selected:
            yield _as_result(name, run[name]())


def build_model_assets(
    config: HandoffConfig,
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    return [_model_asset(config)], [model_checks]
