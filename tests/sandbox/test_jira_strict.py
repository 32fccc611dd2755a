"""The Jira sandbox holds clients to Atlassian's documents: request validation, permissions,
Data Center's dialect, the user's time zone, strict JQL keys, remote-link history and quotas.

Plain httpx requests only; responses are validated against the same vendor documents.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema
import pytest

from sandbox.jira import JiraOrg, JiraSandbox
from sandbox.jira.contract import document

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def validate(body: Any, schema_name: str, deployment: str = "cloud") -> None:
    components = copy.deepcopy(document(deployment)["components"])  # type: ignore[arg-type]
    if deployment == "data_center":  # the DC document types every field value as an object
        components["schemas"]["IssueBean"]["properties"]["fields"]["additionalProperties"] = {}
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    jsonschema.Draft7Validator(schema).validate(body)


def small_org() -> JiraOrg:
    org = JiraOrg.empty(NOW)
    org.add_project("OPS", "Operations")
    org.add_project("HR", "People")
    org.add_user("u-ana", "Ana", email="ana@example.com")
    org.add_issue("OPS-1", "Launch", "In Progress", issuetype="Epic", assignee="u-ana")
    org.add_issue(
        "OPS-2",
        "Order terminals",
        parent="OPS-1",
        issuetype="Story",
        description="Waiting on OPS-1 first.",
        updated=datetime(2025, 1, 10, 14, 30, tzinfo=UTC),  # 09:30 in New York
    )
    org.add_issue("OPS-3", "Sub step", parent="OPS-2", issuetype="Sub-task")
    org.add_issue("HR-1", "Hire", updated=datetime(2025, 1, 10, 13, 0, tzinfo=UTC))
    return org


@pytest.fixture
def cloud() -> Iterator[tuple[JiraSandbox, httpx.Client]]:
    with JiraSandbox(small_org(), browse_projects=["OPS"]) as sandbox:
        auth = {"Authorization": sandbox.credentials(sandbox.account)}
        with httpx.Client(base_url=f"{sandbox.url}/rest/api/3", headers=auth) as http:
            yield sandbox, http


@pytest.fixture
def dc() -> Iterator[tuple[JiraSandbox, httpx.Client]]:
    with JiraSandbox(small_org(), deployment="data_center") as sandbox:
        auth = {"Authorization": sandbox.credentials(sandbox.account)}
        with httpx.Client(base_url=f"{sandbox.url}/rest/api/2", headers=auth) as http:
            yield sandbox, http


def test_data_center_search_body_must_use_arrays(dc: tuple[JiraSandbox, httpx.Client]) -> None:
    sandbox, http = dc
    bad = http.post("/search", json={"jql": "project = OPS", "expand": "changelog"})
    assert bad.status_code == 400
    assert bad.json() == {
        "errorMessages": [
            "Can not deserialize instance of java.util.ArrayList out of VALUE_STRING token"
        ],
        "errors": {},
    }
    good = http.post(
        "/search", json={"jql": "project = OPS", "expand": ["changelog"], "fields": ["summary"]}
    )
    assert good.status_code == 200 and good.json()["total"] == 3
    validate(good.json(), "SearchResultsBean", "data_center")
    assert [(c.path, c.ok) for c in sandbox.contract_log] == [
        ("/rest/api/2/search", False),
        ("/rest/api/2/search", True),
    ]
    assert "ArrayList" in (sandbox.invalid_requests[0].problem or "")


def test_data_center_serves_api_2_only(dc: tuple[JiraSandbox, httpx.Client]) -> None:
    sandbox, http = dc
    for method, path in [
        ("GET", "/search/jql?jql=project=OPS"),
        ("POST", "/issue/bulkfetch"),
        ("POST", "/changelog/bulkfetch"),
        ("GET", "/issue/OPS-1/changelog"),
        ("GET", "/project/search"),
    ]:
        # 405 where Jira's `issue/{issueIdOrKey}` resource catches the path but not the method
        assert http.request(method, path, json={}).status_code in (404, 405), path
    v3 = httpx.get(f"{sandbox.url}/rest/api/3/myself", headers=http.headers)
    assert v3.status_code == 404


def test_data_center_shapes(dc: tuple[JiraSandbox, httpx.Client]) -> None:
    _, http = dc
    info = http.get("/serverInfo").json()
    assert info["deploymentType"] == "Server"
    epic_link = [
        f
        for f in http.get("/field").json()
        if f["schema"].get("custom") == "com.pyxis.greenhopper.jira:gh-epic-link"
    ]
    assert len(epic_link) == 1 and epic_link[0]["name"] == "Epic Link"
    field_id = epic_link[0]["id"]
    page = http.get("/search", params={"jql": "project = OPS ORDER BY key ASC"}).json()
    epic, story, sub = (i["fields"] for i in page["issues"])
    assert story[field_id] == "OPS-1" and "parent" not in story
    assert sub["parent"]["key"] == "OPS-2" and sub[field_id] is None
    assert all("hierarchyLevel" not in f["issuetype"] for f in (epic, story, sub))
    assert story["description"].startswith("h2. ")
    assert "[OPS-1|" in story["description"] and "/browse/OPS-1]" in story["description"]
    user = epic["assignee"]
    assert {"name", "key", "emailAddress", "displayName"} <= set(user)
    assert "accountId" not in user
    me = http.get("/myself").json()
    assert me["name"] == "sync-bot" and "accountId" not in me
    validate(me, "UserBean", "data_center")


def test_browse_only_account(cloud: tuple[JiraSandbox, httpx.Client]) -> None:
    sandbox, http = cloud
    denied = http.get("/statuses/search")
    assert denied.status_code == 403 and denied.json()["errorMessages"]
    for path in ("/field", "/issueLinkType", "/status", "/serverInfo"):
        assert http.get(path).status_code == 200, path
    admin = {"Authorization": sandbox.credentials(sandbox.admin)}
    assert http.get("/statuses/search", headers=admin).status_code == 200
    perms = http.get("/mypermissions", params={"permissions": "BROWSE_PROJECTS,ADMINISTER"})
    have = {k: v["havePermission"] for k, v in perms.json()["permissions"].items()}
    assert have == {"BROWSE_PROJECTS": True, "ADMINISTER": False}
    page = http.post("/search/jql", json={"jql": "created >= 2000-01-01", "fields": ["summary"]})
    assert {i["key"] for i in page.json()["issues"]} == {"OPS-1", "OPS-2", "OPS-3"}
    projects = http.get("/project/search").json()["values"]
    assert [p["key"] for p in projects] == ["OPS"]
    assert http.get("/issue/HR-1").status_code == 404
    hidden = http.post("/search/jql", json={"jql": "project = HR"})
    assert hidden.status_code == 400
    assert hidden.json()["errorMessages"] == [
        "The value 'HR' does not exist for the field 'project'."
    ]
    assert all(c.ok for c in sandbox.contract_log)


def test_user_time_zone_applies_to_jql_dates(cloud: tuple[JiraSandbox, httpx.Client]) -> None:
    _, http = cloud
    assert http.get("/myself").json()["timeZone"] == "America/New_York"

    def keys(jql: str) -> set[str]:
        page = http.post("/search/jql", json={"jql": jql, "fields": ["updated"]})
        return {i["key"] for i in page.json()["issues"]}

    # OPS-2 changed at 14:30 UTC, which is 09:30 in New York: after "09:15" local, not after 10:00
    assert "OPS-2" in keys('project = OPS AND updated >= "2025-01-10 09:15"')
    assert "OPS-2" not in keys('project = OPS AND updated >= "2025-01-10 10:00"')


def test_unknown_key_is_an_error_and_bulkfetch_reports_what_exists(
    cloud: tuple[JiraSandbox, httpx.Client],
) -> None:
    sandbox, http = cloud
    sandbox.org.delete(["OPS-3"])
    bad = http.post("/search/jql", json={"jql": "key in (OPS-1, OPS-3, GONE-1)"})
    assert bad.status_code == 400
    assert bad.json()["errorMessages"] == [
        "An issue with key 'OPS-3' does not exist for field 'key'.",
        "An issue with key 'GONE-1' does not exist for field 'key'.",
    ]
    bulk = http.post(
        "/issue/bulkfetch",
        json={"issueIdsOrKeys": ["OPS-2", "OPS-3", "OPS-1", "HR-1"], "fields": ["summary"]},
    )
    assert bulk.status_code == 200
    validate(bulk.json(), "BulkIssueResults")
    assert [i["key"] for i in bulk.json()["issues"]] == ["OPS-1", "OPS-2"]  # ascending id
    too_many = http.post("/issue/bulkfetch", json={"issueIdsOrKeys": ["OPS-1"] * 101})
    assert too_many.status_code == 400
    unknown_field = http.post("/issue/bulkfetch", json={"issueIdsOrKeys": ["OPS-1"], "x": 1})
    assert unknown_field.status_code == 400


def test_remote_links_are_written_to_the_changelog(
    cloud: tuple[JiraSandbox, httpx.Client],
) -> None:
    sandbox, http = cloud
    link = sandbox.org.add_remote_link("OPS-2", "https://app.asana.com/0/1/2", title="Kickoff")
    sandbox.org.remove_remote_link("OPS-2", link.id)
    page = http.get("/issue/OPS-2/changelog").json()  # `from: null` breaks the doc's ChangeItem
    items = [h["items"][0] for h in page["values"] if h["items"][0]["field"] == "RemoteIssueLink"]
    assert items[0]["to"] == str(link.id) and items[0]["from"] is None
    assert items[0]["toString"] == 'This issue links to "Kickoff"'
    assert items[1]["from"] == str(link.id) and items[1]["to"] is None
    assert items[1]["fromString"] == 'This issue links to "Kickoff"'


def test_quota_answers_429_with_jira_headers() -> None:
    clock = [0.0]
    with JiraSandbox(
        small_org(), rate_limit=5, rate_window_seconds=60, clock=lambda: clock[0]
    ) as sandbox:
        auth = {"Authorization": sandbox.credentials(sandbox.account)}
        url = f"{sandbox.url}/rest/api/3/serverInfo"
        answers = [httpx.get(url, headers=auth) for _ in range(6)]
        assert [r.status_code for r in answers] == [200] * 5 + [429]
        assert answers[4].headers["X-RateLimit-NearLimit"] == "true"
        assert "X-RateLimit-NearLimit" not in answers[0].headers
        limited = answers[5].headers
        assert limited["X-RateLimit-Limit"] == "5" and limited["X-RateLimit-Remaining"] == "0"
        assert int(limited["Retry-After"]) >= 1 and limited["RateLimit-Reason"]
        assert limited["X-RateLimit-Reset"].endswith("Z")
        admin = {"Authorization": sandbox.credentials(sandbox.admin)}
        assert httpx.get(url, headers=admin).status_code == 200  # budgets are per account
        clock[0] = 61.0  # the next minute
        assert httpx.get(url, headers=auth).status_code == 200
