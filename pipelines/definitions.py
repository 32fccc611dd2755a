"""The code location: `dg dev` / `dagster dev` load `defs` from here (HANDOFF_CONFIG names the config)."""

from __future__ import annotations

import dagster as dg

from handoff.config import HandoffConfig, load_config
from handoff.dotenv import load_dotenv
from pipelines.defs.change_sensor import build_change_sensor
from pipelines.defs.exceptions import build_exception_assets
from pipelines.defs.model import build_model_assets
from pipelines.defs.report import build_report_assets
from pipelines.defs.schedules import build_job, build_schedule, nightly_sync_failed
from pipelines.defs.sources import build_source_assets
from pipelines.resources import HandoffConfigResource, config_path


def build_definitions(config: HandoffConfig, path: str) -> dg.Definitions:
    job = build_job(config)
    model_assets, model_checks = build_model_assets(config)
    return dg.Definitions(
        assets=[
            *build_source_assets(config),
            *model_assets,
            *build_exception_assets(config),
            *build_report_assets(config),
        ],
        asset_checks=model_checks,
        jobs=[job],
        schedules=[build_schedule(config, job)],
        sensors=[nightly_sync_failed, build_change_sensor(config)],
        resources={"handoff_config": HandoffConfigResource(path=path)},
        # Run config picks in_process or multiprocess (schedule and CLI: sync.executor).
        executor=dg.multi_or_in_process_executor,
    )


def _load() -> dg.Definitions:
    load_dotenv()  # the demo's tokens in ./.env, like the `handoff` CLI
    path = config_path()
    config = (
        load_config(path, require_env=False)
        if path.exists()
        else HandoffConfig(base_dir=path.parent)
    )
    return build_definitions(config, str(path))


defs = _load()
