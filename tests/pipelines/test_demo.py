"""The demo organisation tells its story: each point is asserted from the model, not the report."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from rich.console import Console

from handoff.config import load_config
from pipelines.demo import write_demo
from pipelines.doctor import run_doctor
from pipelines.runner import run_sync
from sandbox.demo.organisation import DemoOrganisation, build_demo

pytestmark = pytest.mark.slow  # runs the whole demo job against the sandbox servers

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DemoOrganisation]]:
    root = tmp_path_factory.mktemp("demo")
    servers: list[Any] = []
    demo = build_demo(NOW)
    env = write_demo(root, demo, servers)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        report = run_sync(root / "handoff.yaml", now=NOW.replace(tzinfo=None))
        assert report.success, report.errors
        yield root, demo
    finally:
        for server in servers:
            server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def findings(root: Path) -> list[tuple[str, list[str], str]]:
    db = load_config(root / "handoff.yaml", require_env=False).database_path
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT rule_id, subject_ids, classification FROM open_exceptions"
        ).fetchall()
    finally:
        con.close()


def has(rows: list[tuple[str, list[str], str]], rule: str, *subjects: str) -> bool:
    return any(r == rule and all(s in ids for s in subjects) for r, ids, _ in rows)


def test_every_source_lands(demo_run: tuple[Path, DemoOrganisation]) -> None:
    root, _ = demo_run
    db = load_config(root / "handoff.yaml", require_env=False).database_path
    con = duckdb.connect(str(db), read_only=True)
    counts = dict(con.execute("SELECT tool, count(*) FROM work_items GROUP BY 1").fetchall())
    con.close()
    assert counts == {"jira": 5, "asana": 5, "gsheets": 3, "xlsx": 3}


def test_campaign_waits_on_stalled_it_capacity_work(
    demo_run: tuple[Path, DemoOrganisation],
) -> None:
    root, demo = demo_run
    campaign = f"marketing-asana:{demo.asana_gids['MKT-1']}"
    rows = findings(root)
    assert has(rows, "stalled_dependency", "it-jira:OPS-101", campaign)
    assert has(rows, "will_stall_next_week", "it-jira:OPS-101", campaign)


def test_reported_green_while_the_chain_says_red(
    demo_run: tuple[Path, DemoOrganisation],
) -> None:
    """Marketing's Asana project reports "on track"; the stalled API scaling work it waits on
    makes the campaign late: the finding names the report and the chain, root cause first."""
    root, demo = demo_run
    campaign = f"marketing-asana:{demo.asana_gids['MKT-1']}"
    db = load_config(root / "handoff.yaml", require_env=False).database_path
    con = duckdb.connect(str(db), read_only=True)
    try:
        reports = con.execute(
            "SELECT subject_kind, project, reported_status, rag, reporter FROM status_reports"
        ).fetchall()
        found = con.execute(
            "SELECT message, evidence ->> 'reported_status', "
            "CAST(evidence -> 'chain' AS VARCHAR[]), severity FROM open_exceptions "
            "WHERE rule_id = 'reported_green_forecast_red' AND subject_ids = [?]",
            [campaign],
        ).fetchall()
    finally:
        con.close()
    assert ("project", "Loyalty Launch", "on_track", "green", "maya.chen@retail.example") in reports
    assert len(found) == 1
    message, reported, chain, severity = found[0]
    assert (reported, chain, severity) == ("on_track", ["it-jira:OPS-101", campaign], "fail")
    assert "reported green" in message and "it-jira:OPS-101 -> " in message


def test_launch_milestone_has_no_steward(demo_run: tuple[Path, DemoOrganisation]) -> None:
    root, demo = demo_run
    assert has(
        findings(root), "milestone_without_steward", f"marketing-asana:{demo.asana_gids['MKT-4']}"
    )


def test_marketing_and_it_kpis_in_tension_without_contract(
    demo_run: tuple[Path, DemoOrganisation],
) -> None:
    root, demo = demo_run
    rows = findings(root)
    assert has(
        rows,
        "kpi_tension_unreconciled",
        "it-jira:OPS-101",
        f"marketing-asana:{demo.asana_gids['MKT-1']}",
    )


def test_reference_to_an_issue_nobody_synced(demo_run: tuple[Path, DemoOrganisation]) -> None:
    root, demo = demo_run
    assert has(
        findings(root),
        "unmapped_dependency",
        "unresolved:OPS-240",
        f"marketing-asana:{demo.asana_gids['MKT-5']}",
    )


def test_contracted_handoffs_are_planned_the_rest_surprises(
    demo_run: tuple[Path, DemoOrganisation],
) -> None:
    root, _ = demo_run
    rows = findings(root)
    planned = [ids for rule, ids, c in rows if c == "planned"]
    assert planned and all("store-ops:STO-1" in ids for ids in planned)  # IT -> Store Ops contract
    assert any(c == "surprise" for _, _, c in rows)


def test_doctor_names_the_source_with_a_wrong_token(
    demo_run: tuple[Path, DemoOrganisation], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = demo_run
    monkeypatch.setenv("HANDOFF_DEMO_ASANA_TOKEN", "wrong-token")
    console = Console(record=True, width=200)
    assert run_doctor(root / "handoff.yaml", console) is False
    text = console.export_text()
    problem_lines = [line for line in text.splitlines() if "problem" in line]
    assert any("marketing-asana" in line for line in problem_lines), text
    assert not any("it-jira" in line for line in problem_lines), text
    assert "check the credentials of source 'marketing-asana'" in text
    assert "wrong-token" not in text
