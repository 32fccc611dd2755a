"""The nightly job, its schedule from the config, and a run-failure sensor."""

from typing import Any

import dagster as dg

from handoff.config import HandoffConfig
from pipelines.resources import HandoffConfigResource
from rules.report.notify import post_alert

JOB_NAME = "nightly_sync"


def build_job(config: HandoffConfig) -> Any:  # an unresolved asset job
    return dg.define_asset_job(
        name=JOB_NAME,
        selection=dg.AssetSelection.all(),
        description="Fetch every source, build the model, evaluate the rules, publish, report.",
        tags={"handoff/job": JOB_NAME},
    )


def executor_run_config(config: HandoffConfig) -> dict[str, Any]:
    """Run config choosing `sync.executor` (the Definitions' executor accepts either)."""
    chosen: dict[str, Any] = {}
    if config.sync.executor == "multiprocess":
        chosen = {"max_concurrent": config.sync.parallel_sources}
    return {"execution": {"config": {config.sync.executor: chosen}}}


def build_schedule(config: HandoffConfig, job: Any) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{JOB_NAME}_schedule",
        job=job,
        run_config=executor_run_config(config),
        cron_schedule=config.schedule.cron,
        execution_timezone=config.schedule.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Runs {JOB_NAME} at {config.schedule.cron} ({config.schedule.timezone}).",
    )


def _first_line(error: Any) -> str:
    """The innermost error's first line: the reason (a source's error), not Dagster's wrapper."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return str(error.message).strip().splitlines()[0]


@dg.run_failure_sensor(
    name="nightly_sync_failed",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,  # the daemon alerts from the first failure
)
def nightly_sync_failed(
    context: dg.RunFailureSensorContext, handoff_config: HandoffConfigResource
) -> None:
    """Logs every failed run with its reason and alerts the configured webhook."""
    reasons = [
        f"{event.step_key}: {_first_line(event.step_failure_data.error)}"
        for event in context.get_step_failure_events()
        if event.step_failure_data and event.step_failure_data.error
    ]
    text = (
        f"Handoff: run {context.dagster_run.run_id[:8]} of {context.dagster_run.job_name} failed: "
        + ("; ".join(reasons) if reasons else str(context.failure_event.message))
    )
    context.log.error(text)
    cfg = handoff_config.parsed
    if cfg.webhook is not None:
        post_alert(cfg.webhook.url.get_secret_value(), cfg.webhook.format, text)
