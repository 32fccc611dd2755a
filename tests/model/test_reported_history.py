"""A sheet's RAG column and due dates across syncs: reports keep their history, moves are seen."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import yaml

from handoff.config import load_config
from pipelines.runner import run_sync

NOW = datetime(2025, 6, 2, 2, 0)


def _write_plan(path: Path, due: str, rag: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "Title", "Status", "Due", "Status report"])
        writer.writerow(["FIN-1", "Approve launch budget", "In progress", due, rag])
        writer.writerow(["FIN-2", "Points liability", "To do", "2025-07-01", ""])


def test_sheet_reports_and_due_moves_accumulate_over_syncs(tmp_path: Path) -> None:
    plan = tmp_path / "finance.csv"
    config = {
        "version": 1,
        "sync": {"retries": 0, "retry_delay_seconds": 0},
        "sources": [
            {
                "name": "finance",
                "kind": "csv",
                "path": str(plan),
                "department": "Finance",
                "rag_map": {"On plan": "green", "Slipping": "red"},
            }
        ],
    }
    config_path = tmp_path / "handoff.yaml"
    config_path.write_text(yaml.safe_dump(config))
    _write_plan(plan, "2025-06-10", "On plan")
    assert run_sync(config_path, now=NOW).success
    assert run_sync(config_path, now=NOW + timedelta(hours=1)).success  # nothing changed
    _write_plan(plan, "2025-06-24", "Slipping")
    later = NOW + timedelta(days=1)
    assert run_sync(config_path, now=later).success
    con = duckdb.connect(str(load_config(config_path).database_path), read_only=True)
    try:
        reports = con.execute(
            "SELECT subject_id, reported_status, rag, reported_at, origin FROM status_reports "
            "ORDER BY reported_at"
        ).fetchall()
        moves = con.execute("SELECT * FROM due_date_changes").fetchall()
    finally:
        con.close()
    assert reports == [
        ("finance:FIN-1", "On plan", "green", NOW, "sheet_column"),
        ("finance:FIN-1", "Slipping", "red", later, "sheet_column"),
    ]
    assert moves == [("finance:FIN-1", later, date(2025, 6, 10), date(2025, 6, 24), "observed")]


def test_a_model_built_before_these_tables_is_carried(tmp_path: Path) -> None:
    """Upgrading: the published file lacks status_reports, due_date_changes and the
    dependency's created_from; the next build carries what it has and starts the rest."""
    plan = tmp_path / "finance.csv"
    config = {
        "version": 1,
        "sync": {"retries": 0, "retry_delay_seconds": 0},
        "sources": [{"name": "finance", "kind": "csv", "path": str(plan)}],
    }
    config_path = tmp_path / "handoff.yaml"
    config_path.write_text(yaml.safe_dump(config))
    _write_plan(plan, "2025-06-10", "Green")
    assert run_sync(config_path, now=NOW).success
    db = load_config(config_path).database_path
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE status_reports; DROP TABLE due_date_changes")
    con.execute("ALTER TABLE dependencies DROP COLUMN created_from")
    con.close()
    _write_plan(plan, "2025-06-17", "Green")
    report = run_sync(config_path, now=NOW + timedelta(days=1))
    assert report.success, report.errors
    con = duckdb.connect(str(db), read_only=True)
    try:
        moves = con.execute("SELECT item_id, to_due, source FROM due_date_changes").fetchall()
        reports = con.execute("SELECT count(*) FROM status_reports").fetchone()
    finally:
        con.close()
    assert moves == [("finance:FIN-1", date(2025, 6, 17), "observed")]
    assert reports == (1,)
