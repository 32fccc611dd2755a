"""Webhook posts to a real local HTTP server: valid Slack and Teams payloads, retries, and
failures that are logged (without the secret URL) and returned as False, never raised."""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import pytest

from handoff.retry import FakeClock
from rules.report.data import gather
from rules.report.notify import post_webhook
from rules.report.sample import build_sample_model
from rules.report.types import ReportData

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
SECRET = "T0001/B0002/s3cr3tT0ken"

TEXT_OBJECT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"enum": ["plain_text", "mrkdwn"]},
        "text": {"type": "string", "minLength": 1, "maxLength": 3000},
    },
}
# The parts of Slack's Block Kit the payload uses, with Slack's documented limits.
SLACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["type"],
                "oneOf": [
                    {
                        "properties": {
                            "type": {"const": "header"},
                            "text": {
                                **TEXT_OBJECT,
                                "properties": {
                                    "type": {"const": "plain_text"},
                                    "text": {"type": "string", "maxLength": 150},
                                },
                            },
                        },
                        "required": ["text"],
                    },
                    {
                        "properties": {
                            "type": {"const": "section"},
                            "text": TEXT_OBJECT,
                            "fields": {"type": "array", "maxItems": 10, "items": TEXT_OBJECT},
                        },
                        "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                    },
                    {"properties": {"type": {"const": "divider"}}},
                    {
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {"type": "array", "maxItems": 10, "items": TEXT_OBJECT},
                        },
                        "required": ["elements"],
                    },
                ],
            },
        },
    },
}
# A Teams message with one Adaptive Card attachment, as Teams webhooks and workflows accept.
TEAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "attachments"],
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["contentType", "content"],
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "content": {
                        "type": "object",
                        "required": ["type", "version", "body"],
                        "properties": {
                            "type": {"const": "AdaptiveCard"},
                            "version": {"type": "string", "pattern": r"^1\.[0-6]$"},
                            "body": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["type"],
                                    "properties": {"type": {"enum": ["TextBlock", "FactSet"]}},
                                },
                            },
                            "actions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["type", "url", "title"],
                                    "properties": {"type": {"const": "Action.OpenUrl"}},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


@dataclass
class Hook:
    """A local webhook receiver answering with a scripted list of statuses."""

    statuses: list[int] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    retry_after: str = "0"  # sent with each 429
    url: str = ""


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            state.bodies.append(json.loads(self.rfile.read(length)))
            state.headers.append(dict(self.headers))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", state.retry_after)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/services/{SECRET}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    db = build_sample_model(tmp_path_factory.mktemp("notify") / "m.duckdb", now=NOW, hostile=True)
    return gather(db, now=NOW)


def test_slack_payload_is_valid_and_escaped(hook: Hook, data: ReportData) -> None:
    report = "https://reports.retail.example/handoff.html"
    assert post_webhook(hook.url, "slack", data, report_path=report) is True
    [body] = hook.bodies
    jsonschema.validate(body, SLACK_SCHEMA)
    assert hook.headers[0]["Content-Type"] == "application/json"
    assert f"{data.headline.open_total} open" in body["text"]
    text = json.dumps(body)
    assert "<https://retail.atlassian.net/browse/OPS-42|OPS-42>" in text
    assert "<script>" not in text and "&lt;script&gt;" in text  # Slack's own escaping
    assert "javascript:" not in text
    assert f"<{report}|Open the full report>" in text


def test_teams_payload_is_a_valid_adaptive_card_message(hook: Hook, data: ReportData) -> None:
    report = "https://reports.retail.example/handoff.html"
    assert post_webhook(hook.url, "teams", data, report_path=report) is True
    [body] = hook.bodies
    jsonschema.validate(body, TEAMS_SCHEMA)
    card = body["attachments"][0]["content"]
    facts = {
        f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]
    }
    assert facts["Will stall next week"] == str(data.headline.will_stall_next_week)
    assert card["actions"][0]["url"] == report
    assert "javascript:" not in json.dumps(body)


def test_payloads_summarise_root_causes_not_raw_findings(hook: Hook, data: ReportData) -> None:
    """OPS-42 is seen by three rules: the chat message names it once, with who acts by when
    and the rule's advice, and counts causes before findings."""
    top = data.root_causes[0]
    assert top.subject.label == "OPS-42" and len(top.findings) == 3
    assert post_webhook(hook.url, "slack", data) and post_webhook(hook.url, "teams", data)
    slack, teams = hook.bodies
    sections = [
        b["text"]["text"] for b in slack["blocks"] if b["type"] == "section" and "text" in b
    ]
    causes = [t for t in sections if "acts:" in t]
    assert len(causes) == min(5, len(data.root_causes))
    ops42 = [t for t in causes if "|OPS-42>" in t]
    assert len(ops42) == 1
    assert "Ravi Patel" in ops42[0] and "by 15 Mar 2025" in ops42[0]
    assert "3 finding(s) from 3 rule(s)" in ops42[0]
    assert top.rules[0].advice[:40] in ops42[0]
    assert slack["text"].split(": ", 1)[1].startswith(f"{data.headline.root_causes} root causes")
    card = json.dumps(teams["attachments"][0]["content"])
    assert card.count("[OPS-42](") == 1 and "Ravi Patel" in card
    assert f"{data.headline.root_causes} root causes" in teams["summary"]


def test_local_report_path_is_shown_not_linked(hook: Hook, data: ReportData) -> None:
    assert post_webhook(hook.url, "slack", data, report_path="reports/handoff.html")
    assert "`reports/handoff.html`" in json.dumps(hook.bodies[0])
    assert post_webhook(hook.url, "teams", data, report_path="reports/handoff.html")
    assert "actions" not in hook.bodies[1]["attachments"][0]["content"]


def test_server_errors_and_rate_limits_are_retried(hook: Hook, data: ReportData) -> None:
    hook.statuses = [500, 429]
    clock = FakeClock()
    assert post_webhook(hook.url, "slack", data, attempts=3, clock=clock) is True
    assert len(hook.bodies) == 3
    assert len(clock.sleeps) == 2 and clock.sleeps[1] == 0  # the 429 asked for no wait


def test_http_date_retry_after_is_honoured(hook: Hook, data: ReportData) -> None:
    clock = FakeClock()
    hook.statuses = [429]
    hook.retry_after = email.utils.formatdate(clock.now() + 45, usegmt=True)
    assert post_webhook(hook.url, "teams", data, attempts=3, clock=clock) is True
    assert len(hook.bodies) == 2
    [waited] = clock.sleeps
    assert 44 <= waited <= 45  # the date has whole seconds


def test_retry_after_past_the_deadline_gives_up_at_once(
    hook: Hook, data: ReportData, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    hook.statuses = [429]
    hook.retry_after = "3600"
    with caplog.at_level(logging.DEBUG):
        assert post_webhook(hook.url, "slack", data, attempts=3, clock=clock) is False
    assert len(hook.bodies) == 1 and clock.sleeps == []
    assert "HTTP 429" in caplog.text and "asked to wait 3600s" in caplog.text
    assert SECRET not in caplog.text


def test_persistent_500_returns_false_and_logs_without_the_url(
    hook: Hook, data: ReportData, caplog: pytest.LogCaptureFixture
) -> None:
    hook.statuses = [500, 500, 500]
    with caplog.at_level(logging.DEBUG):
        assert post_webhook(hook.url, "teams", data, attempts=3, clock=FakeClock()) is False
    assert len(hook.bodies) == 3
    assert "gave up posting the message after 3 attempts (HTTP 500)" in caplog.text
    assert SECRET not in caplog.text and "s3cr3t" not in caplog.text


def test_client_errors_are_not_retried(hook: Hook, data: ReportData) -> None:
    hook.statuses = [404]
    assert post_webhook(hook.url, "slack", data, attempts=3) is False
    assert len(hook.bodies) == 1


def test_refused_connection_returns_false(
    data: ReportData, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on any more
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/{SECRET}"
    with caplog.at_level(logging.DEBUG):
        assert post_webhook(url, "slack", data, attempts=2, timeout=2, clock=FakeClock()) is False
    assert "ConnectError" in caplog.text and SECRET not in caplog.text


def test_invalid_url_returns_false(data: ReportData, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert post_webhook(f"not a url {SECRET}", "slack", data) is False
    assert SECRET not in caplog.text


def test_empty_report_still_posts(hook: Hook, tmp_path: Path) -> None:
    db = build_sample_model(tmp_path / "m.duckdb", now=NOW)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM exceptions")
    con.close()
    empty = gather(db, now=NOW)
    assert post_webhook(hook.url, "slack", empty) and post_webhook(hook.url, "teams", empty)
    jsonschema.validate(hook.bodies[0], SLACK_SCHEMA)
    jsonschema.validate(hook.bodies[1], TEAMS_SCHEMA)
