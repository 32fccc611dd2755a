"""The CLI behaves like a well-made Unix tool: --version, -h, plain help, one clear line per
error in its own words, full-width output in logs, and the documented exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines import cli
from pipelines.runner import run_sync
from tests.conftest import file_org_config

pytestmark = pytest.mark.slow  # the CLI in subprocesses

REPO = Path(__file__).resolve().parents[2]
COMMANDS = [
    [],
    ["init"],
    ["sync"],
    ["check"],
    ["report"],
    ["sql"],
    ["export"],
    ["doctor"],
    ["demo"],
    ["rules"],
    ["rules", "list"],
    ["waive"],
    ["waive", "add"],
    ["waive", "list"],
    ["waive", "remove"],
    ["sandbox", "serve"],
]


def handoff(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "HANDOFF_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd or REPO,
        env=env,
    )


def test_version_short_help_and_plain_help_without_type_tags() -> None:
    version = handoff("--version")
    assert version.returncode == 0
    assert re.fullmatch(r"handoff \d+\.\d+\.\d+\n", version.stdout)
    for command in COMMANDS:
        result = handoff(*command, "-h")
        assert result.returncode == 0, (command, result.stderr)
        text = result.stdout
        assert text.startswith("Usage: handoff"), command
        assert "-h, --help" in text, command
        assert not re.search(r"<(bool|int|float|float range|list\[[^>]*\])>", text), text
        options = [line for line in text.splitlines() if line.lstrip().startswith("-")]
        assert not any("<" in line for line in options), (command, options)
        assert "╭" not in text and "│" not in text, command


def test_a_bad_value_is_one_line_in_the_cli_words(tmp_path: Path) -> None:
    result = handoff("report", "--format", "pdf", "--config", str(tmp_path / "none.yaml"))
    assert result.returncode == cli.EXIT_USAGE
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "error: --format: 'pdf' is not one of 'html', 'md', 'json'."
    )
    assert "Value error" not in result.stderr and "Traceback" not in result.stderr
    unknown = handoff("sync", "--bogus")
    assert unknown.returncode == cli.EXIT_USAGE
    assert unknown.stderr.startswith("error: No such option: --bogus")


def test_a_source_error_is_printed_once_without_class_names(tmp_path: Path) -> None:
    config = file_org_config(tmp_path)
    assert run_sync(config).success
    (tmp_path / "plans" / "it.csv").unlink()
    result = handoff("sync", "--config", str(config))
    assert result.returncode == cli.EXIT_FAILED
    output = result.stdout + result.stderr
    assert output.count("plans/it.csv not found") == 1, output
    assert "dagster" not in output.lower().replace("dagster_home", "")
    assert not re.search(r"\b\w+(Error|Exception|Failure)\b", output), output


def test_fail_on_exits_3_when_findings_at_that_level_remain(tmp_path: Path) -> None:
    config = file_org_config(tmp_path)
    plain = handoff("sync", "--config", str(config))
    assert plain.returncode == 0, plain.stderr
    warn = handoff("check", "--fail-on", "warn", "--config", str(config))
    assert warn.returncode == cli.EXIT_FINDINGS == 3
    assert "open finding(s) at --fail-on warn or worse" in warn.stderr
    fail = handoff("sync", "--fail-on", "fail", "--config", str(config))
    has_fail = "0 fail" not in fail.stderr.split("findings:", 1)[1].splitlines()[0]
    assert fail.returncode == (3 if has_fail else 0), fail.stderr


def test_doctor_prints_its_table_uncut_into_a_log(tmp_path: Path) -> None:
    config = file_org_config(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["sources"][0]["path"] = "plans/" + "a-long-folder-name-" * 6 + "it.csv"
    config.write_text(yaml.safe_dump(data))
    result = handoff("doctor", "--config", str(config))
    assert result.returncode == cli.EXIT_FAILED
    assert "a-long-folder-name-" * 6 + "it.csv" in result.stderr.replace("\n", "")
    assert any(len(line) > 120 for line in result.stderr.splitlines())  # not cut to 80 columns


def test_doctor_says_to_export_an_unset_variable(tmp_path: Path) -> None:
    config = tmp_path / "handoff.yaml"
    config.write_text(
        "version: 1\nsources:\n  - name: jira\n    kind: jira\n    url: https://x.example\n"
        "    email: a@x.example\n    token: ${HANDOFF_TEST_UNSET_TOKEN}\n    projects: [OPS]\n"
    )
    result = handoff("doctor", "--config", str(config), cwd=tmp_path)
    assert result.returncode == cli.EXIT_FAILED
    text = " ".join(result.stderr.split())
    assert "export HANDOFF_TEST_UNSET_TOKEN=" in text
    assert "fix the key named above" not in text


def test_the_readme_documents_every_exit_code() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme.split("Exit codes:", 1)[1].split("\n\n", 2)[1]
    codes = set(re.findall(r"^\| (\d+(?: / \d+)?) \|", table, re.M))
    assert codes == {"0", "1", "2", "3", "4", "130 / 143"}
    assert (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_USAGE, cli.EXIT_FINDINGS) == (0, 1, 2, 3)
    assert (cli.EXIT_WARNINGS, cli.EXIT_INTERRUPTED) == (4, 130)
