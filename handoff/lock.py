"""One writer per data directory, whatever starts the run: advisory file locks with named holders.

`data/.sync.lock` guards the governance model: the build that reads the published history, the
rule evaluation and the publish. `data/raw/<source>.lock` guards one source's raw store: taken
exclusively by its fetch and shared by a build that reads it. The CLI, scheduled runs, UI
materializations and backfills all take these same locks inside the asset code, so nobody can
interleave with anybody. A holder writes who it is into the file, so whoever gives up waiting can
say who holds it, doing what, since when.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from handoff.errors import SyncLockedError

MODEL_LOCK = ".sync.lock"
WAIT_HINT = "raise sync.lock_wait_seconds in the config, or pass `handoff sync --wait SECONDS`"

# Called with a sentence when a process starts waiting for a lock (the CLI shows it).
wait_listeners: list[Callable[[str], None]] = []


def model_lock_path(data_dir: Path) -> Path:
    return data_dir / MODEL_LOCK


def source_lock_path(raw_dir: Path, source: str) -> Path:
    return raw_dir / f"{source}.lock"


def holder_record(doing: str) -> str:
    """Who holds a lock: pid, host, since when (UTC) and what it is doing."""
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid {os.getpid()} on {socket.gethostname()} since {since}: {doing}"


def _read_holder(handle: object) -> str:
    handle.seek(0)  # type: ignore[attr-defined]
    text: str = handle.read().strip()  # type: ignore[attr-defined]
    return text or "another process (it has not written its name yet)"


@contextmanager
def file_lock(
    path: Path,
    *,
    doing: str,
    wait_seconds: float,
    shared: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold `path` (exclusive, or shared among readers); wait up to `wait_seconds` for it, then
    raise SyncLockedError naming the holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    deadline = time.monotonic() + wait_seconds
    announced = False
    try:
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(handle)
                if time.monotonic() >= deadline:
                    raise SyncLockedError(
                        f"another sync is running: {path} is held by {holder}. This run "
                        f"({doing}) waited {wait_seconds:g} s and gave up; let the other run "
                        f"finish, or {WAIT_HINT}"
                    ) from None
                if not announced:
                    announced = True
                    message = f"waiting up to {wait_seconds:g} s for {path}, held by {holder}"
                    for listener in [*wait_listeners, *([on_wait] if on_wait else [])]:
                        listener(message)
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(holder_record(doing))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


@contextmanager
def sync_lock(
    data_dir: Path,
    *,
    wait_seconds: float = 0,
    doing: str = "a sync",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the data directory's model lock (build, rule evaluation and publish)."""
    with file_lock(
        model_lock_path(data_dir), doing=doing, wait_seconds=wait_seconds, on_wait=on_wait
    ):
        yield


@contextmanager
def source_lock(
    raw_dir: Path,
    source: str,
    *,
    wait_seconds: float,
    doing: str,
    shared: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold one source's raw-store lock: exclusive to fetch it, shared to read it."""
    with file_lock(
        source_lock_path(raw_dir, source),
        doing=doing,
        wait_seconds=wait_seconds,
        shared=shared,
        on_wait=on_wait,
    ):
        yield
