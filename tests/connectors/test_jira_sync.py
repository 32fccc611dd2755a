"""Sync against the Jira sandbox: complete, incremental, and equal to a full sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.base import ConnectorError
from connectors.jira import JiraConnector
from connectors.jira.connector import AHEAD
from handoff.config import JiraSource
from handoff.retry import RetryPolicy
from model.landing import LandingResult, land, read_cursor
from model.normalise.jira import normalise
from sandbox.jira import JiraOrg, JiraSandbox, generate_org
from sandbox.server import test_ca_context as ca_context

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
STAGING = Path(__file__).resolve().parents[2] / "model" / "staging.sql"


def source_for(sandbox: JiraSandbox, **overrides: Any) -> JiraSource:
    entry, env = sandbox.source_entry("it-jira", "IT_JIRA_TOKEN")
    return JiraSource.model_validate({**entry, "token": env["IT_JIRA_TOKEN"], **overrides})


def sync(source: JiraSource, raw: Path, *, full: bool = False) -> tuple[LandingResult, Any]:
    connector = JiraConnector(source)
    result = land(
        raw, connector.fetch(read_cursor(raw), full=full), full=full, stats=connector.stats
    )
    return result, connector.stats


def staging(source: JiraSource, raw: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_jira (READ_ONLY)")
    normalise(con, source, "raw_jira", NOW.replace(tzinfo=None))
    return con


def assert_same_staging(source: JiraSource, raw: Path, fresh: Path) -> None:
    """Both raw stores normalise to the same live items, references and status changes."""
    for table in ("stg_items", "stg_references", "stg_status_changes"):
        query = f"SELECT * FROM {table}"
        if table == "stg_items":
            query = f"SELECT * EXCLUDE (synced_at) FROM {table} WHERE NOT is_deleted"
        got = [sorted(map(repr, staging(source, r).execute(query).fetchall()))
               for r in (raw, fresh)]  # fmt: skip
        assert got[0] == got[1], table


def requests_matching(sandbox: JiraSandbox, fragment: str) -> int:
    return sum(n for path, n in sandbox.server.requests.items() if fragment in path)


def status_histories(org: JiraOrg) -> int:
    return sum(1 for i in org.issues.values() for h in i.histories if h.items[0][0] == "status")


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_full_sync_loads_everything_served(tmp_path: Path, deployment: str) -> None:
    org = generate_org(400, seed=3, now=NOW)
    with JiraSandbox(org, deployment=deployment) as sandbox:  # type: ignore[arg-type]
        source = source_for(sandbox, milestones="both")
        result, stats = sync(source, tmp_path / "raw.duckdb")
    assert stats.requests == sandbox.server.total_requests
    assert result.record_counts["issue"] == len(org.issues)
    con = staging(source, tmp_path / "raw.duckdb")
    items = con.execute(
        "SELECT source_key, title, status FROM stg_items WHERE NOT source_key LIKE 'version/%'"
    ).fetchall()
    assert sorted(items) == sorted(
        (i.key, i.summary, org.statuses[i.status].name) for i in org.issues.values()
    )
    links = con.execute("SELECT count(*) FROM stg_references WHERE origin = 'jira_link'")
    assert links.fetchone()[0] == 2 * len(org.links)  # type: ignore[index]
    urls = con.execute("SELECT ref FROM stg_references WHERE origin = 'jira_remote_link'")
    served = [r.url for links in org.remote_links.values() for r in links]
    assert sorted(r[0] for r in urls.fetchall()) == sorted(served)
    changes = con.execute("SELECT count(*), count(to_category) FROM stg_status_changes")
    assert changes.fetchone() == (status_histories(org), status_histories(org))
    long = max(org.issues.values(), key=lambda i: len(i.histories))
    assert len(long.histories) > 100  # needed the bulk changelog / per-issue history
    got = con.execute(
        "SELECT count(*) FROM stg_status_changes WHERE item_id = ?", [f"it-jira:{long.key}"]
    ).fetchone()
    assert got == (sum(1 for h in long.histories if h.items[0][0] == "status"),)
    versions = con.execute("SELECT count(*) FROM stg_items WHERE source_key LIKE 'version/%'")
    assert versions.fetchone()[0] > 0  # type: ignore[index]


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_incremental_sync_fetches_only_changes(tmp_path: Path, deployment: str) -> None:
    org = generate_org(500, seed=4, now=NOW)
    with JiraSandbox(org, deployment=deployment) as sandbox:  # type: ignore[arg-type]
        source = source_for(sandbox)
        sync(source, tmp_path / "raw.duckdb", full=True)
        latest = max(i.updated for i in org.issues.values())
        overlap = {k for k, i in org.issues.items() if i.updated >= latest - timedelta(minutes=10)}
        changed = org.mutate_share(0.01, seed=9)  # 5 issues
        deleted = [k for k in list(org.issues)[5:8] if k not in changed and k not in overlap]
        org.delete(deleted)
        sandbox.server.reset_counts()
        result, _ = sync(source, tmp_path / "raw.duckdb")
        refetched = set(changed) | overlap  # the overlap window re-reads the latest minutes
        assert result.record_counts["issue"] == len(refetched) < len(changed) + 5
        assert result.deleted == len(deleted)
        # no remote link changed in the window: none is read
        assert requests_matching(sandbox, "/remotelink") == 0
        searches = requests_matching(sandbox, "/search")
        # one changed page, the scope's count (which disagrees: 3 fewer), one census page
        # (+ Cloud's count of the window, for progress)
        assert searches <= 4
        assert sandbox.server.total_requests <= 10
        full_raw = tmp_path / "full.duckdb"
        sync(source, full_raw, full=True)
    incremental, fresh = staging(source, tmp_path / "raw.duckdb"), staging(source, full_raw)
    for table in ("stg_items", "stg_references", "stg_status_changes"):
        query = f"SELECT * EXCLUDE (synced_at) FROM {table} WHERE NOT coalesce(is_deleted, false)"
        if table != "stg_items":
            query = f"SELECT * FROM {table}"
        assert sorted(map(repr, incremental.execute(query).fetchall())) == sorted(
            map(repr, fresh.execute(query).fetchall())
        ), table
    tombstones = incremental.execute(
        "SELECT source_key FROM stg_items WHERE is_deleted ORDER BY source_key"
    ).fetchall()
    assert [t[0] for t in tombstones] == sorted(deleted)


def test_remote_links_can_be_switched_off(tmp_path: Path) -> None:
    org = generate_org(200, seed=6, now=NOW)
    with JiraSandbox(org) as sandbox:
        result, _ = sync(source_for(sandbox, remote_links=False), tmp_path / "raw.duckdb")
        assert requests_matching(sandbox, "/remotelink") == 0
    assert "remotelink" not in result.record_counts


def test_nothing_changed_costs_a_handful_of_requests(tmp_path: Path) -> None:
    org = generate_org(300, seed=8, now=NOW)
    with JiraSandbox(org) as sandbox:
        source = source_for(sandbox)
        sync(source, tmp_path / "raw.duckdb")
        sandbox.server.reset_counts()
        result, stats = sync(source, tmp_path / "raw.duckdb")
    assert result.record_counts.get("issue", 0) <= 2  # only the overlap window's issues
    assert result.changed == 0
    assert stats.requests == sandbox.server.total_requests <= 8
    cursor = read_cursor(tmp_path / "raw.duckdb")
    assert cursor and cursor["updated"].startswith(
        max(i.updated for i in org.issues.values()).strftime("%Y-%m-%dT%H:%M")
    )


def test_data_center_truncated_history_is_completed_per_issue(tmp_path: Path) -> None:
    org = generate_org(300, seed=12, now=NOW)
    with JiraSandbox(org, deployment="data_center", changelog_expand_limit=100) as sandbox:
        source = source_for(sandbox, remote_links=False)
        sync(source, tmp_path / "raw.duckdb")
        long = [i for i in org.issues.values() if len(i.histories) > 100]
        assert long and requests_matching(sandbox, "/issue/") == len(long)
    con = staging(source, tmp_path / "raw.duckdb")
    changes = con.execute("SELECT count(*) FROM stg_status_changes").fetchone()
    assert changes == (status_histories(org),)


def test_the_environment_ca_bundle_is_trusted_as_requests_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connector reads the environment once per client, not per request: a site's CA
    given only as REQUESTS_CA_BUNDLE still works, and without it the sync is refused."""
    org = generate_org(20, 5)
    context, bundle = ca_context(str(tmp_path))
    with JiraSandbox(org, deployment="data_center", tls=context) as sandbox:
        source = source_for(sandbox)
        assert source.ca_bundle is None
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        with pytest.raises(ConnectorError):
            JiraConnector(source, retry=RetryPolicy(max_attempts=1)).check()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
        result, _ = sync(source, tmp_path / "raw.duckdb", full=True)
    assert result.record_counts["issue"] == 20


def test_a_configured_ca_bundle_wins_over_the_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source's `ca_bundle` is trusted even where REQUESTS_CA_BUNDLE names another bundle
    (common on hosts whose environment points requests at the system store)."""
    org = generate_org(20, 5)
    context, bundle = ca_context(str(tmp_path))
    with JiraSandbox(org, deployment="data_center", tls=context) as sandbox:
        source = source_for(sandbox).model_copy(update={"ca_bundle": Path(bundle)})
        system = tmp_path / "system.pem"
        system.write_text("")  # trusts nothing: the site's CA is only in the configured bundle
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(system))
        monkeypatch.setenv("CURL_CA_BUNDLE", str(system))
        result, _ = sync(source, tmp_path / "raw.duckdb", full=True)
    assert result.record_counts["issue"] == 20


def test_a_sync_over_tls_keeps_its_connections(tmp_path: Path) -> None:
    """Every TLS handshake costs the site a key exchange: a full sync (search pages read
    ahead, remote links read beside them, the key census) opens one connection per client
    thread and reuses it, however many requests it sends."""
    org = generate_org(1000, seed=3, now=NOW)
    context, bundle = ca_context(str(tmp_path))
    with JiraSandbox(org, deployment="data_center", tls=context) as sandbox:
        source = source_for(sandbox, ca_bundle=Path(bundle), page_size=25)
        connector = JiraConnector(source)
        land(tmp_path / "raw.duckdb", connector.fetch(None, full=True), full=True)
    threads = 1 + AHEAD + connector.link_workers + connector.workers
    assert requests_matching(sandbox, "/remotelink") == len(org.remote_links) > threads
    assert connector.stats.requests == sandbox.server.total_requests > 3 * threads
    assert 1 + AHEAD <= sandbox.server.connections <= threads
