"""Rule evaluation on the built model, then the atomic publish of the analysts' database.

Evaluation and publish hold the model lock. If another run published after this run's build, the
build carries stale history: it is rebuilt on the new file (and re-checked) under the same lock,
so no publish discards another's lifecycle.
"""

import dagster as dg

from handoff.config import HandoffConfig
from model.build import staging_path
from model.publish import identity, publish
from pipelines.defs.locking import Context, model_lock
from pipelines.defs.model import BASIS, MODEL_KEY, build_for_run, failed_checks
from pipelines.defs.phase import enter_phase
from pipelines.defs.run_time import run_time
from pipelines.resources import HandoffConfigResource
from rules.engine import evaluate

EXCEPTIONS_KEY = dg.AssetKey("exceptions")
RULES_NOT_EVALUATED = "rules_not_evaluated"


def built_on(context: Context) -> str | None:
    """The published file this run's build read, from its governance_model materialization."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in reversed(records):
        materialization = record.event_log_entry.asset_materialization
        if materialization is not None and materialization.asset_key == MODEL_KEY:
            basis = materialization.metadata.get(BASIS)
            return str(basis.value) if basis is not None else None
    return None


def rebuild_on_latest(context: Context, cfg: HandoffConfig) -> str:
    """Rebuild this run's model on the file published meanwhile (caller holds the model lock)."""
    context.log.warning(
        f"{cfg.database_path} was published by another run after this run built its model; "
        "rebuilding on it so that its history and lifecycle are kept"
    )
    result = build_for_run(context, cfg)
    problems = failed_checks(cfg, result.path)
    if problems:
        raise dg.Failure(
            description="the model rebuilt on the latest published file failed its checks, "
            "so nothing was published: " + "; ".join(problems),
            allow_retries=False,
        )
    return result.based_on


def build_exception_assets(config: HandoffConfig) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=EXCEPTIONS_KEY,
        deps=[MODEL_KEY],
        pool="duckdb",
        group_name="governance",
        kinds={"duckdb"},
        owners=["team:pmo"],
        description="Findings of every rule (built-in pack and user folders) with their lifecycle; "
        "the model is published atomically once they are written.",
    )
    def exceptions(
        context: dg.AssetExecutionContext, handoff_config: HandoffConfigResource
    ) -> dg.MaterializeResult:
        enter_phase("rules")
        cfg = handoff_config.parsed
        built = staging_path(cfg, context.run.run_id)
        with model_lock(context, cfg, "evaluating the rules and publishing the model"):
            basis = built_on(context)
            rebuilt = basis != identity(cfg.database_path)
            if rebuilt:
                basis = rebuild_on_latest(context, cfg)
            result = evaluate(built, cfg, now=run_time(context), run_id=context.run.run_id)
            enter_phase("publish")
            publish(built, cfg.database_path, based_on=str(basis))
        for problem in result.problems:
            context.log.warning(f"rule skipped: {problem}")
        context.log.info(f"published {cfg.database_path}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.open_total,
                "open_by_severity": {
                    "fail": result.open_fail,
                    "warn": result.open_warn,
                    "info": result.open_info,
                },
                "reopened": result.reopened,
                "new": result.new,
                "resolved": result.resolved,
                "waived": result.waived,
                "rule_problems": len(result.problems),
                # Rules skipped this run (rejected, refused, timed out, too many rows, failed):
                # the run completes with warnings.
                RULES_NOT_EVALUATED: [str(p) for p in result.problems],
                "rebuilt_on_newer_publish": rebuilt,
                "database": str(cfg.database_path),
            }
        )

    return [exceptions]
