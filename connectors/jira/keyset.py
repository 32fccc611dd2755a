"""The set of issue keys a sync left alive, small enough to keep in the cursor.

Jira numbers the issues of a project consecutively, so the keys of a site compress to a few
ranges per project (`{"OPS": "1-4980,4982-5000"}`). An incremental sync compares Jira's count of
the issues in scope with this set plus the new keys it saw: when they agree nothing was
deleted, and the key census (one request per 1,000 issues) can be skipped. When they disagree,
the same comparison project by project (`in_project`) narrows the census to the projects whose
count moved.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator
from typing import Any

KEY = re.compile(r"^([A-Z][A-Z0-9_]*)-(\d+)$")
OTHER = "~"  # keys of another shape, listed as they are (no project key starts with "~")


class KeySet:
    """Membership and size of a set of issue keys, encoded as per-project number ranges."""

    def __init__(self, ranges: dict[str, list[tuple[int, int]]], other: set[str]):
        self._ranges = ranges
        self._starts = {p: [r[0] for r in rs] for p, rs in ranges.items()}
        self._other = other
        self.size = sum(b - a + 1 for rs in ranges.values() for a, b in rs) + len(other)

    @classmethod
    def of(cls, keys: Iterable[str]) -> KeySet:
        numbers: dict[str, list[int]] = {}
        other: set[str] = set()
        for key in keys:
            match = KEY.match(key)
            if match:
                numbers.setdefault(match[1], []).append(int(match[2]))
            else:
                other.add(key)
        ranges: dict[str, list[tuple[int, int]]] = {}
        for project, values in numbers.items():
            runs: list[tuple[int, int]] = []
            for n in sorted(set(values)):
                if runs and runs[-1][1] == n - 1:
                    runs[-1] = (runs[-1][0], n)
                else:
                    runs.append((n, n))
            ranges[project] = runs
        return cls(ranges, other)

    @classmethod
    def decode(cls, value: Any) -> KeySet | None:
        """The set a cursor holds; None when it holds none or an unreadable one."""
        if not isinstance(value, dict):
            return None
        try:
            ranges = {
                str(p): [_run(part) for part in str(text).split(",") if part]
                for p, text in value.items()
                if p != OTHER
            }
            other = value.get(OTHER) or []
            return cls(ranges, {str(k) for k in other})
        except ValueError:
            return None

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            p: ",".join(str(a) if a == b else f"{a}-{b}" for a, b in rs)
            for p, rs in sorted(self._ranges.items())
        }
        if self._other:
            out[OTHER] = sorted(self._other)
        return out

    def merged(self, keys: Iterable[str], *, replacing: Collection[str] = ()) -> KeySet:
        """These keys plus `keys`, the projects in `replacing` holding only those of `keys`.
        Only `keys` are parsed (a sync's new keys, a census of a few projects): rebuilding the
        set of a whole site from strings costs tens of milliseconds at 20,000 keys."""
        fresh = KeySet.of(keys)
        ranges = {p: rs for p, rs in self._ranges.items() if p not in replacing}
        for project, runs in fresh._ranges.items():
            ranges[project] = _union(ranges[project], runs) if project in ranges else runs
        return KeySet(ranges, self._other | fresh._other)

    @property
    def projects(self) -> set[str] | None:
        """The projects the keys belong to; None when some key names no project."""
        return None if self._other else set(self._ranges)

    def in_project(self, project: str) -> int:
        """How many of the keys are in `project`."""
        return sum(b - a + 1 for a, b in self._ranges.get(project, []))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        match = KEY.match(key)
        if not match:
            return key in self._other
        starts = self._starts.get(match[1])
        if not starts:
            return False
        n = int(match[2])
        at = bisect_right(starts, n) - 1
        return at >= 0 and self._ranges[match[1]][at][1] >= n

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[str]:
        for project, runs in self._ranges.items():
            for a, b in runs:
                for n in range(a, b + 1):
                    yield f"{project}-{n}"
        yield from self._other


def project_of(key: str) -> str | None:
    """The project key an issue key starts with (None for a key of another shape)."""
    match = KEY.match(key)
    return match[1] if match else None


def _union(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Two sorted lists of number ranges as one, touching ranges joined."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(a + b):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _run(part: str) -> tuple[int, int]:
    first, _, last = part.partition("-")
    a, b = int(first), int(last or first)
    if b < a:
        raise ValueError(part)
    return a, b
