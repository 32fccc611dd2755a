"""The comment each qualifying finding gets, in plain lines, from the report's own data.

A line is (text, link). The text never carries ages or counts that move every day, so a comment
is edited only when the finding itself changes: its severity, message, the other side, who acts
or the date. The last line is the marker that finds the comment again if the state is lost.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

from rules.report.plain import day
from rules.report.types import Finding, ReportData, Subject

Line = tuple[str, str | None]
SEVERITY_RANK = {"fail": 0, "warn": 1, "info": 2}
SEVERITY_WORD = {"fail": "blocking", "warn": "warning", "info": "note"}


def marker(exception_id: str) -> str:
    return f"handoff-finding:{exception_id}"


def marker_line(exception_id: str) -> Line:
    return (f"{marker(exception_id)} (kept up to date by Handoff)", None)


@dataclass(frozen=True)
class Intent:
    """A comment a finding should have on one item now."""

    exception_id: str
    item_id: str
    source: str
    item_key: str
    tool: str
    severity: str
    summary: str
    lines: list[Line] = field(default_factory=list)

    @property
    def body_hash(self) -> str:
        return digest(self.lines)


def digest(lines: list[Line]) -> str:
    return hashlib.sha256(json.dumps(lines, ensure_ascii=False).encode()).hexdigest()[:16]


def source_of(subject: Subject) -> str:
    key = subject.source_key or ""
    return subject.item_id[: -len(key) - 1] if key else subject.item_id.split(":", 1)[0]


def open_findings(data: ReportData) -> list[Finding]:
    return [f for group in data.handoffs for f in group.findings if f.status == "open"]


def needed_by(data: ReportData) -> dict[str, str]:
    """exception_id -> the date the root cause must move by (earliest needed-by downstream)."""
    out: dict[str, str] = {}
    for root in data.root_causes:
        for f in root.findings:
            if root.must_move_by:
                out[f.exception_id] = root.must_move_by
    return out


def intents(
    data: ReportData,
    enabled: dict[str, tuple[str, bool]],  # source -> (min_severity, also_blocking_item)
) -> list[Intent]:
    """Every comment the open findings call for on the write-back sources' items."""
    dates = needed_by(data)
    out: list[Intent] = []
    for f in open_findings(data):
        known = [s for s in f.subjects if s.known]
        if not known:
            continue
        waiting = known[-1]
        hosts = [(waiting, known[0] if len(known) > 1 else None, "waiting")]
        if len(known) > 1:
            hosts.append((known[0], waiting, "blocking"))
        for host, other, role in hosts:
            source = source_of(host)
            if source not in enabled or host.tool not in ("jira", "asana") or not host.source_key:
                continue
            floor, also_blocking = enabled[source]
            if role == "blocking" and not also_blocking:
                continue
            if SEVERITY_RANK.get(f.severity, 9) > SEVERITY_RANK[floor]:
                continue
            by = dates.get(f.exception_id) or waiting.due_date
            out.append(
                Intent(
                    exception_id=f.exception_id,
                    item_id=host.item_id,
                    source=source,
                    item_key=host.source_key,
                    tool=host.tool,
                    severity=f.severity,
                    summary=f"{f.rule_title}: {f.message}",
                    lines=open_lines(f, other, role, by),
                )
            )
    return out


def _label(s: Subject) -> str:
    label = s.label or s.source_key or s.item_id
    return f"{label} \u2013 {s.title}" if s.title and s.title != label else label


def open_lines(f: Finding, other: Subject | None, role: str, by: str | None) -> list[Line]:
    lines: list[Line] = [
        (f"Handoff {SEVERITY_WORD.get(f.severity, f.severity)}: {f.rule_title}", None),
        (f.message, None),
    ]
    if other is not None:
        verb = "This item waits on" if role == "waiting" else "This item holds up"
        lines.append((f"{verb}: {_label(other)}", other.url))
    lines.append((f"Who must act: {f.owner_name or 'nobody is routed yet'}", None))
    if by:
        lines.append((f"Needed by: {day(by)}", None))
    lines.append((f"Open since {day(f.first_seen)}.", None))
    lines.append(marker_line(f.exception_id))
    return lines


def resolved_lines(exception_id: str, summary: str, today: date) -> list[Line]:
    return [
        (f"Resolved: Handoff no longer finds this as of {day(today)}.", None),
        (f"It was: {summary}", None),
        marker_line(exception_id),
    ]
