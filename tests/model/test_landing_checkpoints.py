"""Checkpointed landing: a failed fetch keeps what its last checkpoint vouches for, no more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from connectors.base import Batch, Census, CheckpointLog, Page, RawRecord
from model.landing import Checkpointing, land, read_progress


class Interrupted(Exception):
    pass


def numbered(start: int, stop: int, *, fail_at: int | None = None) -> Iterator[Batch]:
    """One record per page, each page a checkpoint "after n"; fails before page `fail_at`."""
    for n in range(start, stop):
        if n == fail_at:
            raise Interrupted(f"stopped before {n}")
        yield Page([RawRecord("item", f"k{n}", {"n": n})], checkpoint={"after": n})
    yield Census("item", {f"k{n}" for n in range(stop)})
    yield Page([], cursor={"done": True})


def live_keys(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT record_key FROM raw_records WHERE NOT is_deleted").fetchall()
    finally:
        con.close()
    return sorted(r[0] for r in rows)


def test_a_failed_fetch_keeps_its_checkpoint_and_a_resume_completes_it(tmp_path: Path) -> None:
    raw = tmp_path / "raw.duckdb"
    plan = Checkpointing(fingerprint="q", every_pages=3, every_seconds=3600)
    with pytest.raises(Interrupted):
        land(raw, numbered(0, 10, fail_at=8), full=True, checkpointing=plan)
    progress = read_progress(raw)
    assert progress is not None
    assert progress.checkpoint == {"after": 5}  # committed after pages 2 and 5, not 6 or 7
    assert progress.records == 6
    assert live_keys(raw) == []  # nothing published
    resumed = land(
        raw,
        numbered(6, 10),
        full=True,
        checkpointing=Checkpointing(fingerprint="q", every_pages=3, resume=progress),
    )
    assert read_progress(raw) is None
    assert live_keys(raw) == sorted(f"k{n}" for n in range(10))
    assert resumed.records == 10 and resumed.record_counts == {"item": 10}


def test_a_failure_before_any_checkpoint_keeps_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "raw.duckdb"
    plan = Checkpointing(every_pages=5, every_seconds=3600)
    with pytest.raises(Interrupted):
        land(raw, numbered(0, 10, fail_at=3), full=True, checkpointing=plan)
    assert read_progress(raw) is None
    con = duckdb.connect(str(raw), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()
    assert "pending_records" not in tables


def test_a_fresh_fetch_clears_an_abandoned_one(tmp_path: Path) -> None:
    raw = tmp_path / "raw.duckdb"
    plan = Checkpointing(every_pages=1, every_seconds=3600)
    with pytest.raises(Interrupted):
        land(raw, numbered(100, 110, fail_at=105), full=True, checkpointing=plan)
    assert read_progress(raw) is not None
    land(raw, numbered(0, 3), full=True)
    assert read_progress(raw) is None
    assert live_keys(raw) == ["k0", "k1", "k2"]  # nothing of the abandoned fetch


def logged(
    start: int, stop: int, seen: dict[str, str], *, fail_at: int | None = None
) -> Iterator[Batch]:
    """Like `numbered`, with a checkpoint log of every key landed ("v1"; k0 again as "v2" on
    page 4, as a repaired issue is seen twice); `seen` is what a resume restored."""
    log = CheckpointLog()
    for n in range(start, stop):
        if n == fail_at:
            raise Interrupted(f"stopped before {n}")
        log.add(f"k{n}", "v1")
        if n == 4:
            log.add("k0", "v2")
        yield Page([RawRecord("item", f"k{n}", {"n": n})], checkpoint={"after": n, "seen": log})
    yield Census("item", {f"k{n}" for n in range(stop)} | set(seen))
    yield Page([], cursor={"done": True})


def saved_progress_size(raw: Path) -> int:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        row = con.execute("SELECT strlen(value::VARCHAR) FROM source_state "
                          "WHERE key = 'progress'").fetchone()  # fmt: skip
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def test_a_checkpoint_log_is_saved_as_it_grows_and_resumes_whole(tmp_path: Path) -> None:
    raw = tmp_path / "raw.duckdb"
    plan = Checkpointing(fingerprint="q", every_pages=3, every_seconds=3600)
    with pytest.raises(Interrupted):
        land(raw, logged(0, 20, {}, fail_at=8), full=True, checkpointing=plan)
    first = read_progress(raw)
    assert first is not None and first.checkpoint["after"] == 5
    # what the checkpoint vouches for, later entries winning; not k6, k7 (after it)
    assert first.checkpoint["seen"] == {f"k{n}": "v2" if n == 0 else "v1" for n in range(6)}
    small = saved_progress_size(raw)
    with pytest.raises(Interrupted):
        land(raw, logged(6, 20, first.checkpoint["seen"], fail_at=18), full=True,
             checkpointing=Checkpointing(fingerprint="q", every_pages=3, resume=first))  # fmt: skip
    second = read_progress(raw)
    assert second is not None and second.checkpoint["after"] == 17
    assert second.checkpoint["seen"] == {f"k{n}": "v2" if n == 0 else "v1" for n in range(18)}
    assert saved_progress_size(raw) <= small + 8  # longer counts, not the 12 more entries
    land(raw, logged(18, 20, second.checkpoint["seen"]), full=True,
         checkpointing=Checkpointing(fingerprint="q", every_pages=3, resume=second))  # fmt: skip
    assert read_progress(raw) is None
    assert live_keys(raw) == sorted(f"k{n}" for n in range(20))
