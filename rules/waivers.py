"""Waivers: a reason and an expiry date that suppress one finding; kept in a YAML file."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
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
    by: str | None = None  # who waived it (`handoff waive --by`, default the OS user)
    at: datetime | None = None  # when it was recorded (UTC)

    def active(self, today: date) -> bool:
        """A waiver holds through its `until` date and expires the day after."""
        return today <= self.until


def _parse_entry(entry: Any, index: int, path: Path) -> Waiver | RuleProblem:
    where = f"[{index}]"
    if not isinstance(entry, dict):
        return RuleProblem(path, where, "a waiver is a mapping with exception_id, reason, until")
    extra = set(entry) - {"exception_id", "reason", "until", "by", "at"}
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
    by, at = entry.get("by"), entry.get("at")
    if by is not None and not isinstance(by, str):
        return RuleProblem(path, f"{where}.by", f"expected who waived it as text, got {by!r}")
    if isinstance(at, str):
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(at)
    if at is not None and not isinstance(at, datetime):
        return RuleProblem(path, f"{where}.at", f"expected a date and time, got {at!r}")
    return Waiver(exception_id, reason.strip(), until, by, at)


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


def _entry(waiver: Waiver) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "exception_id": waiver.exception_id,
        "reason": waiver.reason,
        "until": waiver.until,
    }
    if waiver.by:
        entry["by"] = waiver.by
    if waiver.at:
        entry["at"] = waiver.at.replace(microsecond=0).isoformat()
    return entry


def _read_valid(path: Path) -> list[Waiver]:
    waivers, problems = load_waivers(path)
    if problems:
        raise RuleError("\n".join(str(p) for p in problems))
    return waivers


def _write(path: Path, waivers: list[Waiver]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    header = "# Waived findings: each suppresses one exception_id through its `until` date.\n"
    tmp.write_text(
        header + yaml.safe_dump([_entry(w) for w in waivers], sort_keys=False), encoding="utf-8"
    )
    tmp.replace(path)


def add_waiver(
    config: HandoffConfig,
    exception_id: str,
    until: date,
    reason: str,
    *,
    by: str | None = None,
    at: datetime | None = None,
    replace: bool = True,
) -> Waiver | None:
    """Record the waiver of one finding in the config's waivers file; returns the waiver it
    replaced. With `replace=False` an existing waiver of the finding is an error."""
    if not EXCEPTION_ID.match(exception_id):
        raise RuleError(f"waive: {exception_id!r} is not an exception id (16 hex characters)")
    if not reason.strip():
        raise RuleError("waive: --reason must say why the finding is accepted")
    path = config.path(config.rules.waivers)
    waivers = _read_valid(path)
    earlier = next((w for w in waivers if w.exception_id == exception_id), None)
    if earlier is not None and not replace:
        raise RuleError(
            f"waive: {exception_id} is already waived until {earlier.until}"
            f"{f' by {earlier.by}' if earlier.by else ''} ({earlier.reason!r}); "
            "pass --replace to overwrite that waiver"
        )
    kept = [w for w in waivers if w.exception_id != exception_id]
    kept.append(Waiver(exception_id, reason.strip(), until, by, at))
    _write(path, kept)
    return earlier


def remove_waiver(config: HandoffConfig, exception_id: str) -> Waiver:
    """Delete the waiver of one finding; the next sync or check reopens the finding."""
    path = config.path(config.rules.waivers)
    waivers = _read_valid(path)
    removed = next((w for w in waivers if w.exception_id == exception_id), None)
    if removed is None:
        raise RuleError(f"waive remove: no waiver for {exception_id!r} in {path}")
    _write(path, [w for w in waivers if w.exception_id != exception_id])
    return removed


def finding_status(database: Path, exception_id: str) -> tuple[str, str, str] | None:
    """(status, rule_id, message) of a finding in the published model, None if unknown."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        row = con.execute(
            "SELECT status, rule_id, message FROM exceptions WHERE exception_id = ?",
            [exception_id],
        ).fetchone()
    finally:
        con.close()
    return (str(row[0]), str(row[1]), str(row[2])) if row else None


def validate_new_waiver(database: Path, exception_id: str, until: date, today: date) -> str:
    """Raise RuleError unless `exception_id` is a finding that is open (or waived) in the
    published model and `until` is not in the past; returns the finding's rule and message."""
    if until < today:
        raise RuleError(f"waive: --until {until} is in the past (today is {today})")
    if not database.exists():
        raise RuleError(f"waive: {database}: no published database yet; run `handoff sync` first")
    found = finding_status(database, exception_id)
    if found is None:
        raise RuleError(
            f"waive: no finding {exception_id!r} in {database}; the open ones are listed by "
            '`handoff sql "select exception_id, rule_id, message from open_exceptions"`'
        )
    status, rule_id, message = found
    if status == "resolved":
        raise RuleError(f"waive: finding {exception_id} ({rule_id}) is resolved; nothing to waive")
    return f"{rule_id}: {message}"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
