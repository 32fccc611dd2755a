"""After a deletion, an incremental sync takes the key census only in the projects whose count
of issues moved: one cheap count per project tells which, and the census pages of the others
(most of what a user waits for after a deletion) are not asked for. The deletion is still a
tombstone, and the model reads the same as after a full sync of the same site."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from model.landing import read_cursor
from sandbox.jira import JiraOrg, JiraSandbox, generate_org
from sandbox.server import Request
from tests.connectors.test_jira_sync import NOW, assert_same_staging, source_for, sync

CENSUS_PAGE = 1000  # keys the connector asks for per census page
PROJECT = re.compile(r'project = "([A-Z][A-Z0-9_]*)"')


class CountingSite(JiraSandbox):
    """Records the JQL of each key-census page (keys and `updated` only, pages of more than one
    issue: not a count) and of each count, on either deployment."""

    def __init__(self, org: JiraOrg, deployment: str) -> None:
        self.census_jql: list[str] = []
        self.count_jql: list[str] = []
        super().__init__(org, deployment=deployment)  # type: ignore[arg-type]

    def _note(self, request: Request) -> None:
        params = self._params(request)
        if list(params.get("fields") or []) != ["updated"]:
            return
        jql = str(params.get("jql") or "")
        if int(params.get("maxResults") or 0) > 1:
            self.census_jql.append(jql)
        elif "ORDER BY updated DESC" not in jql:  # the change probe is no count
            self.count_jql.append(jql)

    def search_legacy(self, request: Request) -> dict[str, Any]:
        self._note(request)
        return super().search_legacy(request)  # type: ignore[no-any-return]

    def search_jql(self, request: Request) -> dict[str, Any]:
        self._note(request)
        return super().search_jql(request)  # type: ignore[no-any-return]

    def approximate_count(self, request: Request) -> dict[str, Any]:
        self.count_jql.append(str(request.json().get("jql") or ""))
        return super().approximate_count(request)  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.census_jql, self.count_jql = [], []
        self.server.reset_counts()


def raw_issues(raw: Path) -> dict[str, list[str]]:
    """Live and tombstoned issue keys of a raw store."""
    con = duckdb.connect(str(raw), read_only=True)
    rows = con.execute(
        "SELECT record_key, is_deleted FROM raw_records WHERE record_type = 'issue'"
    ).fetchall()
    con.close()
    return {
        "live": sorted(k for k, d in rows if not d),
        "tombstones": sorted(k for k, d in rows if d),
    }


def projects_of(jql: list[str]) -> list[str | None]:
    return [m[1] if (m := PROJECT.search(q)) else None for q in jql]


@pytest.mark.parametrize("deployment", ["data_center", "cloud"])
def test_a_deletion_in_one_project_takes_the_census_of_that_project_only(
    tmp_path: Path, deployment: str
) -> None:
    org = generate_org(4000, seed=51, projects=3, now=NOW)
    with CountingSite(org, deployment) as sandbox:
        source = source_for(sandbox, remote_links=False)
        raw = tmp_path / "raw.duckdb"
        sync(source, raw, full=True)
        census_at = read_cursor(raw)["census_at"]
        projects = sorted({key.rsplit("-", 1)[0] for key in org.issues})
        assert len(projects) == 3
        org.mutate_share(0.01, seed=52, now=datetime.now(UTC))
        deleted = sorted(k for k in org.issues if k.startswith(f"{projects[1]}-"))[7]
        org.delete([deleted])
        sandbox.reset()
        sync(source, raw)
        in_project = len([k for k in org.issues if k.startswith(f"{projects[1]}-")])
        # one count per project, side by side (in any order), after the scope's
        assert projects_of(sandbox.count_jql)[0] is None
        assert sorted(p for p in projects_of(sandbox.count_jql) if p) == projects
        # the census pages of the project that lost an issue, and no other
        assert projects_of(sandbox.census_jql) == [projects[1]] * math.ceil(
            in_project / CENSUS_PAGE
        )
        assert math.ceil(len(org.issues) / CENSUS_PAGE) > len(sandbox.census_jql)
        # the periodic whole census still falls due from the last whole one
        assert read_cursor(raw)["census_at"] == census_at
        fresh = tmp_path / "fresh.duckdb"
        sync(source, fresh, full=True)
    state, whole = raw_issues(raw), raw_issues(fresh)
    assert state["tombstones"] == [deleted]
    assert state["live"] == whole["live"] == sorted(org.issues)
    assert_same_staging(source, raw, fresh)


def test_the_next_sync_after_a_narrowed_census_skips_the_census(tmp_path: Path) -> None:
    """The keys a narrowed census leaves in the cursor are whole: with nothing deleted since,
    the next incremental's count agrees with them and no census page is asked for."""
    org = generate_org(4000, seed=53, projects=3, now=NOW)
    with CountingSite(org, "data_center") as sandbox:
        source = source_for(sandbox, remote_links=False)
        raw = tmp_path / "raw.duckdb"
        sync(source, raw, full=True)
        org.delete([sorted(org.issues)[5]])
        sync(source, raw)
        org.mutate_share(0.01, seed=54, now=datetime.now(UTC))
        sandbox.reset()
        sync(source, raw)
        assert sandbox.census_jql == []
        assert projects_of(sandbox.count_jql) == [None]  # the scope's count alone
    assert raw_issues(raw)["live"] == sorted(org.issues)


def test_counts_that_do_not_add_up_take_the_whole_census(tmp_path: Path) -> None:
    """An issue the cursor cannot know of (in a project it holds no key of, and older than the
    window: it entered the scope without being updated) makes the projects' counts fall short
    of the scope's: the counts cannot say where issues went, so the whole census is taken."""
    org = generate_org(5000, seed=55, projects=3, now=NOW)
    projects = sorted(org.projects)
    empty = projects[2]
    org.delete([k for k in org.issues if k.startswith(f"{empty}-")])
    with CountingSite(org, "data_center") as sandbox:
        source = source_for(sandbox, remote_links=False)  # its scope names all three projects
        raw = tmp_path / "raw.duckdb"
        sync(source, raw, full=True)
        deleted = sorted(k for k in org.issues if k.startswith(f"{projects[0]}-"))[3:5]
        org.delete(deleted)
        org.add_issue(
            None, "Entered the scope unseen", project=empty, updated=NOW - timedelta(days=20)
        )
        sandbox.reset()
        sync(source, raw)
        assert sorted(p for p in projects_of(sandbox.count_jql) if p) == projects[:2]
        assert projects_of(sandbox.census_jql) == [None] * math.ceil(len(org.issues) / CENSUS_PAGE)
    assert raw_issues(raw)["tombstones"] == sorted(deleted)
