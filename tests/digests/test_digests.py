"""Owner digests through a local SMTP server: one message per person, the report's items,
nothing when nothing changed, hostile titles escaped in both parts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from handoff.config import load_config
from pipelines.runner import run_sync
from rules.digests.flow import person_emails
from rules.digests.state import STATE_FILE
from rules.report.data import ReportSettings, gather
from rules.report.plain import day
from sandbox.demo import story
from sandbox.demo.files import write_csv
from tests.digests.smtp_sink import SmtpSink

HOSTILE = "<script>alert(1)</script>\r\nBy: never\u202e <b>now</b>"
PASSWORD = "smtp-pw-that-must-not-leak"


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def _config(file_org: Callable[..., Path], port: int, **digests: Any) -> Path:
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "username": "digest-bot",
            "password": "${SMTP_PW}", "sender": "handoff@retail.example"}  # fmt: skip
    path = file_org(digests={"smtp": smtp, **digests})
    hostile = [dataclasses.replace(i, title=f"{HOSTILE} {i.title}") for i in story.IT_OPS]
    write_csv(path.parent / "plans" / "it.csv", hostile, date.today())
    return path


def _expected(path: Path) -> dict[str, list[tuple[str, str]]]:
    """e-mail -> (item label, due day) of each action the report routes to that person."""
    cfg = load_config(path)
    data = gather(cfg.database_path, settings=ReportSettings.from_config(cfg))
    con = duckdb.connect(str(cfg.database_path), read_only=True)
    try:
        emails = person_emails(con)
    finally:
        con.close()
    return {
        emails[entry.name]: [(a.item.label or "", day(a.by_when)) for a in entry.actions]
        for entry in data.actions
        if entry.kind == "person" and entry.name in emails
    }


def test_one_digest_per_person_then_none_when_unchanged(
    file_org: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PW", PASSWORD)
    with SmtpSink("digest-bot", PASSWORD) as sink:
        path = _config(file_org, sink.port)
        assert run_sync(path).success
        first = list(sink.messages)
        expected = _expected(path)
        assert len(expected) >= 2  # the story routes actions to several people
        assert sink.logins == ["digest-bot"]  # logged in once, with the password from the env
        assert sorted(r for m in first for r in m.recipients) == sorted(expected)
        for received in first:
            [to] = received.recipients
            assert received.message["To"] == to
            text, html = _parts(received.message)
            count = len(expected[to])
            assert f"{count} thing{'s' if count != 1 else ''} wait" in text
            for label, due in expected[to]:
                assert f"Item: {label}" in text and f"By: {due}" in text
                assert f">{label}</a>" in html or f"Item: {label}" in html

        assert run_sync(path).success  # nothing changed: nobody hears again
        assert sink.messages == first

        settings = yaml.safe_load(path.read_text())
        settings["digests"]["send_unchanged"] = True
        path.write_text(yaml.safe_dump(settings))
        assert run_sync(path).success
        assert sorted(r for m in sink.messages[len(first) :] for r in m.recipients) == sorted(
            expected
        )
    assert PASSWORD not in (path.parent / "data" / STATE_FILE).read_text()


def test_hostile_titles_are_escaped_in_both_parts(
    file_org: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PW", PASSWORD)
    with SmtpSink("digest-bot", PASSWORD) as sink:
        path = _config(file_org, sink.port)
        assert run_sync(path).success
    hostile = [m for m in sink.messages if "alert(1)" in _parts(m.message)[0]]
    assert hostile, "the hostile titles reach at least one digest"
    for received in hostile:
        text, html = _parts(received.message)
        # text: the title stays on its line and cannot reorder what follows it
        assert not any(line.startswith("By: never") for line in text.splitlines())
        assert "\u202e" not in text and "\u202e" not in html
        # html: markup in a title is shown, never run
        assert "<script>" not in html and "<b>now</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;b&gt;now&lt;/b&gt;" in html
