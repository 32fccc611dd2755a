"""Memory a sync freed goes back to the operating system before the landing's merge."""

from __future__ import annotations

import sys

import pytest

from model.release import return_freed_memory


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, trims glibc heaps")
def test_freed_blocks_pinned_by_survivors_go_back() -> None:
    """Blocks of a few KB (an encoded payload, a JSON string) freed around a few that stay:
    the allocator keeps the pages between the survivors until it is asked to let them go."""
    blocks = [bytes(2048) + i.to_bytes(4, "little") for i in range(40_000)]  # about 80 MiB
    survivors = blocks[::64]
    del blocks
    before = _rss_mib()
    assert return_freed_memory()
    after = _rss_mib()
    assert before - after > 40, (before, after)
    assert len(survivors) == 625 and survivors[1][-4:] == (64).to_bytes(4, "little")
