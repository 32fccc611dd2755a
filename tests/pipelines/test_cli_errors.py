"""Config errors exit non-zero with the key path and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the CLI in subprocesses

CASES = {
    "unknown source kind": (
        "sources:\n  - name: it\n    kind: trello\n    path: x.csv\n",
        ["sources[0](it)", "line 3", "unknown source kind 'trello'"],
    ),
    "missing environment variable": (
        "sources:\n  - name: it-jira\n    kind: jira\n    url: https://x.example\n"
        "    email: a@b.c\n    token: ${HANDOFF_TEST_UNSET_TOKEN}\n",
        ["sources[0].token", "HANDOFF_TEST_UNSET_TOKEN is not set"],
    ),
    "bad cron": (
        "schedule:\n  cron: '61 25 * * *'\n  timezone: Europe/Berlin\n",
        ["schedule.cron", "line 2", "not a valid cron expression"],
    ),
    "unknown time zone": (
        "schedule:\n  timezone: Mars/Olympus\n",
        ["schedule.timezone", "unknown time zone"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_error_names_the_key_path(case: str, tmp_path: Path) -> None:
    text, expected = CASES[case]
    config = tmp_path / "handoff.yaml"
    config.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    for fragment in expected:
        assert fragment in output, output


def test_init_writes_a_template_that_validates(tmp_path: Path) -> None:
    from handoff.config import parse_config
    from handoff.template import CONFIG_TEMPLATE

    config = parse_config(CONFIG_TEMPLATE, origin="template", base_dir=tmp_path)
    assert config.sources[0].name == "finance-plan"
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "init", str(tmp_path / "h.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and (tmp_path / "h.yaml").read_text() == CONFIG_TEMPLATE
