"""Every case of every built-in rule, through the one generic harness."""

from __future__ import annotations

import pytest

from handoff.config import HandoffConfig
from rules.format import Rule, RuleCase
from rules.harness import run_case
from rules.loading import load_rules

RULES, PROBLEMS = load_rules(HandoffConfig())
CASES = [(rule, case) for rule in RULES for case in rule.spec.tests]


def test_builtin_pack_loads_without_problems() -> None:
    assert PROBLEMS == []
    assert len(RULES) == 20


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r.id}::{c.name}" for r, c in CASES])
def test_rule_case(rule: Rule, case: RuleCase) -> None:
    outcome = run_case(rule, case)
    assert outcome.passed, str(outcome)


def test_every_rule_has_a_case_that_must_not_fire() -> None:
    for rule in RULES:
        assert any(not case.expect for case in rule.spec.tests), rule.id
