"""The write-back client of every source that opted in (`writeback: {enabled: true}`)."""

from __future__ import annotations

from connectors.asana.writeback import AsanaComments
from connectors.jira.writeback import JiraComments
from handoff.comments import CommentClient
from handoff.config import AsanaSource, HandoffConfig, JiraSource
from handoff.retry import Clock, RetryPolicy


def comment_clients(
    config: HandoffConfig,
    *,
    only: list[str] | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
) -> dict[str, CommentClient]:
    """Source name -> its client, for the enabled sources that have write-back switched on."""
    out: dict[str, CommentClient] = {}
    for source in config.sources:
        if not source.enabled or (only is not None and source.name not in only):
            continue
        if isinstance(source, JiraSource) and source.writeback.enabled:
            out[source.name] = JiraComments(source, retry=retry, clock=clock)
        elif isinstance(source, AsanaSource) and source.writeback.enabled:
            out[source.name] = AsanaComments(source, retry=retry, clock=clock)
    return out
