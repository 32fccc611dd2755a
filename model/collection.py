"""Cyclic garbage collection paced for syncs, whose pages are large, short-lived and acyclic.

A decoded page of 1,000 Jira issues is hundreds of thousands of objects. At CPython's default
pace (a young collection every 700 net allocations, a full one every hundred of those) a sync
of 20,000 issues runs over a thousand collections that re-scan the pages in flight, about a
tenth of its CPU; reference counting frees the pages anyway. While a sync lands, young
collections run every YOUNG_THRESHOLD allocations instead. Cycles are still collected, only
later, so memory stays where it was.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_users = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young-generation threshold for the duration; concurrent and nested syncs
    share it, and the last one to finish restores the previous pacing."""
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = gc.get_threshold()
            young, middle, old = _saved
            if young:  # 0: collection switched off, leave it so
                gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
