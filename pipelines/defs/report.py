"""The leaders' report, the webhook, and the run's verdict on failed sources."""

from pathlib import Path

import dagster as dg

from handoff.config import HandoffConfig
from pipelines.defs.exceptions import EXCEPTIONS_KEY
from pipelines.defs.phase import enter_phase
from pipelines.defs.run_time import run_time
from pipelines.resources import HandoffConfigResource
from pipelines.run_state import load_outcomes
from rules.report.data import ReportSettings, gather
from rules.report.notify import post_webhook
from rules.report.render import write_rendered


def build_report_assets(config: HandoffConfig) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key="exception_report",
        deps=[EXCEPTIONS_KEY],
        group_name="governance",
        kinds={"html"},
        owners=["team:pmo"],
        description="The exception report (HTML, Markdown, JSON) for leaders; posts the webhook.",
    )
    def exception_report(
        context: dg.AssetExecutionContext, handoff_config: HandoffConfigResource
    ) -> dg.MaterializeResult:
        enter_phase("report")
        cfg = handoff_config.parsed
        now = run_time(context)
        data = gather(cfg.database_path, now=now, settings=ReportSettings.from_config(cfg))
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
                cfg.webhook.url.get_secret_value(),
                cfg.webhook.format,
                data,
                report_path=paths["html"],
            )
            context.log.info("webhook posted" if posted else "webhook failed (the run goes on)")
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
                metadata={"report": paths["html"], "failed_sources": [o.source for o in failed]},
            )
        return dg.MaterializeResult(
            metadata={"report": dg.MetadataValue.path(paths["html"]), **paths}
        )

    return [exception_report]
