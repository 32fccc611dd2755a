"""Remote-link reads (one request per linked issue) go through a lean reader beside the `jira`
client: over TLS they trust the same CA, carry the same headers, are counted and throttled,
retried on 429/5xx and truncated bodies, and refusals name the source and hide the token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jira import JIRA

from connectors.base import ConnectorError, PermanentConnectorError
from connectors.jira import JiraConnector
from connectors.jira.lean import LeanGet
from handoff.retry import FakeClock, RetryPolicy
from model.landing import land, read_cursor
from sandbox.jira import JiraOrg, JiraSandbox, generate_org
from sandbox.server import Faults, HttpError, Request, Response
from sandbox.server import test_ca_context as ca_context
from tests.connectors.test_jira_requests import link_changed_since, raw_state
from tests.connectors.test_jira_sync import NOW, requests_matching, source_for

POLICY = RetryPolicy(max_attempts=6, deadline=300)


class RecordingSandbox(JiraSandbox):
    """Keeps the headers of every request it receives, by path."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, dict[str, str]]] = []

    def _check_contract(self, request: Request) -> Any:
        self.seen.append((request.path, dict(request.headers)))
        return super()._check_contract(request)


class RefusingLinks(JiraSandbox):
    """A site that answers remote-link reads with `status` (a token revoked mid-sync, or a
    permission scheme that hides remote links from the account)."""

    status = 401

    def remote_links(self, request: Request) -> list[dict[str, Any]]:
        body = {"errorMessages": [f"refused remote links ({self.status})"], "errors": {}}
        raise HttpError(self.status, body)


class RedirectingLinks(JiraSandbox):
    """A site behind a front end that sends remote-link reads to their canonical address
    (`/rest/api/latest/...` -> `/rest/api/2/...`) with a 301."""

    def remote_links(self, request: Request) -> Any:
        if request.params.get("version") == "latest":
            return super().remote_links(request)
        key = request.params["key"]
        return Response(301, {}, {"Location": f"{self.url}/rest/api/latest/issue/{key}/remotelink"})


def sync(connector: JiraConnector, raw: Path) -> JiraConnector:
    land(raw, connector.fetch(read_cursor(raw), full=True), full=True, stats=connector.stats)
    return connector


def remote_links_held(raw: Path) -> dict[str, int]:
    return {k: p.count('"id"') for k, p in raw_state(raw)["remotelink"]}


def expected_links(org: JiraOrg) -> dict[str, int]:
    return {k: len(v) for k, v in org.remote_links.items() if v}


@pytest.fixture
def org() -> JiraOrg:
    return generate_org(400, seed=21, now=NOW)


@pytest.mark.parametrize(
    ("deployment", "how"),
    [("data_center", "ca_bundle"), ("data_center", "environment"), ("cloud", "ca_bundle")],
)
def test_links_over_tls_trust_the_same_ca_and_send_the_same_headers(
    tmp_path: Path, org: JiraOrg, deployment: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, bundle = ca_context(str(tmp_path))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    if how == "environment":
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    else:
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with RecordingSandbox(org, deployment=deployment, tls=context) as sandbox:  # type: ignore[arg-type]
        source = source_for(sandbox, **({"ca_bundle": bundle} if how == "ca_bundle" else {}))
        connector = sync(JiraConnector(source), tmp_path / "raw.duckdb")
        linked = link_changed_since(org, None)
        assert requests_matching(sandbox, "/remotelink") == len(linked) > 20
        assert connector.stats.requests == sandbox.server.total_requests
    assert remote_links_held(tmp_path / "raw.duckdb") == expected_links(org)
    by_client = {p: h for p, h in sandbox.seen if p.endswith("/myself")}
    reads = [h for p, h in sandbox.seen if p.endswith("/remotelink")]
    (myself,) = by_client.values()
    for name in ("authorization", "user-agent", "accept", "accept-encoding", "content-type"):
        assert {r.get(name) for r in reads} == {myself.get(name)}, name


@pytest.mark.parametrize(
    "faults",
    [
        Faults(rate_limit_every=7, retry_after="seconds", retry_after_seconds=1),
        Faults(error_burst_every=9, error_burst_length=2, error_status=503),
        Faults(truncate_every=6),
    ],
    ids=["429", "503-burst", "truncated-body"],
)
def test_links_survive_transient_faults(tmp_path: Path, org: JiraOrg, faults: Faults) -> None:
    clock = FakeClock()
    context, bundle = ca_context(str(tmp_path))
    with JiraSandbox(org, deployment="data_center", tls=context, faults=faults) as sandbox:
        source = source_for(sandbox, ca_bundle=bundle)
        connector = JiraConnector(source, retry=POLICY, clock=clock)
        sync(connector, tmp_path / "raw.duckdb")
        assert connector.stats.requests == sandbox.server.total_requests
    assert connector.stats.retries > 0
    assert remote_links_held(tmp_path / "raw.duckdb") == expected_links(org)
    if faults.rate_limit_every:
        assert clock.sleeps.count(1.0) >= 1  # Retry-After was honoured on the fake clock


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_link_read_names_the_source_and_hides_the_token(
    tmp_path: Path, org: JiraOrg, status: int
) -> None:
    RefusingLinks.status = status
    with RefusingLinks(org, deployment="data_center") as sandbox:
        source = source_for(sandbox)
        token = source.token.get_secret_value()
        with pytest.raises(ConnectorError) as caught:
            sync(JiraConnector(source, retry=POLICY), tmp_path / "raw.duckdb")
    message = str(caught.value)
    assert isinstance(caught.value, PermanentConnectorError)
    assert "'it-jira'" in message and f"HTTP {status}" in message
    assert "reading remote links of" in message and "/remotelink" in message
    if status == 401:
        assert "check the token" in message
    else:  # Jira's own words, and what the account needs
        assert f"refused remote links ({status})" in message and "Browse projects" in message
    assert token not in message and token not in repr(caught.value.args)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_redirected_link_read_is_followed(tmp_path: Path, org: JiraOrg) -> None:
    with RedirectingLinks(org, deployment="data_center") as sandbox:
        connector = sync(JiraConnector(source_for(sandbox)), tmp_path / "raw.duckdb")
        linked = len(link_changed_since(org, None))
        assert requests_matching(sandbox, "/rest/api/latest/") == linked
        assert connector.stats.requests == sandbox.server.total_requests
    assert remote_links_held(tmp_path / "raw.duckdb") == expected_links(org)


def test_a_proxy_or_client_certificate_keeps_reads_on_the_session() -> None:
    """urllib3 alone would skip the proxy requests routes through: such sites keep the session."""
    client = JIRA("https://jira.example.com", token_auth="t", get_server_info=False)
    session = client._session
    url = "https://jira.example.com/rest/api/2/myself"
    assert LeanGet.for_session(session, url, timeout=5, pool_size=2) is not None
    session.proxies = {"https": "http://proxy.example.com:3128"}
    assert LeanGet.for_session(session, url, timeout=5, pool_size=2) is None
    session.proxies = {}
    session.cert = "/etc/client.pem"
    assert LeanGet.for_session(session, url, timeout=5, pool_size=2) is None
