"""One clock per run: every step of a run stamps the same time (tests may pin it by tag)."""

from datetime import UTC, datetime

import dagster as dg

NOW_TAG = "handoff/now"


def run_time(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext | dg.OpExecutionContext,
) -> datetime:
    pinned = context.run.tags.get(NOW_TAG)
    if pinned:
        return datetime.fromisoformat(pinned)
    record = context.instance.get_run_record_by_id(context.run.run_id)
    created = record.create_timestamp if record else datetime.now(UTC)
    return created.astimezone(UTC).replace(tzinfo=None)
