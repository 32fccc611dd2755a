"""The sandboxes' sense of time, and per-key request quotas measured on it.

Vendors expire tokens and count requests per minute; tests cannot wait a day or a minute, so a
sandbox reads time from a `SandboxClock` a test can advance, and quotas take their window length
as a parameter (a test uses a one-second "minute").
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Wall time that starts at `start` and runs with real time, plus whatever a test adds."""

    def __init__(self, start: datetime | None = None):
        self._start = start or datetime.now(UTC)
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def seconds(self) -> float:
        """Seconds since the clock started, on the sandbox's time line."""
        with self._lock:
            return time.monotonic() - self._origin + self._offset

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.seconds())

    def advance(self, delta: timedelta) -> None:
        """Jump forward (a night between two syncs, a day for a token to expire)."""
        with self._lock:
            self._offset += delta.total_seconds()


class Quota:
    """At most `limit` requests per key in any `window` seconds of the clock (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: SandboxClock):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Count one request; None when allowed, else the whole seconds to wait (>= 1)."""
        now = self.clock.seconds()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(1, math.ceil(seen[0] + self.window - now))
            seen.append(now)
            return None
