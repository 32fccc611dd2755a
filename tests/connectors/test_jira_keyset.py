"""The key set a cursor holds: what an incremental sync merges into it is exactly what a set
built from every key would hold (a wrong set hides a deletion or invents one)."""

from __future__ import annotations

import random

from connectors.jira.keyset import KeySet


def test_merging_keys_gives_the_set_built_from_all_of_them() -> None:
    rng = random.Random(7)
    for _ in range(200):
        old = {f"{rng.choice('ABC')}-{rng.randint(1, 60)}" for _ in range(rng.randint(0, 80))}
        new = {f"{rng.choice('ABCD')}-{rng.randint(1, 70)}" for _ in range(rng.randint(0, 30))}
        replaced = set(rng.sample(["A", "B", "D"], rng.randint(0, 2)))
        old |= {"odd-key"} if rng.random() < 0.2 else set()
        merged = KeySet.of(old).merged(new, replacing=replaced)
        kept = {k for k in old if k.split("-")[0] not in replaced}
        expected = KeySet.of(kept | new)
        assert sorted(merged) == sorted(kept | new)
        assert merged.encode() == expected.encode() and len(merged) == len(kept | new)


def test_counts_by_project() -> None:
    keys = KeySet.of(["OPS-1", "OPS-2", "OPS-4", "ENG-10"])
    assert keys.projects == {"OPS", "ENG"}
    assert (keys.in_project("OPS"), keys.in_project("ENG"), keys.in_project("IT")) == (3, 1, 0)
    assert KeySet.of(["OPS-1", "odd-key"]).projects is None  # a key that names no project
