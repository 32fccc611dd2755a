"""Write-back after the publish: a tool's refusal or outage never fails the run."""

from typing import Any

import dagster as dg

from connectors.comment_clients import comment_clients
from handoff.config import HandoffConfig
from pipelines.defs.exceptions import EXCEPTIONS_KEY
from pipelines.defs.run_time import run_time
from rules.writeback.flow import dry_by_default, run_writeback

COMMENTS_KEY = dg.AssetKey("tool_comments")
COMMENTS_SPEC = dg.AssetSpec(
    COMMENTS_KEY,
    deps=[EXCEPTIONS_KEY],
    group_name="governance",
    owners=["team:pmo"],
    description="Open findings written back as comments on the waiting Jira/Asana items.",
    skippable=True,
)


def write_back(context: dg.AssetExecutionContext, cfg: HandoffConfig) -> dict[str, Any]:
    """Plan and (unless dry) write the comments; returns the materialisation's metadata."""
    clients = comment_clients(cfg)
    try:
        dry = dry_by_default(cfg, list(clients))
        outcome = run_writeback(cfg, clients, dry_run=dry, now=run_time(context))
    except Exception as exc:  # never fails the run: the model and report are published
        context.log.warning(f"write-back skipped: {type(exc).__name__}: {exc}")
        return {"skipped": str(exc)[:300]}
    for problem in outcome.refused:
        context.log.warning(problem)
    return {
        "dry_run": dry,
        "planned": len(outcome.planned),
        "written": len(outcome.written),
        "refused": len(outcome.refused),
        "deferred": outcome.deferred,
        "requests": outcome.requests,
    }
