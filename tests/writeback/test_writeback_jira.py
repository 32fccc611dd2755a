"""Findings written back as Jira comments, against the strict Jira sandbox (Cloud and DC)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.comment_clients import comment_clients
from handoff.config import HandoffConfig
from handoff.retry import FakeClock
from rules.writeback.flow import run_writeback
from sandbox.jira import JiraOrg, JiraSandbox
from sandbox.server import Faults
from tests.writeback.model import HOSTILE, write_model

NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _org() -> JiraOrg:
    org = JiraOrg.empty(datetime.now(UTC))
    org.add_project("OPS", "Operations")
    org.add_project("SEC", "Security")
    for n, summary in enumerate(["Upgrade DB", "Launch campaign", "Ship API", "Train staff"], 1):
        org.add_issue(f"OPS-{n}", summary, project="OPS")
    org.add_issue("SEC-1", "Pen test", project="SEC")
    return org


@pytest.fixture(params=["cloud", "data_center"])
def jira(request: pytest.FixtureRequest) -> Iterator[JiraSandbox]:
    with JiraSandbox(_org(), deployment=request.param, comment_projects=["OPS"]) as sandbox:
        yield sandbox


def _config(tmp: Path, sandbox: JiraSandbox, **writeback: Any) -> HandoffConfig:
    entry, env = sandbox.source_entry("it-jira", "T")
    entry["token"] = env["T"]
    entry["writeback"] = {"enabled": True, "dry_run": False, "min_severity": "warn", **writeback}
    return HandoffConfig.model_validate(
        {
            "sources": [entry],
            "database": str(tmp / "handoff.duckdb"),
            "data_dir": str(tmp / "data"),
            "base_dir": str(tmp),
        }
    )


def _item(key: str, title: str) -> dict[str, Any]:
    return {"item_id": f"it-jira:{key}", "source": "it-jira", "tool": "jira", "key": key,
            "title": title, "url": f"https://jira.example/browse/{key}",
            "owner": "ravi@example.com", "owner_name": "Ravi Patel"}  # fmt: skip


ITEMS = [_item("OPS-1", "Upgrade DB"), _item("OPS-2", HOSTILE), _item("OPS-3", "Ship API"),
         _item("OPS-4", "Train staff"), _item("SEC-1", "Pen test")]  # fmt: skip


def _finding(fid: str, up: str, down: str, **kw: Any) -> dict[str, Any]:
    return {"id": fid, "subjects": [f"it-jira:{up}", f"it-jira:{down}"],
            "message": f"{down} waits on {up}, which is late", **kw}  # fmt: skip


def _build(cfg: HandoffConfig, findings: list[dict[str, Any]], **kw: Any) -> None:
    write_model(cfg.database_path, kw.get("items", ITEMS), findings, NOW)


def _texts(sandbox: JiraSandbox, key: str) -> list[Any]:
    return [c.body for c in sandbox.comments.on(key)]


def _run(cfg: HandoffConfig, sandbox: JiraSandbox, *, dry: bool = False, clock: Any = None):  # type: ignore[no-untyped-def]
    sandbox.server.reset_counts()
    clients = comment_clients(cfg, clock=clock or FakeClock())
    outcome = run_writeback(cfg, clients, dry_run=dry)
    return outcome, sandbox.server.total_requests


def test_lifecycle_one_comment_per_finding_then_nothing_then_edit_then_resolve(
    tmp_path: Path, jira: JiraSandbox
) -> None:
    cfg = _config(tmp_path, jira)
    findings = [
        _finding("ex-1", "OPS-1", "OPS-2"),
        _finding("ex-2", "OPS-3", "OPS-4", severity="warn"),
        _finding("ex-3", "OPS-1", "OPS-3", severity="info"),  # below min_severity
    ]
    _build(cfg, findings)

    first, requests = _run(cfg, jira)
    assert [(o.kind, o.item_key) for o in first.written] == [
        ("create", "OPS-2"),
        ("create", "OPS-4"),
    ]
    assert requests == 4  # one marker search and one POST per qualifying finding
    assert len(jira.comments.on("OPS-2")) == 1 and len(jira.comments.on("OPS-4")) == 1
    assert jira.comments.on("OPS-3") == []
    body = json.dumps(_texts(jira, "OPS-2")[0], ensure_ascii=False)
    assert "handoff-finding:ex-1" in body and "Upgrade DB" in body and "Ravi Patel" in body
    assert jira.invalid_requests == []

    second, requests = _run(cfg, jira)
    assert second.written == [] and requests == 0

    findings[0]["message"] = "OPS-2 waits on OPS-1, now 5 days late"
    _build(cfg, findings)
    third, requests = _run(cfg, jira)
    assert [(o.kind, o.item_key) for o in third.written] == [("update", "OPS-2")]
    assert requests == 1 and len(jira.comments.on("OPS-2")) == 1
    assert "now 5 days late" in json.dumps(_texts(jira, "OPS-2")[0])

    findings[1]["status"] = "resolved"
    _build(cfg, findings)
    fourth, requests = _run(cfg, jira)
    assert [(o.kind, o.item_key) for o in fourth.written] == [("resolve", "OPS-4")]
    assert requests == 1
    assert "Resolved" in json.dumps(_texts(jira, "OPS-4")[0])
    assert _run(cfg, jira)[1] == 0  # resolved once, then left alone


def test_resolved_finding_deletes_its_comment_when_configured(
    tmp_path: Path, jira: JiraSandbox
) -> None:
    cfg = _config(tmp_path, jira, on_resolve="delete")
    findings = [_finding("ex-1", "OPS-1", "OPS-2")]
    _build(cfg, findings)
    _run(cfg, jira)
    findings[0]["status"] = "resolved"
    _build(cfg, findings)
    outcome, requests = _run(cfg, jira)
    assert [o.kind for o in outcome.written] == ["delete"] and requests == 1
    assert jira.comments.on("OPS-2") == []


def test_a_comment_deleted_by_someone_is_recreated_once(tmp_path: Path, jira: JiraSandbox) -> None:
    cfg = _config(tmp_path, jira)
    findings = [_finding("ex-1", "OPS-1", "OPS-2")]
    _build(cfg, findings)
    _run(cfg, jira)
    for attempt in range(2):
        (comment,) = jira.comments.on("OPS-2")
        jira.comments.delete_as_user(comment.id)
        later = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1)
        items = [dict(i, updated_at=later) if i["key"] == "OPS-2" else i for i in ITEMS]
        _build(cfg, findings, items=items)  # the next sync sees the issue changed
        outcome, requests = _run(cfg, jira)
        if attempt == 0:
            assert [o.kind for o in outcome.written] == ["create"]
            assert requests == 2  # the search that misses it, then the POST
            assert len(jira.comments.on("OPS-2")) == 1
        else:
            assert outcome.written == [] and jira.comments.on("OPS-2") == []
            assert any("deleted again" in n for n in outcome.notes)


def test_dry_run_prints_exactly_what_the_real_run_writes(tmp_path: Path, jira: JiraSandbox) -> None:
    cfg = _config(tmp_path, jira)
    _build(cfg, [_finding("ex-1", "OPS-1", "OPS-2"), _finding("ex-2", "OPS-3", "OPS-4")])
    dry, _ = _run(cfg, jira, dry=True)
    assert jira.comments.comments == {}
    real, _ = _run(cfg, jira)
    assert [(o.kind, o.item_key, o.body) for o in dry.planned] == [
        (o.kind, o.item_key, o.body) for o in real.written
    ]
    assert [o.body for o in dry.planned] == [_texts(jira, "OPS-2")[0], _texts(jira, "OPS-4")[0]]
    assert dry.text(dry=True).split("\n")[:-1] == real.text(dry=False).split("\n")[:-1]


def test_hostile_titles_stay_text(tmp_path: Path, jira: JiraSandbox) -> None:
    cfg = _config(tmp_path, jira)
    _build(cfg, [_finding("ex-1", "OPS-2", "OPS-1")])
    _run(cfg, jira)
    (body,) = _texts(jira, "OPS-1")
    if jira.cloud:  # ADF: the title is a text node, never markup
        texts = [n["text"] for p in body["content"] for n in p["content"]]
        assert any(HOSTILE in t for t in texts)
    else:  # wiki markup: every markup character escaped
        assert "\\{color:red\\}\\*Pay\\* \\[now\\|http://evil.example\\]" in body


def test_quota_429_waits_and_resumes(tmp_path: Path, jira: JiraSandbox) -> None:
    cfg = _config(tmp_path, jira)
    _build(cfg, [_finding("ex-1", "OPS-1", "OPS-2"), _finding("ex-2", "OPS-3", "OPS-4")])
    jira.server.faults = Faults(rate_limit_every=2, retry_after_seconds=7)
    clock = FakeClock()
    outcome, requests = _run(cfg, jira, clock=clock)
    assert [o.item_key for o in outcome.written] == ["OPS-2", "OPS-4"]
    assert outcome.refused == []
    assert 7 in clock.sleeps  # the server's Retry-After was honoured
    assert requests == 7  # 4 calls; every 2nd request answered 429 (3 of them) and sent again
    assert len(jira.comments.on("OPS-2")) == len(jira.comments.on("OPS-4")) == 1


def test_permission_refused_on_one_item_is_reported_and_the_rest_goes_on(
    tmp_path: Path, jira: JiraSandbox
) -> None:
    cfg = _config(tmp_path, jira)
    _build(cfg, [_finding("ex-1", "OPS-1", "SEC-1"), _finding("ex-2", "OPS-3", "OPS-4")])
    outcome, requests = _run(cfg, jira)
    assert [o.item_key for o in outcome.written] == ["OPS-4"]
    (refused,) = outcome.refused
    assert "SEC-1" in refused and "Add comments" in refused and "403" in refused
    assert jira.token not in refused
    assert requests == 4


def test_global_cap_defers_the_rest_to_the_next_run(tmp_path: Path, jira: JiraSandbox) -> None:
    cfg = _config(tmp_path, jira, max_writes_per_run=1)
    _build(cfg, [_finding("ex-1", "OPS-1", "OPS-2"), _finding("ex-2", "OPS-3", "OPS-4")])
    outcome, _ = _run(cfg, jira)
    assert len(outcome.written) == 1 and outcome.deferred == 1
    outcome, _ = _run(cfg, jira)
    assert len(outcome.written) == 1 and outcome.deferred == 0
    assert len(jira.comments.comments) == 2
