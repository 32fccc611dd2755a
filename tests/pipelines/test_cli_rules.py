"""`handoff rules show` prints a rule as written: SQL lists in brackets are not terminal markup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handoff.config import HandoffConfig
from rules.loading import load_rules

pytestmark = pytest.mark.slow  # the CLI in a subprocess


def test_rules_show_prints_the_query_intact(tmp_path: Path) -> None:
    rules, _ = load_rules(HandoffConfig(base_dir=tmp_path))
    rule = next(r for r in rules if r.id == "blocked_but_moving")
    assert "[u.item_id, w.item_id]" in rule.query
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "rules", "show", rule.id],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # no handoff.yaml here: the built-in pack alone
    )
    assert result.returncode == 0, result.stderr
    assert rule.query in result.stdout
    assert rule.spec.title in result.stdout
    assert "param stall_days = 10" in result.stdout
