"""Intraday, change-driven syncs: a sensor asks each source cheaply whether anything changed and
launches `nightly_sync` for the changed sources only (plus the model, rules and report).

The probes live in the connectors (`changed_since(cursor)`, a few requests at most); this module
only decides when to ask and what to run. A source whose connector has no probe (Sheets) or
cannot tell (no sync yet, its store busy, the tool unreachable) is "unknown" and never starts a
run on its own: the nightly full reconciliation covers it. Sheets has no probe on purpose: the
only cheap signal, the Drive revision, needs another API and scope; a values read costs as much
as the sync itself.

`run_key` is the changed sources and a digest of their stored cursors: one stored state never
launches two runs, whichever tick sees it. Our own write-back comments bump `updated` in Jira and
add stories in Asana, so they count as changes; the run they start lands nothing new, writes
nothing (write-back is idempotent) and is cheap.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from connectors.base import ConnectorError
from connectors.registry import build_connector
from handoff.config import HandoffConfig, SourceBase
from handoff.flow_config import Intraday
from handoff.redact import redact
from model.landing import raw_store_path, read_cursor
from pipelines.defs.schedules import JOB_NAME, executor_run_config
from pipelines.defs.sources import source_key
from pipelines.resources import HandoffConfigResource

SENSOR_NAME = "intraday_changes"
TRIGGER_TAG = "handoff/trigger"
BUSY = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED]  # fmt: skip


def _clock(text: str) -> time:
    hours, minutes = (int(x) for x in text.strip().split(":"))
    return time.max if hours == 24 else time(hours, minutes)


def in_working_hours(moment: datetime, intraday: Intraday) -> bool:
    """Whether `moment` falls inside the configured window (a window past midnight wraps)."""
    local = moment.astimezone(ZoneInfo(intraday.timezone))
    if intraday.weekdays_only and local.weekday() >= 5:
        return False
    start, end = (_clock(part) for part in intraday.window.split("-"))
    now = local.time().replace(tzinfo=None)
    return start <= now < end if start <= end else (now >= start or now < end)


def probe(source: SourceBase, config: HandoffConfig) -> tuple[bool | None, str]:
    """(changed?, what the probe saw) for one source; None when it cannot tell."""
    try:
        connector: Any = build_connector(source)
    except ConnectorError as err:
        return None, f"cannot probe: {redact(str(err))}"
    changed_since = getattr(connector, "changed_since", None)
    if changed_since is None:
        return None, "no change probe (the nightly run covers it)"
    try:
        cursor = read_cursor(raw_store_path(config.raw_dir, source.name))
    except duckdb.Error:
        return None, "raw store busy (a sync is writing it)"
    try:
        changed = changed_since(cursor)
    except ConnectorError as err:
        return None, f"probe failed: {redact(str(err))}"
    requests = getattr(getattr(connector, "stats", None), "requests", 0)
    said = {True: "changed", False: "unchanged", None: "unknown (never synced?)"}[changed]
    return changed, f"{said} ({requests} requests)"


def _cursor_digest(config: HandoffConfig, names: list[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        try:
            cursor = read_cursor(raw_store_path(config.raw_dir, name))
        except duckdb.Error:
            cursor = None
        digest.update(json.dumps([name, cursor], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def build_change_sensor(config: HandoffConfig) -> dg.SensorDefinition:
    intraday = config.intraday

    @dg.sensor(
        name=SENSOR_NAME,
        job_name=JOB_NAME,
        minimum_interval_seconds=intraday.interval_minutes * 60,
        default_status=(
            dg.DefaultSensorStatus.RUNNING if intraday.enabled else dg.DefaultSensorStatus.STOPPED
        ),
        description=f"Every {intraday.interval_minutes} min within {intraday.window} "
        f"({intraday.timezone}): syncs the sources that changed since their last sync.",
    )
    def intraday_changes(
        context: dg.SensorEvaluationContext, handoff_config: HandoffConfigResource
    ) -> dg.SensorResult | dg.SkipReason:
        cfg = handoff_config.parsed
        if not in_working_hours(datetime.now().astimezone(), cfg.intraday):
            return dg.SkipReason(f"outside working hours {cfg.intraday.window}")
        busy = context.instance.get_run_records(
            dg.RunsFilter(job_name=JOB_NAME, statuses=BUSY), limit=1
        )
        if busy:
            return dg.SkipReason(f"run {busy[0].dagster_run.run_id[:8]} still in progress")
        seen = {source.name: probe(source, cfg) for source in cfg.sources}
        for name, (_, said) in seen.items():
            context.log.info(f"source {name!r}: {said}")
        changed = sorted(name for name, (flag, _) in seen.items() if flag)
        if not changed:
            return dg.SkipReason(
                "no source changed: " + "; ".join(f"{n} {s}" for n, (_, s) in seen.items())
            )
        others = {source_key(s.name) for s in cfg.sources if s.name not in changed}
        repository = context.repository_def
        if repository is None:
            raise dg.DagsterInvariantViolationError(f"{SENSOR_NAME} needs its code location")
        keys = [k for k in repository.asset_graph.get_all_asset_keys() if k not in others]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"{','.join(changed)}@{_cursor_digest(cfg, changed)}",
                    run_config=executor_run_config(cfg),
                    asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
                    tags={TRIGGER_TAG: "intraday", "handoff/changed_sources": ",".join(changed)},
                )
            ]
        )

    return intraday_changes
