"""The report's content gathered from a published model: what leaders read, in what order."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from rules.report.data import gather, handoff_anchor
from rules.report.sample import HOSTILE_DEPARTMENT, build_sample_model
from rules.report.types import NO_DEPARTMENT, to_plain

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
SCHEMA = Path(__file__).resolve().parents[2] / "model" / "schema.sql"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_model(tmp_path_factory.mktemp("report") / "model.duckdb", now=NOW)


def test_headline_counts_open_new_resolved_planned_and_sources(sample: Path) -> None:
    h = gather(sample, now=NOW).headline
    assert (h.open.fail, h.open.warn, h.open.info, h.open_total) == (2, 5, 1, 8)
    assert h.new == 2  # first seen in the latest run: the stall forecast and the steward gap
    assert h.resolved == 1
    assert (h.planned, h.surprise) == (1, 7)
    assert h.waived == 1
    assert h.will_stall_next_week == 1
    assert h.stale_sources == ["store-plan"] and h.failed_sources == ["store-plan"]
    assert h.rejected_rows == {"fin-sheet": 2, "it-jira": 0, "mkt-asana": 0, "store-plan": 1}
    assert h.owners[0].owner_name == "Ravi Patel" and h.owners[0].fail == 2


def test_next_week_lists_will_stall_findings_with_links_and_people(sample: Path) -> None:
    data = gather(sample, now=NOW)
    [f] = data.next_week
    assert f.rule_id == "will_stall_next_week" and f.severity == "fail" and f.is_new
    assert f.owner_name == "Ravi Patel" and f.owner_kind == "person"
    assert [s.url for s in f.subjects] == [
        "https://retail.atlassian.net/browse/OPS-42",
        "https://app.asana.com/0/1200/1201",
    ]
    assert f.subjects[1].owner_name == "María García"


def test_matrix_counts_open_findings_per_department_pair(sample: Path) -> None:
    matrix = gather(sample, now=NOW).matrix
    cells = {(c.upstream, c.downstream): c for c in matrix.cells}
    assert cells[("IT Operations", "Marketing")].count == 3  # waived and resolved stay out
    assert cells[("IT Operations", "Marketing")].worst_severity == "fail"
    assert cells[("Finance", "Store Ops")].count == 1
    assert cells[("Marketing", "Marketing")].count == 1  # a milestone gap within a department
    assert cells[(NO_DEPARTMENT, "Marketing")].count == 1  # unmapped upstream
    assert matrix.departments[:4] == ["Finance", "IT Operations", "Marketing", "Store Ops"]
    assert matrix.departments[-1] == NO_DEPARTMENT
    assert matrix.max_count == 3
    assert all(c.anchor == handoff_anchor(c.upstream, c.downstream) for c in matrix.cells)


def test_findings_grouped_by_handoff_and_ranked(sample: Path) -> None:
    groups = gather(sample, now=NOW).handoffs
    assert groups[0].label == "IT Operations \u2192 Marketing"
    ranks = [(f.severity, f.blast_radius) for f in groups[0].findings]
    assert ranks == [("fail", 6), ("fail", 6), ("warn", 6)]
    assert groups[0].findings[0].rule_id == "stalled_dependency"  # the older of two equals
    labels = [g.label for g in groups]
    assert "Within Marketing" in labels and "Not tied to a department" in labels
    all_open = [f for g in groups for f in g.findings]
    assert len(all_open) == 8 and all(f.status == "open" for f in all_open)
    stall = groups[0].findings[0]
    assert stall.age == "10 d" and stall.age_days == pytest.approx(10, abs=0.1)
    assert stall.evidence == {"days_idle": 20, "upstream_status": "In Progress"}
    assert stall.rule_title  # from the rule file, or the id made readable


def test_unknown_subjects_are_kept_without_links(sample: Path) -> None:
    groups = gather(sample, now=NOW).handoffs
    unmapped = next(f for g in groups for f in g.findings if f.rule_id == "unmapped_dependency")
    assert unmapped.subjects[0].item_id == "unresolved:OPS-999"
    assert not unmapped.subjects[0].known and unmapped.subjects[0].url is None
    # The rule drops the missing department; the subjects still place the unknown upstream side.
    assert unmapped.departments == ["Marketing"]
    assert (unmapped.upstream_department, unmapped.downstream_department) == (
        NO_DEPARTMENT,
        "Marketing",
    )


def test_stale_source_is_routed_to_its_source(sample: Path) -> None:
    groups = gather(sample, now=NOW).handoffs
    stale = next(f for g in groups for f in g.findings if f.rule_id == "stale_source")
    assert stale.owner_kind == "source" and "store-plan" in (stale.owner_name or "")
    assert stale.upstream_department == stale.downstream_department == NO_DEPARTMENT


def test_waived_and_resolved_are_apart_from_open(sample: Path) -> None:
    data = gather(sample, now=NOW)
    [waived] = data.waived
    assert waived.waiver_reason and waived.waived_until == "2025-03-24"
    assert [f.rule_id for f in data.resolved] == ["blocked_but_moving"]
    assert waived.exception_id not in {f.exception_id for g in data.handoffs for f in g.findings}


def test_trend_is_oldest_first(sample: Path) -> None:
    trend = gather(sample, now=NOW).trend
    assert [p.run_id for p in trend] == ["run-1", "run-2", "run-3", "run-4", "run-5"]
    assert trend[-1].open_total == trend[-1].open_fail + trend[-1].open_warn + trend[-1].open_info


def test_report_data_is_json_serialisable(sample: Path) -> None:
    data = gather(sample, now=NOW)
    doc = json.loads(json.dumps(dataclasses.asdict(data)))
    assert doc["headline"]["open"]["total"] == 8
    assert to_plain(data) == doc


def test_gather_opens_read_only_and_leaves_the_model_unchanged(sample: Path) -> None:
    before = sample.read_bytes()
    gather(sample, now=NOW)
    assert sample.read_bytes() == before


def test_empty_model_gives_an_empty_report(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    con = duckdb.connect(str(db))
    con.execute(SCHEMA.read_text())
    con.close()
    data = gather(db, now=NOW)
    assert data.headline.open_total == 0 and data.handoffs == [] and data.trend == []
    assert data.matrix.cells == [] and data.sources == [] and data.last_run_at is None


def test_without_previous_run_every_open_finding_is_new(tmp_path: Path) -> None:
    db = build_sample_model(tmp_path / "one.duckdb", now=NOW)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM exception_runs WHERE run_id <> 'run-5'")
    con.close()
    data = gather(db, now=NOW)
    assert data.previous_run_at is None
    assert data.headline.new == data.headline.open_total


def test_owner_routed_to_a_department_and_hostile_department_names(tmp_path: Path) -> None:
    data = gather(build_sample_model(tmp_path / "h.duckdb", now=NOW, hostile=True), now=NOW)
    kpi = next(f for g in data.handoffs for f in g.findings if f.rule_id.startswith("kpi"))
    assert (kpi.owner_name, kpi.owner_kind) == ("IT Operations", "department")
    assert HOSTILE_DEPARTMENT in data.matrix.departments
    anchors = [g.anchor for g in data.handoffs]
    assert len(set(anchors)) == len(anchors)
    assert all(a.replace("-", "").isalnum() for a in anchors)


def test_naive_now_is_taken_as_utc(sample: Path) -> None:
    aware = gather(sample, now=NOW)
    naive = gather(sample, now=NOW.replace(tzinfo=None))
    assert aware.generated_at == naive.generated_at
    later = gather(sample, now=NOW + timedelta(days=1))
    assert later.handoffs[0].findings[0].age == "11 d"
