"""Hands source outcomes from the fetch step to the model step of the same run (a small file)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from handoff.config import HandoffConfig
from handoff.redact import redact_optional
from model.build import SourceOutcome


def _path(config: HandoffConfig, run_id: str) -> Path:
    return config.path(config.data_dir) / "runs" / f"{run_id}.json"


def save_outcomes(config: HandoffConfig, run_id: str, outcomes: dict[str, SourceOutcome]) -> None:
    path = _path(config, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {name: asdict(o) for name, o in outcomes.items()}
    for outcome in data.values():
        outcome["error"] = redact_optional(outcome["error"])
    path.write_text(json.dumps(data, default=str, indent=1))


def load_outcomes(config: HandoffConfig, run_id: str) -> dict[str, SourceOutcome]:
    path = _path(config, run_id)
    if not path.exists():
        return {}
    out = {}
    for name, raw in json.loads(path.read_text()).items():
        raw["started_at"] = datetime.fromisoformat(raw["started_at"])
        raw["finished_at"] = datetime.fromisoformat(raw["finished_at"])
        out[name] = SourceOutcome(**raw)
    return out
