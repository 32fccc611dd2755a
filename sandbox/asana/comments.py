"""Comment stories on the Asana sandbox, as Asana documents them.

`POST /tasks/{task_gid}/stories` adds a comment (`text` or `html_text`), `PUT /stories/{gid}`
edits one (only comment stories, only one of `text`/`html_text`), `DELETE /stories/{gid}`
removes it. Commenting needs at least comment access to the task: tasks in `no_comment` answer
403, as they do for a user without it. A comment changes the task's `modified_at`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.asana.render import field_tree, select, story_json
from sandbox.server import HttpError, Request, Response

if TYPE_CHECKING:
    from sandbox.asana.server import AsanaSandbox

COMMENT = "comment_added"
STORY_FULL = ("gid", "resource_type", "created_at", "resource_subtype", "text", "type", "target")


def _error(status: int, message: str) -> HttpError:
    from sandbox.asana.server import asana_error

    return asana_error(status, message)


class AsanaComments:
    """Comment stories of one sandbox; `no_comment` holds task gids the token may not comment."""

    def __init__(self, sandbox: AsanaSandbox):
        self.sandbox = sandbox
        self.no_comment: set[str] = set()

    def on(self, task_gid: str) -> list[Any]:
        org = self.sandbox.org
        return [
            org.stories[s]
            for s in org.tasks[task_gid].story_gids
            if org.stories[s].resource_subtype == COMMENT
        ]

    def delete_as_user(self, story_gid: str) -> None:
        """A person removes a comment in Asana."""
        org = self.sandbox.org
        story = org.stories.pop(story_gid)
        task = org.tasks[story.task_gid]
        task.story_gids.remove(story_gid)
        task.modified_at = datetime.now(UTC)
        org.version += 1

    def _text(self, request: Request) -> str:
        data = request.json().get("data") or {}
        if "text" in data and "html_text" in data:
            raise _error(400, "Only one of text and html_text can be specified.")
        text = data.get("text")
        if text is None and "html_text" in data:
            text = str(data["html_text"])
        if not isinstance(text, str) or not text.strip():
            raise _error(400, "text: Missing input")
        return text

    def _answer(self, request: Request, story: Any, status: int = 200) -> Response:
        tree = field_tree(request.args("opt_fields"))
        body = select(story_json(self.sandbox.org, story), tree, STORY_FULL)
        return Response(status, {"data": body})

    def create(self, request: Request) -> Response:
        org = self.sandbox.org
        gid = request.params["task_gid"]
        self.sandbox._task(gid)
        if gid in self.no_comment:
            raise _error(403, "Forbidden")
        text = self._text(request)
        me = next(iter(org.users), None)
        story_gid = org.add_story(gid, COMMENT, by=me, text=text, at=datetime.now(UTC))
        org.tasks[gid].modified_at = datetime.now(UTC)
        return self._answer(request, org.stories[story_gid], 201)

    def _story(self, request: Request) -> Any:
        story = self.sandbox.org.stories.get(request.params["story_gid"])
        if story is None:
            raise _error(404, f"story: Unknown object: {request.params['story_gid']}")
        return story

    def update(self, request: Request) -> Response:
        story = self._story(request)
        if story.resource_subtype != COMMENT:
            raise _error(400, "Only comment stories can have their text updated.")
        if story.task_gid in self.no_comment:
            raise _error(403, "Forbidden")
        story.text = self._text(request)
        self.sandbox.org.tasks[story.task_gid].modified_at = datetime.now(UTC)
        self.sandbox.org.version += 1
        return self._answer(request, story)

    def delete(self, request: Request) -> Response:
        story = self._story(request)
        if story.task_gid in self.no_comment:
            raise _error(403, "Forbidden")
        self.delete_as_user(story.gid)
        return Response(200, {"data": {}})
