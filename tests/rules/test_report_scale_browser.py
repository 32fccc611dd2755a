"""The leaders' report of a generated 20,000-issue organisation, synced for real from the Jira
sandbox and opened in headless Chromium at laptop and phone widths.

The page must stay under 2 MB, keep every section, stay offline, and show hostile titles
planted in the organisation as text. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from pipelines.runner import run_sync
from sandbox.jira import JiraSandbox, generate_org
from tests.model.test_bi_model import ANALYST_QUERIES
from tests.rules.browser import CHROMIUM, open_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
ISSUES = 20_000
MAX_HTML_BYTES = 2 * 1024 * 1024
HOSTILE = [
    "<script>window.pwned=1</script> Renew the store certificates",
    '"><img src=x onerror="window.pwned=1"> Close the payroll export',
    "Approve \u202egnicirp\u202c the loyalty tiers",
]
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
WIDTHS = {"laptop": 1366, "phone": 390}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real sync of the generated organisation (remote links off: they add 20,000 requests
    and nothing the report draws); yields the folder holding the reports."""
    folder = tmp_path_factory.mktemp("scale-report")
    org = generate_org(ISSUES, 11, now=NOW)
    # Plant hostile titles on every 40th issue, so some reach the top root causes.
    for n, issue in enumerate(list(org.issues.values())[::40]):
        issue.summary = HOSTILE[n % len(HOSTILE)]
    with JiraSandbox(org) as sandbox:
        entry, env = sandbox.source_entry("it-jira", "SCALE_JIRA_TOKEN")
        entry.update(department="IT", remote_links=False)
        config = {
            "version": 1,
            "organisation": "Generated retail organisation",
            "database": "data/handoff.duckdb",
            "data_dir": "data",
            "report": {"html": "reports/handoff.html", "json": "reports/handoff.json"},
            "sync": {"retries": 0, "retry_delay_seconds": 0},
            "departments": [{"name": n} for n in ("IT", "Marketing", "Finance", "Store Ops")],
            "sources": [entry],
        }
        path = folder / "handoff.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            report = run_sync(path, now=NOW)
    assert report.success and report.published, report
    yield folder / "reports"


def test_the_analyst_questions_answer_on_twenty_thousand_items(synced: Path) -> None:
    """docs/analysts.md's ten questions on the 20,000-issue model, through `handoff sql`'s own
    locked connection, each within its time limit."""
    from pipelines.analyst_sql import run_analyst_queries

    database = synced.parent / "data" / "handoff.duckdb"
    assert len(ANALYST_QUERIES) == 10
    for number, query in enumerate(ANALYST_QUERIES, 1):
        (result,) = run_analyst_queries(database, query, seconds=60)
        assert result.columns, number
    (result,) = run_analyst_queries(database, "SELECT count(*) FROM work_items", seconds=60)
    assert result.rows[0][0] >= ISSUES


def test_page_stays_small_and_keeps_everything_in_the_json(synced: Path) -> None:
    html = synced / "handoff.html"
    assert html.stat().st_size < MAX_HTML_BYTES, html.stat().st_size
    data = json.loads((synced / "handoff.json").read_text())
    findings = sum(len(r["findings"]) for r in data["root_causes"])
    assert len(data["root_causes"]) > 500 and findings > len(data["root_causes"])
    assert data["organisation"] == "Generated retail organisation"


@pytest.mark.parametrize("device", list(WIDTHS))
def test_page_renders_offline_and_hostile_titles_stay_text(synced: Path, device: str) -> None:
    html = synced / "handoff.html"
    shot = ARTIFACTS / f"report-20000-{device}.png"
    page = open_page(html, WIDTHS[device], shot, max_shot_height=12_000)

    assert page.errors == [] and [c for c in page.console if c.startswith("error")] == []
    assert page.external == []
    assert page.pwned is False and page.active == 0
    assert "\u202e" not in html.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in page.ids, section
    assert "Generated retail organisation" in page.text
    # The planted titles are read as text (the bidi override is isolated, not obeyed).
    assert "<script>window.pwned=1</script>" in page.text
    assert '"><img src=x onerror=' in page.text
    assert page.overflow == 0
    assert shot.stat().st_size > 10_000
