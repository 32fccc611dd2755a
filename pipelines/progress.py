"""Progress of a long sync: a live view on a terminal, periodic log lines everywhere else.

On a terminal each source has a line with its records landed (its spinner stops when the source
is done). Without one (cron, systemd, CI, output redirected to a file) a line per source is
logged every `every` seconds (records, requests, request rate, ETA when the total is known),
plus one line whenever the sync enters a phase (fetch, model, rules, publish, report).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from handoff import lock as data_lock
from handoff.activity import ACTIVITY, SourceActivity, describe
from model import landing


@contextmanager
def sync_progress(console: Console, *, every: float = 10.0) -> Iterator[None]:
    """Show the sync's progress while the block runs (live or as log lines)."""
    ACTIVITY.reset()
    landing.progress_listeners.append(ACTIVITY.landed)
    try:
        if console.is_terminal:
            with _live(console):
                yield
        else:
            with _logged(console, every):
                yield
    finally:
        landing.progress_listeners.remove(ACTIVITY.landed)


@contextmanager
def _live(console: Console) -> Iterator[None]:
    lock = threading.Lock()
    with Progress(
        SpinnerColumn(finished_text="✓"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        overall = progress.add_task(
            "fetching sources, then building the model and evaluating rules"
        )
        tasks: dict[str, TaskID] = {}

        def task_of(source: str) -> TaskID:
            if source not in tasks:
                tasks[source] = progress.add_task("", total=1)
            return tasks[source]

        def on_page(source: str, records: int) -> None:
            with lock:
                progress.update(
                    task_of(source), description=f"  {source}: {records:,} records landed"
                )

        def on_wait(message: str) -> None:
            progress.console.print(f"[yellow]{message}[/]", highlight=False)

        landing.progress_listeners.append(on_page)
        data_lock.wait_listeners.append(on_wait)

        def on_event(event: str, payload: Any) -> None:
            with lock:
                if event == "finish" and isinstance(payload, SourceActivity):
                    progress.update(
                        task_of(payload.source),
                        completed=1,  # stops the spinner
                        description=f"  {describe(payload)}",
                    )
                elif event == "phase":
                    progress.update(overall, description=f"{payload}…")

        ACTIVITY.listeners.append(on_event)
        try:
            yield
        finally:
            ACTIVITY.listeners.remove(on_event)
            landing.progress_listeners.remove(on_page)
            data_lock.wait_listeners.remove(on_wait)
            progress.update(overall, completed=1)


@contextmanager
def _logged(console: Console, every: float) -> Iterator[None]:
    started = time.monotonic()
    stop = threading.Event()

    def log(text: str) -> None:
        elapsed = time.monotonic() - started
        console.print(f"[{elapsed:7.1f}s] {text}", highlight=False, soft_wrap=True, markup=False)

    def on_event(event: str, payload: Any) -> None:
        if event == "phase":
            log(f"phase: {payload}")
        elif event == "finish" and isinstance(payload, SourceActivity):
            log(f"source {describe(payload)}")

    def tick() -> None:
        while not stop.wait(every):
            running = [e for e in ACTIVITY.snapshot() if e.status is None]
            for entry in running:
                log(f"source {describe(entry)}")
            if not running:  # between phases too: a silent log looks like a hung sync
                log(f"phase: {ACTIVITY.phase or 'starting'} (running)")

    def on_wait(message: str) -> None:
        log(message)

    ACTIVITY.listeners.append(on_event)
    data_lock.wait_listeners.append(on_wait)
    ticker = threading.Thread(target=tick, name="progress-log", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
        ACTIVITY.listeners.remove(on_event)
        data_lock.wait_listeners.remove(on_wait)
