"""Findings written back as Asana comment stories, against the strict Asana sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.comment_clients import comment_clients
from handoff.config import HandoffConfig
from handoff.retry import FakeClock
from rules.writeback.flow import run_writeback
from sandbox.asana import AsanaOrg, AsanaSandbox
from tests.writeback.model import write_model


def test_asana_create_then_nothing_then_resolve_and_403_reported(tmp_path: Path) -> None:
    org = AsanaOrg.empty(datetime.now(UTC))
    project = org.add_project("Launch")
    gids = [org.add_task(n, project=project) for n in ("Brief", "Campaign", "Legal review")]
    with AsanaSandbox(org) as asana:
        asana.comments.no_comment.add(gids[2])
        entry, env = asana.source_entry("mkt", "T")
        entry["token"] = env["T"]
        entry["writeback"] = {"enabled": True, "dry_run": False}
        cfg = HandoffConfig.model_validate(
            {
                "sources": [entry],
                "database": str(tmp_path / "m.duckdb"),
                "data_dir": str(tmp_path / "d"),
                "base_dir": str(tmp_path),
            }
        )
        items = [{"item_id": f"mkt:{g}", "source": "mkt", "tool": "asana", "key": g,
                  "title": n, "url": f"https://app.asana.com/0/{project}/{g}"}
                 for g, n in zip(gids, ("Brief", "Campaign", "Legal review"), strict=True)]  # fmt: skip
        findings = [
            {"id": "ex-1", "subjects": [f"mkt:{gids[0]}", f"mkt:{gids[1]}"], "message": "late"},
            {"id": "ex-2", "subjects": [f"mkt:{gids[0]}", f"mkt:{gids[2]}"], "message": "late"},
        ]
        now = datetime.now(UTC).replace(tzinfo=None)
        write_model(cfg.database_path, items, findings, now)

        def run() -> tuple[object, int]:
            asana.server.reset_counts()
            out = run_writeback(cfg, comment_clients(cfg, clock=FakeClock()), dry_run=False)
            return out, asana.server.total_requests

        first, requests = run()
        assert [o.item_key for o in first.written] == [gids[1]]  # type: ignore[attr-defined]
        assert len(first.refused) == 1 and gids[2] in first.refused[0]  # type: ignore[attr-defined]
        (story,) = asana.comments.on(gids[1])
        assert "handoff-finding:ex-1" in story.text and "Brief" in story.text
        assert requests == 4  # two marker searches, one POST, one refused POST
        assert asana.contract.failures("request") == []

        findings[1]["status"] = "resolved"
        findings[0]["status"] = "resolved"
        write_model(cfg.database_path, items, findings, now)
        second, requests = run()
        assert [o.kind for o in second.written] == ["resolve"]  # type: ignore[attr-defined]
        assert requests == 1 and asana.comments.on(gids[1])[0].text.startswith("Resolved")
        assert run()[1] == 0
