"""Write-back for one run: read the published model, plan against the state, write (or print).

It runs after the publish, on its own: it reads the published model read-only and never raises
for a tool's refusal or outage, so it can neither block the publish nor the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import duckdb

from handoff.comments import CommentClient
from handoff.config import HandoffConfig
from rules.report.data import ReportSettings, gather
from rules.writeback import state as st
from rules.writeback.compose import intents
from rules.writeback.run import Outcome, SourcePolicy, execute, plan


def policies(config: HandoffConfig, names: list[str]) -> dict[str, SourcePolicy]:
    out: dict[str, SourcePolicy] = {}
    for source in config.sources:
        wb = getattr(source, "writeback", None)
        if source.name in names and wb is not None:
            out[source.name] = SourcePolicy(
                wb.min_severity, wb.on_resolve, wb.max_writes_per_run, wb.also_blocking_item
            )
    return out


def dry_by_default(config: HandoffConfig, names: list[str]) -> bool:
    """True unless every source written to has `dry_run: false`."""
    settings = [getattr(config.source(n), "writeback", None) for n in names]
    return any(wb is None or wb.dry_run for wb in settings)


def run_writeback(
    config: HandoffConfig,
    clients: Mapping[str, CommentClient],
    *,
    dry_run: bool,
    now: datetime | None = None,
) -> Outcome:
    """Plan (and unless `dry_run`, make) the comment writes the published findings call for."""
    outcome = Outcome()
    if not clients or not config.database_path.exists():
        return outcome
    now = now or datetime.now(UTC)
    data = gather(config.database_path, now=now, settings=ReportSettings.from_config(config))
    rules = policies(config, list(clients))
    wanted = intents(data, {n: (p.min_severity, p.also_blocking) for n, p in rules.items()})
    state_file = st.state_path(config.path(config.data_dir))
    stored = st.load(state_file)
    con = duckdb.connect(str(config.database_path), read_only=True)
    try:
        updated = dict(con.execute("SELECT item_id, updated_at FROM work_items").fetchall())
    finally:
        con.close()
    ops = plan(wanted, stored, clients, rules, updated, now.date(), outcome)
    outcome.planned = ops
    if not dry_run:
        execute(ops, stored, clients, rules, state_file, outcome)
    outcome.requests = sum(c.requests for c in clients.values())
    return outcome
