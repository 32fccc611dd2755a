"""The leaders' report on the demo organisation: what is at risk, why, who acts, by when.

Runs the demo job against the sandbox servers once, then reads the rendered report the way a
leader would: the headline, the root-cause card, the milestones, the action lists, in HTML,
Markdown and JSON, and in a real headless Chromium at laptop and phone sizes.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from handoff.config import load_config
from pipelines.demo import write_demo
from pipelines.runner import run_sync
from rules.report.data import ReportSettings, gather
from rules.report.render import render_html, render_json, render_markdown, write_report
from rules.report.schema import SCHEMA, render
from rules.report.types import ReportData
from sandbox.demo.organisation import build_demo

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WIDTHS = {"laptop": 1366, "phone": 390}
SECTIONS = ["headline", "changes", "milestones", "timeline", "root-causes", "actions",
            "departments", "matrix", "trend", "waived", "resolved", "sources"]  # fmt: skip

pytestmark = pytest.mark.slow  # runs the demo job against the sandbox servers


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("leaders")
    servers: list[Any] = []
    env = write_demo(root, build_demo(NOW), servers)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        report = run_sync(root / "handoff.yaml", now=NOW.replace(tzinfo=None))
        assert report.success, report.errors
        yield root
    finally:
        for server in servers:
            server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def data(demo: Path) -> ReportData:
    cfg = load_config(demo / "handoff.yaml", require_env=False)
    return gather(cfg.database_path, now=NOW, settings=ReportSettings.from_config(cfg))


def test_headline_names_the_launch_at_risk_the_stalled_it_work_raj_and_the_date(
    data: ReportData,
) -> None:
    first = data.headline.sentences[0]
    assert first.startswith(
        "\u201cLoyalty programme public launch\u201d (due 9 Dec 2026) is at risk"
    )
    assert "\u201cScale loyalty API for launch traffic\u201d has had no status change" in first
    assert "Raj Patel must act by 28 Nov 2026" in first
    assert "The upstream owner commits to a date this week" in first  # the rule's advice
    html = render_html(data)
    assert first.replace("\u201c", "&#8220;") in html or first in html.replace("&#34;", '"')
    assert "Retail Co" in html  # the organisation's name


def test_one_root_cause_card_holds_every_ops_101_finding(data: ReportData) -> None:
    top = data.root_causes[0]
    assert top.key == "it-jira:OPS-101" and top.owner == "Raj Patel"
    assert len(top.findings) == 12  # six rules, one problem
    assert {r.rule_id for r in top.rules} >= {"stalled_dependency", "will_stall_next_week"}
    assert top.must_move_by == "2026-11-28" and top.blast_radius == 4
    assert all(r.advice for r in top.rules)
    assert data.headline.root_causes == len(data.root_causes) < data.headline.open_total


def test_milestones_have_status_reason_and_steward(data: ReportData) -> None:
    by_title = {m.item.title: m for m in data.milestones}
    launch = by_title["Loyalty programme public launch"]
    assert launch.status == "at risk" and "Raj Patel must move it by 28 Nov 2026" in launch.reason
    assert launch.steward is None
    assert by_title["Store launch readiness checklist"].steward == "Omar Haddad"
    assert launch.chains and launch.chains[0][0].source_key == "OPS-101"


def test_department_findings_name_the_department_steward(data: ReportData) -> None:
    names = {p.name: p for p in data.actions}
    assert "Marketing" not in names  # the config names Marketing's steward
    maya = names["Maya Chen"]
    assert maya.department == "Marketing"
    assert any("steward" in a.what for a in maya.actions)
    assert all(a.by_when for p in data.actions for a in p.actions)


def test_page_speaks_plain_language(data: ReportData) -> None:
    html = re.sub(r"<[^>]+>", " ", render_html(data))  # what the reader sees, not the hrefs
    md = re.sub(r"\]\([^)]*\)", "]", render_markdown(data))
    for raw in ("upstream_stalled", "days_idle", "it-jira:OPS", "marketing-asana:12", "-0.0 h",
                "Age", data.trend[-1].run_id, "1200000000000015"):  # fmt: skip
        assert raw not in html, raw
        assert raw not in md, raw
    assert "store-ops.xlsx, sheet Training, row 4" in html
    assert "Scale loyalty API for launch traffic" in html  # file rows name file and row


def test_markdown_and_json_carry_the_same_answer(data: ReportData, demo: Path) -> None:
    md = render_markdown(data)
    doc = json.loads(render_json(data))
    jsonschema.validate(doc, json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert datetime.fromisoformat(doc["generated_at"]).tzinfo is not None
    assert datetime.fromisoformat(doc["root_causes"][0]["first_seen"]).tzinfo is not None
    assert [r["summary"] for r in doc["root_causes"]] == [r.summary for r in data.root_causes]
    for r in data.root_causes:
        assert r.summary in md.replace("\\", "")
    for m in data.milestones:
        assert m.reason in md.replace("\\", "")
    assert doc["headline"]["sentences"] == data.headline.sentences


def test_report_schema_is_current() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == render(), "run python -m rules.report.schema"


def test_report_files_are_readable_and_mode_is_configurable(demo: Path, tmp_path: Path) -> None:
    cfg = load_config(demo / "handoff.yaml", require_env=False)
    out = write_report(cfg.database_path, tmp_path / "r.html", "html", now=NOW)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    out = write_report(cfg.database_path, tmp_path / "p.html", "html", now=NOW, mode=0o640)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_department_page_keeps_only_that_department(demo: Path, tmp_path: Path) -> None:
    cfg = load_config(demo / "handoff.yaml", require_env=False)
    out = write_report(cfg.database_path, tmp_path / "it.html", "html", now=NOW,
                       settings=ReportSettings.from_config(cfg), department="Store Ops")  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert "Handoff report: Store Ops" in html and "Point-of-sale loyalty plug-in rollout" in html
    assert "Partner promotion with payment provider" not in html
    with pytest.raises(ValueError, match=r"no department named 'Nope'.*Marketing"):
        write_report(cfg.database_path, tmp_path / "x.html", "html", now=NOW, department="Nope")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent")
@pytest.mark.parametrize("device", list(WIDTHS))
def test_demo_page_in_chromium(data: ReportData, tmp_path: Path, device: str) -> None:
    from tests.rules.browser import open_page

    page = tmp_path / "demo.html"
    page.write_text(render_html(data), encoding="utf-8")
    result = open_page(page, WIDTHS[device], ARTIFACTS / f"leaders-demo-{device}.png")
    assert result.errors == [] and result.console == [] and result.external == []
    assert set(SECTIONS) <= set(result.ids)
    assert "Raj Patel must act by 28 Nov 2026" in result.text
    assert result.overflow <= 2  # nothing wider than the screen but the scrollable charts


HOSTILE_TITLES = {
    "Scale loyalty API for launch traffic": "<script>window.pwned=1</script> Scale loyalty API",
    "Loyalty programme public launch": '"><img src=x onerror="window.pwned=1"> Public launch',
}


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent")
@pytest.mark.parametrize("device", list(WIDTHS))
def test_demo_page_with_hostile_titles_stays_inert(demo: Path, tmp_path: Path, device: str) -> None:
    """The demo's root cause and its milestone retitled with markup and a bidi override: the
    page shows them as text in every place they appear and runs nothing."""
    import duckdb

    from tests.rules.browser import open_page

    cfg = load_config(demo / "handoff.yaml", require_env=False)
    db = tmp_path / "model.duckdb"
    db.write_bytes(cfg.database_path.read_bytes())
    con = duckdb.connect(str(db))
    for old, new in HOSTILE_TITLES.items():
        con.execute(
            "UPDATE work_items SET title = ? WHERE title = ?", [new + " \u202egnp.exe", old]
        )
    con.close()
    data = gather(db, now=NOW, settings=ReportSettings.from_config(cfg))
    page = tmp_path / "hostile.html"
    page.write_text(render_html(data), encoding="utf-8")
    html = page.read_text(encoding="utf-8")
    assert "\u202e" not in html
    result = open_page(page, WIDTHS[device], ARTIFACTS / f"leaders-demo-hostile-{device}.png")
    assert result.errors == [] and result.console == [] and result.external == []
    assert result.pwned is False and result.active == 0
    assert set(SECTIONS) <= set(result.ids)
    for title in HOSTILE_TITLES.values():
        assert title in result.text  # shown as the words a reader can see
    assert "Raj Patel must act by 28 Nov 2026" in result.text
    assert result.overflow <= 2
