"""What a running sync is doing right now: the phase, and per source its records and requests.

The fetch step and the pipeline phases report here; the command line reads it to show a live
view on a terminal, or to log one line per source every few seconds when output goes to a file
(cron, systemd, CI), so a long sync is never silent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PHASES = ("fetch", "model", "rules", "publish", "report")


@dataclass
class SourceActivity:
    """One source's fetch as it runs."""

    source: str
    stats: Any = None  # the connector's FetchStats: requests, retries, items_done/items_total
    started: float = field(default_factory=time.monotonic)
    records: int = 0
    status: str | None = None  # None while fetching, then "success" or "failed"
    finished: float | None = None

    @property
    def requests(self) -> int:
        return int(getattr(self.stats, "requests", 0) or 0)

    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def eta_seconds(self) -> float | None:
        """Seconds left, when the source knows how many items it will fetch."""
        total = getattr(self.stats, "items_total", None)
        done = int(getattr(self.stats, "items_done", 0) or 0)
        if not total or done <= 0 or self.status is not None:
            return None
        return max(0.0, self.seconds() * (total - done) / done)


Listener = Callable[[str, Any], None]  # (event, payload): "phase" name or a SourceActivity


class Activity:
    """The process-wide record of the running sync; thread-safe."""

    def __init__(self) -> None:
        self.sources: dict[str, SourceActivity] = {}
        self.phase: str | None = None
        self.listeners: list[Listener] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.sources = {}
            self.phase = None

    def _tell(self, event: str, payload: Any) -> None:
        for listener in list(self.listeners):
            listener(event, payload)

    def enter_phase(self, phase: str) -> None:
        self.phase = phase
        self._tell("phase", phase)

    def start_source(self, source: str, stats: Any) -> SourceActivity:
        entry = SourceActivity(source, stats)
        with self._lock:
            self.sources[source] = entry
        self._tell("start", entry)
        return entry

    def landed(self, source: str, records: int) -> None:
        with self._lock:
            entry = self.sources.setdefault(source, SourceActivity(source))
            entry.records = records

    def finish_source(self, source: str, status: str) -> None:
        with self._lock:
            entry = self.sources.setdefault(source, SourceActivity(source))
            entry.status = status
            entry.finished = time.monotonic()
        self._tell("finish", entry)

    def snapshot(self) -> list[SourceActivity]:
        with self._lock:
            return list(self.sources.values())


ACTIVITY = Activity()


def describe(entry: SourceActivity) -> str:
    """`it-jira: 12,300 records, 1,204 requests (20.1/s), ETA 4m10s`."""
    seconds = entry.seconds()
    rate = entry.requests / seconds if seconds > 0 else 0.0
    text = f"{entry.source}: {entry.records:,} records, {entry.requests:,} requests ({rate:.1f}/s)"
    eta = entry.eta_seconds()
    if eta is not None:
        text += f", ETA {_duration(eta)}"
    if entry.status is not None:
        text += f", {entry.status} in {_duration(seconds)}"
    return text


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
