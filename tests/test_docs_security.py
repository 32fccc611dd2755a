"""The operations docs never tell anyone to expose the unauthenticated webserver, and the
security page answers the four questions an operator asks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A command binding every interface: `-h 0.0.0.0`, `--host 0.0.0.0`, `--host=0.0.0.0`.
EXPOSING = re.compile(r"(-h|--host)[ =]+(0\.0\.0\.0|::)(\s|$)")


def fenced_blocks(text: str) -> list[str]:
    return re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)


def test_no_doc_binds_the_webserver_to_every_interface() -> None:
    offenders = [
        f"{doc.relative_to(ROOT)}: {line.strip()}"
        for doc in DOCS
        for block in fenced_blocks(doc.read_text(encoding="utf-8"))
        for line in block.splitlines()
        if EXPOSING.search(line)
    ]
    assert offenders == []


def test_operations_page_binds_to_localhost_and_points_at_security() -> None:
    ops = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "dagster-webserver" in ops and "-h 127.0.0.1" in ops
    assert "no authentication" in ops and "security.md" in ops


def test_security_page_answers_the_operator_questions() -> None:
    page = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    for heading in (
        "## Who may write rules",
        "## Who may run `handoff sql`",
        "## Where secrets live",
        "## The Dagster webserver",
    ):
        assert heading in page
