"""Shared fixtures: a small file-based organisation with a config, written fresh per test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.demo import story
from sandbox.demo.files import write_csv, write_xlsx

SECRET = "s3cr3t-webhook-token-that-must-never-leak"


def file_org_config(
    root: Path, *, extra_sources: list[dict[str, Any]] | None = None, **overrides: Any
) -> Path:
    """Write the story as CSV/xlsx plans plus a handoff.yaml under `root`; returns the config."""
    today = date.today()
    write_csv(root / "plans" / "it.csv", story.IT_OPS, today)
    write_csv(
        root / "plans" / "marketing.csv", story.MARKETING, today, delimiter=",", encoding="cp1252"
    )
    write_csv(root / "plans" / "finance.csv", story.FINANCE, today)
    write_xlsx(
        root / "plans" / "store.xlsx", {"Training": story.STORE_OPS}, today, title="Store Ops plan"
    )
    config: dict[str, Any] = {
        "version": 1,
        "departments": [
            {"name": n, "kpis": [{"name": k} for k in ks]} for n, ks in story.DEPARTMENTS.items()
        ],
        "kpi_tensions": [{"between": ["Marketing.user_acquisition", "IT Operations.server_cost"]}],
        "contracts": [
            {
                "id": "finance-budget",
                "provider": "Finance",
                "consumer": "Marketing",
                "notice_days": 10,
            }
        ],
        "sync": {"retries": 0, "retry_delay_seconds": 0},
        "sources": [
            {
                "name": "it-ops",
                "kind": "csv",
                "path": "plans/it.csv",
                "department": "IT Operations",
                "date_order": "dmy",
            },
            {
                "name": "marketing",
                "kind": "csv",
                "path": "plans/marketing.csv",
                "department": "Marketing",
                "date_order": "dmy",
            },
            {
                "name": "finance",
                "kind": "csv",
                "path": "plans/finance.csv",
                "department": "Finance",
                "date_order": "dmy",
                "status_map": {"Approved": "done", "Pending": "todo"},
            },
            {
                "name": "store-ops",
                "kind": "xlsx",
                "path": "plans/store.xlsx",
                "department": "Store Ops",
            },
            *(extra_sources or []),
        ],
    }
    config.update(overrides)
    path = root / "handoff.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def file_org(tmp_path: Path) -> Callable[..., Path]:
    def make(**kwargs: Any) -> Path:
        return file_org_config(tmp_path, **kwargs)

    return make
