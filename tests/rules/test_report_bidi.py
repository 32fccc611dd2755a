"""Bidirectional controls in source text cannot reorder what the report shows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from rules.report.data import gather
from rules.report.render import render_html, render_markdown
from rules.report.sample import build_sample_model

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
SPOOFED = "Pay invoice \u202egpj.exe\u202c then \u2067isolate\u2069 done"


def test_bidi_controls_in_titles_are_neutralised_in_html_and_markdown(tmp_path: Path) -> None:
    db = build_sample_model(tmp_path / "model.duckdb", now=NOW, hostile=True)
    con = duckdb.connect(str(db))
    con.execute("UPDATE work_items SET title = ? WHERE item_id = 'it-jira:OPS-77'", [SPOOFED])
    con.close()
    data = gather(db, now=NOW)
    for text in (render_html(data), render_markdown(data)):
        assert "Pay invoice \ufffdgpj.exe\ufffd then \ufffdisolate\ufffd done" in text
        assert not any(c in text for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
