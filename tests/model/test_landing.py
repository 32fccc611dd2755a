"""Raw landing: all-or-nothing fetches, one row per record, tombstones, first_seen kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from connectors.base import Batch, Census, Page, RawRecord
from model.landing import land, read_cursor


def rows(path: Path) -> list[tuple[str, str, bool]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT record_key, payload->>'v', is_deleted FROM raw_records ORDER BY record_key"
        ).fetchall()
    finally:
        con.close()


def pages(values: dict[str, int], *, census: bool = True, cursor: int = 1) -> Iterator[Batch]:
    items = sorted(values.items())
    # the same record twice in one fetch: the later version wins
    yield Page([RawRecord("item", k, {"v": str(v - 1)}) for k, v in items])
    yield Page([RawRecord("item", k, {"v": str(v)}) for k, v in items])
    if census:
        yield Census("item", set(values))
    yield Page([], cursor={"n": cursor})


def test_upserts_tombstones_and_resurrection(tmp_path: Path) -> None:
    raw = tmp_path / "s.duckdb"
    first = land(raw, pages({"a": 1, "b": 1, "c": 1}), full=True)
    assert (first.changed, first.deleted) == (3, 0)
    second = land(raw, pages({"a": 1, "b": 2}, cursor=2), full=False)
    assert (second.changed, second.deleted) == (1, 1)
    assert rows(raw) == [("a", "1", False), ("b", "2", False), ("c", "1", True)]
    third = land(raw, pages({"a": 1, "b": 2, "c": 5}, cursor=3), full=False)
    assert (third.changed, third.deleted) == (1, 0)
    assert rows(raw) == [("a", "1", False), ("b", "2", False), ("c", "5", False)]
    assert read_cursor(raw) == {"n": 3}
    con = duckdb.connect(str(raw), read_only=True)
    seen = con.execute("SELECT count(DISTINCT first_seen) FROM raw_records").fetchone()
    con.close()
    assert seen == (1,)  # first_seen survives changes and resurrection


def test_a_failed_fetch_changes_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "s.duckdb"
    land(raw, pages({"a": 1, "b": 1}), full=True)

    def broken() -> Iterator[Batch]:
        yield Page([RawRecord("item", "a", {"v": "9"}), RawRecord("item", "z", {"v": "9"})])
        raise RuntimeError("connection reset")

    with pytest.raises(RuntimeError):
        land(raw, broken(), full=False)
    assert rows(raw) == [("a", "1", False), ("b", "1", False)]
    assert read_cursor(raw) == {"n": 1}
    con = duckdb.connect(str(raw), read_only=True)
    runs = con.execute("SELECT status FROM fetch_runs ORDER BY started_at").fetchall()
    tables = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'pending%'"
    ).fetchone()
    con.close()
    assert runs == [("success",), ("failed",)]
    assert tables == (0,)


def large_fetch(version: int, records: int = 20_000) -> Iterator[Batch]:
    """A fetch of `records` issues of about 3 KB each (60 MB of JSON), checkpointed per page."""
    for start in range(0, records, 1000):
        page = [
            RawRecord("issue", f"K-{i}", {"v": str(version), "body": f"text {i} " * 350})
            for i in range(start, min(records, start + 1000))
        ]
        yield Page(page, checkpoint={"at": start})
    yield Census("issue", {f"K-{i}" for i in range(records)})
    yield Page([], cursor={"n": version})


def test_a_large_refetch_merges_within_a_small_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge moves payloads in slices and joins only keys and digests, so a re-fetch
    several times larger than the landing's memory limit still lands (and keeps first_seen)."""
    raw = tmp_path / "s.duckdb"
    land(raw, large_fetch(1), full=True)
    monkeypatch.setattr("model.landing.LANDING_MEMORY", "48MB")
    same = land(raw, large_fetch(1), full=True)
    changed = land(raw, large_fetch(2), full=True)
    assert (same.changed, changed.changed, changed.deleted) == (0, 20_000, 0)
    con = duckdb.connect(str(raw), read_only=True)
    try:
        stored = con.execute(
            "SELECT count(*), count(DISTINCT payload->>'v'), min(payload->>'v'), "
            "count(DISTINCT first_seen) FROM raw_records"
        ).fetchone()
    finally:
        con.close()
    assert stored == (20_000, 1, "2", 1)
    assert read_cursor(raw) == {"n": 2}


def test_a_first_fetch_of_large_records_lands_within_a_low_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records of a few KB (a Jira issue with its changelog) land in a first fetch at a
    memory limit far below their total: the merge's inserts hold a slice each, not the fetch."""
    monkeypatch.setattr("model.landing.LANDING_MEMORY", "40MB")

    landed = land(tmp_path / "s.duckdb", issues_with_changelogs(16_000, 1000, 450), full=True)
    assert (landed.changed, landed.deleted) == (16_000, 0)
    assert stored_changelogs(tmp_path / "s.duckdb") == (16_000, changelog_chars(16_000, 450))


def issues_with_changelogs(count: int, per_page: int, repeats: int) -> Iterator[Batch]:
    """A first fetch of `count` issues whose changelog is a short text `repeats` times over."""
    for start in range(0, count, per_page):
        yield Page(
            [
                RawRecord("issue", f"K-{i}", {"v": "1", "changelog": f"moved {i} " * repeats})
                for i in range(start, min(count, start + per_page))
            ]
        )
    yield Census("issue", {f"K-{i}" for i in range(count)})
    yield Page([], cursor={"n": 1})


def changelog_chars(count: int, repeats: int) -> int:
    return sum(len(f"moved {i} " * repeats) for i in range(count))


def stored_changelogs(path: Path) -> tuple[int, int] | None:
    """Records stored, and the characters of their changelogs."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT count(*), sum(strlen(payload->>'changelog')) FROM raw_records"
        ).fetchone()
    finally:
        con.close()
    return (int(row[0]), int(row[1])) if row else None


def test_payloads_land_as_json_writes_them_whatever_their_keys_and_numbers(
    tmp_path: Path,
) -> None:
    """Tool JSON (string keys), keys a connector built from numbers, and integers beyond 64
    bits all land, each as `json.dumps` would write it."""
    payloads = {
        "plain": {"v": "1", "nested": [{"a": 1.5, "b": None, "c": "é"}]},
        "numbered": {"v": "2", 7: "seven"},
        "huge": {"v": "3", "n": 2**70},
    }
    batches = [Page([RawRecord("item", k, p) for k, p in payloads.items()]),
               Page([], cursor={"done": True})]  # fmt: skip
    land(tmp_path / "raw.duckdb", iter(batches), full=True)
    con = duckdb.connect(str(tmp_path / "raw.duckdb"), read_only=True)
    try:
        stored = dict(con.execute("SELECT record_key, payload FROM raw_records").fetchall())
    finally:
        con.close()
    assert {k: json.loads(v) for k, v in stored.items()} == {
        k: json.loads(json.dumps(p)) for k, p in payloads.items()
    }


def test_records_far_larger_than_the_memory_limit_expects_still_land(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issues with changelogs of ~100 KB each overflow the landing's memory limit (staging
    commits and the merge alike): the landing raises its limit, says so, and lands them all."""
    huge_issues = issues_with_changelogs(600, 100, 12_500)
    with caplog.at_level("WARNING", logger="model.landing"):
        landed = land(tmp_path / "s.duckdb", huge_issues, full=True, memory_limit="8MB")
    assert (landed.changed, landed.deleted) == (600, 0)
    assert stored_changelogs(tmp_path / "s.duckdb") == (600, changelog_chars(600, 12_500))
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    try:
        runs = con.execute("SELECT status FROM fetch_runs").fetchall()
    finally:
        con.close()
    assert runs == [("success",)]
    assert "s: landing ran out of memory at 7.6 MiB (very large records); going on at 30 MiB" in (
        caplog.text
    )


def test_a_large_fetch_stages_at_the_staging_limit_and_merges_at_the_landing_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Staging (appends, and DuckDB's checkpoints compressing them) runs at a limit well
    below the landing's; 70 MB of records of a few KB still stage without running out of
    memory, and the merge, back at the landing limit, lands them all."""
    monkeypatch.setattr("model.landing.STAGING_MEMORY_MIB", 16)
    with caplog.at_level("WARNING", logger="model.landing"):
        landed = land(
            tmp_path / "s.duckdb",
            issues_with_changelogs(16_000, 1000, 450),
            full=True,
            memory_limit="160MB",
        )
    assert (landed.changed, landed.deleted) == (16_000, 0)
    assert stored_changelogs(tmp_path / "s.duckdb") == (16_000, changelog_chars(16_000, 450))
    assert "ran out of memory" not in caplog.text
