"""Invalid rule files are rejected with file and field named, and the other rules still load."""

from __future__ import annotations

from pathlib import Path

from handoff.config import HandoffConfig
from rules.loading import load_rules

GOOD = """\
format: 1
id: {id}
title: Open items without a due date
description: Items nobody has dated yet.
severity: info
params:
  limit_days:
    type: int
    default: 3
query: |
  SELECT [item_id] AS subject_ids, 'no due date' AS message, owner_id
  FROM work_items
  WHERE due_date IS NULL AND NOT is_deleted AND created_at < $now - to_days($limit_days)
owner: owner_id
"""


def _config(tmp_path: Path, files: dict[str, str], **rules: object) -> HandoffConfig:
    folder = tmp_path / "my_rules"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return HandoffConfig.model_validate(
        {"base_dir": tmp_path, "rules": {"paths": ["my_rules"], **rules}}
    )


def _problems(tmp_path: Path, text: str, stem: str = "bad_rule") -> list[str]:
    config = _config(tmp_path, {f"{stem}.yaml": text, "undated.yaml": GOOD.format(id="undated")})
    rules, problems = load_rules(config)
    ids = {r.id for r in rules}
    assert "undated" in ids and "stalled_dependency" in ids  # the others still run
    assert stem not in ids
    return [str(p) for p in problems]


def test_a_valid_user_rule_sits_beside_the_builtin_pack(tmp_path: Path) -> None:
    rules, problems = load_rules(_config(tmp_path, {"undated.yaml": GOOD.format(id="undated")}))
    assert problems == []
    builtin = list((Path(__file__).resolve().parents[2] / "rules" / "builtin").glob("*.yaml"))
    assert len(rules) == len(builtin) + 1
    assert next(r for r in rules if r.id == "undated").params == {"limit_days": 3}


def test_unknown_field_names_file_field_and_line(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").replace("severity: info", "severity: info\nseverty: warn")
    (problem,) = _problems(tmp_path, text)
    assert "bad_rule.yaml: severty (line 6): unknown field" in problem


def test_bad_param_default_type(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").replace("default: 3", "default: three")
    (problem,) = _problems(tmp_path, text)
    assert "bad_rule.yaml: params.limit_days" in problem
    assert "expected int" in problem


def test_unknown_param_type(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").replace("type: int", "type: integer")
    (problem,) = _problems(tmp_path, text)
    assert "bad_rule.yaml: params.limit_days.type" in problem


def test_missing_query(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").split("query:")[0] + "owner: owner_id\n"
    (problem,) = _problems(tmp_path, text)
    assert "bad_rule.yaml: query: Field required" in problem


def test_sql_that_fails_to_bind(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").replace("WHERE due_date", "WHERE due_dat")
    (problem,) = _problems(tmp_path, text)
    assert "bad_rule.yaml: query: fails on the public model" in problem
    assert "due_dat" in problem


def test_query_that_writes_is_rejected(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").split("query:")[0] + (
        "query: DELETE FROM work_items WHERE $limit_days > 0\nowner: owner_id\n"
    )
    (problem,) = _problems(tmp_path, text)
    assert "bad_rule.yaml: query: must be a read-only SELECT, found a DELETE statement" in problem


def test_two_statements_are_rejected(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").replace(
        "  SELECT [item_id]", "  DROP TABLE people;\n  SELECT [item_id]"
    )
    (problem,) = _problems(tmp_path, text)
    assert "query: must be a single SELECT statement, found 2" in problem


def test_query_cannot_read_files(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").replace("FROM work_items", "FROM read_csv('/etc/passwd')")
    (problem,) = _problems(tmp_path, text)
    assert "bad_rule.yaml: query: refused: calls the table function read_csv()" in problem


def test_undeclared_parameter(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").replace("$limit_days", "$limit")
    (problem,) = _problems(tmp_path, text)
    assert "query: uses undeclared parameter(s) limit" in problem


def test_result_contract_and_owner_column(tmp_path: Path) -> None:
    text = GOOD.format(id="bad_rule").replace("[item_id] AS subject_ids", "item_id AS subject_ids")
    (problem,) = _problems(tmp_path, text)
    assert "subject_ids VARCHAR[]" in problem
    text = GOOD.format(id="bad_rule").replace("owner: owner_id", "owner: person")
    (problem,) = _problems(tmp_path, text)
    assert "bad_rule.yaml: owner: names no result column: 'person'" in problem


def test_id_must_match_file_name(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, GOOD.format(id="other_name"))
    assert "bad_rule.yaml: id:" in problem


def test_config_override_with_wrong_type(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        {"undated.yaml": GOOD.format(id="undated")},
        params={"stalled_dependency": {"stall_days": "ten"}, "undated": {"limit_days": 5}},
    )
    rules, problems = load_rules(config)
    assert [str(p) for p in problems] == [
        f"{Path('rules/builtin/stalled_dependency.yaml').resolve()}: "
        "config rules.params.stalled_dependency.stall_days: expected int, got 'ten'"
    ]
    assert {r.id: r.params for r in rules}["undated"] == {"limit_days": 5}


def test_disabled_rules_are_skipped(tmp_path: Path) -> None:
    config = HandoffConfig.model_validate({"rules": {"disabled": ["stale_source"]}})
    rules, problems = load_rules(config)
    assert problems == [] and "stale_source" not in {r.id for r in rules}
