"""The benchmark organisation at scale: Jira, Asana and a Sheets plan served in one process.

    python -m bench.scale --jira 100000 --asana 50000 --sheet-rows 10000 --dir DIR

Generates the three organisations with the sandboxes' own generators (deterministic: same
sizes, same org; realistic link and history density come from them), serves them, writes
DIR/handoff.yaml for the whole job and prints one JSON line (the env vars its secrets need and
the org's figures). Then answers commands on stdin: `requests` (per sandbox), `mutate` (1% of
Jira issues and Asana tasks change, one sheet row in a hundred is edited), `quit`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from sandbox.asana import AsanaSandbox
from sandbox.asana import generate_org as generate_asana
from sandbox.gsheets import SheetsSandbox, generate_book
from sandbox.jira import JiraSandbox
from sandbox.jira import generate_org as generate_jira

BOOK_ID = "store-rollout-plan"


def config(sources: list[dict[str, Any]]) -> dict[str, Any]:
    """A handoff.yaml for the scale organisation: three sources, every rule, every report."""
    return {
        "version": 1,
        "organisation": "Benchmark organisation",
        "database": "data/handoff.duckdb",
        "data_dir": "data",
        "report": {
            "html": "reports/handoff.html",
            "markdown": "reports/handoff.md",
            "json": "reports/handoff.json",
        },
        "sync": {"retries": 0, "retry_delay_seconds": 1},
        "departments": [{"name": name} for name in ("IT", "Marketing", "Finance", "Store Ops")],
        "sources": sources,
    }


class ScaleOrganisation:
    """The three sandboxes and the config that points the job at them."""

    def __init__(self, jira: int, asana: int, sheet_rows: int, folder: Path):
        self.folder = folder
        self.jira_org = generate_jira(jira, 42)
        self.asana_org = generate_asana(asana, 42)
        self.book = generate_book(sheet_rows, 1)
        self.jira = JiraSandbox(self.jira_org).start()
        self.asana = AsanaSandbox(self.asana_org).start()
        self.sheets = SheetsSandbox({BOOK_ID: self.book}).start()
        jira_entry, env = self.jira.source_entry("it-jira", "BENCH_JIRA_TOKEN")
        jira_entry["department"] = "IT"
        asana_entry, asana_env = self.asana.source_entry("mkt-asana", "BENCH_ASANA_TOKEN")
        asana_entry["department"] = "Marketing"
        env.update(asana_env)
        credentials = self.sheets.write_credentials(folder / "secrets" / "sheets.json")
        sheet_entry, sheet_env = self.sheets.source_entry("ops-sheet", BOOK_ID, credentials)
        sheet_entry["department"] = "Store Ops"
        env.update(sheet_env)
        self.env = env
        self.config_path = folder / "handoff.yaml"
        self.config_path.write_text(
            yaml.safe_dump(config([jira_entry, asana_entry, sheet_entry]), sort_keys=False)
        )

    def figures(self) -> dict[str, Any]:
        plan = self.book.worksheet("Plan")
        return {
            "jira_issues": len(self.jira_org.issues),
            "jira_links": len(self.jira_org.links),
            "jira_remote_links": sum(len(v) for v in self.jira_org.remote_links.values()),
            "asana_tasks": len(self.asana_org.tasks),
            "sheet_rows": len(plan.rows) - plan.header_index - 1,
        }

    def requests(self) -> dict[str, int]:
        return {
            name: sandbox.server.total_requests
            for name, sandbox in (
                ("jira", self.jira),
                ("asana", self.asana),
                ("sheets", self.sheets),
            )
        }

    def reset(self) -> None:
        for sandbox in (self.jira, self.asana, self.sheets):
            sandbox.server.reset_counts()

    def mutate(self) -> dict[str, Any]:
        """A working day: 1% of issues and tasks change; one plan row in a hundred is edited."""
        changed_issues = self.jira_org.mutate_share(0.01, 7)
        changed_tasks = self.asana_org.mutate_share(0.01, 7)
        sheet = self.book.worksheet("Plan")
        header = sheet.rows[sheet.header_index]
        column = next((h for h in header if isinstance(h, str) and "status" in h.lower()), None)
        edited = 0
        if column:
            for row in sheet.rows[sheet.header_index + 1 :: 100]:
                key = row[0]
                sheet.set(key, column, "Done")
                edited += 1
        self.reset()
        return {
            "jira_changed": len(changed_issues),
            "asana_changed": {k: len(v) for k, v in changed_tasks.items()},
            "sheet_rows_edited": edited,
        }

    def stop(self) -> None:
        for sandbox in (self.jira, self.asana, self.sheets):
            sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jira", type=int, default=100_000)
    parser.add_argument("--asana", type=int, default=50_000)
    parser.add_argument("--sheet-rows", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    org = ScaleOrganisation(args.jira, args.asana, args.sheet_rows, args.dir)
    print(json.dumps({"config": str(org.config_path), "env": org.env, **org.figures()}), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "requests":
                answer: Any = org.requests()
            elif command == "mutate":
                answer = org.mutate()
            elif command == "reset":
                org.reset()
                answer = True
            else:
                break
            print(json.dumps(answer), flush=True)
    finally:
        org.stop()


if __name__ == "__main__":
    main()
