"""One sync at a time per data directory: an advisory file lock held for the whole run."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from handoff.errors import SyncLockedError


@contextmanager
def sync_lock(data_dir: Path, *, wait_seconds: float = 0) -> Iterator[None]:
    """Hold `data_dir/.sync.lock`; wait up to `wait_seconds`, then fail with a clear message."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ".sync.lock"
    handle = path.open("a+")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise SyncLockedError(
                    f"another sync is running ({holder}) on {data_dir}; wait for it to finish "
                    "or pass --wait SECONDS"
                ) from None
            time.sleep(0.2)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
