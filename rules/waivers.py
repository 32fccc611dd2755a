"""Waivers: a reason and an expiry date that suppress one finding; kept in a YAML file."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from handoff.config import HandoffConfig
from handoff.errors import RuleError
from rules.format import RuleProblem

EXCEPTION_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Waiver:
    exception_id: str
    reason: str
    until: date

    def active(self, today: date) -> bool:
        """A waiver holds through its `until` date and expires the day after."""
        return today <= self.until


def _parse_entry(entry: Any, index: int, path: Path) -> Waiver | RuleProblem:
    where = f"[{index}]"
    if not isinstance(entry, dict):
        return RuleProblem(path, where, "a waiver is a mapping with exception_id, reason, until")
    extra = set(entry) - {"exception_id", "reason", "until"}
    if extra:
        return RuleProblem(path, f"{where}.{sorted(extra)[0]}", "unknown field")
    exception_id, reason, until = entry.get("exception_id"), entry.get("reason"), entry.get("until")
    if not isinstance(exception_id, str) or not EXCEPTION_ID.match(exception_id):
        return RuleProblem(path, f"{where}.exception_id", "expected a 16-hex exception id")
    if not isinstance(reason, str) or not reason.strip():
        return RuleProblem(path, f"{where}.reason", "a waiver needs a reason")
    if isinstance(until, str):
        with contextlib.suppress(ValueError):
            until = date.fromisoformat(until)
    if not isinstance(until, date):
        return RuleProblem(path, f"{where}.until", f"expected a date (YYYY-MM-DD), got {until!r}")
    return Waiver(exception_id, reason.strip(), until)


def load_waivers(path: Path) -> tuple[list[Waiver], list[RuleProblem]]:
    """The waivers of the file (none when it does not exist); bad entries are reported."""
    if not path.exists():
        return [], []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as err:
        return [], [RuleProblem(path, "(file)", f"cannot read the waivers: {err}")]
    if isinstance(data, dict):
        data = data.get("waivers", [])
    if not isinstance(data, list):
        return [], [RuleProblem(path, "(top level)", "expected a list of waivers")]
    waivers: list[Waiver] = []
    problems: list[RuleProblem] = []
    for index, entry in enumerate(data):
        parsed = _parse_entry(entry, index, path)
        (problems if isinstance(parsed, RuleProblem) else waivers).append(parsed)  # type: ignore[arg-type]
    return waivers, problems


def add_waiver(config: HandoffConfig, exception_id: str, until: date, reason: str) -> None:
    """Record (or replace) the waiver of one finding in the config's waivers file."""
    if not EXCEPTION_ID.match(exception_id):
        raise RuleError(f"waive: {exception_id!r} is not an exception id (16 hex characters)")
    if not reason.strip():
        raise RuleError("waive: --reason must say why the finding is accepted")
    path = config.path(config.rules.waivers)
    waivers, problems = load_waivers(path)
    if problems:
        raise RuleError("\n".join(str(p) for p in problems))
    kept = [w for w in waivers if w.exception_id != exception_id]
    kept.append(Waiver(exception_id, reason.strip(), until))
    entries = [{"exception_id": w.exception_id, "reason": w.reason, "until": w.until} for w in kept]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    header = "# Waived findings: each suppresses one exception_id through its `until` date.\n"
    tmp.write_text(header + yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
