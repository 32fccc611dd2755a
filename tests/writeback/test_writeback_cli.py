"""`handoff writeback` prints by default and writes with --apply: the same comments."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from sandbox.jira import JiraOrg, JiraSandbox
from tests.writeback.model import write_model


def test_cli_dry_run_output_is_what_apply_writes(tmp_path: Path) -> None:
    org = JiraOrg.empty(datetime.now(UTC))
    org.add_project("OPS", "Operations")
    org.add_issue("OPS-1", "Upgrade DB", project="OPS")
    org.add_issue("OPS-2", "Launch", project="OPS")
    with JiraSandbox(org, deployment="data_center", comment_projects=None) as jira:
        entry, env = jira.source_entry("it-jira", "JIRA_TOKEN")
        entry["writeback"] = {"enabled": True}  # dry_run stays on by default
        path = tmp_path / "handoff.yaml"
        path.write_text(yaml.safe_dump({"version": 1, "sources": [entry]}))
        now = datetime.now(UTC).replace(tzinfo=None)
        items = [
            {"item_id": f"it-jira:{k}", "source": "it-jira", "tool": "jira", "key": k,
             "title": t, "url": f"{jira.url}/browse/{k}"}
            for k, t in (("OPS-1", "Upgrade DB"), ("OPS-2", "Launch"))
        ]  # fmt: skip
        finding = {"id": "ex-1", "subjects": ["it-jira:OPS-1", "it-jira:OPS-2"],
                   "message": "Launch waits on Upgrade DB"}  # fmt: skip
        write_model(tmp_path / "data" / "handoff.duckdb", items, [finding], now)
        runner = CliRunner()
        dry = runner.invoke(app, ["writeback", "-c", str(path)], env=env)
        assert dry.exit_code == 0, dry.output
        assert jira.comments.comments == {}
        applied = runner.invoke(app, ["writeback", "-c", str(path), "--apply"], env=env)
        assert applied.exit_code == 0, applied.output
        assert dry.output.splitlines()[:-1] == applied.output.splitlines()[:-1]
        (comment,) = jira.comments.on("OPS-2")
        printed = "\n".join(line[4:] for line in dry.output.splitlines()[1:-1])
        assert printed == comment.body
        assert "would write 1" in dry.output and "wrote 1" in applied.output
