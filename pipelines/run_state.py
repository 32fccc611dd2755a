"""Source outcomes travel between the steps of a run as Dagster events, never as local files.

A fetched source's outcome is the metadata of its materialization; a failed source records it on
an observation (a failed fetch produced no new data, so it must not look materialized). Later
steps read both back from the run's event log, which lives in the instance's storage (sqlite
under DAGSTER_HOME, or PostgreSQL) and so reaches every step, whatever process or machine runs it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import dagster as dg

from handoff.redact import redact_optional
from model.build import SourceOutcome

OUTCOME_KEY = "handoff/outcome"
SOURCE_PREFIX = "raw"


def outcome_metadata(outcome: SourceOutcome) -> dict[str, Any]:
    """The outcome as one JSON metadata entry (error redacted) that `load_outcomes` reads back."""
    data = asdict(outcome)
    data["error"] = redact_optional(data["error"])
    return {OUTCOME_KEY: dg.MetadataValue.json(json.loads(json.dumps(data, default=str)))}


def _outcome(data: dict[str, Any]) -> SourceOutcome:
    data = dict(data)
    data["started_at"] = datetime.fromisoformat(data["started_at"])
    data["finished_at"] = datetime.fromisoformat(data["finished_at"])
    return SourceOutcome(**data)


def load_outcomes(instance: dg.DagsterInstance, run_id: str) -> dict[str, SourceOutcome]:
    """Every source outcome recorded in run `run_id`, the latest per source."""
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_OBSERVATION}
    outcomes: dict[str, SourceOutcome] = {}
    for record in instance.all_logs(run_id, of_type=kinds):
        event = record.dagster_event
        if event is None or event.asset_key is None or event.asset_key.path[0] != SOURCE_PREFIX:
            continue
        data: Any = event.event_specific_data
        entry = (
            data.materialization if hasattr(data, "materialization") else data.asset_observation
        ).metadata.get(OUTCOME_KEY)
        if entry is not None:
            outcome = _outcome(entry.value)
            outcomes[outcome.source] = outcome
    return outcomes
