"""A failed run's alert reaches the webhook (Slack and Teams shapes); a dead hook never raises."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rules.report.notify import post_alert


@pytest.fixture
def hook() -> Any:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook/secret", received
    server.shutdown()


def test_slack_and_teams_alerts_are_posted(hook: Any) -> None:
    url, received = hook
    assert post_alert(url, "slack", "Handoff: run abc failed: source it-jira")
    assert post_alert(url, "teams", "Handoff: run abc failed: source it-jira")
    assert received[0] == {"text": "Handoff: run abc failed: source it-jira"}
    card = received[1]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "it-jira" in card["content"]["body"][0]["text"]


def test_dead_hook_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    assert post_alert("http://127.0.0.1:9/hook/secret-part", "slack", "x", attempts=2) is False
    assert "secret-part" not in caplog.text
