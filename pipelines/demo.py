"""`handoff demo`: the loyalty-launch organisation served by the sandboxes, synced end to end."""

from __future__ import annotations

import json
import os
import time
import webbrowser
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from handoff.dotenv import DOTENV, dotenv_text, write_private
from handoff.interrupt import INTERRUPT
from pipelines.cli_output import print_stopped, print_sync_summary
from pipelines.progress import sync_progress
from pipelines.signals import exit_code, graceful_stop, stop_serving
from sandbox.asana import AsanaSandbox
from sandbox.demo import story
from sandbox.demo.files import write_csv, write_xlsx
from sandbox.demo.organisation import DemoOrganisation, build_demo
from sandbox.jira import JiraSandbox


def _finance_source(
    demo: DemoOrganisation, root: Path, servers: list[Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Finance keeps its plan in Google Sheets (served by the Sheets sandbox)."""
    from sandbox.demo.sheets import finance_book
    from sandbox.gsheets import SheetsSandbox

    book_id = "loyalty-finance-2026"
    sheets = SheetsSandbox(
        {book_id: finance_book([demo.sheet_item(i) for i in story.FINANCE], demo.today)}
    ).start()
    servers.append(sheets)
    credentials = root / "secrets" / "finance-service-account.json"
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(json.dumps(sheets.service_account_info()))
    credentials.chmod(0o600)
    entry, env = sheets.source_entry(
        "finance-plan", book_id, "secrets/finance-service-account.json"
    )
    entry.update(department="Finance", status_map={"Approved": "done", "Pending": "todo"})
    return entry, env


def _finance_csv(demo: DemoOrganisation, root: Path) -> tuple[dict[str, Any], dict[str, str]]:
    write_csv(
        root / "plans" / "finance.csv", [demo.sheet_item(i) for i in story.FINANCE], demo.today
    )
    return {
        "name": "finance-plan",
        "kind": "csv",
        "path": "plans/finance.csv",
        "department": "Finance",
        "date_order": "dmy",
        "status_map": {"Approved": "done", "Pending": "todo"},
    }, {}


def write_demo(root: Path, demo: DemoOrganisation, servers: list[Any]) -> dict[str, str]:
    """Start the servers, write the Store Ops workbook and handoff.yaml; returns the env to set."""
    jira = JiraSandbox(demo.jira).start()
    asana = AsanaSandbox(demo.asana).start()
    servers.extend([jira, asana])
    jira_entry, env = jira.source_entry("it-jira", "HANDOFF_DEMO_JIRA_TOKEN")
    jira_entry.update(department="IT Operations", projects=["OPS"], max_retry_wait_seconds=5)
    asana_entry, asana_env = asana.source_entry("marketing-asana", "HANDOFF_DEMO_ASANA_TOKEN")
    asana_entry.update(
        department="Marketing",
        custom_fields={"department": "Department", "jira_key": "Jira key"},
        max_retry_wait_seconds=5,  # the sandbox is local: a failing server fails the demo fast
    )
    env.update(asana_env)
    try:
        finance_entry, finance_env = _finance_source(demo, root, servers)
    except ImportError:
        finance_entry, finance_env = _finance_csv(demo, root)
    env.update(finance_env)
    write_xlsx(
        root / "plans" / "store-ops.xlsx",
        {"Training": [demo.sheet_item(i) for i in story.STORE_OPS]},
        demo.today,
        title="Store Ops — loyalty launch plan",
    )
    config = {
        "version": 1,
        "organisation": "Retail Co — loyalty programme launch",
        "database": "data/handoff.duckdb",
        "data_dir": "data",
        "report": {
            "html": "reports/handoff.html",
            "markdown": "reports/handoff.md",
            "json": "reports/handoff.json",
        },
        "schedule": {"cron": "0 2 * * *", "timezone": "Europe/London"},
        "sync": {"retries": 0, "retry_delay_seconds": 1},
        "departments": [
            {"name": name, "kpis": [{"name": k} for k in kpis], "steward": steward}
            for (name, kpis), steward in zip(
                story.DEPARTMENTS.items(), story.DEPARTMENT_STEWARDS, strict=True
            )
        ],
        "kpi_tensions": [
            {
                "between": ["Marketing.user_acquisition", "IT Operations.server_cost"],
                "note": "campaign traffic needs capacity that IT is measured to keep cheap",
            }
        ],
        "contracts": [
            {
                "id": "finance-budget-approvals",
                "provider": "Finance",
                "consumer": "Marketing",
                "notice_days": 10,
                "description": "Finance approves campaign budgets ten days before spend",
            },
            {
                "id": "it-store-systems",
                "provider": "IT Operations",
                "consumer": "Store Ops",
                "notice_days": 14,
                "description": "IT rolls out store systems two weeks before training",
                "filters": {"labels": ["stores"]},
            },
        ],
        "people": [
            {
                "email": "lena.fischer@retail.example",
                "account_ids": ["acc-lena"],
                "names": ["Lena Fischer"],
            },
            {"email": "priya.nair@retail.example", "names": ["Priya Nair"]},
            {"email": "omar.haddad@retail.example", "names": ["Omar Haddad"]},
        ],
        "sources": [
            jira_entry,
            asana_entry,
            finance_entry,
            {
                "name": "store-ops",
                "kind": "xlsx",
                "path": "plans/store-ops.xlsx",
                "department": "Store Ops",
            },
        ],
    }
    (root / "handoff.yaml").write_text(
        "# Written by `handoff demo`: sandbox servers stand in for Jira, Asana and Google Sheets.\n"
        "# Tokens come from the environment (HANDOFF_DEMO_*), never from this file.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )
    return env


REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"


def demo_dagster_home(root: Path) -> Path:
    """`root/dagster_home` with the repository's dagster.yaml: `handoff sync` and `dagster dev`
    then share one run history, so the UI shows the demo's runs as materialised."""
    home = (root / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        text = REPO_DAGSTER_YAML.read_text() if REPO_DAGSTER_YAML.exists() else ""
        (home / "dagster.yaml").write_text(text or "telemetry:\n  enabled: false\n")
    return home


def write_env_file(root: Path, env: dict[str, str]) -> Path:
    """The demo's variables in `root/.env` (owner-only; git-ignored), read by every `handoff`
    command run from `root`, so the next steps work without exporting anything."""
    path = root / DOTENV
    write_private(
        path,
        dotenv_text(
            env,
            "Written by `handoff demo`: the sandbox tokens and the demo's Dagster home.\n"
            "`handoff` reads this file from the current directory; a variable already set in\n"
            "the environment wins. A shell can load it too: set -a; . ./.env; set +a",
        ),
    )
    return path


def run_demo(
    root: Path, console: Console, *, open_report: bool = False, serve: bool = False
) -> bool:
    from pipelines.runner import run_sync

    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    servers: list[Any] = []
    try:
        with console.status("starting the sandbox organisation (Jira, Asana, Google Sheets)…"):
            demo = build_demo(datetime.now(UTC))
            env = write_demo(root, demo, servers)
            env["DAGSTER_HOME"] = os.environ.get("DAGSTER_HOME") or str(demo_dagster_home(root))
            os.environ.update(env)
            env_file = write_env_file(root, env)
        for server in servers:
            console.print(
                f"  sandbox {server.banner().split(' token=')[0].split(' email=')[0]}",
                highlight=False,
                soft_wrap=True,
            )
        with graceful_stop(), sync_progress(console):
            report = run_sync(root / "handoff.yaml")
        print_sync_summary(console, root / "handoff.yaml", report)
        if INTERRUPT.requested:
            print_stopped(console, root / "handoff.yaml", report, INTERRUPT.signal_name or "")
            raise SystemExit(exit_code(INTERRUPT.signal_name))
        console.print(
            f"demo finished in {time.perf_counter() - started:.1f}s; config: {root / 'handoff.yaml'}"
        )
        if open_report:
            webbrowser.open((root / "reports" / "handoff.html").resolve().as_uri())
        if serve:
            _serve(console, env, env_file)
        else:
            console.print(
                "the sandbox servers stopped: `handoff sql`, `check`, `report` and `rules` work "
                "on the published model; `handoff demo --serve` keeps the servers up for "
                "`sync` and `doctor`"
            )
        return report.success
    finally:
        for server in servers:
            server.stop()


def _serve(console: Console, env: dict[str, str], env_file: Path) -> None:
    """Keep the sandboxes up until Ctrl-C; say how other shells reach them."""
    console.print(
        f"sandbox servers keep running (Ctrl-C stops them). Their tokens are in {env_file}, "
        "which `handoff` reads from this directory; for other tools export them:",
        highlight=False,
        soft_wrap=True,
    )
    for key, value in env.items():
        console.print(f"  export {key}={value}", markup=False, highlight=False, soft_wrap=True)
    console.print("ready: run the next steps in another terminal", highlight=False)
    try:
        with stop_serving():
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM turned into one by stop_serving
        console.print(f"stopped by {INTERRUPT.signal_name or 'SIGINT'}")
        raise SystemExit(exit_code(INTERRUPT.signal_name)) from None
