"""Config files that are wrong, hostile or oddly encoded end in one clear ConfigError."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from handoff.config import load_config, parse_config
from handoff.errors import ConfigError

SOURCES = """\
sources:
  - {name: plan, kind: csv, path: plan.csv}
"""


def load_text(tmp_path: Path, text: str, **env: str) -> object:
    return parse_config(text, origin="handoff.yaml", base_dir=tmp_path, env=env)


def test_duplicate_top_level_key_names_both_lines(tmp_path: Path) -> None:
    text = SOURCES + "organisation: A\nsources:\n  - {name: other, kind: csv, path: o.csv}\n"
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, text)
    assert "duplicate key 'sources' on line 1 and line 4" in str(err.value)


def test_duplicate_nested_key_is_an_error(tmp_path: Path) -> None:
    text = SOURCES + "sync:\n  retries: 1\n  retries: 3\n"
    with pytest.raises(ConfigError, match="duplicate key 'retries' on line 4 and line 5"):
        load_text(tmp_path, text)


def test_yaml_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    text = SOURCES + "sync:\n  <<: {retries: 1, parallel_sources: 2}\n  retries: 3\n"
    config = load_text(tmp_path, text)
    assert config.sync.retries == 3 and config.sync.parallel_sources == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n# and another\n", "---\n"])
def test_empty_or_comment_only_file_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="empty"):
        load_text(tmp_path, text)


@pytest.mark.parametrize("text", ["organisation: A\n", "sources: []\n"])
def test_file_without_sources_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="no sources are configured"):
        load_text(tmp_path, text)


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("sync: {retries: -5}", "sync.retries"),
        ("sync: {parallel_sources: 0}", "sync.parallel_sources"),
        ("sync: {retry_delay_seconds: -1}", "sync.retry_delay_seconds"),
        ("contracts: [{id: c, provider: A, consumer: B, notice_days: -3}]", "notice_days"),
    ],
)
def test_numeric_settings_out_of_range_are_rejected(tmp_path: Path, setting: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, SOURCES + setting + "\n")
    assert key in str(err.value)


def test_max_drop_share_above_one_is_rejected(tmp_path: Path) -> None:
    text = "sources:\n  - {name: plan, kind: csv, path: plan.csv, max_drop_share: 7}\n"
    with pytest.raises(ConfigError, match=r"sources\[0\]\(plan\)\.max_drop_share \(line 2\)"):
        load_text(tmp_path, text)


def test_missing_rules_folder_is_an_error(tmp_path: Path) -> None:
    text = SOURCES + "rules:\n  paths: [my-rules]\n"
    with pytest.raises(ConfigError, match=r"rules.paths\[0\] \(line 4\).*my-rules does not exist"):
        load_text(tmp_path, text)
    (tmp_path / "my-rules").mkdir()
    assert load_text(tmp_path, text)


def test_database_pointing_at_a_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(ConfigError, match=r"database \(line 3\):.*is a folder"):
        load_text(tmp_path, SOURCES + "database: data\n")


def test_alias_bomb_is_refused_with_little_memory(tmp_path: Path) -> None:
    """The 'billion laughs' document: nine levels of ten aliases each (10^9 values)."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    bomb = tmp_path / "handoff.yaml"
    bomb.write_text(SOURCES + "\n".join(lines) + "\n")
    script = textwrap.dedent(f"""\
        import resource, sys
        from handoff.config import load_config
        from handoff.errors import ConfigError
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        try:
            load_config({str(bomb)!r})
        except ConfigError as err:
            print(err)
        # VmHWM is this process's own peak; ru_maxrss keeps the parent's peak across exec.
        status = open("/proc/self/status").read().split("VmHWM:")[1]
        print("peak_kb", int(status.split()[0]))
        """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "once aliases are expanded" in result.stdout
    peak_kb = int(result.stdout.rsplit("peak_kb", 1)[1])
    assert peak_kb < 100 * 1024, f"peak {peak_kb} KB"


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yaml"
    path.write_text(SOURCES + "# padding\n" * 200_000)
    with pytest.raises(ConfigError, match="at most 1,000,000"):
        load_config(path)


@pytest.mark.parametrize(
    ("encoding", "expected"), [("latin-1", "is not UTF-8"), ("utf-16", "UTF-16")]
)
def test_non_utf8_file_is_a_clear_error(tmp_path: Path, encoding: str, expected: str) -> None:
    path = tmp_path / "handoff.yaml"
    path.write_bytes((SOURCES + "organisation: Café Müller\n").encode(encoding))
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_deep_nesting_is_a_clear_error(tmp_path: Path) -> None:
    deep = "x: " + "[" * 10_000 + "]" * 10_000 + "\n"
    with pytest.raises(ConfigError, match="nested more than 64 levels"):
        load_text(tmp_path, SOURCES + deep)


def test_config_path_that_is_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a file"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abcdef123456\n", "ends with a line break"),
        ("abcdef 123456", "contains whitespace"),
        ("abcdef\x00123456", "control character U+0000"),
        ("abc\u202edef123", "control character U+202E"),
    ],
)
def test_token_with_whitespace_or_control_names_key_and_variable(
    tmp_path: Path, value: str, problem: str
) -> None:
    text = textwrap.dedent("""\
        sources:
          - name: ops
            kind: jira
            url: http://127.0.0.1:9
            token: ${OPS_TOKEN}
        """)
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, text, OPS_TOKEN=value)
    message = str(err.value)
    assert "sources[0].token" in message and "OPS_TOKEN" in message and problem in message
    assert value.strip() not in message and "abcdef" not in message


def test_webhook_url_with_trailing_newline_is_refused(tmp_path: Path) -> None:
    text = SOURCES + "webhook: {url: '${HOOK}'}\n"
    with pytest.raises(ConfigError, match=r"webhook\.url: the value of environment variable HOOK"):
        load_text(tmp_path, text, HOOK="https://hooks.example.com/T0/B0/secret123\n")
