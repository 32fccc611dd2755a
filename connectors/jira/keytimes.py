"""Issue key -> `updated` time for every issue of a sync, in about 10 bytes an issue.

A sync keeps two such maps as large as the site (the issues it saw, and the key census): as a
dict of key strings to datetimes they cost about 140 bytes an issue, which made a sync's peak
memory grow with the site's size. Jira numbers each project's issues consecutively, so the
times are kept per project in arrays indexed by issue number (microseconds since the epoch,
and the UTC offset the time was written with, so a time comes back as Jira wrote it). A key of
another shape, or a number far from the rest of its project, goes to a plain dict.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta, timezone

from connectors.jira.keyset import KEY

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ABSENT = -(2**63)  # no issue with this number
# a number more than this beyond its project's array goes to the dict: a scope holding a few
# issues of a project numbered in the millions does not allocate millions of slots
MAX_GAP = 65_536


def _micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _offset_minutes(moment: datetime) -> int | None:
    """The moment's UTC offset in whole minutes; None when it has none that fits."""
    offset = moment.utcoffset()
    if offset is None or offset % timedelta(minutes=1):
        return None
    minutes = offset // timedelta(minutes=1)
    return minutes if -1440 < minutes < 1440 else None


class _Project:
    """One project's times, by issue number from `base` on."""

    __slots__ = ("base", "micros", "offsets")

    def __init__(self, base: int):
        self.base = base
        self.micros = array("q")
        self.offsets = array("h")


class KeyTimes(MutableMapping[str, datetime]):
    """A mapping of issue key to an aware datetime, compact for consecutive issue numbers."""

    def __init__(self, items: dict[str, datetime] | None = None):
        self._projects: dict[str, _Project] = {}
        self._other: dict[str, datetime] = {}
        self._size = 0
        self._zones: dict[int, timezone] = {}
        for key, moment in (items or {}).items():
            self[key] = moment

    def _slot(self, key: str, create: bool) -> tuple[_Project, int] | None:
        match = KEY.match(key)
        if not match:
            return None
        number = int(match[2])
        project = self._projects.get(match[1])
        if project is None:
            if not create:
                return None
            project = self._projects[match[1]] = _Project(number)
        at = number - project.base
        if at < 0 or at >= len(project.micros) + (MAX_GAP if create else 0):
            return None
        if at >= len(project.micros):
            grow = at + 1 - len(project.micros)
            if grow == 1:  # the next number: the usual case, issues come in id order
                project.micros.append(ABSENT)
                project.offsets.append(0)
            else:
                project.micros.extend(array("q", [ABSENT]) * grow)
                project.offsets.extend(array("h", [0]) * grow)
        return project, at

    def __setitem__(self, key: str, moment: datetime) -> None:
        minutes = _offset_minutes(moment)
        if minutes is not None and key not in self._other:
            slot = self._slot(key, create=True)
            if slot is not None:
                project, at = slot
                if project.micros[at] == ABSENT:
                    self._size += 1
                project.micros[at] = _micros(moment)
                project.offsets[at] = minutes
                return
        if key not in self._other:
            if key in self:
                del self[key]  # held in an array until now
            self._size += 1
        self._other[key] = moment

    def _get(self, key: str) -> datetime | None:
        if key in self._other:
            return self._other[key]
        slot = self._slot(key, create=False)
        if slot is None:
            return None
        project, at = slot
        micros = project.micros[at]
        if micros == ABSENT:
            return None
        return self._moment(micros, project.offsets[at])

    def _moment(self, micros: int, minutes: int) -> datetime:
        zone = self._zones.get(minutes)
        if zone is None:
            zone = self._zones[minutes] = (
                UTC if minutes == 0 else timezone(timedelta(minutes=minutes))
            )
        return (EPOCH + timedelta(microseconds=micros)).astimezone(zone)

    def __getitem__(self, key: str) -> datetime:
        moment = self._get(key)
        if moment is None:
            raise KeyError(key)
        return moment

    def __delitem__(self, key: str) -> None:
        if key in self._other:
            del self._other[key]
            self._size -= 1
            return
        slot = self._slot(key, create=False)
        if slot is None or slot[0].micros[slot[1]] == ABSENT:
            raise KeyError(key)
        slot[0].micros[slot[1]] = ABSENT
        self._size -= 1

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._get(key) is not None

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[str]:
        for name, project in self._projects.items():
            for at, micros in enumerate(project.micros):
                if micros != ABSENT:
                    yield f"{name}-{project.base + at}"
        yield from self._other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyTimes | dict):
            return NotImplemented
        return len(self) == len(other) and all(other.get(k) == v for k, v in self.items())

    __hash__ = None  # type: ignore[assignment]

    def latest(self) -> datetime | None:
        """The newest time held (None when empty), without building every datetime."""
        best: tuple[int, int] | None = None
        for project in self._projects.values():
            for at, micros in enumerate(project.micros):
                if micros != ABSENT and (best is None or micros > best[0]):
                    best = (micros, project.offsets[at])
        newest = self._moment(*best) if best else None
        others = max(self._other.values(), default=None)
        if newest is None or (others is not None and others > newest):
            return others
        return newest

    def count_since(self, since: datetime) -> int:
        """How many times are at or after `since`."""
        floor = _micros(since)
        count = sum(1 for p in self._projects.values() for m in p.micros if m >= floor)
        return count + sum(1 for moment in self._other.values() if moment >= since)

    def _micros_of(self, project: str, number: int) -> int | None:
        """The time held for `project-number` in microseconds, None when none is."""
        held = self._projects.get(project)
        at = number - held.base if held is not None else -1
        if held is not None and 0 <= at < len(held.micros) and held.micros[at] != ABSENT:
            return held.micros[at]
        moment = self._other.get(f"{project}-{number}") if self._other else None
        return _micros(moment) if moment is not None else None

    def newer_than(self, seen: KeyTimes, since: datetime | None) -> list[str]:
        """The keys here whose time is at or after `since` (any, when None) and later than
        `seen` holds for them (or that `seen` lacks): what a sync has to read again.
        Compares the stored numbers: no datetime is built for the issues that match."""
        floor = _micros(since) if since is not None else ABSENT
        missed: list[str] = []
        for name, project in self._projects.items():
            for at, micros in enumerate(project.micros):
                if micros == ABSENT or micros < floor:
                    continue
                known = seen._micros_of(name, project.base + at)
                if known is None or known < micros:
                    missed.append(f"{name}-{project.base + at}")
        for key, moment in self._other.items():
            if since is not None and moment < since:
                continue
            known_at = seen._get(key)
            if known_at is None or known_at < moment:
                missed.append(key)
        return missed
