"""The one resource every asset shares: the Handoff config, parsed once per run."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from handoff.config import HandoffConfig, load_config

CONFIG_ENV = "HANDOFF_CONFIG"


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, "handoff.yaml")).resolve()


class HandoffConfigResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """`handoff.yaml` at `path`, read when a run first needs it and kept for the rest of the run.

    Dagster builds a fresh resource for every run, so an edited config is picked up by the next
    run while the steps of one run all see the same config. Secrets are resolved from the
    environment at that moment and never stored in Dagster.
    """

    path: str
    _parsed: HandoffConfig | None = PrivateAttr(default=None)

    @property
    def parsed(self) -> HandoffConfig:
        if self._parsed is None:
            self._parsed = load_config(Path(self.path))
        return self._parsed
