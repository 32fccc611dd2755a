"""Owner digests after the publish, as their own asset: a mail or chat outage never fails it."""

import dagster as dg

from handoff.config import HandoffConfig
from pipelines.resources import HandoffConfigResource
from rules.digests.flow import run_digests

REPORT_KEY = dg.AssetKey("exception_report")


def build_digest_assets(config: HandoffConfig) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key="owner_digests",
        deps=[REPORT_KEY],
        group_name="governance",
        owners=["team:pmo"],
        description="One message per person with their action list, when it changed.",
    )
    def owner_digests(
        context: dg.AssetExecutionContext, handoff_config: HandoffConfigResource
    ) -> dg.MaterializeResult:
        cfg = handoff_config.parsed
        try:
            outcome = run_digests(cfg)
        except Exception as exc:  # never fails the run: the model and report are published
            context.log.warning(f"digests skipped: {type(exc).__name__}: {exc}")
            return dg.MaterializeResult(metadata={"skipped": str(exc)[:300]})
        for problem in outcome.failed:
            context.log.warning(problem)
        if outcome.unroutable:
            context.log.info(f"no e-mail known for: {', '.join(sorted(outcome.unroutable))}")
        return dg.MaterializeResult(
            metadata={
                "sent": len(outcome.sent),
                "unchanged": len(outcome.unchanged),
                "unroutable": len(outcome.unroutable),
                "failed": len(outcome.failed),
            }
        )

    return [owner_digests]
