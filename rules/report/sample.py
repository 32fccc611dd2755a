"""A small published model of the loyalty-launch story, for previewing and testing the report.

`python -m rules.report.sample OUT_DIR` writes the model and the report in every format, so the
templates can be worked on without a sync. With `hostile=True` some source text carries markup
and script, as a careless or malicious tool user could type it; the report must show it as text.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

SCHEMA = Path(__file__).resolve().parents[2] / "model" / "schema.sql"
HOSTILE_TITLE = "<script>window.pwned=1</script> Upgrade the loyalty database"
HOSTILE_IMG = '<img src=x onerror="window.pwned=1"> Loyalty FAQ page'
HOSTILE_DEPARTMENT = "Legal & <Compliance>"

ITEM_COLUMNS = (
    "item_id, source, tool, source_key, url, title, item_type, is_milestone, status, "
    "status_category, department, owner_id, owner_name, steward_id, due_date, status_changed_at, "
    "is_deleted, synced_at"
)


def build_sample_model(path: Path, *, now: datetime | None = None, hostile: bool = False) -> Path:
    """Write a published model at `path` with findings of every kind the report shows."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    day = timedelta(days=1)
    last_run = now - timedelta(hours=1)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(SCHEMA.read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_info VALUES (1, ?, 'run-5')", [last_run])
        departments = ["Finance", "IT Operations", "Marketing", "Store Ops"]
        if hostile:
            departments.append(HOSTILE_DEPARTMENT)
        con.executemany("INSERT INTO departments VALUES (?, NULL)", [[d] for d in departments])
        con.executemany(
            "INSERT INTO people VALUES (?, ?, ?, [])",
            [
                ["ravi@retail.example", "ravi@retail.example", "Ravi Patel"],
                ["maria@retail.example", "maria@retail.example", "María García"],
                ["femi@retail.example", "femi@retail.example", "Femi Okafor"],
            ],
        )
        jira = "https://retail.atlassian.net/browse/"
        asana = "https://app.asana.com/0/1200/"
        sheet = "https://docs.google.com/spreadsheets/d/budget/edit#gid=0&range=A"
        # fmt: off
        items: list[list[Any]] = [
            ["it-jira:OPS-42", "it-jira", "jira", "OPS-42", jira + "OPS-42",
             "Scale checkout API capacity for the loyalty launch", "Story", False, "In Progress",
             "in_progress", "IT Operations", "ravi@retail.example", "Ravi Patel", None,
             now + 9 * day, now - 20 * day],
            ["mkt-asana:1201", "mkt-asana", "asana", "1201", asana + "1201",
             "Loyalty campaign: launch e-mails", "task", False, "Doing", "in_progress",
             "Marketing", "maria@retail.example", "María García", None, now + 5 * day,
             now - 2 * day],
            ["mkt-asana:1202", "mkt-asana", "asana", "1202", asana + "1202",
             "Loyalty programme go-live", "milestone", True, "Planned", "todo", "Marketing",
             None, None, None, now + 6 * day, now - 8 * day],
            ["fin-sheet:FIN-17", "fin-sheet", "gsheets", "FIN-17", sheet + "17",
             "Approve loyalty campaign budget", "approval", False, "Pending", "todo", "Finance",
             "femi@retail.example", "Femi Okafor", None, now + 2 * day, now - 6 * day],
            ["store-plan:ST-3", "store-plan", "xlsx", "ST-3", None,
             "Train store staff on loyalty sign-up", "training", False, "Not started", "todo",
             "Store Ops", None, "Store lead", None, now + 12 * day, now - 4 * day],
        ]
        if hostile:
            items += [
                ["it-jira:OPS-77", "it-jira", "jira", "OPS-77", jira + "OPS-77", HOSTILE_TITLE,
                 "Task", False, "To Do", "todo", "IT Operations", "ravi@retail.example",
                 "Ravi Patel", None, now - 3 * day, now - 30 * day],
                ["mkt-asana:1300", "mkt-asana", "asana", "1300", "javascript:window.pwned=1",
                 HOSTILE_IMG, "task", False, "Doing", "in_progress", HOSTILE_DEPARTMENT,
                 None, "<b>Guest</b>", None, now + 3 * day, now - 1 * day],
            ]
        # fmt: on
        con.executemany(
            f"INSERT INTO work_items ({ITEM_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS DATE), ?, false, ?)",
            [[*row, last_run] for row in items],
        )
        _exceptions(con, now, last_run, hostile)
        _runs(con, now, last_run)
    finally:
        con.close()
    return path


def _exceptions(
    con: duckdb.DuckDBPyConnection, now: datetime, last_run: datetime, hostile: bool
) -> None:
    day = timedelta(days=1)
    it_mkt = ["IT Operations", "Marketing"]
    up_down = ["it-jira:OPS-42", "mkt-asana:1201"]
    # fmt: off
    rows: list[list[Any]] = [
        # id, rule, severity, subjects, departments, owner, message, evidence, class, status,
        # first_seen, resolved_at, blast, waiver_reason, waived_until
        ["ex-stall", "stalled_dependency", "fail", up_down, it_mkt, "ravi@retail.example",
         "OPS-42 has not moved for 20 days and blocks the launch e-mails",
         {"days_idle": 20, "upstream_status": "In Progress"}, "surprise", "open",
         now - 10 * day, None, 6, None, None],
        ["ex-next", "will_stall_next_week", "fail", up_down, it_mkt, "ravi@retail.example",
         "Launch e-mails are due in 5 days but OPS-42 is stalled",
         {"downstream_due": str((now + 5 * day).date()), "reason": "stalled"}, "surprise",
         "open", last_run, None, 6, None, None],
        ["ex-kpi", "kpi_tension_unreconciled", "warn", up_down, it_mkt, "IT Operations",
         "Marketing (user acquisition) waits on IT Operations (server cost) with no contract",
         {"kpi_a": "user acquisition", "kpi_b": "server cost"}, "surprise", "open",
         now - 10 * day, None, 6, None, None],
        ["ex-steward", "milestone_without_steward", "warn", ["mkt-asana:1202"], ["Marketing"],
         "Marketing", "Loyalty programme go-live is due in 6 days and has no steward",
         {"due_in_days": 6}, "surprise", "open", last_run, None, 3, None, None],
        ["ex-unmapped", "unmapped_dependency", "warn", ["unresolved:OPS-999", "mkt-asana:1201"],
         ["Marketing"], "maria@retail.example",
         "Launch e-mails reference OPS-999, which no synced source holds",
         {"reference": "OPS-999", "origin": "text_reference"}, "surprise", "open",
         now - 3 * day, None, 2, None, None],
        ["ex-notice", "contract_notice_breach", "warn", ["fin-sheet:FIN-17", "mkt-asana:1201"],
         ["Finance", "Marketing"], "femi@retail.example",
         "Budget approval was requested 3 days before the launch; the contract asks for 10",
         {"contract": "finance-approves-campaigns", "notice_days": 10, "given_days": 3},
         "planned", "open", now - 5 * day, None, 2, None, None],
        ["ex-uncontracted", "uncontracted_handoff", "info",
         ["fin-sheet:FIN-17", "store-plan:ST-3"], ["Finance", "Store Ops"], "Finance",
         "Store training waits on budget approval",
         {}, "surprise", "open", now - 5 * day, None, 1, None, None],
        ["ex-stale", "stale_source", "warn", ["store-plan"], [], "store-plan",
         "store-plan has not synced successfully for 72 hours", {"age_hours": 72},
         "surprise", "open", now - 2 * day, None, 0, None, None],
        ["ex-waived", "due_date_inversion", "warn", ["fin-sheet:FIN-17", "store-plan:ST-3"],
         ["Finance", "Store Ops"], "femi@retail.example",
         "Budget approval is due after store training starts", {"days": 2}, "surprise",
         "waived", now - 9 * day, None, 1, "Training can start on the provisional budget",
         (now + 14 * day).date()],
        ["ex-resolved", "blocked_but_moving", "warn", up_down, it_mkt, "maria@retail.example",
         "Launch e-mails are in progress while OPS-42 is stalled", {}, "surprise", "resolved",
         now - 8 * day, last_run, 6, None, None],
    ]
    if hostile:
        rows.append(
            ["ex-hostile", "overdue_upstream", "fail", ["it-jira:OPS-77", "mkt-asana:1300"],
             ["IT Operations", HOSTILE_DEPARTMENT], "name:<b>Guest</b>",
             f"{HOSTILE_TITLE} is overdue; {HOSTILE_IMG} waits",
             {"note": "</script><script>window.pwned=1</script>", "html": HOSTILE_IMG},
             "surprise", "open", now - 4 * day, None, 4, None, None]
        )
    # fmt: on
    con.executemany(
        "INSERT INTO exceptions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
        [
            [*r[:7], json.dumps(r[7]), *r[8:11], last_run, *r[11:], *_waived_by(r[0], now)]
            for r in rows
        ],
    )


def _waived_by(exception_id: str, now: datetime) -> tuple[str | None, datetime | None]:
    """Who recorded the sample's one waiver, and when."""
    if exception_id == "ex-waived":
        return "femi@retail.example", now - timedelta(days=2)
    return None, None


def _runs(con: duckdb.DuckDBPyConnection, now: datetime, last_run: datetime) -> None:
    day = timedelta(days=1)
    totals = [(1, 3, 1, 4, 0), (2, 4, 1, 2, 1), (3, 5, 1, 3, 1), (3, 6, 1, 2, 1), (2, 5, 1, 2, 1)]
    con.executemany(
        "INSERT INTO exception_runs VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
        [
            [f"run-{i + 1}", last_run - (len(totals) - 1 - i) * day, *t]
            for i, t in enumerate(totals)
        ],
    )
    ok = [(name, items) for name, items in (("it-jira", 2), ("mkt-asana", 3), ("fin-sheet", 1))]
    for name, items in ok:
        con.execute(
            "INSERT INTO sync_runs (run_id, source, started_at, finished_at, status, items, "
            "last_success_at) VALUES ('run-5', ?, ?, ?, 'success', ?, ?)",
            [name, last_run - timedelta(minutes=5), last_run, items, last_run],
        )
    con.execute(
        "INSERT INTO sync_runs (run_id, source, started_at, finished_at, status, items, error, "
        "last_success_at) VALUES ('run-5', 'store-plan', ?, ?, 'failed', 1, ?, ?)",
        [
            last_run - timedelta(minutes=5),
            last_run,
            "store-plan.xlsx could not be read",
            now - 3 * day,
        ],
    )
    con.executemany(
        "INSERT INTO rejected_records VALUES ('run-5', ?, ?, ?, ?, '{}')",
        [
            ["fin-sheet", "Budget / row 9", "due", "due date 31/02/2025 is not a date"],
            ["fin-sheet", "Budget / row 12", "id", "id is empty"],
            ["store-plan", "Plan.xlsx / Training / row 4", "status", "unknown status Maybe"],
        ],
    )


def main(argv: list[str]) -> int:
    """Write the sample model and its reports into the folder given (default: reports/sample)."""
    from rules.report.render import write_report

    folders = [a for a in argv if not a.startswith("--")]
    out = Path(folders[0] if folders else "reports/sample")
    out.mkdir(parents=True, exist_ok=True)
    db = build_sample_model(out / "sample.duckdb", hostile="--hostile" in argv)
    for fmt, name in (("html", "report.html"), ("md", "report.md"), ("json", "report.json")):
        print(write_report(db, out / name, fmt))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
