"""Atomic publishing: the analysts' database is replaced by rename, never written in place.

A reader that opened the old file keeps reading it (its inode lives on) until it reconnects;
nobody ever sees half a model.
"""

from __future__ import annotations

import os
from pathlib import Path


def publish(built: Path, published: Path) -> None:
    """Move the finished build over the published file in one rename on the same filesystem."""
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
