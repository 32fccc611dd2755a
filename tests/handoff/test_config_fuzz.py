"""Whatever text a config file holds, loading it ends in a config or a ConfigError, never a
traceback from deeper down (YAML, pydantic, the file system, the terminal)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.config import HandoffConfig, load_config, parse_config
from handoff.errors import ConfigError
from handoff.template import CONFIG_TEMPLATE

VALID = """\
version: 1
organisation: Fuzz
database: data/handoff.duckdb
sync: {retries: 1, parallel_sources: 2}
contracts:
  - {id: c1, provider: A, consumer: B, notice_days: 3}
rules:
  params: {stalled_dependency: {stall_days: 10}}
sources:
  - name: plan
    kind: csv
    path: plan.csv
    max_drop_share: 0.5
  - name: ops
    kind: jira
    url: http://127.0.0.1:9
    token: ${OPS_TOKEN}
"""
ENV = {"OPS_TOKEN": "fuzz-token-value"}
YAML_BITS = [
    ":", "- ", "[", "]", "{", "}", "&a ", "*a", "<<: ", "!!python/object ", "\t", "\n", "  ",
    "'", '"', "#", "%YAML 1.1\n", "---\n", "...\n", "\x00", "\u202e", "[/x]", "${", "}", "-5",
    "0", "1e999", "null", "~", "? ", "|\n", ">\n", "\ufeff",
]  # fmt: skip
SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _load(text: str, base: Path) -> None:
    try:
        config = parse_config(text, origin="fuzz.yaml", base_dir=base, env=ENV)
    except ConfigError as err:
        assert str(err).startswith("fuzz.yaml"), err
    else:
        assert isinstance(config, HandoffConfig) and config.sources


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([VALID, CONFIG_TEMPLATE]))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if action == "insert":
            bit = draw(st.sampled_from(YAML_BITS) | st.text(max_size=8))
            text = text[:at] + bit + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                line = draw(st.integers(0, len(lines) - 1))
                lines.insert(line, lines[line])
            text = "".join(lines)
    return text


@SETTINGS
@given(text=st.lists(st.sampled_from(YAML_BITS) | st.text(max_size=3), max_size=60).map("".join))
def test_arbitrary_text_never_raises_anything_but_config_error(tmp_path: Path, text: str) -> None:
    _load(text, tmp_path)


@SETTINGS
@given(text=mutated())
def test_mutated_valid_configs_never_raise_anything_but_config_error(
    tmp_path: Path, text: str
) -> None:
    _load(text, tmp_path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200) | mutated().map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_file_bytes_never_raise_anything_but_config_error(
    tmp_path: Path, raw: bytes
) -> None:
    path = tmp_path / "handoff.yaml"
    path.write_bytes(raw)
    try:
        load_config(path)
    except ConfigError as err:
        assert str(err).startswith(str(path)), err
