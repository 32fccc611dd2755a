"""The one resource every asset shares: where the Handoff config lives."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from handoff.config import HandoffConfig, load_config

CONFIG_ENV = "HANDOFF_CONFIG"


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, "handoff.yaml")).resolve()


class HandoffConfigResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Loads `handoff.yaml` (secrets resolved from the environment at run time, never stored)."""

    path: str

    def load(self) -> HandoffConfig:
        return load_config(Path(self.path))
