"""The Asana sandbox follows Asana's contract: responses validate against the OpenAPI subset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from sandbox.asana import AsanaOrg, AsanaSandbox, generate_org

SPEC = "/work/shared/specs/asana-v1.subset.json"


def _nullable_all_of(node: Any) -> Any:
    """OpenAPI 3.0 ignores `nullable` inside allOf members; Asana means the value may be null."""
    if isinstance(node, list):
        return [_nullable_all_of(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_all_of(v) for k, v in node.items()}
    members = node.get("allOf")
    if isinstance(members, list) and any(
        isinstance(m, dict) and m.get("nullable") for m in members
    ):
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return {**rest, "anyOf": [{"allOf": members}, {"nullable": True, "enum": [None]}]}
    return node


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AsanaSandbox]:
    with AsanaSandbox(generate_org(400, 3)) as sb:
        yield sb


@pytest.fixture(scope="module")
def api(sandbox: AsanaSandbox) -> OpenAPI:
    with open(SPEC) as handle:
        spec = _nullable_all_of(json.load(handle))
    spec["servers"] = [{"url": sandbox.url}]
    return OpenAPI.from_dict(spec)


@pytest.fixture()
def session(sandbox: AsanaSandbox) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sandbox.token}"
    return s


def _get(session: requests.Session, api: OpenAPI, url: str, **params: Any) -> requests.Response:
    response = session.get(url, params=params)
    api.validate_response(
        RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
    )
    return response


def test_every_endpoint_answers_in_the_contract(
    sandbox: AsanaSandbox, api: OpenAPI, session: requests.Session
) -> None:
    org = sandbox.org
    project = next(iter(org.projects))
    parent = next(t for t in org.project_tasks(project) if t.subtasks)
    linked = next(t for t in org.tasks.values() if t.dependencies)
    fields = (
        "name,resource_subtype,completed,modified_at,assignee.email,memberships.section.name,"
        "dependencies.gid,dependents.gid,custom_fields.display_value,parent.gid,num_subtasks"
    )
    base = sandbox.url
    checks = [
        (f"{base}/workspaces", {}),
        (f"{base}/projects", {"workspace": org.workspace_gid, "limit": 10}),
        (f"{base}/projects/{project}", {}),
        (f"{base}/projects/{project}/sections", {}),
        (f"{base}/projects/{project}/tasks", {"limit": 20, "opt_fields": fields}),
        (f"{base}/tasks", {"project": project, "limit": 20, "opt_fields": fields}),
        (f"{base}/tasks/{parent.gid}", {}),
        (f"{base}/tasks/{parent.gid}/subtasks", {"opt_fields": fields}),
        (f"{base}/tasks/{linked.gid}/dependencies", {}),
        (f"{base}/tasks/{linked.dependencies[0]}/dependents", {}),
        (f"{base}/tasks/{parent.gid}/stories", {"limit": 50}),
        (f"{base}/workspaces/{org.workspace_gid}/users", {}),
        (f"{base}/events", {"resource": project}),
        (f"{base}/tasks/999", {}),
    ]
    for url, params in checks:
        response = _get(session, api, url, **params)
        assert response.status_code in (200, 404, 412), (url, response.text)


def test_paging_filters_and_nested_fields(sandbox: AsanaSandbox, session: requests.Session) -> None:
    org = sandbox.org
    project = next(iter(org.projects))
    expected = [t.gid for t in org.project_tasks(project)]
    url = f"{sandbox.url}/tasks"
    everything = session.get(url, params={"project": project}).json()
    assert "next_page" not in everything and len(everything["data"]) == len(expected)
    seen: list[str] = []
    params: dict[str, Any] = {"project": project, "limit": 7, "opt_fields": "assignee.email"}
    while True:
        page = session.get(url, params=params).json()
        seen += [t["gid"] for t in page["data"]]
        if not page["next_page"]:
            break
        params["offset"] = page["next_page"]["offset"]
    assert seen == expected
    assigned = next(t for t in org.project_tasks(project) if t.assignee)
    one = session.get(
        f"{sandbox.url}/tasks/{assigned.gid}", params={"opt_fields": "assignee.email"}
    ).json()["data"]
    assert one == {
        "gid": assigned.gid,
        "assignee": {"gid": assigned.assignee, "email": org.users[assigned.assignee].email},
    }
    cutoff = sorted(t.modified_at for t in org.project_tasks(project))[-3]
    since = session.get(
        url, params={"project": project, "modified_since": cutoff.isoformat()}
    ).json()["data"]
    assert len(since) == 3
    for bad in ("0", "101"):
        answer = session.get(url, params={"project": project, "limit": bad})
        assert answer.status_code == 400 and answer.json()["errors"][0]["message"]


def test_auth_events_and_expired_offsets() -> None:
    org = generate_org(250, 5)
    with AsanaSandbox(org) as sb:
        anonymous = requests.get(f"{sb.url}/workspaces")
        assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["message"]
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {sb.token}"
        project = next(iter(org.projects))
        first = s.get(f"{sb.url}/events", params={"resource": project})
        assert first.status_code == 412 and first.json()["sync"]
        task = org.project_tasks(project)[0]
        org.touch([task.gid], org.now + timedelta(hours=1))
        later = s.get(
            f"{sb.url}/events", params={"resource": project, "sync": first.json()["sync"]}
        )
        assert [e["resource"]["gid"] for e in later.json()["data"]] == [task.gid]
        sb.expire_sync_tokens()
        expired = s.get(
            f"{sb.url}/events", params={"resource": project, "sync": later.json()["sync"]}
        )
        assert expired.status_code == 412
        sb.expire_offset_every = 1
        page = s.get(f"{sb.url}/tasks", params={"project": project, "limit": 5}).json()
        gone = s.get(
            f"{sb.url}/tasks",
            params={"project": project, "limit": 5, "offset": page["next_page"]["offset"]},
        )
        assert gone.status_code == 400 and "offset" in gone.json()["errors"][0]["message"]
        assert sb.banner().startswith(f"asana {sb.url} token=")
        entry, env = sb.source_entry("mkt-asana", "ASANA_TOKEN")
        assert entry["token"] == "${ASANA_TOKEN}" and env == {"ASANA_TOKEN": sb.token}


def test_org_can_be_built_by_hand_for_a_story() -> None:
    org = AsanaOrg.empty()
    ana = org.add_user("Ana Lopez", "ana@acme.example")
    launch = org.add_project("Spring launch")
    pos = org.add_task(
        "POS update live",
        project=launch,
        section="In progress",
        assignee=ana,
        custom_fields={"Jira key": "OPS-42", "Department": "Marketing"},
        notes="blocked by OPS-42",
    )
    milestone = org.add_task("Launch day", project=launch, milestone=True)
    org.add_dependency(milestone, pos)
    sub = org.add_task("Print banners", parent=pos)
    org.add_story(
        pos,
        "section_changed",
        old_section=org.section_named(launch, "To do"),
        new_section=org.section_named(launch, "In progress"),
    )
    assert org.tasks[milestone].dependencies == [pos] and org.tasks[pos].dependents == [milestone]
    assert org.tasks[pos].subtasks == [sub] and org.root_of(sub).gid == pos


def test_generated_org_is_the_same_for_the_same_seed() -> None:
    """Benchmarks and tests rely on regenerating an org: the whole content, not only its ids."""
    first, again, other = generate_org(300, 9), generate_org(300, 9), generate_org(300, 10)
    assert first == again
    assert first.tasks != other.tasks
