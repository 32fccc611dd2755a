"""What Jira's history tells the model on a first sync: when each link was asked for (so notice
is judged fairly), how often due dates moved, and the health a team reports in a field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from handoff.config import load_config
from pipelines.runner import run_sync
from sandbox.jira import JiraOrg, JiraSandbox

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def _org() -> JiraOrg:
    """IT provisions, Marketing launches; the contract asks IT for 10 days' notice."""
    org = JiraOrg.empty(NOW)
    org.add_project("OPS", "IT Operations")
    org.add_project("MKT", "Marketing")
    long_ago = NOW - timedelta(days=90)
    for key in ("OPS-1", "OPS-2"):
        org.add_issue(key, f"Provision {key}", "To Do", created=long_ago)
    # due in 5 days: any ask made in the last 10 days breaches the contract
    org.add_issue(
        "MKT-1",
        "Launch email",
        "To Do",
        created=long_ago,
        due=date(2025, 5, 31),
        custom={"customfield_10030": "Green"},
    )
    org.change_due("MKT-1", date(2025, 6, 7), at=NOW - timedelta(days=3))
    org.add_issue("MKT-2", "Launch landing page", "To Do", created=long_ago, due=date(2025, 6, 7))
    org.add_link("Blocks", "OPS-1", "MKT-1", at=NOW - timedelta(days=30))  # dated by history
    org.add_link("Blocks", "OPS-2", "MKT-2")  # no history: the ask date is unknown
    return org


def _config(tmp_path: Path, sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    entry, env = sandbox.source_entry("jira", "JIRA_TOKEN")
    entry["custom_fields"] = {**entry["custom_fields"], "health": "Health"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = {
        "version": 1,
        "departments": [{"name": "IT"}, {"name": "Marketing"}],
        "department_rules": [
            {"department": "IT", "project": "OPS"},
            {"department": "Marketing", "project": "MKT"},
        ],
        "contracts": [
            {"id": "it-to-mkt", "provider": "IT", "consumer": "Marketing", "notice_days": 10}
        ],
        "sync": {"retries": 0, "retry_delay_seconds": 0},
        "sources": [entry],
    }
    path = tmp_path / "handoff.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_first_sync_uses_link_history_and_stays_silent_when_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with JiraSandbox(_org()) as sandbox:
        config_path = _config(tmp_path, sandbox, monkeypatch)
        report = run_sync(config_path, now=NOW.replace(tzinfo=None))
    assert report.success, report.errors
    con = duckdb.connect(str(load_config(config_path).database_path), read_only=True)
    try:
        edges = con.execute(
            "SELECT upstream_id, downstream_id, contract_id, created_at, created_from "
            "FROM dependencies ORDER BY ALL"
        ).fetchall()
        moves = con.execute("SELECT * FROM due_date_changes").fetchall()
        reports = con.execute(
            "SELECT subject_id, reported_status, rag, origin FROM status_reports"
        ).fetchall()
        breaches = con.execute(
            "SELECT subject_ids FROM exceptions WHERE rule_id = 'contract_notice_breach'"
        ).fetchall()
    finally:
        con.close()
    asked = (NOW - timedelta(days=30)).replace(tzinfo=None)
    assert edges == [
        ("jira:OPS-1", "jira:MKT-1", "it-to-mkt", asked, "jira_changelog"),
        ("jira:OPS-2", "jira:MKT-2", "it-to-mkt", None, None),
    ]
    assert breaches == []  # asked 30 days ahead; the other ask date is unknown
    moved = (NOW - timedelta(days=3)).replace(tzinfo=None)
    assert moves == [("jira:MKT-1", moved, date(2025, 5, 31), date(2025, 6, 7), "jira_changelog")]
    assert reports == [("jira:MKT-1", "Green", "green", "jira_field")]
