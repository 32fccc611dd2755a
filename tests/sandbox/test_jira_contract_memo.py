"""The sandbox's request check remembers valid request shapes, and its verdicts stay exactly
those of openapi-core walking the vendor document for every request.

The corpus: every request a real sync of our connector sends (both deployments), plus
hand-made valid and invalid requests, including twins that differ only in an issue key and keys
spelled like the document's own path segments (`bulkfetch`, `remotelink`, `2`).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

import sandbox.jira.contract as contract
import sandbox.jira.server as jira_server
from sandbox.jira import JiraSandbox, generate_org
from sandbox.server import Request
from tests.connectors.test_jira_sync import NOW, source_for, sync

HEADERS = {"authorization": "Bearer t", "content-type": "application/json", "accept": "*/*"}
KEYS = ["OPS-1", "OPS-22", "10001", "bulkfetch", "remotelink", "comment", "2", "3", "rest",
        "search", "api", "latest", "%2F", "a b", "-", "x" * 300]  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with nothing remembered (the memo lives as long as the process)."""
    monkeypatch.setattr(contract, "_valid", contract._ValidShapes(contract.VALID_MEMO_SIZE))


def request(
    method: str, path: str, query: dict[str, list[str]] | None = None, body: Any = None
) -> Request:
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return Request(method, path, query or {}, dict(HEADERS), raw)


def hand_made(deployment: str) -> list[Request]:
    """Valid requests and their invalid variants, on every route the document knows."""
    out: list[Request] = []
    versions = ["2", "3", "latest"]
    for version in versions:
        api = f"/rest/api/{version}"
        for key in KEYS:
            out += [
                request("GET", f"{api}/issue/{key}/remotelink"),
                request("GET", f"{api}/issue/{key}/remotelink", {"globalId": ["g"]}),
                request("PATCH", f"{api}/issue/{key}/remotelink"),
                request("GET", f"{api}/issue/{key}"),
                request("GET", f"{api}/issue/{key}", {"fields": ["summary"], "expand": ["x"]}),
                request("POST", f"{api}/issue/{key}", body={"fields": {}}),
                request("GET", f"{api}/issue/{key}/changelog", {"startAt": ["0"]}),
                request("GET", f"{api}/issue/{key}/changelog", {"startAt": ["zero"]}),
                request("GET", f"{api}/issue/{key}/comment/{key}"),
                request("POST", f"{api}/issue/{key}/comment", body={"body": "hi"}),
                request("POST", f"{api}/issue/{key}/comment", body=b"not json"),
                request("GET", f"{api}/issue/{key}/nothing"),
                request("GET", f"/rest/{key}/api/{version}/myself"),
                request("GET", f"{api}/{key}"),
            ]
        out += [
            request("POST", f"{api}/search", body={"jql": "", "expand": ["changelog"]}),
            request("POST", f"{api}/search", body={"jql": "", "expand": "changelog"}),
            request("POST", f"{api}/search", body={"jql": "", "startAt": "x"}),
            request("POST", f"{api}/search", body={"jql": "", "nope": 1}),
            request("GET", f"{api}/search", {"jql": ["a"], "maxResults": ["5"]}),
            request("GET", f"{api}/search", {"jql": ["a"], "maxResults": ["five"]}),
            request("GET", f"{api}/search", {"validateQuery": ["strict"]}),
            request("POST", f"{api}/search/jql", body={"jql": "a", "fields": ["id"]}),
            request("POST", f"{api}/search/jql", body={"jql": "a", "maxResults": "many"}),
            request("POST", f"{api}/issue/bulkfetch", body={"issueIdsOrKeys": ["OPS-1"]}),
            request("POST", f"{api}/issue/bulkfetch", body={"issueIdsOrKeys": "OPS-1"}),
            request("POST", f"{api}/changelog/bulkfetch", body={"issueIdsOrKeys": ["1"]}),
            request("GET", f"{api}/mypermissions", {"permissions": ["BROWSE_PROJECTS"]}),
            request("GET", f"{api}/mypermissions"),
            request("GET", f"{api}/serverInfo"),
            request("DELETE", f"{api}/serverInfo"),
            request("GET", f"{api}/project/search", {"startAt": ["-1"]}),
            request("GET", f"{api}/statuses/search", {"maxResults": ["2"]}),
        ]
    return out


def synced(deployment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    """Every request a full and an incremental sync of our connector sent to the sandbox."""
    seen: list[Request] = []

    def recording(req: Request, dep: contract.Deployment) -> contract.Checked:
        seen.append(req)
        return contract.validate(req, dep)

    monkeypatch.setattr(jira_server, "check", recording)
    org = generate_org(300, seed=5, now=NOW)
    with JiraSandbox(org, deployment=deployment) as sandbox:  # type: ignore[arg-type]
        source = source_for(sandbox)
        sync(source, tmp_path / "raw.duckdb", full=True)
        sync(source, tmp_path / "raw.duckdb")
        assert sandbox.contract_log and not sandbox.invalid_requests
    monkeypatch.undo()
    return seen


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_remembered_verdicts_equal_full_validation(
    deployment: contract.Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = synced(deployment, tmp_path, monkeypatch) + hand_made(deployment)
    full = [contract.validate(r, deployment) for r in corpus]
    assert 0 < sum(c.ok for c in full) < len(full)  # both verdicts are in the corpus
    assert {c.status for c in full} == {200, 400, 404, 405}
    for order in range(3):  # as sent, then twice shuffled: each request meets other memos
        indexes = list(range(len(corpus)))
        if order:
            random.Random(order).shuffle(indexes)
        for i in indexes:
            assert contract.check(corpus[i], deployment) == full[i], (
                corpus[i].method,
                corpus[i].path,
            )


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_reads_of_other_issues_are_not_validated_again(
    deployment: contract.Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = contract.validate

    def counting(req: Request, dep: contract.Deployment) -> contract.Checked:
        calls.append(req.path)
        return original(req, dep)

    monkeypatch.setattr(contract, "validate", counting)
    api = "/rest/api/2"
    reads = [request("GET", f"{api}/issue/MEMO-{n}/remotelink") for n in range(200)]
    assert all(contract.check(r, deployment).ok for r in reads)
    assert len(calls) == 1
    # a literal of the document is never taken for a key; invalid twins are validated each time
    assert contract.check(request("GET", f"{api}/issue/comment/remotelink"), deployment).ok
    wrong = [request("PATCH", f"{api}/issue/MEMO-{n}/remotelink") for n in range(3)]
    assert [contract.check(r, deployment).status for r in wrong] == [405] * 3
    assert len(calls) == 1 + 1 + 3


def test_strict_sandbox_still_refuses_after_valid_twins() -> None:
    org = generate_org(50, seed=2, now=NOW)
    with JiraSandbox(org, deployment="data_center") as sandbox:
        auth = {"Authorization": sandbox.credentials(sandbox.account)}
        with httpx.Client(base_url=f"{sandbox.url}/rest/api/2", headers=auth) as http:
            keys = sorted(org.issues)[:20]
            assert all(http.get(f"/issue/{k}/remotelink").status_code == 200 for k in keys)
            good = {"jql": "order by key", "expand": ["changelog"], "fields": ["summary"]}
            assert http.post("/search", json=good).status_code == 200
            bad = http.post("/search", json={**good, "expand": "changelog"})
            assert bad.status_code == 400
            assert "ArrayList" in bad.json()["errorMessages"][0]
            wrong = http.put(f"/issue/{keys[0]}/remotelink", json={})
            assert wrong.status_code == 405
            assert wrong.json()["errorMessages"] == ["Method Not Allowed"]
    assert [c.ok for c in sandbox.contract_log] == [True] * 21 + [False, False]
