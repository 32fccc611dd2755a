"""Garbage collection is paced for large pages while a sync lands, and restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import Batch, Page, RawRecord
from model.collection import YOUNG_THRESHOLD, fewer_collections
from model.landing import land


def pages(seen: list[tuple[int, int, int]], *, fail: bool = False) -> Iterator[Batch]:
    """Pages that note the collector's pacing while the landing consumes them."""
    for n in range(3):
        seen.append(gc.get_threshold())
        yield Page([RawRecord("item", f"k{n}", {"n": n, "nested": {"list": [n] * 3}})])
    if fail:
        raise RuntimeError("the source went away")
    yield Page([], cursor={"done": True})


def test_a_landing_collects_less_often_and_restores_the_pacing(tmp_path: Path) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    result = land(tmp_path / "raw.duckdb", pages(seen), full=True)
    assert result.records == 3
    assert all(t[0] >= YOUNG_THRESHOLD for t in seen)
    assert gc.get_threshold() == before


def test_a_failed_landing_restores_the_pacing(tmp_path: Path) -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="went away"):
        land(tmp_path / "raw.duckdb", pages([], fail=True), full=True)
    assert gc.get_threshold() == before


def test_overlapping_syncs_restore_the_pacing_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] >= YOUNG_THRESHOLD  # the second sync still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_switched_off_collection_stays_off() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
