"""Findings written back as Jira issue comments: Cloud in ADF (`/rest/api/3`), Data Center in
wiki markup (`/rest/api/2`), through the `jira` client's session and the shared retry policy.

The sync account needs *Add comments* (and *Edit own comments*, *Delete own comments*) on the
projects written to; a 403 becomes a `WriteRefused` that names the item and the permission.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from jira import JIRA

from connectors.base import ConnectorError, FetchStats
from connectors.jira.retry import JiraRefused, jira_retrier
from handoff.comments import CommentGone, Posted, Unavailable, WriteRefused
from handoff.config import JiraSource
from handoff.retry import Clock, RetryPolicy

Line = tuple[str, str | None]  # text, and a link it leads to
WIKI_SPECIAL = re.compile(r"([\\{}\[\]|!*_^~+?])")
PERMISSIONS = "*Add comments*, *Edit own comments* and *Delete own comments*"


def adf(lines: list[Line]) -> dict[str, Any]:
    """Atlassian Document Format: one paragraph per line, links as link marks."""
    paragraphs = []
    for text, url in lines:
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        if url:
            link = {"type": "link", "attrs": {"href": url}}
            content.append({"type": "text", "text": url, "marks": [link]})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def wiki(lines: list[Line]) -> str:
    """Jira wiki markup with every markup character of the text escaped."""
    out = []
    for text, url in lines:
        escaped = WIKI_SPECIAL.sub(r"\\\1", text)
        if escaped.startswith(("#", "-", "h1.", "bq.")):
            escaped = "\\" + escaped
        out.append(escaped + (f" [{url}]" if url and "]" not in url and "|" not in url else ""))
    return "\n".join(out)


class JiraComments:
    """Comments on one Jira source's issues."""

    def __init__(
        self, source: JiraSource, *, retry: RetryPolicy | None = None, clock: Clock | None = None
    ):
        self.source = source
        self.cloud = source.deployment == "cloud"
        self.stats = FetchStats()
        self._retrier = jira_retrier(
            source.name, self.stats, retry or RetryPolicy(deadline=source.max_retry_wait_seconds),
            clock,
        )  # fmt: skip
        self._client: JIRA | None = None
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        return self.stats.requests

    def body(self, lines: list[Line]) -> Any:
        return adf(lines) if self.cloud else wiki(lines)

    # -- HTTP ---------------------------------------------------------------------------------
    def _jira(self) -> JIRA:
        if self._client is None:
            token = self.source.token.get_secret_value()
            verify: str | bool = str(self.source.ca_bundle) if self.source.ca_bundle else True
            kwargs: dict[str, Any] = {
                "options": {"rest_api_version": "3" if self.cloud else "2", "verify": verify},
                "max_retries": 0,
                "get_server_info": False,
                "timeout": 60,
                "logging": False,
            }
            if self.cloud:
                auth = (self.source.email or "", token)
                self._client = JIRA(self.source.url, basic_auth=auth, **kwargs)
            else:
                self._client = JIRA(self.source.url, token_auth=token, **kwargs)
            self._client._session.hooks["response"].append(self._count)
        return self._client

    def _count(self, response: Any, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.stats.requests += 1

    def _call(self, what: str, key: str, method: str, path: str, body: Any = None) -> Any:
        client = self._jira()
        url = client._get_url(path)
        data = json.dumps(body) if body is not None else None

        def send() -> Any:
            response = client._session.request(method, url, data=data)
            return response.json() if response.content else None

        try:
            return self._retrier.call(f"{what} ({method} {path})", send)
        except ConnectorError as err:
            if not isinstance(err, JiraRefused):
                raise Unavailable(str(err)) from None
            return self._refused(what, key, err)

    def _refused(self, what: str, key: str, err: JiraRefused) -> Any:
        """404: the comment (or issue) is gone; 403: a permission is missing; else final."""
        if err.status == 404:
            raise CommentGone(f"{key}: {err.detail[:200]}")
        if err.status == 403:
            raise WriteRefused(
                f"source {self.source.name!r}, issue {key}: Jira refused {what} (HTTP 403: "
                f"{err.detail[:200]}); the sync account needs {PERMISSIONS} on its project",
                403,
            )
        raise WriteRefused(f"source {self.source.name!r}, issue {key}: {err}", err.status)

    # -- the four operations ------------------------------------------------------------------
    def find(self, item_key: str, marker: str) -> Posted | None:
        start = 0
        while True:
            page = self._call(
                "reading comments", item_key, "GET",
                f"issue/{item_key}/comment?startAt={start}&maxResults=100",
            )  # fmt: skip
            comments = page.get("comments") or []
            for comment in comments:
                if marker in json.dumps(comment.get("body"), ensure_ascii=False):
                    return Posted(str(comment["id"]), comment.get("body"))
            start += len(comments)
            if not comments or start >= int(page.get("total") or 0):
                return None

    def create(self, item_key: str, body: Any) -> Posted:
        made = self._call("adding a comment", item_key, "POST", f"issue/{item_key}/comment",
                          {"body": body})  # fmt: skip
        return Posted(str(made["id"]), made.get("body"))

    def update(self, item_key: str, comment_id: str, body: Any) -> Posted:
        made = self._call("editing a comment", item_key, "PUT",
                          f"issue/{item_key}/comment/{comment_id}", {"body": body})  # fmt: skip
        return Posted(str(made["id"]), made.get("body"))

    def delete(self, item_key: str, comment_id: str) -> None:
        self._call("deleting a comment", item_key, "DELETE",
                   f"issue/{item_key}/comment/{comment_id}")  # fmt: skip
