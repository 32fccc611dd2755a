"""A broken config never publishes, and errors retrying cannot fix fail without retries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import yaml

from handoff.config import load_config
from pipelines.runner import run_sync
from sandbox.gsheets import ServiceAccount, SheetsSandbox, Spreadsheet


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
    )


def items(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM work_items").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def test_emptied_config_publishes_nothing_and_fails(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    config_path = file_org()
    assert run_sync(config_path).success
    db = load_config(config_path).database_path
    before, published_at = items(db), db.stat().st_mtime_ns
    assert before > 0
    for emptied in ("", "# sources moved elsewhere\n"):
        config_path.write_text(emptied)
        result = cli("sync", "--config", str(config_path), cwd=tmp_path)
        assert result.returncode != 0
        assert "empty" in result.stderr and "Traceback" not in result.stderr
        assert db.stat().st_mtime_ns == published_at and items(db) == before


def test_markup_like_key_is_printed_literally(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    config_path = file_org()
    config_path.write_text(config_path.read_text() + '"[/x]": 1\n')
    result = cli("sync", "--config", str(config_path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "[/x]" in result.stderr and "Extra inputs are not permitted" in result.stderr


def test_missing_csv_fails_at_once_without_dagster_retries(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    extra = [{"name": "gone", "kind": "csv", "path": "plans/no-such-file.csv"}]
    config_path = file_org(extra_sources=extra, sync={"retries": 2, "retry_delay_seconds": 300})
    started = time.monotonic()
    report = run_sync(config_path)
    elapsed = time.monotonic() - started
    # two Dagster retries would wait about 300 s each; a loaded machine needs up to ~30 s without
    assert elapsed < 120, f"took {elapsed:.0f}s"
    gone = report.outcomes["gone"]
    assert gone.status == "failed" and "not found" in (gone.error or "")
    assert report.outcomes["it-ops"].status == "success"  # the other sources still publish


def test_config_with_a_duplicate_sources_key_fails_naming_both_lines(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    config_path = file_org()
    data = yaml.safe_load(config_path.read_text())
    first = yaml.safe_dump({"sources": data["sources"][:1]}, sort_keys=False)
    config_path.write_text(config_path.read_text() + first)
    result = cli("sync", "--config", str(config_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "duplicate key 'sources'" in result.stderr
    assert not (tmp_path / "data" / "handoff.duckdb").exists()


def test_build_file_of_a_killed_run_is_removed_by_the_next_run(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    config_path = file_org()
    build = tmp_path / "data" / "build"
    build.mkdir(parents=True)
    orphan = build / "handoff-killed-run.duckdb"
    con = duckdb.connect(str(orphan))
    con.execute("CREATE TABLE work_items AS SELECT range AS id FROM range(1000)")
    con.close()
    (build / "handoff-killed-run.duckdb.wal").write_bytes(b"")
    day_ago = time.time() - 2 * 24 * 3600  # older than sync.keep_run_state_days (1)
    for leftover in build.iterdir():
        os.utime(leftover, (day_ago, day_ago))
    assert run_sync(config_path).success
    assert sorted(p.name for p in build.iterdir()) == []


def test_refused_sheets_service_account_fails_at_once_without_dagster_retries(
    file_org: Callable[..., Path], tmp_path: Path
) -> None:
    """A key the token endpoint refuses cannot start working on a retry: with two retries
    300 s apart configured, the source still fails at once and the others publish."""
    with SheetsSandbox({"plan": Spreadsheet("Plan")}) as sheets:
        stranger = ServiceAccount(client_email=sheets.account.client_email)
        key = tmp_path / "secrets" / "sa.json"
        key.parent.mkdir()
        key.write_text(json.dumps(stranger.info(sheets.token_uri)))
        entry, _ = sheets.source_entry("store-sheet", "plan", key)
        config_path = file_org(
            extra_sources=[entry], sync={"retries": 2, "retry_delay_seconds": 300}
        )
        started = time.monotonic()
        report = run_sync(config_path)
        elapsed = time.monotonic() - started
    # two Dagster retries would wait about 300 s each; a loaded machine needs up to ~30 s without
    assert elapsed < 120, f"took {elapsed:.0f}s"
    sheet = report.outcomes["store-sheet"]
    assert sheet.status == "failed" and "no access token" in (sheet.error or "")
    assert report.outcomes["it-ops"].status == "success"
