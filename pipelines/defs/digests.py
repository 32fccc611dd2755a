"""Owner digests after the publish: a mail or chat outage never fails the run."""

from typing import Any

import dagster as dg

from handoff.config import HandoffConfig
from rules.digests.flow import run_digests

DIGESTS_KEY = dg.AssetKey("owner_digests")
DIGESTS_SPEC = dg.AssetSpec(
    DIGESTS_KEY,
    deps=[dg.AssetKey("exception_report")],
    group_name="governance",
    owners=["team:pmo"],
    description="One message per person with their action list, when it changed.",
    skippable=True,
)


def send_digests(context: dg.AssetExecutionContext, cfg: HandoffConfig) -> dict[str, Any]:
    """Send each person's changed action list; returns the materialisation's metadata."""
    try:
        outcome = run_digests(cfg)
    except Exception as exc:  # never fails the run: the model and report are published
        context.log.warning(f"digests skipped: {type(exc).__name__}: {exc}")
        return {"skipped": str(exc)[:300]}
    for problem in outcome.failed:
        context.log.warning(problem)
    if outcome.unroutable:
        context.log.info(f"no e-mail known for: {', '.join(sorted(outcome.unroutable))}")
    return {
        "sent": len(outcome.sent),
        "unchanged": len(outcome.unchanged),
        "unroutable": len(outcome.unroutable),
        "failed": len(outcome.failed),
    }
