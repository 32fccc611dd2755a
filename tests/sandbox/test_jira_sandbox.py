"""The Jira sandbox follows Atlassian's contract: shapes, paging, JQL, auth and errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import requests

from sandbox.jira import JiraOrg, JiraSandbox, generate_org
from sandbox.server import test_ca_context as make_tls

SPEC_FILE = (
    Path(__file__).resolve().parents[2] / "sandbox" / "specs" / "jira-cloud-platform-v3.subset.json"
)
SPEC = json.loads(SPEC_FILE.read_text())
# Jira sends null for the empty side of a change item (a remote link added has no `from`);
# the document types them as plain strings.
for _name in ("from", "fromString", "to", "toString"):
    SPEC["components"]["schemas"]["ChangeDetails"]["properties"][_name]["type"] = ["string", "null"]
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def validate(body: Any, schema_name: str) -> None:
    """Validate against a component schema of the OpenAPI subset, $refs resolved in place."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema.Draft7Validator(schema).validate(body)


def response_schema(path: str, method: str) -> dict[str, Any]:
    op = SPEC["paths"][path][method]
    return op["responses"]["200"]["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def org() -> JiraOrg:
    return generate_org(600, seed=11, now=NOW)


@pytest.fixture(scope="module")
def cloud(org: JiraOrg) -> Iterator[tuple[JiraSandbox, requests.Session]]:
    with JiraSandbox(org) as sandbox:
        session = requests.Session()
        session.auth = (sandbox.email, sandbox.token)
        yield sandbox, session


def test_generated_org_is_deterministic_and_rich() -> None:
    a, b = generate_org(300, seed=5, now=NOW), generate_org(300, seed=5, now=NOW)
    assert [(i.key, i.summary, i.status) for i in a.issues.values()] == [
        (i.key, i.summary, i.status) for i in b.issues.values()
    ]
    assert any(u.email is None for u in a.users.values())
    assert {link.type_name for link in a.links.values()} >= {"Blocks", "Dependency", "Relates"}
    urls = [r.url for links in a.remote_links.values() for r in links]
    assert any("app.asana.com/0/" in u for u in urls)
    assert any("app.asana.com/1/" in u for u in urls)
    assert any("docs.google.com/spreadsheets" in u for u in urls)
    big = generate_org(1000, seed=5, now=NOW)
    assert max(len(i.histories) for i in big.issues.values()) > 100


def test_responses_follow_the_openapi_subset(cloud: tuple[JiraSandbox, requests.Session]) -> None:
    sandbox, http = cloud
    api = f"{sandbox.url}/rest/api/3"
    validate(http.get(f"{api}/serverInfo").json(), "ServerInformation")
    for field in http.get(f"{api}/field").json():
        validate(field, "FieldDetails")
    validate(http.get(f"{api}/myself").json(), "User")
    validate(http.get(f"{api}/issueLinkType").json(), "IssueLinkTypes")
    admin = {"Authorization": sandbox.credentials(sandbox.admin)}
    statuses = requests.get(f"{api}/statuses/search", headers=admin).json()
    validate(statuses, "PageOfStatuses")
    validate(http.get(f"{api}/project/search").json(), "PageBeanProject")
    page = http.get(
        f"{api}/search/jql",
        params={"jql": "project = OPS", "fields": "*all", "expand": "changelog"},
    ).json()
    validate(page, "SearchAndReconcileResults")
    page = http.post(
        f"{api}/search/jql", json={"jql": "project = OPS", "fields": ["summary"], "maxResults": 5}
    ).json()
    validate(page, "SearchAndReconcileResults")
    validate(
        http.post(f"{api}/search/approximate-count", json={"jql": "project = OPS"}).json(),
        "JQLCountResultsBean",
    )
    key = next(iter(sandbox.org.issues))
    validate(http.get(f"{api}/issue/{key}", params={"expand": "changelog"}).json(), "IssueBean")
    validate(http.get(f"{api}/issue/{key}/changelog").json(), "PageBeanChangelog")
    ids = [i.id for i in list(sandbox.org.issues.values())[:50]]
    bulk = http.post(
        f"{api}/changelog/bulkfetch", json={"issueIdsOrKeys": ids, "fieldIds": ["status"]}
    ).json()
    validate(bulk, "BulkChangelogResponseBean")
    with_links = next(k for k, v in sandbox.org.remote_links.items() if v)
    links = http.get(f"{api}/issue/{with_links}/remotelink").json()
    assert isinstance(links, list) and links  # the spec says one object; servers send an array
    for link in links:
        validate(link, "RemoteIssueLink")


def test_search_pages_with_tokens_and_caps(cloud: tuple[JiraSandbox, requests.Session]) -> None:
    sandbox, http = cloud
    url = f"{sandbox.url}/rest/api/3/search/jql"
    keys: list[str] = []
    body: dict[str, Any] = {"jql": "project in (OPS, ENG) ORDER BY key ASC", "fields": ["summary"]}
    while True:
        page = http.post(url, json={**body, "maxResults": 1000}).json()
        assert len(page["issues"]) <= 100  # many fields: 100 per page at most
        keys += [i["key"] for i in page["issues"]]
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        body["nextPageToken"] = page["nextPageToken"]
    expected = [i.key for i in sandbox.org.issues.values() if i.project in ("OPS", "ENG")]
    assert sorted(keys) == sorted(expected) and len(keys) == len(set(keys))
    ids_only = http.get(url, params={"jql": "project = OPS", "maxResults": "5000"}).json()
    assert set(ids_only["issues"][0]) == {"id"}  # default fields: ids only
    assert len(ids_only["issues"]) == len([k for k in expected if k.startswith("OPS-")])


def test_jql_is_evaluated(cloud: tuple[JiraSandbox, requests.Session]) -> None:
    sandbox, http = cloud
    url = f"{sandbox.url}/rest/api/3/search/jql"

    def keys(jql: str) -> list[str]:
        page = http.post(url, json={"jql": jql, "fields": ["updated"], "maxResults": 1000})
        assert page.status_code == 200, page.text
        return [i["key"] for i in page.json()["issues"]]

    issues = list(sandbox.org.issues.values())
    cutoff = sorted(i.updated for i in issues)[len(issues) // 2]
    since = cutoff.astimezone(ZoneInfo(sandbox.time_zone)).strftime("%Y-%m-%d %H:%M")  # user's zone
    got = keys(f'project in ("OPS", "ENG") AND updated >= "{since}" ORDER BY updated DESC')
    floor = cutoff.replace(second=0, microsecond=0)
    want = [i for i in issues if i.project in ("OPS", "ENG") and i.updated >= floor]
    assert sorted(got) == sorted(i.key for i in want)
    updated = [sandbox.org.issues[k].updated for k in got]
    assert updated == sorted(updated, reverse=True)
    assert keys("key in (OPS-1, ENG-2) ORDER BY key ASC") == ["ENG-2", "OPS-1"]
    assert keys(f'created >= "{date(2000, 1, 1)}" AND project = ENG') == [
        i.key for i in sorted(issues, key=lambda i: -int(i.key.split("-")[1])) if i.project == "ENG"
    ]
    bad = http.post(url, json={"jql": "ORDER BY key"})
    assert bad.status_code == 400 and bad.json()["errorMessages"]
    assert http.post(url, json={"jql": "projectx = OPS"}).status_code == 400


def test_changelog_on_search_is_truncated_like_cloud(
    cloud: tuple[JiraSandbox, requests.Session],
) -> None:
    sandbox, http = cloud
    long = max(sandbox.org.issues.values(), key=lambda i: len(i.histories))
    assert len(long.histories) > 100
    page = http.post(
        f"{sandbox.url}/rest/api/3/search/jql",
        json={"jql": f"key = {long.key}", "fields": ["status"], "expand": "changelog"},
    ).json()
    changelog = page["issues"][0]["changelog"]
    assert changelog["total"] == len(long.histories) > changelog["maxResults"] == 100
    assert [h["id"] for h in changelog["histories"]] == [h.id for h in long.histories[-100:]]


def test_old_search_is_gone_and_auth_is_checked(
    cloud: tuple[JiraSandbox, requests.Session],
) -> None:
    sandbox, http = cloud
    gone = http.get(f"{sandbox.url}/rest/api/3/search", params={"jql": "project = OPS"})
    assert gone.status_code == 410
    assert "has been removed" in gone.json()["errorMessages"][0]
    assert requests.get(f"{sandbox.url}/rest/api/3/myself").status_code == 401
    wrong = requests.get(f"{sandbox.url}/rest/api/3/myself", auth=(sandbox.email, "nope"))
    assert wrong.status_code == 401
    bearer = requests.get(
        f"{sandbox.url}/rest/api/3/myself", headers={"Authorization": f"Bearer {sandbox.token}"}
    )
    assert bearer.status_code == 401


def test_data_center_pages_by_offset_with_bearer(org: JiraOrg) -> None:
    with JiraSandbox(org, deployment="data_center") as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.token}"}
        url = f"{sandbox.url}/rest/api/2/search"
        assert requests.get(url, params={"jql": "project = OPS"}).status_code == 401
        info = requests.get(f"{sandbox.url}/rest/api/2/serverInfo", headers=headers).json()
        assert info["deploymentType"] == "Server"
        seen, start = [], 0
        while True:
            page = requests.get(
                url,
                headers=headers,
                params={"jql": "project = OPS", "startAt": str(start), "maxResults": "70"},
            ).json()
            validate(page, "SearchResults")
            seen += [i["key"] for i in page["issues"]]
            start += len(page["issues"])
            if start >= page["total"]:
                break
        assert len(seen) == len(set(seen)) == page["total"]
        assert isinstance(page["issues"][0]["fields"]["summary"], str)  # *navigable by default


def test_hand_built_org_and_tls(tmp_path: Path) -> None:
    org = JiraOrg.empty(NOW)
    org.add_project("OPS", "Operations", components=["Stores"])
    org.add_user("u-ana", "Ana", email="ana@example.com")
    org.add_user("u-bo", "Bo")  # hidden e-mail
    org.add_issue("OPS-1", "Order POS terminals", "In Progress", assignee="u-ana")
    org.add_issue("OPS-2", "Open store", "To Do", assignee="u-bo", due=date(2025, 7, 1))
    org.add_link("Blocks", "OPS-1", "OPS-2")
    org.add_remote_link("OPS-2", "https://app.asana.com/0/1/2", relationship="is blocked by")
    org.add_status_change("OPS-1", "To Do", "In Progress", at=NOW)
    context, bundle = make_tls(str(tmp_path))
    with JiraSandbox(org, tls=context, ca_bundle=bundle) as sandbox:
        assert sandbox.url.startswith("https://")
        assert sandbox.banner().startswith(f"jira {sandbox.url} email=")
        entry, env = sandbox.source_entry("it-jira", "IT_JIRA_TOKEN")
        assert entry["token"] == "${IT_JIRA_TOKEN}" and env == {"IT_JIRA_TOKEN": sandbox.token}
        page = requests.post(
            f"{sandbox.url}/rest/api/3/search/jql",
            json={"jql": "project = OPS ORDER BY key ASC", "fields": ["issuelinks", "assignee"]},
            auth=(sandbox.email, sandbox.token),
            verify=bundle,
        ).json()
    one, two = page["issues"]
    assert one["fields"]["issuelinks"][0]["outwardIssue"]["key"] == "OPS-2"
    assert two["fields"]["issuelinks"][0]["inwardIssue"]["key"] == "OPS-1"
    assert two["fields"]["assignee"]["emailAddress"] is None
