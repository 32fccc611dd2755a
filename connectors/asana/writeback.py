"""Findings written back as Asana comment stories (`POST /tasks/{gid}/stories`, `PUT` and
`DELETE /stories/{gid}`) through the `asana` SDK under the shared retry policy.

The token's user needs comment access (at least "Comment only") to the projects written to.
"""

from __future__ import annotations

from typing import Any

from connectors.asana.client import AsanaHttp, NotFound
from connectors.base import ConnectorError, PermanentConnectorError
from handoff.comments import CommentGone, Posted, Unavailable, WriteRefused
from handoff.config import AsanaSource
from handoff.retry import Clock, RetryPolicy

Line = tuple[str, str | None]
PAGE = 100


def text(lines: list[Line]) -> str:
    """Plain text: Asana links bare URLs by itself and shows no markup from `text`."""
    return "\n".join(f"{t} {url}".strip() if url else t for t, url in lines)


class AsanaComments:
    """Comment stories on one Asana source's tasks."""

    def __init__(
        self, source: AsanaSource, *, retry: RetryPolicy | None = None, clock: Clock | None = None
    ):
        self.source = source
        self.http = AsanaHttp(
            source_name=source.name,
            url=source.url,
            token=source.token.get_secret_value(),
            ca_bundle=str(source.ca_bundle) if source.ca_bundle else None,
            policy=retry or RetryPolicy(deadline=source.max_retry_wait_seconds),
            clock=clock,
            pool_size=2,
        )

    @property
    def requests(self) -> int:
        return self.http.stats.requests

    def body(self, lines: list[Line]) -> Any:
        return text(lines)

    def _call(self, what: str, gid: str, method: Any, *args: Any, **opts: Any) -> dict[str, Any]:
        try:
            return self.http.call(what, method, *args, **opts)
        except NotFound:
            raise CommentGone(f"task {gid}: {what}: not found") from None
        except PermanentConnectorError as err:
            raise WriteRefused(
                f"{err}; for write-back the user needs comment access to the task's project",
                403,
            ) from None
        except ConnectorError as err:
            raise Unavailable(str(err)) from None

    def find(self, item_key: str, marker: str) -> Posted | None:
        stories = self.http.stories
        offset: str | None = None
        while True:
            opts: dict[str, Any] = {"limit": PAGE, "opt_fields": "text,resource_subtype"}
            if offset:
                opts["offset"] = offset
            page = self._call(
                f"reading the stories of task {item_key}", item_key,
                stories.get_stories_for_task, item_key, **opts,
            )  # fmt: skip
            for story in page.get("data") or []:
                if story.get("resource_subtype") == "comment_added" and marker in (
                    story.get("text") or ""
                ):
                    return Posted(str(story["gid"]), story.get("text"))
            offset = (page.get("next_page") or {}).get("offset")
            if not offset:
                return None

    def create(self, item_key: str, body: Any) -> Posted:
        made = self._call(
            f"commenting on task {item_key}", item_key,
            self.http.stories.create_story_for_task, {"data": {"text": body}}, item_key,
            opt_fields="text",
        )["data"]  # fmt: skip
        return Posted(str(made["gid"]), made.get("text"))

    def update(self, item_key: str, comment_id: str, body: Any) -> Posted:
        made = self._call(
            f"editing comment {comment_id} on task {item_key}", item_key,
            self.http.stories.update_story, {"data": {"text": body}}, comment_id,
            opt_fields="text",
        )["data"]  # fmt: skip
        return Posted(str(made["gid"]), made.get("text"))

    def delete(self, item_key: str, comment_id: str) -> None:
        api = self.http.stories

        def delete_story(opts: dict[str, Any], full_payload: bool) -> Any:
            return api.delete_story(comment_id, full_payload=full_payload)

        self._call(f"deleting comment {comment_id} on task {item_key}", item_key, delete_story)
