"""Write-back after the publish, as its own asset: a tool's refusal or outage never fails it."""

import dagster as dg

from connectors.comment_clients import comment_clients
from handoff.config import HandoffConfig
from pipelines.defs.exceptions import EXCEPTIONS_KEY
from pipelines.defs.run_time import run_time
from pipelines.resources import HandoffConfigResource
from rules.writeback.flow import dry_by_default, run_writeback


def build_writeback_assets(config: HandoffConfig) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key="tool_comments",
        deps=[EXCEPTIONS_KEY],
        group_name="governance",
        owners=["team:pmo"],
        description="Open findings written back as comments on the waiting Jira/Asana items.",
    )
    def tool_comments(
        context: dg.AssetExecutionContext, handoff_config: HandoffConfigResource
    ) -> dg.MaterializeResult:
        cfg = handoff_config.parsed
        clients = comment_clients(cfg)
        try:
            dry = dry_by_default(cfg, list(clients))
            outcome = run_writeback(cfg, clients, dry_run=dry, now=run_time(context))
        except Exception as exc:  # never fails the run: the model and report are published
            context.log.warning(f"write-back skipped: {type(exc).__name__}: {exc}")
            return dg.MaterializeResult(metadata={"skipped": str(exc)[:300]})
        for problem in outcome.refused:
            context.log.warning(problem)
        return dg.MaterializeResult(
            metadata={
                "dry_run": dry,
                "planned": len(outcome.planned),
                "written": len(outcome.written),
                "refused": len(outcome.refused),
                "deferred": outcome.deferred,
                "requests": outcome.requests,
            }
        )

    return [tool_comments]
