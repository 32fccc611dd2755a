"""Issue comments on the Jira sandbox, as Atlassian documents them.

`POST/GET /issue/{key}/comment`, `GET/PUT/DELETE /issue/{key}/comment/{id}`: Cloud takes and
returns the body as an Atlassian Document Format document (`/rest/api/3`), Data Center as wiki
markup text (`/rest/api/2`). Adding a comment needs the *Add comments* project permission and
editing or deleting one's own the *Edit/Delete own comments* permissions: a Browse-only sync
account is answered 403, as Jira does. A comment changes the issue's `updated` time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.jira.render import jira_time
from sandbox.server import HttpError, Request, Response

if TYPE_CHECKING:
    from sandbox.jira.server import JiraSandbox

NO_COMMENT_PERMISSION = "You do not have the permission to comment on this issue."
NO_EDIT_PERMISSION = "You do not have permission to edit this comment."


@dataclass
class Comment:
    id: str
    issue_key: str
    body: Any  # ADF document (Cloud) or wiki markup text (Data Center)
    author: str  # account name
    created: datetime
    updated: datetime


def _error(status: int, message: str) -> HttpError:
    return HttpError(status, {"errorMessages": [message], "errors": {}})


class Comments:
    """The comments of one sandbox; `comments` maps comment id -> Comment."""

    def __init__(self, sandbox: JiraSandbox):
        self.sandbox = sandbox
        self.comments: dict[str, Comment] = {}
        self._next = 10000

    def on(self, key: str) -> list[Comment]:
        """The comments of an issue, oldest first."""
        return [c for c in self.comments.values() if c.issue_key == key]

    def delete_as_user(self, comment_id: str) -> None:
        """A person removes a comment in Jira's UI."""
        comment = self.comments.pop(comment_id)
        self._touch(comment.issue_key)

    # -- handlers ----------------------------------------------------------------------------
    def _may_comment(self, project: str) -> bool:
        caller = self.sandbox._caller
        allowed = self.sandbox.comment_projects
        return caller.is_admin or allowed is None or project in allowed

    def _touch(self, key: str) -> datetime:
        now = datetime.now(UTC)
        issue = self.sandbox.org.issues.get(key)
        if issue is not None:
            issue.updated = now
            self.sandbox.org.version += 1
        return now

    def _render(self, request: Request, comment: Comment) -> dict[str, Any]:
        render = self.sandbox.renderer(request)
        account = self.sandbox.account if comment.author == "sync-bot" else self.sandbox.admin
        author = {"displayName": account.display_name, "active": True}
        if self.sandbox.cloud:
            author["accountId"] = account.account_id
        else:
            author.update(name=account.name, key=account.name)
        return {
            "self": render.url(f"issue/{comment.issue_key}/comment/{comment.id}"),
            "id": comment.id,
            "author": author,
            "updateAuthor": author,
            "body": comment.body,
            "created": jira_time(comment.created),
            "updated": jira_time(comment.updated),
            "jsdPublic": True,
        }

    def _body(self, request: Request) -> Any:
        body = request.json().get("body")
        if self.sandbox.cloud and request.params.get("version") == "3":
            if not isinstance(body, dict) or body.get("type") != "doc":
                raise _error(400, "Comment body is not valid! (expected an ADF document)")
        elif not isinstance(body, str) or not body.strip():
            raise _error(400, "Comment body can not be empty!")
        return body

    def _own(self, request: Request) -> Comment:
        issue = self.sandbox._issue(request.params["key"])
        comment = self.comments.get(request.params["id"])
        if comment is None or comment.issue_key != issue.key:
            raise _error(404, "Can not find a comment for the id: " + request.params["id"] + ".")
        return comment

    def create(self, request: Request) -> Response:
        issue = self.sandbox._issue(request.params["key"])
        if not self._may_comment(issue.project):
            raise _error(403, NO_COMMENT_PERMISSION)
        body = self._body(request)
        now = self._touch(issue.key)
        self._next += 1
        comment = Comment(str(self._next), issue.key, body, self.sandbox._caller.name, now, now)
        self.comments[comment.id] = comment
        return Response(201, self._render(request, comment))

    def list(self, request: Request) -> dict[str, Any]:
        issue = self.sandbox._issue(request.params["key"])
        start = int(request.arg("startAt", "0") or 0)
        size = max(1, min(int(request.arg("maxResults", "100") or 100), 100))
        mine = self.on(issue.key)
        if request.arg("orderBy") == "-created":
            mine.reverse()
        page = mine[start : start + size]
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(mine),
            "comments": [self._render(request, c) for c in page],
        }

    def get(self, request: Request) -> dict[str, Any]:
        return self._render(request, self._own(request))

    def update(self, request: Request) -> dict[str, Any]:
        comment = self._own(request)
        issue = self.sandbox.org.issues[comment.issue_key]
        if not self._may_comment(issue.project) or comment.author != self.sandbox._caller.name:
            raise _error(403, NO_EDIT_PERMISSION)
        comment.body = self._body(request)
        comment.updated = self._touch(comment.issue_key)
        return self._render(request, comment)

    def delete(self, request: Request) -> Response:
        comment = self._own(request)
        issue = self.sandbox.org.issues[comment.issue_key]
        if not self._may_comment(issue.project) or comment.author != self.sandbox._caller.name:
            raise _error(403, NO_EDIT_PERMISSION)
        self.delete_as_user(comment.id)
        return Response(204, None, {}, raw=b"")
