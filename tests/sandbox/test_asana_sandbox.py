"""The Asana sandbox follows Asana's contract: responses validate against the OpenAPI subset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from sandbox.asana import AsanaOrg, AsanaSandbox, generate_org
from sandbox.asana.contract import SPEC_FILE, nullable_all_of


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AsanaSandbox]:
    with AsanaSandbox(generate_org(400, 3)) as sb:
        yield sb


@pytest.fixture(scope="module")
def api(sandbox: AsanaSandbox) -> OpenAPI:
    with SPEC_FILE.open() as handle:
        spec = nullable_all_of(json.load(handle))
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


# -- strict contract and vendor behaviours (plain httpx, not the connector) -------------------


def _client(sb: AsanaSandbox) -> httpx.Client:
    return httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {sb.token}"})


def test_requests_outside_the_document_are_refused_and_recorded() -> None:
    org = generate_org(120, 21)
    project = next(iter(org.projects))
    with AsanaSandbox(org) as sb, _client(sb) as http:
        good = http.get(
            "/tasks",
            params={
                "project": project,
                "limit": 100,
                "opt_fields": "name,memberships.section.name,memberships.project.gid,"
                "assignee.email,dependencies.gid,modified_at",
                "modified_since": "2025-01-01T00:00:00Z",
            },
        )
        assert good.status_code == 200
        refused = {
            "limit": http.get("/tasks", params={"project": project, "limit": 101}),
            "zone": http.get(
                "/tasks", params={"project": project, "modified_since": "2025-01-01T00:00:00"}
            ),
            "field": http.get("/tasks", params={"project": project, "opt_fields": "name,colour"}),
            "type": http.get("/events", params={"resource": project, "type": "task"}),
            "path": http.get("/tasks/1/everything"),  # 404: not a known action
        }
        for why, answer in refused.items():
            assert answer.status_code == (404 if why == "path" else 400), why
            error = answer.json()["errors"][0]
            assert error["message"] and error["help"].startswith("For more information"), why
        assert "time zone" in refused["zone"].json()["errors"][0]["message"]
        assert (
            "type: not a parameter of GET /events" in refused["type"].json()["errors"][0]["message"]
        )
        requests_seen = sb.contract.requests_checked()
        assert [c.ok for c in requests_seen] == [True, False, False, False, False, False]
        assert not sb.contract.failures("response")
    with AsanaSandbox(org, strict=False) as lax, _client(lax) as http:
        assert http.get("/tasks", params={"project": project, "limit": 101}).status_code == 400
        assert http.get("/events", params={"resource": project, "type": "task"}).status_code == 412
        assert not lax.contract.requests_checked()[-1].ok


def test_tasks_in_two_projects_list_both_memberships_in_either_order() -> None:
    org = generate_org(600, 22)
    shared = [t for t in org.tasks.values() if len(t.memberships) == 2]
    assert shared, "the generated org multi-homes some tasks"
    firsts = {t.memberships[0][0] for t in shared}
    with AsanaSandbox(org) as sb, _client(sb) as http:
        for task in shared[:5]:
            home, other = (p for p, _ in task.memberships)
            for project in (home, other):
                listed = http.get(
                    f"/projects/{project}/tasks",
                    params={"opt_fields": "memberships.project.gid,memberships.section.name"},
                ).json()["data"]
                mine = next(t for t in listed if t["gid"] == task.gid)
                sections = {m["project"]["gid"]: m["section"]["name"] for m in mine["memberships"]}
                assert sections == {p: org.sections[s].name for p, s in task.memberships}
                assert sections[home] != sections[other]
    assert len(firsts) > 1  # memberships[0] is not always the same project
    assert generate_org(600, 22, multi_project_share=0).tasks.keys() == org.tasks.keys()
    assert all(
        len(t.memberships) <= 1 for t in generate_org(600, 22, multi_project_share=0).tasks.values()
    )


def test_sync_tokens_expire_after_a_day_on_the_sandbox_clock() -> None:
    org = generate_org(150, 23)
    project = next(iter(org.projects))
    with AsanaSandbox(org, event_type_field=False) as sb, _client(sb) as http:
        first = http.get("/events", params={"resource": project})
        assert first.status_code == 412 and first.json()["sync"]
        token = first.json()["sync"]
        task = org.project_tasks(project)[0]
        org.touch([task.gid], org.now + timedelta(hours=1))
        sb.clock.advance(timedelta(hours=23))
        fresh = http.get("/events", params={"resource": project, "sync": token})
        assert fresh.status_code == 200
        event = fresh.json()["data"][0]
        assert event["resource"]["resource_type"] == "task" and "type" not in event
        sb.clock.advance(timedelta(hours=24, seconds=1))
        stale = http.get("/events", params={"resource": project, "sync": fresh.json()["sync"]})
        assert stale.status_code == 412
        body = stale.json()
        assert body["errors"][0]["message"].startswith("Sync token invalid or too old")
        assert body["sync"] and body["sync"] != fresh.json()["sync"]
        assert (
            http.get("/events", params={"resource": project, "sync": body["sync"]}).status_code
            == 200
        )
        assert not sb.contract.failures()


def test_free_workspace_answers_402_for_dependencies() -> None:
    org = generate_org(200, 24, plan="free")
    linked = next(t for t in org.tasks.values() if t.dependencies)
    project = linked.memberships[0][0]
    with AsanaSandbox(org) as sb, _client(sb) as http:
        for answer in (
            http.get(f"/tasks/{linked.gid}/dependencies"),
            http.get(f"/tasks/{linked.gid}/dependents"),
            http.get(f"/projects/{project}/tasks", params={"opt_fields": "name,dependencies.gid"}),
        ):
            assert answer.status_code == 402
            assert "not available for free" in answer.json()["errors"][0]["message"]
        plain = http.get(f"/projects/{project}/tasks", params={"opt_fields": "name"})
        assert plain.status_code == 200
        assert not sb.contract.failures()
    with AsanaSandbox(generate_org(200, 24)) as paid, _client(paid) as http:
        assert http.get(f"/tasks/{linked.gid}/dependencies").status_code == 200


def test_per_token_quota_answers_429_with_retry_after() -> None:
    free = AsanaSandbox(AsanaOrg.empty(plan="free"), quota=True, quota_window=30.0)
    with free as sb, _client(sb) as http:
        codes = [http.get("/workspaces").status_code for _ in range(151)]
        assert codes[:150] == [200] * 150 and codes[150] == 429
        late = http.get("/workspaces")
        assert late.status_code == 429 and 1 <= int(late.headers["Retry-After"]) <= 30
        assert late.json()["errors"][0]["message"]
        sb.clock.advance(timedelta(seconds=30))
        assert http.get("/workspaces").status_code == 200
    with AsanaSandbox(AsanaOrg.empty(), quota=True) as paid:
        assert paid.quota is not None and paid.quota.limit == 1500
    with AsanaSandbox(AsanaOrg.empty()) as unlimited, _client(unlimited) as http:
        assert {http.get("/workspaces").status_code for _ in range(160)} == {200}


def test_modified_at_ignores_subtasks_and_listing_is_not_sorted_by_it() -> None:
    org = generate_org(400, 25)
    project = next(iter(org.projects))
    parent = next(t for t in org.project_tasks(project) if t.subtasks)
    before = parent.modified_at
    org.touch_subtask_only(parent.subtasks[0], org.now + timedelta(hours=2))
    with AsanaSandbox(org) as sb, _client(sb) as http:
        listed = http.get(
            f"/projects/{project}/tasks", params={"opt_fields": "modified_at"}
        ).json()["data"]
        stamps = [t["modified_at"] for t in listed]
        assert stamps != sorted(stamps)
        again = http.get(f"/tasks/{parent.gid}", params={"opt_fields": "modified_at"}).json()
        assert again["data"]["modified_at"] == before.strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{before.microsecond // 1000:03d}Z"
        )


def test_project_status_updates_follow_the_document() -> None:
    """`GET /status_updates?parent=` lists a project's updates newest first, in the shape and
    with the fields the document gives; a missing or unknown parent is refused."""
    org = AsanaOrg.empty()
    maya = org.add_user("Maya Chen", "maya@acme.example")
    launch = org.add_project("Loyalty launch")
    org.add_status_update(launch, "at_risk", "Week 1", by=maya, at=org.now - timedelta(days=9))
    org.add_status_update(
        launch, "on_track", "Week 2", text="Launch date holds.", by=maya, at=org.now
    )
    with AsanaSandbox(org) as sb, _client(sb) as http:
        listed = http.get(
            "/status_updates",
            params={
                "parent": launch,
                "limit": 10,
                "opt_fields": "title,text,status_type,created_at,author.name,parent.name",
            },
        )
        compact = http.get("/status_updates", params={"parent": launch})
        missing = http.get("/status_updates")
        unknown = http.get("/status_updates", params={"parent": "999"})
        assert not sb.contract.failures("response")
        assert [c.ok for c in sb.contract.requests_checked()] == [True, True, False, True]
    data = listed.json()["data"]
    assert [(u["status_type"], u["title"], u["author"]["name"]) for u in data] == [
        ("on_track", "Week 2", "Maya Chen"),
        ("at_risk", "Week 1", "Maya Chen"),
    ]
    assert data[0]["parent"] == {"gid": launch, "name": "Loyalty launch"}
    assert set(compact.json()["data"][0]) == {"gid", "resource_type", "title", "resource_subtype"}
    assert (missing.status_code, unknown.status_code) == (400, 404)


def test_task_search_filters_sorts_and_pages_by_creation_time() -> None:
    org = generate_org(900, 25)
    subtasks = org.all_subtask_gids()
    assert len(subtasks) > 100  # more than one search page
    with AsanaSandbox(org) as sb, _client(sb) as http:
        search = f"/workspaces/{org.workspace_gid}/tasks/search"
        params = {"is_subtask": "true", "sort_by": "created_at", "opt_fields": "created_at"}
        first = http.get(search, params=params).json()["data"]
        assert len(first) == 100 and "next_page" not in http.get(search, params=params).json()
        stamps = [t["created_at"] for t in first]
        assert stamps == sorted(stamps, reverse=True)  # newest first by default
        rest = http.get(search, params={**params, "created_at.before": stamps[-1]}).json()["data"]
        assert {t["gid"] for t in first}.isdisjoint({t["gid"] for t in rest})
        assert all(t["created_at"] < stamps[-1] for t in rest)
        assert {t["gid"] for t in first + rest} <= subtasks
        sb.search_unindexed = {first[0]["gid"]}
        again = http.get(search, params=params).json()["data"]
        assert first[0]["gid"] not in {t["gid"] for t in again}
        refused = http.get(search, params={"text": "campaign"})
        assert refused.status_code == 400 and "text" in refused.json()["errors"][0]["message"]
        assert not sb.contract.failures()
    with AsanaSandbox(generate_org(100, 25, plan="free")) as free, _client(free) as http:
        answer = http.get(f"/workspaces/{free.org.workspace_gid}/tasks/search")
        assert answer.status_code == 402
