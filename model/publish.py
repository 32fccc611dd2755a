"""Atomic publishing: the analysts' database is replaced by rename, never written in place.

A reader that opened the old file keeps reading it (its inode lives on) until it reconnects;
nobody ever sees half a model.

Every build carries history from the published file it read. A publish names that file by its
identity (inode, modification time, size: every publish is a new file, so the identity changes
with each one) and refuses to replace any other: otherwise a run could publish over a newer
model and discard the lifecycle that model recorded.
"""

from __future__ import annotations

import os
from pathlib import Path

from handoff.errors import HandoffError

ANY_BASIS = "any"  # `handoff check`: the copy is taken and published under one lock


class PublishedChangedError(HandoffError):
    """The published model is no longer the one a build read its history from."""


def identity(published: Path) -> str:
    """Which published file this is: changes with every publish; "none" before the first."""
    try:
        st = published.stat()
    except FileNotFoundError:
        return "none"
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def publish(built: Path, published: Path, *, based_on: str = ANY_BASIS) -> None:
    """Move the finished build over the published file in one rename on the same filesystem.

    `based_on` is the identity of the published file the build read its history from; call under
    the data directory's model lock so that the check and the rename cannot be separated."""
    current = identity(published)
    if based_on != ANY_BASIS and current != based_on:
        raise PublishedChangedError(
            f"{published} was replaced by another run after this build read its history "
            f"(read {based_on}, now {current}); publishing would discard that run's lifecycle"
        )
    published.parent.mkdir(parents=True, exist_ok=True)
    wal = built.with_name(built.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{built}: the build was not checkpointed; refusing to publish")
    tmp = published.with_name(published.name + ".publishing")
    os.replace(built, tmp)  # same directory as the target, so the final rename is atomic
    os.replace(tmp, published)
    stale_wal = published.with_name(published.name + ".wal")
    stale_wal.unlink(missing_ok=True)


def discard(built: Path) -> None:
    built.unlink(missing_ok=True)
    built.with_name(built.name + ".wal").unlink(missing_ok=True)
