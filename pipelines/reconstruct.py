"""The nightly job rebuilt from its config path: how each step process of a multiprocess run
(started by `handoff sync`) finds the job without loading the code location's module."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from handoff.config import load_config
from pipelines.definitions import build_definitions
from pipelines.defs.schedules import JOB_NAME


def nightly_job(config_path: str) -> dg.JobDefinition:
    config = load_config(Path(config_path), require_env=False)
    return build_definitions(config, config_path).resolve_job_def(JOB_NAME)


def reconstructable_job(config_path: str) -> dg.ReconstructableJob:
    return dg.build_reconstructable_job(
        "pipelines.reconstruct", "nightly_job", reconstructable_kwargs={"config_path": config_path}
    )
