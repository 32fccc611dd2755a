"""Jira as customers run it: a Browse-only bot, Data Center's dialect, a user time zone that is
not UTC, issues deleted mid-sync, an API gateway in front of the site. Every sandbox here is
vendor-strict (requests checked against Atlassian's documents; see sandbox/specs/README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.base import ConnectorError, Rejection
from connectors.jira import JiraConnector
from handoff.config import HandoffConfig, JiraSource
from handoff.retry import RetryPolicy
from model.build import build_model
from model.landing import LandingResult, land, raw_store_path, read_cursor
from sandbox.jira import JiraOrg, JiraSandbox, generate_org
from sandbox.server import Request

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.1, deadline=1.0)
Deployment = Any  # "cloud" | "data_center"


def story() -> JiraOrg:
    """An epic with two stories and a sub-task; a description names another issue."""
    org = JiraOrg.empty(NOW)
    org.add_project("OPS", "Store Ops", versions=[("Spring", date(2025, 7, 1), False)])
    org.add_user("u-ana", "Ana Lima", email="ana@example.com")
    org.add_user("u-bo", "Bo Chen")  # e-mail hidden
    start = NOW - timedelta(days=20)
    org.add_issue("OPS-1", "Store opening Lisbon", "In Progress", issuetype="Epic", created=start)
    org.add_issue(
        "OPS-2",
        "Order POS terminals",
        "To Do",
        assignee="u-bo",
        parent="OPS-1",
        created=start,
        fix_versions=["Spring"],
    )
    org.add_issue(
        "OPS-3",
        "Open the store",
        "To Do",
        assignee="u-ana",
        parent="OPS-1",
        created=start,
        description="Waiting on OPS-2 before the doors open.",
    )
    org.add_issue("OPS-4", "Wire the tills", "To Do", parent="OPS-2", issuetype="Sub-task")
    org.add_issue("OPS-5", "Staff rota", "To Do", created=start)
    org.add_status_change("OPS-2", "To Do", "In Progress", at=start + timedelta(days=3))
    return org


def source_for(sandbox: JiraSandbox, name: str = "it-jira", **overrides: Any) -> JiraSource:
    entry, env = sandbox.source_entry(name, "IT_JIRA_TOKEN")
    return JiraSource.model_validate({**entry, "token": env["IT_JIRA_TOKEN"], **overrides})


def sync(source: JiraSource, raw: Path, *, full: bool = False) -> tuple[LandingResult, list[Any]]:
    """One fetch landed in `raw`; returns the landing result and the warnings yielded."""
    connector = JiraConnector(source, retry=FAST)
    warnings: list[Rejection] = []

    def tap(batches: Any) -> Any:
        for batch in batches:
            if isinstance(batch, Rejection):
                warnings.append(batch)
            yield batch

    result = land(
        raw, tap(connector.fetch(read_cursor(raw), full=full)), full=full, stats=connector.stats
    )
    return result, warnings


def model(sandbox: JiraSandbox, root: Path, **overrides: Any) -> duckdb.DuckDBPyConnection:
    """Sync `sandbox` into a fresh raw store and build the governance model from it."""
    source = source_for(sandbox, **overrides)
    config = HandoffConfig.model_validate({"base_dir": root, "sources": [source.model_dump()]})
    raw = raw_store_path(config.raw_dir, source.name)
    raw.parent.mkdir(parents=True, exist_ok=True)
    sync(source, raw)
    built = build_model(config, run_id="t", now=NOW.replace(tzinfo=None), outcomes={})
    return duckdb.connect(str(built.path), read_only=True)


def requests_matching(sandbox: JiraSandbox, fragment: str) -> int:
    return sum(n for path, n in sandbox.server.requests.items() if fragment in path)


def stored(raw: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(raw), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_browse_only_cloud_account_syncs_everything(tmp_path: Path) -> None:
    org = generate_org(120, seed=41, now=NOW)
    with JiraSandbox(org) as sandbox:  # Browse projects only, the default
        assert not sandbox.account.has("ADMINISTER_PROJECTS")
        result, warnings = sync(source_for(sandbox), tmp_path / "raw.duckdb")
        assert sandbox.invalid_requests == []
    assert warnings == []
    assert result.record_counts["issue"] == len(org.issues)
    assert result.record_counts["status"] == len(org.statuses)  # from GET /status


def test_data_center_search_sends_array_typed_body(tmp_path: Path) -> None:
    org = generate_org(80, seed=42, now=NOW)
    with JiraSandbox(org, deployment="data_center") as sandbox:
        result, _ = sync(source_for(sandbox), tmp_path / "raw.duckdb")
        searches = [c for c in sandbox.contract_log if c.path.endswith("/search")]
        assert searches and all(c.ok for c in searches)
        assert sandbox.invalid_requests == []
    assert result.record_counts["issue"] == len(org.issues)


class RenamedEpicLink(JiraSandbox):
    """A French site: Epic Link is translated, and a text field is *called* "Epic Link"."""

    def fields(self, request: Request) -> list[dict[str, Any]]:
        out = super().fields(request)
        for field in out:
            if field["name"] == "Epic Link":
                field["name"] = "Lien d'épopée"
                field["clauseNames"] = [field["clauseNames"][0], "Lien d'épopée"]
        decoy = {**out[-1], "id": "customfield_10999", "name": "Epic Link"}
        decoy["schema"] = {"type": "string", "custom": "x:textfield", "customId": 10999}
        return [*out, decoy]


def test_data_center_stories_roll_up_to_their_epic_through_epic_link(tmp_path: Path) -> None:
    with RenamedEpicLink(story(), deployment="data_center") as sandbox:
        con = model(sandbox, tmp_path)
        assert sandbox.invalid_requests == []
    rows = con.execute(
        "SELECT source_key, is_milestone, parent_id, milestone_id FROM work_items ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("OPS-1", True, None, None),
        ("OPS-2", False, "it-jira:OPS-1", "it-jira:OPS-1"),
        ("OPS-3", False, "it-jira:OPS-1", "it-jira:OPS-1"),
        ("OPS-4", False, "it-jira:OPS-2", "it-jira:OPS-1"),  # sub-task: via its story
        ("OPS-5", False, None, None),
    ]


def test_data_center_wiki_markup_mentions_become_dependencies(tmp_path: Path) -> None:
    with JiraSandbox(story(), deployment="data_center") as sandbox:
        con = model(sandbox, tmp_path)
    edges = con.execute(
        "SELECT upstream_id, downstream_id, origin, is_resolved FROM dependencies"
    ).fetchall()
    assert edges == [("it-jira:OPS-2", "it-jira:OPS-3", "text_reference", True)]


def test_data_center_users_without_account_id_are_people(tmp_path: Path) -> None:
    with JiraSandbox(story(), deployment="data_center") as sandbox:
        con = model(sandbox, tmp_path)
    owners = con.execute(
        "SELECT w.source_key, p.email, p.display_name, p.accounts FROM work_items w "
        "JOIN people p ON p.person_id = w.owner_id ORDER BY 1"
    ).fetchall()
    assert owners == [
        ("OPS-2", None, "Bo Chen", ["it-jira:u-bo"]),
        ("OPS-3", "ana@example.com", "Ana Lima", ["it-jira:u-ana"]),
    ]


class DeletesDuringSync(JiraSandbox):
    """While answering the key census, OPS-2 and OPS-5 change; then OPS-5 is deleted, so the
    census lists a key that no longer exists when the connector re-reads the changed ones."""

    done = False

    def _census(self, request: Request, answer: Callable[[Request], Any]) -> Any:
        params = self._params(request)
        jql = str(params.get("jql") or "")
        census = list(params.get("fields") or []) == ["updated"]  # the key census asks for no more
        if self.done or not census or jql.startswith("key in"):
            return answer(request)
        self.done = True
        self.org.touch(["OPS-2", "OPS-5"], NOW)
        result = answer(request)
        self.org.delete(["OPS-5"])
        return result

    def search_jql(self, request: Request) -> dict[str, Any]:
        return self._census(request, super().search_jql)  # type: ignore[no-any-return]

    def search_legacy(self, request: Request) -> dict[str, Any]:
        return self._census(request, super().search_legacy)  # type: ignore[no-any-return]


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_issue_deleted_during_repair_does_not_fail_the_sync(
    tmp_path: Path, deployment: Deployment
) -> None:
    raw = tmp_path / "raw.duckdb"
    with DeletesDuringSync(story(), deployment=deployment) as sandbox:
        sync(source_for(sandbox, remote_links=False), raw)
        assert sandbox.invalid_requests == []
        if deployment == "cloud":
            assert requests_matching(sandbox, "/issue/bulkfetch") == 1
    live = stored(
        raw,
        "SELECT record_key, payload ->> '$.fields.status.name' FROM raw_records "
        "WHERE record_type = 'issue' AND NOT is_deleted ORDER BY 1",
    )
    assert [k for k, _ in live] == ["OPS-1", "OPS-2", "OPS-3", "OPS-4"]  # OPS-5 tombstoned
    assert dict(live)["OPS-2"] == sandbox.org.statuses[sandbox.org.issues["OPS-2"].status].name


def test_incremental_window_is_written_in_the_users_time_zone(tmp_path: Path) -> None:
    """JQL reads `updated >= "2025-06-02 05:00"` in the user's zone (New York here): written in
    UTC it would start four hours late and miss an issue changed half an hour ago."""
    org = generate_org(60, seed=43, now=NOW)
    raw = tmp_path / "raw.duckdb"
    with JiraSandbox(org, time_zone="America/New_York") as sandbox:
        source = source_for(sandbox, remote_links=False)
        sync(source, raw)
        latest = max(i.updated for i in org.issues.values())
        key = min(org.issues, key=lambda k: org.issues[k].updated)
        org.touch([key], latest + timedelta(minutes=30))
        sandbox.server.reset_counts()
        result, _ = sync(source, raw)
        assert requests_matching(sandbox, "/issue/bulkfetch") == 0  # found by the window
        assert sandbox.invalid_requests == []
    assert result.changed >= 1
    (status,) = stored(
        raw,
        f"SELECT payload ->> '$.fields.status.name' FROM raw_records WHERE record_key = '{key}' "
        "AND record_type = 'issue'",
    )
    assert status == (org.statuses[org.issues[key].status].name,)


def test_links_point_at_site_url_when_the_api_goes_through_a_gateway(tmp_path: Path) -> None:
    with JiraSandbox(story()) as sandbox:
        con = model(sandbox, tmp_path, site_url="https://acme.atlassian.net/", milestones="both")
    urls = dict(con.execute("SELECT source_key, url FROM work_items").fetchall())
    assert urls["OPS-3"] == "https://acme.atlassian.net/browse/OPS-3"
    assert urls["version/10001"] == "https://acme.atlassian.net/projects/OPS/versions/10001"


class StatusesDenied(JiraSandbox):
    """A site where even `GET /status` is refused to the sync account."""

    def statuses_list(self, request: Request) -> list[dict[str, Any]]:
        raise self._deny()


def test_403_on_optional_endpoint_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    org = story()
    with StatusesDenied(org) as sandbox:
        result, warnings = sync(source_for(sandbox), tmp_path / "raw.duckdb")
    assert result.record_counts["issue"] == len(org.issues)
    (warning,) = warnings
    assert warning.location == "source 'it-jira' GET /rest/api/3/status"
    assert "HTTP 403" in warning.reason and "check the token" not in warning.reason
    categories = stored(
        tmp_path / "raw.duckdb",
        "SELECT DISTINCT payload ->> '$.fields.status.statusCategory.key' FROM raw_records "
        "WHERE record_type = 'issue' ORDER BY 1",
    )
    assert categories == [("indeterminate",), ("new",)]  # still known, from the issues


class SearchDenied(JiraSandbox):
    def search_jql(self, request: Request) -> dict[str, Any]:
        raise self._deny()


def test_403_on_search_names_source_endpoint_and_fix_and_keeps_data(tmp_path: Path) -> None:
    raw = tmp_path / "raw.duckdb"
    org = story()
    with JiraSandbox(org) as sandbox:
        sync(source_for(sandbox), raw)
        source = source_for(sandbox)
    before = stored(raw, "SELECT * FROM raw_records ORDER BY ALL")
    with SearchDenied(org) as denied:
        source = source_for(denied)
        with pytest.raises(ConnectorError) as caught:
            sync(source, raw)
    message = str(caught.value)
    assert "'it-jira'" in message and "HTTP 403" in message
    assert "POST /rest/api/3/search/jql" in message and "Browse projects" in message
    assert "check the token" not in message and source.token.get_secret_value() not in message
    assert stored(raw, "SELECT * FROM raw_records ORDER BY ALL") == before


def comparable(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The model's rows without what legitimately differs between deployments (URLs)."""
    queries = {
        "work_items": "SELECT * EXCLUDE (url, synced_at) FROM work_items",
        "dependencies": "SELECT * FROM dependencies",
        "status_changes": "SELECT * FROM status_changes",
        "people": "SELECT * FROM people",
    }
    return {name: sorted(map(repr, con.execute(sql).fetchall())) for name, sql in queries.items()}


def test_browse_cloud_and_data_center_sync_the_same_org_as_admin_cloud(tmp_path: Path) -> None:
    org = generate_org(300, seed=44, now=NOW)
    models = {}
    for name, options in {
        "admin-cloud": {"permissions": "admin"},
        "browse-cloud": {},
        "data-center": {"deployment": "data_center"},
    }.items():
        with JiraSandbox(org, **options) as sandbox:  # type: ignore[arg-type]
            models[name] = comparable(model(sandbox, tmp_path / name, milestones="both"))
            assert sandbox.invalid_requests == []
    admin = models["admin-cloud"]
    assert len(admin["work_items"]) > len(org.issues)  # issues and fix versions
    assert len(admin["dependencies"]) > 50 and len(admin["status_changes"]) > 500
    for name in ("browse-cloud", "data-center"):
        for table, rows in admin.items():
            assert models[name][table] == rows, f"{name}: {table}"
