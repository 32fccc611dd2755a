"""HTML, Markdown and JSON renderings carry the same findings, self-contained and escaped."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from rules.report.data import gather
from rules.report.escape import md_escape, safe_url
from rules.report.render import render_html, render_json, render_markdown, write_report
from rules.report.sample import HOSTILE_IMG, HOSTILE_TITLE, build_sample_model
from rules.report.types import ReportData

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
SECTIONS = [
    "headline",
    "changes",
    "milestones",
    "timeline",
    "root-causes",
    "actions",
    "departments",
    "next-week",
    "matrix",
    "trend",
    "waived",
    "resolved",
    "sources",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("render")
    return build_sample_model(folder / "model.duckdb", now=NOW, hostile=True)


@pytest.fixture(scope="module")
def data(model: Path) -> ReportData:
    return gather(model, now=NOW)


class _Elements(HTMLParser):
    """Collects tags and attributes as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


def _all_findings(data: ReportData) -> list[str]:
    return sorted(
        {f.exception_id for g in data.handoffs for f in g.findings}
        | {f.exception_id for f in data.next_week + data.waived + data.resolved}
    )


def test_html_has_every_section_and_one_anchor_per_heatmap_cell(data: ReportData) -> None:
    html = render_html(data)
    ids = {a.get("id") for _, a in _elements(html)}
    assert set(SECTIONS) <= ids
    cell_links = re.findall(r'<a href="#(dept-[^"]+)" class="cell">', html)
    assert len(cell_links) == len(data.matrix.cells)
    assert set(cell_links) <= ids  # every cell links to its providing department's list


def test_html_is_self_contained(data: ReportData) -> None:
    html = render_html(data)
    tags = _elements(html)
    assert not [t for t, _ in tags if t in {"script", "link", "img", "iframe", "object", "embed"}]
    assert not [a for _, a in tags if "src" in a]
    assert "@import" not in html and "url(" not in html
    external = [a["href"] for t, a in tags if t == "a" and not str(a.get("href")).startswith("#")]
    assert external and all(str(h).startswith("https://") for h in external)  # links back only
    assert "Content-Security-Policy" in html


def test_html_escapes_source_text_and_drops_unsafe_links(data: ReportData) -> None:
    html = render_html(data)
    assert "<script>window.pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "javascript:" not in html
    assert "Legal &amp; &lt;Compliance&gt;" in html  # department names in the SVG too


def test_markdown_and_json_carry_the_same_root_causes_milestones_and_actions(
    data: ReportData,
) -> None:
    html, md, doc = render_html(data), render_markdown(data), json.loads(render_json(data))
    assert doc["format_version"] == 1
    open_ids = sorted(f.exception_id for g in data.handoffs for f in g.findings)
    assert sorted(f["exception_id"] for r in doc["root_causes"] for f in r["findings"]) == open_ids
    assert [r["anchor"] for r in doc["root_causes"]] == [r.anchor for r in data.root_causes]
    links = 0
    for r in data.root_causes:
        assert f'id="{r.anchor}"' in html
        assert md_escape(r.summary) in md
        assert md_escape(r.owner) in md
        for f in r.findings:
            assert f'id="finding-{f.exception_id}"' in html
            for s in f.subjects:
                url = safe_url(s.url)
                if url:
                    assert f"]({url})" in md or url not in html
                    assert f'href="{escape(url)}"' in html
                    links += 1
    assert links > 0  # the links were compared, not skipped
    assert [m["anchor"] for m in doc["milestones"]] == [m.anchor for m in data.milestones]
    for m in data.milestones:
        assert md_escape(m.reason) in md and f'id="{m.anchor}"' in html
    assert [p["name"] for p in doc["actions"]] == [p.name for p in data.actions]
    for p in data.actions:
        assert md_escape(p.name) in md
        for a in p.actions:
            assert md_escape(a.what) in md
    for f in data.waived:
        assert md_escape(f.waiver_reason) in md
    assert doc["headline"]["open_total"] == data.headline.open_total


def test_markdown_escapes_source_text(data: ReportData) -> None:
    md = render_markdown(data)
    assert HOSTILE_TITLE not in md and HOSTILE_IMG not in md
    assert md_escape(HOSTILE_TITLE) in md
    assert not re.search(r"(?<!\\)<(script|img)", md)
    assert "javascript:" not in md


def test_write_report_writes_each_format(model: Path, tmp_path: Path) -> None:
    for fmt in ("html", "md", "json"):
        out = write_report(model, tmp_path / "deep" / f"report.{fmt}", fmt, now=NOW)  # type: ignore[arg-type]
        assert out.exists() and out.stat().st_size > 1000
    assert json.loads((tmp_path / "deep" / "report.json").read_text())["generated_at"].startswith(
        "2025-03-10"
    )
    assert [p.name for p in (tmp_path / "deep").iterdir() if p.name.startswith(".")] == []
    with pytest.raises(ValueError, match="unknown report format"):
        write_report(model, tmp_path / "x.pdf", "pdf", now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://retail.atlassian.net/browse/OPS-1", True),
        ("http://jira.local:8080/browse/OPS-1", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>", False),
        ("//evil.example/x", False),
        ("https://x.example/a b", False),
        (None, False),
    ],
)
def test_only_absolute_http_links_are_linked(url: str | None, safe: bool) -> None:
    assert (safe_url(url) is not None) is safe


def test_empty_model_renders_every_format(tmp_path: Path) -> None:
    db = build_sample_model(tmp_path / "m.duckdb", now=NOW)
    con = duckdb.connect(str(db))
    for table in ("exceptions", "exception_runs", "sync_runs", "rejected_records"):
        con.execute(f"DELETE FROM {table}")
    con.close()
    data = gather(db, now=NOW)
    html = render_html(data)
    assert "Nothing is expected to stall next week." in html and 'id="trend"' in html
    assert "No open findings." in render_markdown(data)
    assert json.loads(render_json(data))["handoffs"] == []


def test_long_lists_are_cut_on_the_page_but_complete_in_json(
    data: ReportData, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rules.report import render

    monkeypatch.setattr(render, "MAX_ROOT_CARDS", 1)
    html, md = render_html(data), render_markdown(data)
    more = f"{len(data.root_causes) - 1} more root causes are listed by department below."
    assert more in html and more in md
    assert html.count('class="card root') == 1
    doc = json.loads(render_json(data))
    assert len(doc["root_causes"]) == len(data.root_causes) > 1
