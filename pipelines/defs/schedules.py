"""The nightly job, its schedule from the config, and a run-failure sensor."""

from __future__ import annotations

import dagster as dg

from handoff.config import HandoffConfig

JOB_NAME = "nightly_sync"


def build_job(config: HandoffConfig) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name=JOB_NAME,
        selection=dg.AssetSelection.all(),
        description="Fetch every source, build the model, evaluate the rules, publish, report.",
        tags={"handoff/job": JOB_NAME},
        executor_def=dg.in_process_executor,
    )


def build_schedule(
    config: HandoffConfig, job: dg.UnresolvedAssetJobDefinition
) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{JOB_NAME}_schedule",
        job=job,
        cron_schedule=config.schedule.cron,
        execution_timezone=config.schedule.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Runs {JOB_NAME} at {config.schedule.cron} ({config.schedule.timezone}).",
    )


@dg.run_failure_sensor(name="nightly_sync_failed", monitor_all_code_locations=False)
def nightly_sync_failed(context: dg.RunFailureSensorContext) -> None:
    """Logs every failed run with its reason; the report's webhook carries the details."""
    context.log.error(
        f"run {context.dagster_run.run_id} of {context.dagster_run.job_name} failed: "
        f"{context.failure_event.message}"
    )
