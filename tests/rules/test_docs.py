"""The rules reference and the rule-file JSON Schema are generated from the code and kept current."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import yaml

from rules.docs import RULE_SCHEMA, RULES_PAGE, builtin_specs, render_rule_schema, render_rules_page
from rules.loading import BUILTIN_DIR, rule_files


def test_rules_page_is_generated_from_the_builtin_pack() -> None:
    assert RULES_PAGE.read_text() == render_rules_page(), "run `python -m rules.docs`"
    page = RULES_PAGE.read_text()
    for spec in builtin_specs():
        assert f"## {spec.id}\n" in page
        for name in spec.params:
            assert f"| `{name}` |" in page


def test_rule_file_schema_is_generated_from_the_rule_model() -> None:
    assert RULE_SCHEMA.read_text() == render_rule_schema(), "run `python -m rules.docs`"


def _as_json(path: Any) -> Any:
    """YAML dates and times become strings, as an editor validating the file would see them."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


def test_every_builtin_rule_file_satisfies_the_schema_and_a_typo_does_not() -> None:
    schema = json.loads(RULE_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    files = rule_files(BUILTIN_DIR)
    assert len(files) == len(builtin_specs())
    for path in files:
        errors = [e.message for e in validator.iter_errors(_as_json(path))]
        assert errors == [], f"{path.name}: {errors}"
    typo = {**_as_json(files[0]), "severty": "warn"}
    assert not validator.is_valid(typo)
