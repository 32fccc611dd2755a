"""A Jira first sync killed with SIGKILL resumes from its last checkpoint and ends as if whole.

The sandbox serves from this process; the sync runs in a child process (`model.fetch`, the
step `handoff sync` runs per source) that is killed once the sandbox has answered a share of
the requests an uninterrupted sync needs. The next fetch must say it resumes, send at most the
remaining requests plus one checkpoint's worth, and land what an uninterrupted sync lands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from connectors.jira.connector import AHEAD, LINK_WORKERS
from handoff.config import JiraSource, load_config
from model.fetch import fetch_source
from model.landing import raw_store_path, read_progress
from model.normalise.jira import normalise
from sandbox.jira import JiraOrg, JiraSandbox, generate_org

pytestmark = pytest.mark.slow  # each case runs three syncs of a few thousand issues

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
ISSUES = 1500
SEED = 15
PAGE_SIZE = 50
CHECKPOINT_PAGES = 4
SEARCH_PAGES = -(-ISSUES // PAGE_SIZE)
# reference data a resumed fetch reads again (myself, status, field, the approximate count)
FIXED_REQUESTS = 10


def one_checkpoint(whole_requests: int) -> int:
    """One checkpoint's worth of requests: its share of the search pages and of everything
    read per page (remote links, bulk changelogs), the reference data read again, and what
    was asked for ahead of the landing when the sync was killed (search pages, and remote
    links in flight: one per worker)."""
    share = -(-whole_requests * CHECKPOINT_PAGES // SEARCH_PAGES)
    return share + FIXED_REQUESTS + AHEAD + LINK_WORKERS


STAGING = Path(__file__).resolve().parents[2] / "model" / "staging.sql"
ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import logging, sys
from handoff.config import load_config
from model.fetch import fetch_source
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
config = load_config(sys.argv[1])
outcome = fetch_source(config, config.sources[0])
print(outcome.status, outcome.error or "")
"""


def write_config(sandbox: JiraSandbox, root: Path) -> Path:
    entry, env = sandbox.source_entry("it-jira", "IT_JIRA_TOKEN")
    entry.update(page_size=PAGE_SIZE, checkpoint_pages=CHECKPOINT_PAGES, checkpoint_seconds=3600)
    entry["token"] = env["IT_JIRA_TOKEN"]  # the child gets no environment of ours
    root.mkdir(parents=True, exist_ok=True)
    path = root / "handoff.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [entry]}))
    return path


def child(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sync_in_child(config: Path) -> tuple[str, str]:
    proc = child(config)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return out, err


def kill_at(sandbox: JiraSandbox, config: Path, requests: int) -> int:
    """Start a sync and SIGKILL it once the sandbox has answered `requests` requests."""
    proc = child(config)
    while sandbox.server.total_requests < requests:
        assert proc.poll() is None, f"the sync ended before the kill: {proc.communicate()}"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return sandbox.server.total_requests


def normalised(config_path: Path) -> dict[str, list[str]]:
    """The staged model of the source: items (tombstones included), references, histories."""
    config = load_config(config_path)
    source = config.sources[0]
    assert isinstance(source, JiraSource)
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw_store_path(config.raw_dir, source.name)}' AS raw_jira (READ_ONLY)")
    normalise(con, source, "raw_jira", NOW.replace(tzinfo=None))
    out = {}
    for table, exclude in (
        ("stg_items", " EXCLUDE (synced_at)"),
        ("stg_references", ""),
        ("stg_status_changes", ""),
    ):
        rows = con.execute(f"SELECT *{exclude} FROM {table}").fetchall()
        # the sandbox's port differs between runs; browse links are otherwise equal
        out[table] = sorted(repr(row).replace(source.url, "<site>") for row in rows)
    con.close()
    return out


def requests_of_whole_sync(tmp_path: Path, org: JiraOrg) -> tuple[int, dict[str, list[str]]]:
    with JiraSandbox(org) as sandbox:
        config = write_config(sandbox, tmp_path / "whole")
        sync_in_child(config)
        return sandbox.server.total_requests, normalised(config)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, list[str]]]:
    """Requests and result of an uninterrupted first sync of the same site."""
    return requests_of_whole_sync(
        tmp_path_factory.mktemp("whole"), generate_org(ISSUES, SEED, now=NOW)
    )


@pytest.mark.parametrize("share", [0.3, 0.6, 0.9])
def test_killed_first_sync_resumes_and_equals_a_whole_one(
    tmp_path: Path, whole: tuple[int, dict[str, list[str]]], share: float
) -> None:
    expected, whole_result = whole
    with JiraSandbox(generate_org(ISSUES, SEED, now=NOW)) as sandbox:
        config = write_config(sandbox, tmp_path)
        killed_after = kill_at(sandbox, config, round(expected * share))
        raw = raw_store_path(load_config(config).raw_dir, "it-jira")
        progress = read_progress(raw)
        assert progress is not None and progress.records > 0  # landed pages were kept
        assert normalised(config)["stg_items"] == []  # nothing of it reached the model
        sandbox.server.reset_counts()
        _, log = sync_in_child(config)
        resumed = sandbox.server.total_requests
    assert "resuming an interrupted fetch" in log
    bound = expected - killed_after + one_checkpoint(expected)
    assert resumed <= bound, (resumed, bound, expected, killed_after)
    assert read_progress(raw) is None
    assert normalised(config) == whole_result


def test_deletions_and_changes_while_interrupted_land_as_in_a_whole_sync(
    tmp_path: Path, whole: tuple[int, dict[str, list[str]]]
) -> None:
    expected, _ = whole
    org = generate_org(ISSUES, SEED, now=NOW)
    with JiraSandbox(org) as sandbox:
        config = write_config(sandbox, tmp_path / "resumed")
        kill_at(sandbox, config, round(expected * 0.45))
        progress = read_progress(raw_store_path(load_config(config).raw_dir, "it-jira"))
        assert progress is not None
        landed = set(progress.checkpoint["seen"])
        linked = {k for link in org.links.values() for k in (link.inward_key, link.outward_key)}
        linked |= {i.parent for i in org.issues.values() if i.parent}  # parents stay too
        gone = sorted(k for k in landed if k not in linked)[:3]  # landed, then deleted
        changed = sorted(k for k in landed if k not in gone)[:5]  # landed, then changed
        later = sorted(k for k in org.issues if k not in landed)[-5:]  # not yet fetched
        org.delete(gone)
        org.touch(changed + later, NOW + timedelta(days=1))
        _, log = sync_in_child(config)
        assert "resuming an interrupted fetch" in log
        resumed = normalised(config)
        reference = write_config(sandbox, tmp_path / "whole")
        sync_in_child(reference)
        whole = normalised(reference)
    assert resumed == whole
    keys = {r.split("'")[3] for r in resumed["stg_items"]}
    assert not keys & set(gone)  # never published, so never a tombstone either
    histories = "\n".join(resumed["stg_status_changes"])
    for key in changed + later:
        assert f"it-jira:{key}'" in histories


def test_a_changed_query_or_full_discards_the_interrupted_fetch(
    tmp_path: Path, whole: tuple[int, dict[str, list[str]]]
) -> None:
    expected, _ = whole
    org = generate_org(ISSUES, SEED, now=NOW)
    with JiraSandbox(org) as sandbox:
        config_path = write_config(sandbox, tmp_path)
        kill_at(sandbox, config_path, expected // 2)
        config = load_config(config_path)
        raw = raw_store_path(config.raw_dir, "it-jira")
        assert read_progress(raw) is not None
        narrowed = write_config(sandbox, tmp_path)
        data = yaml.safe_load(narrowed.read_text())
        data["sources"][0]["projects"] = data["sources"][0]["projects"][:1]
        narrowed.write_text(yaml.safe_dump(data))
        _, log = sync_in_child(narrowed)
    assert "the query changed since the interrupted fetch (projects)" in log
    assert "resuming" not in log
    items: Any = normalised(narrowed)["stg_items"]
    project = data["sources"][0]["projects"][0]
    assert items and all(f"'{project}-" in row for row in items)


def test_full_discards_an_interrupted_fetch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, whole: tuple[int, dict[str, list[str]]]
) -> None:
    expected, _ = whole
    org = generate_org(ISSUES, SEED, now=NOW)
    with JiraSandbox(org) as sandbox:
        config_path = write_config(sandbox, tmp_path)
        kill_at(sandbox, config_path, expected // 2)
        config = load_config(config_path)
        with caplog.at_level("INFO"):
            outcome = fetch_source(config, config.sources[0], full=True)
    assert outcome.status == "success"
    assert "--full requested: discarding" in caplog.text
    assert "resuming" not in caplog.text
