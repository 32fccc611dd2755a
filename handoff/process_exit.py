"""A short command should not spend its last fraction of a second collecting garbage.

At interpreter shutdown Python runs full garbage collections over every object the process
still holds: after a sync, the client libraries' and the model's tens of thousands of objects,
all about to be freed by the operating system anyway. Freezing the heap from an exit hook
moves them out of the collector's reach; finalisers and `atexit` hooks still run.
"""

from __future__ import annotations

import atexit
import gc


def skip_collection_at_exit() -> None:
    """Register (once per process) a hook that freezes the heap before shutdown collects it."""
    atexit.unregister(gc.freeze)  # idempotent: one hook however often this is called
    atexit.register(gc.freeze)
