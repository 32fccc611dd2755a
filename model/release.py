"""Hand memory the process has freed back to the operating system.

glibc's allocator keeps freed blocks inside its heaps for reuse, and a block still in use near
the top of a heap keeps everything beneath it. A sync frees its decoded pages, encoded payloads
and per-issue state as it goes, so by the end the process holds tens of megabytes it no longer
uses, and the landing's merge then adds its DuckDB memory on top: the peak grew with the
source's size. `malloc_trim` releases the free pages of every heap; elsewhere (macOS, musl)
there is nothing to call and nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def return_freed_memory() -> bool:
    """Release the allocator's free pages; True when the platform's allocator could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
