"""The exit hook keeps shutdown from collecting a heap the operating system is about to free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Unreachable cycles with a finaliser: only a garbage collection can free them, and a finaliser
# that runs says it did. Automatic collection is off so that only shutdown could collect them.
PROGRAM = """
import gc, sys
from handoff.process_exit import skip_collection_at_exit

class Node:
    def __del__(self):
        sys.stdout.write("collected\\n")

gc.disable()
if sys.argv[1] == "hook":
    skip_collection_at_exit()
    skip_collection_at_exit()  # twice: still one hook
for _ in range(3):
    a, b = Node(), Node()
    a.other, b.other = b, a
del a, b
print("exiting")
"""


@pytest.mark.parametrize(("mode", "collected"), [("hook", 0), ("none", 6)])
def test_a_process_with_the_hook_exits_without_collecting_its_heap(
    mode: str, collected: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "exiting"
    assert lines.count("collected") == collected
