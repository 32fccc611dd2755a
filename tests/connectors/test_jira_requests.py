"""Request-minimal Jira syncs: remote links read only where the changelog shows a change,
changelogs completed 1,000 issues per call, and the result equal to reading every issue's links."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from model.landing import read_cursor
from sandbox.jira import JiraOrg, JiraSandbox, generate_org
from sandbox.jira.org import RemoteLink
from tests.connectors.test_jira_sync import (
    NOW,
    assert_same_staging,
    requests_matching,
    source_for,
    staging,
    sync,
)

LINK = "RemoteIssueLink"


def link_changed_since(org: JiraOrg, since: datetime | None) -> set[str]:
    """Issues whose history adds or removes a remote link (at or after `since`)."""
    return {
        key
        for key, issue in org.issues.items()
        if any(
            item[0] == LINK and (since is None or h.at >= since)
            for h in issue.histories
            for item in h.items
        )
    }


def raw_state(raw: Path) -> dict[str, Any]:
    """What a store holds: live records by type (remote links without empty lists) and the
    tombstoned keys."""
    con = duckdb.connect(str(raw), read_only=True)
    rows = con.execute(
        "SELECT record_type, record_key, payload::VARCHAR, is_deleted FROM raw_records"
    ).fetchall()
    con.close()
    state: dict[str, Any] = {"tombstones": sorted(k for t, k, _, d in rows if d)}
    for kind in ("issue", "changelog"):
        state[kind] = sorted((k, p) for t, k, p, d in rows if t == kind and not d)
    state["remotelink"] = sorted(
        (k, p) for t, k, p, d in rows if t == "remotelink" and not d and '"links":[]' not in p
    )
    return state


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_full_sync_reads_remote_links_only_for_issues_whose_history_shows_one(
    tmp_path: Path, deployment: str
) -> None:
    org = generate_org(1500, seed=21, now=NOW)
    removed_from = next(k for k, links in org.remote_links.items() if links)
    org.remove_remote_link(removed_from, org.remote_links[removed_from][0].id)
    with JiraSandbox(org, deployment=deployment) as sandbox:  # type: ignore[arg-type]
        source = source_for(sandbox)
        result, stats = sync(source, tmp_path / "raw.duckdb", full=True)
        linked = link_changed_since(org, None)
        assert 0 < len(linked) < len(org.issues) / 5
        assert requests_matching(sandbox, "/remotelink") == len(linked)
        page = 100 if deployment == "cloud" else 1000
        minimum = math.ceil(len(org.issues) / page) + len(linked)
        minimum += math.ceil(len(org.issues) / 1000)  # the key census
        if deployment == "cloud":
            bulk = requests_matching(sandbox, "/changelog/bulkfetch")
            assert 1 <= bulk <= math.ceil(len(org.issues) / 1000)
            minimum += bulk
        assert stats.requests == sandbox.server.total_requests <= minimum + 5  # + reference data
    assert result.record_counts["remotelink"] == len(linked)
    con = staging(source, tmp_path / "raw.duckdb")
    urls = con.execute("SELECT ref FROM stg_references WHERE origin = 'jira_remote_link'")
    served = [r.url for links in org.remote_links.values() for r in links]
    assert sorted(r[0] for r in urls.fetchall()) == sorted(served)


def test_incremental_reads_links_only_where_they_changed_in_the_window(tmp_path: Path) -> None:
    org = generate_org(600, seed=22, now=NOW)
    with JiraSandbox(org) as sandbox:
        source = source_for(sandbox)
        raw = tmp_path / "raw.duckdb"
        sync(source, raw, full=True)
        window = max(i.updated for i in org.issues.values()) - timedelta(minutes=10)
        org.mutate_share(0.02, seed=5)
        added_to, dropped_from = "ENG-7", next(k for k, v in org.remote_links.items() if v)
        org.add_remote_link(added_to, "https://wiki.example.com/pages/new", title="New page")
        org.remove_remote_link(dropped_from, org.remote_links[dropped_from][0].id)
        sandbox.server.reset_counts()
        sync(source, raw)
        assert requests_matching(sandbox, "/remotelink") == len(link_changed_since(org, window))
        assert {added_to, dropped_from} <= link_changed_since(org, window)
    con = staging(source, raw)
    urls = con.execute("SELECT ref FROM stg_references WHERE origin = 'jira_remote_link'")
    served = [r.url for links in org.remote_links.values() for r in links]
    assert sorted(r[0] for r in urls.fetchall()) == sorted(served)


def test_links_written_without_history_are_found_by_the_periodic_sweep(tmp_path: Path) -> None:
    org = generate_org(300, seed=23, now=NOW)
    with JiraSandbox(org) as sandbox:
        raw, source = tmp_path / "raw.duckdb", source_for(sandbox)
        sync(source, raw, full=True)
        assert read_cursor(raw)["remote_link_sweep"]  # type: ignore[index]
        silent = RemoteLink(99999, "OPS-3", "https://wiki.example.com/pages/silent", "Silent")
        org.remote_links.setdefault("OPS-3", []).append(silent)  # an integration, no history
        org.mutate_share(0.01, seed=3)
        sync(source, raw)  # default weekly sweep: not due yet
        sandbox.server.reset_counts()
        time.sleep(0.05)
        sync(source_for(sandbox, remote_link_sweep_days=0.01 / 86400), raw)  # due after 10 ms
        assert requests_matching(sandbox, "/remotelink") == len(org.issues)
    con = staging(source, raw)
    urls = [r[0] for r in con.execute("SELECT ref FROM stg_references").fetchall()]
    assert silent.url in urls


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_minimal_fetch_lands_the_same_as_reading_every_issue(
    tmp_path: Path, deployment: str
) -> None:
    """Full then incremental, once the request-minimal way and once with a sweep on every
    sync (the per-issue path): same issues, histories, remote links, edges and tombstones."""
    org = generate_org(800, seed=24, now=NOW)
    every_sync = 1e-9  # days: a sweep is due on every sync after the first
    with JiraSandbox(org, deployment=deployment) as sandbox:  # type: ignore[arg-type]
        minimal, swept = tmp_path / "minimal.duckdb", tmp_path / "swept.duckdb"
        source = source_for(sandbox)
        sync(source_for(sandbox, remote_link_sweep_days=every_sync), swept, full=True)
        sync(source_for(sandbox, remote_link_sweep_days=every_sync), swept, full=True)
        sandbox.server.reset_counts()
        sync(source_for(sandbox), minimal, full=True)
        assert raw_state(minimal) == raw_state(swept)
        org.mutate_share(0.01, seed=8)
        org.add_remote_link("ENG-11", "https://app.asana.com/0/1/2", relationship="blocks")
        dropped = next(k for k, v in org.remote_links.items() if v and k != "ENG-11")
        org.remove_remote_link(dropped, org.remote_links[dropped][0].id)
        deleted = [k for k in list(org.issues)[20:30] if k not in org.remote_links][:3]
        org.delete(deleted)
        sandbox.server.reset_counts()
        sync(source_for(sandbox), minimal)
        assert requests_matching(sandbox, "/remotelink") < 20
        sandbox.server.reset_counts()
        sync(source_for(sandbox, remote_link_sweep_days=every_sync), swept)
        assert requests_matching(sandbox, "/remotelink") == len(org.issues)
    a, b = raw_state(minimal), raw_state(swept)
    assert a["tombstones"] == sorted(deleted)
    assert a == b
    for table in ("stg_items", "stg_references", "stg_status_changes"):
        query = (
            f"SELECT * EXCLUDE (synced_at) FROM {table}"
            if table == "stg_items"
            else (f"SELECT * FROM {table}")
        )
        got = [sorted(map(repr, staging(source, raw).execute(query).fetchall()))
               for raw in (minimal, swept)]  # fmt: skip
        assert got[0] == got[1], table


def now() -> datetime:
    return datetime.now(UTC)  # what `mutate_share` stamps: inside the incremental window


def search_pages(sandbox: JiraSandbox) -> int:
    """Search requests (Cloud `search/jql`, Data Center `search`), counts excluded."""
    return sum(
        n
        for path, n in sandbox.server.requests.items()
        if path.endswith("/search/jql") or path.endswith("/search")
    )


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_incremental_skips_the_census_only_while_nothing_was_deleted(
    tmp_path: Path, deployment: str
) -> None:
    """The key census (3 pages here) is skipped when Jira's count of the scope equals the
    known keys plus the new ones; a deletion, even one a new issue hides from the count, is
    still found and tombstoned, and the model reads the same as from a full sync."""
    org = generate_org(2500, seed=31, now=NOW)
    census_pages = math.ceil(len(org.issues) / 1000)
    with JiraSandbox(org, deployment=deployment) as sandbox:  # type: ignore[arg-type]
        source = source_for(sandbox)
        raw = tmp_path / "raw.duckdb"
        sync(source, raw, full=True)
        project = next(iter(org.issues)).rsplit("-", 1)[0]
        org.mutate_share(0.01, seed=5)
        org.add_issue(None, "Created after the first sync", project=project, created=now())
        sandbox.server.reset_counts()
        sync(source, raw)
        # the changed issues' page and, on Data Center, the count (a search of one issue)
        assert search_pages(sandbox) == (1 if deployment == "cloud" else 2)
        deleted = sorted(org.issues)[100]
        org.delete([deleted])
        org.add_issue(None, "Hides the deletion from the count", project=project, created=now())
        sandbox.server.reset_counts()
        sync(source, raw)
        assert search_pages(sandbox) >= census_pages + 1  # the count disagreed: census taken
        fresh = tmp_path / "fresh.duckdb"
        sync(source, fresh, full=True)
    assert raw_state(raw)["tombstones"] == [deleted]
    assert_same_staging(source, raw, fresh)


def test_census_is_taken_on_every_sync_with_census_days_zero(tmp_path: Path) -> None:
    org = generate_org(2500, seed=32, now=NOW)
    with JiraSandbox(org, deployment="data_center") as sandbox:
        source = source_for(sandbox, census_days=0)
        sync(source, tmp_path / "raw.duckdb", full=True)
        org.mutate_share(0.01, seed=6)
        sandbox.server.reset_counts()
        sync(source, tmp_path / "raw.duckdb")
        assert search_pages(sandbox) == 1 + math.ceil(len(org.issues) / 1000)
