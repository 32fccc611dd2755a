"""Ctrl-C and SIGTERM for long-running commands: stop cleanly first, at once the second time.

The first signal sets the stop flag (`handoff.interrupt`): fetches stop at their next request or
page boundary, the run fails before anything is published, and the command reports what was
kept and exits 130 (SIGINT) or 143 (SIGTERM), the shell's convention. A second signal exits
immediately with the same code.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from handoff.interrupt import INTERRUPT

EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}
STOPPING = (
    "\n{name}: stopping at the next page boundary; nothing half-done is published "
    "(press Ctrl-C again to exit at once)\n"
)


def exit_code(signal_name: str | None) -> int:
    return EXIT_CODES.get(signal_name or "", 130)


@contextmanager
def graceful_stop() -> Iterator[None]:
    """While the block runs, SIGINT/SIGTERM request a stop; a second one exits at once."""
    INTERRUPT.reset()

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if INTERRUPT.requested:
            os.write(2, f"\n{name} again: exiting now\n".encode())
            os._exit(exit_code(name))
        INTERRUPT.request(name)
        os.write(2, STOPPING.format(name=name).encode())  # no locks in a signal handler

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def stop_serving() -> Iterator[None]:
    """For commands that serve until stopped: SIGTERM ends them like Ctrl-C does."""

    def handler(signum: int, frame: FrameType | None) -> None:
        INTERRUPT.request(signal.Signals(signum).name)
        raise KeyboardInterrupt

    INTERRUPT.reset()
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
