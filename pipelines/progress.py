"""Live progress for long syncs: records landed per source while the job runs in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from handoff import lock as data_lock
from model import landing


@contextmanager
def sync_progress(console: Console) -> Iterator[None]:
    """Show one line per source with the records landed so far, plus the overall stage."""
    lock = threading.Lock()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        overall = progress.add_task(
            "fetching sources, then building the model and evaluating rules"
        )
        tasks: dict[str, TaskID] = {}

        def on_page(source: str, records: int) -> None:
            with lock:
                if source not in tasks:
                    tasks[source] = progress.add_task("")
                progress.update(
                    tasks[source], description=f"  {source}: {records:,} records landed"
                )

        def on_wait(message: str) -> None:
            progress.console.print(f"[yellow]{message}[/]", highlight=False)

        landing.progress_listeners.append(on_page)
        data_lock.wait_listeners.append(on_wait)
        try:
            yield
        finally:
            landing.progress_listeners.remove(on_page)
            data_lock.wait_listeners.remove(on_wait)
            progress.update(overall, completed=1)
