"""Stopping a long sync cleanly: a process-wide stop flag and a per-fetch no-progress watchdog.

A signal handler may only set a flag; the work stops where it is safe to: connectors check the
flag before every request (the shared retry policy does it for them) and the landing loop at
every page boundary, so what landed stays landed and nothing half-fetched is published.
Waits on the real clock wake up at once when a stop is requested.

The watchdog replaces a shared retry budget: each call is bounded by its own deadline, and a
fetch fails only when it made no progress (no page landed, no call answered) for N minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class StopRequested(Exception):
    """The user asked the sync to stop (Ctrl-C or SIGTERM); raised at the next safe point."""


class NoProgress(Exception):
    """A fetch made no progress for longer than `sync.no_progress_minutes`."""


class Interrupt:
    """The process-wide stop flag, set from a signal handler, read by every fetch thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, signal_name: str) -> None:
        """Ask every fetch to stop at its next safe point (safe to call from a signal handler)."""
        if self.signal_name is None:
            self.signal_name = signal_name
        self._event.set()

    def reset(self) -> None:
        """Forget a stop request (a new sync in the same process starts clean)."""
        self._event.clear()
        self.signal_name = None

    def check(self) -> None:
        """Raise `StopRequested` when a stop was asked for."""
        if self._event.is_set():
            raise StopRequested(f"stopped by {self.signal_name or 'request'}")

    def wait(self, seconds: float) -> None:
        """Sleep `seconds` of real time, waking at once when a stop is requested."""
        self._event.wait(max(0.0, seconds))


INTERRUPT = Interrupt()


class Watchdog:
    """Fails a fetch that made no progress for `minutes` (measured on `now`, a monotonic clock)."""

    def __init__(self, source: str, minutes: float, now: Callable[[], float] = time.monotonic):
        self.source = source
        self.limit = minutes * 60.0
        self.minutes = minutes
        self._now = now
        self._last = now()

    def beat(self) -> None:
        """Progress was made (a page landed or a call was answered)."""
        self._last = self._now()

    def idle_seconds(self) -> float:
        return self._now() - self._last

    def check(self) -> None:
        """Raise `NoProgress` naming the source and the setting when idle for too long."""
        if self.limit > 0 and self.idle_seconds() > self.limit:
            raise NoProgress(
                f"source {self.source!r}: no progress for {self.minutes:g} minutes (no page "
                "landed and no request answered); the source failed and keeps its last good "
                "data. Check the service's status, or raise sync.no_progress_minutes"
            )

    def __call__(self) -> None:
        """Guard before a request: stop requested, or no progress for too long."""
        INTERRUPT.check()
        self.check()

    def watch(self, batches: Iterable[T]) -> Iterator[T]:
        """Pass batches through, beating on each one and stopping at a page boundary when a
        stop was requested."""
        for batch in batches:
            self.beat()
            yield batch
            INTERRUPT.check()
