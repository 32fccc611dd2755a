"""Rule evaluation on the built model, then the atomic publish of the analysts' database."""

import dagster as dg

from handoff.config import HandoffConfig
from model.build import staging_path
from model.publish import publish
from pipelines.defs.model import MODEL_KEY
from pipelines.defs.phase import enter_phase
from pipelines.defs.run_time import run_time
from pipelines.resources import HandoffConfigResource
from rules.engine import evaluate

EXCEPTIONS_KEY = dg.AssetKey("exceptions")
RULES_NOT_EVALUATED = "rules_not_evaluated"


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
        result = evaluate(built, cfg, now=run_time(context), run_id=context.run.run_id)
        for problem in result.problems:
            context.log.warning(f"rule skipped: {problem}")
        enter_phase("publish")
        publish(built, cfg.database_path)
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
                "database": str(cfg.database_path),
            }
        )

    return [exceptions]
