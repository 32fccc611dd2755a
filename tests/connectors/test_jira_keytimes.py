"""The compact map of issue key to `updated` a sync keeps for every issue: it answers exactly as
a dict would (a wrong answer re-reads issues needlessly, or misses one the census found newer),
and holds a large site in a small fraction of a dict's memory."""

from __future__ import annotations

import random
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone

from connectors.jira.keytimes import KeyTimes

ZONES = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]


def _random_time(rng: random.Random) -> datetime:
    moment = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randint(0, 10**13))
    return moment.astimezone(rng.choice(ZONES))


def _random_key(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(["odd-key", "lower-1", "A-x"])  # keys of another shape
    if roll < 0.1:
        return f"FAR-{rng.choice([1, 10**7, 3 * 10**7])}"  # numbers far apart
    return f"{rng.choice(['A', 'B', 'C2'])}-{rng.randint(1, 300)}"


def test_answers_as_a_dict_does() -> None:
    rng = random.Random(11)
    for _ in range(60):
        compact, plain = KeyTimes(), {}
        for _ in range(rng.randint(0, 400)):
            key = _random_key(rng)
            if rng.random() < 0.1 and plain:
                gone = rng.choice(sorted(plain))
                del compact[gone], plain[gone]
                continue
            moment = _random_time(rng)
            compact[key] = moment
            plain[key] = moment
        assert len(compact) == len(plain)
        assert dict(compact.items()) == plain
        for key, moment in plain.items():
            assert compact[key] == moment and key in compact
            assert compact[key].utcoffset() == moment.utcoffset()  # as Jira wrote it
        assert "A-0" not in compact and "Z-1" not in compact
        assert compact.latest() == max(plain.values(), default=None)
        since = _random_time(rng)
        assert compact.count_since(since) == sum(1 for t in plain.values() if t >= since)
        assert compact == KeyTimes(plain) and compact == plain


def test_newer_than_lists_what_a_sync_must_read_again() -> None:
    rng = random.Random(5)
    for _ in range(60):
        seen = {_random_key(rng): _random_time(rng) for _ in range(rng.randint(0, 300))}
        census = {_random_key(rng): _random_time(rng) for _ in range(rng.randint(0, 300))}
        for key in rng.sample(sorted(seen), min(len(seen), 50)):
            census[key] = seen[key]  # listed unchanged by the census
        since = None if rng.random() < 0.3 else _random_time(rng)
        expected = {
            key
            for key, updated in census.items()
            if (since is None or updated >= since) and (key not in seen or seen[key] < updated)
        }
        missed = KeyTimes(census).newer_than(KeyTimes(seen), since)
        assert sorted(missed) == sorted(expected) and len(missed) == len(expected)


def test_a_large_site_costs_a_fraction_of_a_dict() -> None:
    start = datetime(2025, 1, 1, 9, tzinfo=UTC)
    items = {f"P{n % 10}-{n // 10 + 1}": start + timedelta(seconds=n) for n in range(100_000)}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        compact = KeyTimes(items)
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(compact) == 100_000 and compact["P3-5001"] == items["P3-5001"]
    assert size < 2 * 2**20  # a dict of these keys and datetimes holds about 14 MB
