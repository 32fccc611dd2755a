"""What a write-back client does, whatever the tool: find, add, edit and remove one comment.

Clients raise `CommentGone` when the comment (or its item) no longer exists and `WriteRefused`
when the tool refuses a write for good (no permission, invalid body): the caller reports that
item and goes on with the rest. Waits for quotas (429) happen inside, under the shared retry
policy; `Unavailable` means the tool stayed unavailable past it (the rest waits for next run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class CommentGone(Exception):
    """The comment or its item is gone (deleted by a person, or the item was deleted)."""


class WriteRefused(Exception):
    """The tool refused the write and will refuse it again; the message names item and fix."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Unavailable(Exception):
    """The tool kept answering 429/5xx (or could not be reached) past the retry policy."""


@dataclass(frozen=True)
class Posted:
    """A comment as the tool stored it."""

    comment_id: str
    body: Any


Line = tuple[str, str | None]  # a line of text, and the link it leads to


class CommentClient(Protocol):
    """One source's comments; `requests` counts the HTTP requests made."""

    @property
    def requests(self) -> int: ...

    def body(self, lines: list[Line]) -> Any:
        """The tool's body for these plain lines (ADF, wiki markup or text)."""
        ...

    def find(self, item_key: str, marker: str) -> Posted | None:
        """The comment on the item whose text holds `marker`, if any."""
        ...

    def create(self, item_key: str, body: Any) -> Posted: ...

    def update(self, item_key: str, comment_id: str, body: Any) -> Posted: ...

    def delete(self, item_key: str, comment_id: str) -> None: ...
