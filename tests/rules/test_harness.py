"""The generic harness reports wrong, missing and unexpected findings in a printable form."""

from __future__ import annotations

from pathlib import Path

from handoff.config import HandoffConfig
from rules.harness import run_rule_tests, summarise
from rules.loading import load_rules

RULE = """\
format: 1
id: overdue_item
title: Overdue item
description: An open item past its due date.
severity: warn
tiers: {column: days_late, fail_at: 5}
query: |
  SELECT [item_id] AS subject_ids, 'late' AS message, date_diff('day', due_date, $today) AS days_late
  FROM work_items WHERE due_date < $today AND NOT is_deleted
tests:
  - name: right
    given: {work_items: [{item_id: a:1, due_date: 2025-03-01}]}
    expect: [{subject_ids: [a:1], severity: warn}]
  - name: wrong severity
    given: {work_items: [{item_id: a:1, due_date: 2025-02-01}]}
    expect: [{subject_ids: [a:1], severity: warn}]
  - name: missing and unexpected
    given: {work_items: [{item_id: a:2, due_date: 2025-03-01}]}
    expect: [{subject_ids: [a:1]}]
  - name: bad given column
    given: {work_items: [{item_id: a:1, due: 2025-03-01}]}
    expect: []
"""


def test_outcomes_name_what_went_wrong(tmp_path: Path) -> None:
    (tmp_path / "overdue_item.yaml").write_text(RULE)
    config = HandoffConfig.model_validate(
        {"base_dir": tmp_path, "rules": {"builtin": False, "paths": ["."]}}
    )
    rules, problems = load_rules(config)
    assert problems == []
    outcomes = run_rule_tests(rules)
    assert [o.passed for o in outcomes] == [True, False, False, False]
    assert "severity fail, expected warn" in outcomes[1].detail
    assert "expected finding ['a:1'] was not found" in outcomes[2].detail
    assert "unexpected finding ['a:2'] (warn)" in outcomes[2].detail
    assert outcomes[3].detail.startswith("error:") and "due" in outcomes[3].detail
    text = summarise(outcomes)
    assert "FAIL overdue_item :: wrong severity" in text
    assert text.splitlines()[-1] == "1 passed, 3 failed"
