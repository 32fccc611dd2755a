"""After the publish, in one step: the leaders' report and webhook, write-back into the tools,
owner digests, and the run's verdict on failed sources.

One step rather than three keeps a run at sources + 5 steps however many follow-ups exist; the
step is subsettable, so each asset can still be materialised on its own.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from handoff.config import HandoffConfig
from pipelines.defs.digests import DIGESTS_KEY, DIGESTS_SPEC, send_digests
from pipelines.defs.exceptions import EXCEPTIONS_KEY
from pipelines.defs.phase import enter_phase
from pipelines.defs.run_time import run_time
from pipelines.defs.writeback import COMMENTS_KEY, COMMENTS_SPEC, write_back
from pipelines.resources import HandoffConfigResource
from pipelines.run_state import load_outcomes
from rules.report.data import ReportSettings, gather
from rules.report.notify import post_webhook
from rules.report.render import write_rendered

REPORT_KEY = dg.AssetKey("exception_report")
REPORT_SPEC = dg.AssetSpec(
    REPORT_KEY,
    deps=[EXCEPTIONS_KEY],
    group_name="governance",
    kinds={"html"},
    owners=["team:pmo"],
    description="The exception report (HTML, Markdown, JSON) for leaders; posts the webhook.",
    skippable=True,
)


def write_report(context: dg.AssetExecutionContext, cfg: HandoffConfig) -> dict[str, Any]:
    """Render the three report files and post the webhook; returns the materialisation's metadata."""
    enter_phase("report")
    data = gather(
        cfg.database_path, now=run_time(context), settings=ReportSettings.from_config(cfg)
    )
    outputs: dict[str, Path] = {
        "html": cfg.report.html,
        "md": cfg.report.markdown,
        "json": cfg.report.json_path,
    }
    paths = {
        fmt: str(write_rendered(data, cfg.path(out), fmt, mode=cfg.report.file_mode))  # type: ignore[arg-type]
        for fmt, out in outputs.items()
    }
    if cfg.webhook is not None:
        posted = post_webhook(
            cfg.webhook.url.get_secret_value(), cfg.webhook.format, data, report_path=paths["html"]
        )
        context.log.info("webhook posted" if posted else "webhook failed (the run goes on)")
    return {"report": dg.MetadataValue.path(paths["html"]), **paths}


def build_report_assets(config: HandoffConfig) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="deliver",
        specs=[REPORT_SPEC, COMMENTS_SPEC, DIGESTS_SPEC],
        can_subset=True,
    )
    def deliver(
        context: dg.AssetExecutionContext, handoff_config: HandoffConfigResource
    ) -> Iterator[dg.MaterializeResult]:
        cfg = handoff_config.parsed
        selected = context.selected_asset_keys
        report: dict[str, Any] = {}
        if REPORT_KEY in selected:
            report = write_report(context, cfg)
            yield dg.MaterializeResult(asset_key=REPORT_KEY, metadata=report)
        if COMMENTS_KEY in selected:
            yield dg.MaterializeResult(asset_key=COMMENTS_KEY, metadata=write_back(context, cfg))
        if DIGESTS_KEY in selected:
            yield dg.MaterializeResult(asset_key=DIGESTS_KEY, metadata=send_digests(context, cfg))
        failed = [
            o
            for o in load_outcomes(context.instance, context.run.run_id).values()
            if o.status == "failed"
        ]
        if failed:
            # The model and report were published with the failed sources' last good data; the
            # run still ends failed so that nobody mistakes it for a green night.
            raise dg.Failure(
                description="; ".join(o.error or o.source for o in failed),
                metadata={
                    "report": str(report.get("html", "")),
                    "failed_sources": [o.source for o in failed],
                },
            )

    return [deliver]
