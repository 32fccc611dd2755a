"""The report's content as plain dataclasses, so every renderer and the JSON output share it.

Every field is a str, int, float, bool, None, list or dict: `dataclasses.asdict` of a
`ReportData` is directly JSON-serialisable, which is what automation consumers read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

SEVERITIES = ("fail", "warn", "info")
NO_DEPARTMENT = "(no department)"


@dataclass
class SeverityCounts:
    """Open findings by severity."""

    fail: int = 0
    warn: int = 0
    info: int = 0
    total: int = 0

    def add(self, severity: str) -> None:
        if severity in SEVERITIES:
            setattr(self, severity, getattr(self, severity) + 1)
            self.total += 1


@dataclass
class Subject:
    """A work item (or source) a finding is about, with the link back to its tool."""

    item_id: str
    known: bool
    title: str | None = None
    url: str | None = None
    tool: str | None = None
    source_key: str | None = None
    department: str | None = None
    status: str | None = None
    due_date: str | None = None
    owner_name: str | None = None
    steward_name: str | None = None
    is_milestone: bool = False
    place: str | None = None  # where a file row lives ("plan.xlsx, sheet Training, row 4")
    label: str | None = None  # the id a reader knows it by: Jira key, sheet id, else the title


@dataclass
class Finding:
    """One exception as leaders read it: what, who acts, since when, why, and where to look."""

    exception_id: str
    rule_id: str
    rule_title: str
    severity: str
    classification: str
    status: str
    message: str
    owner: str | None
    owner_name: str | None
    owner_kind: str | None  # person, department or None when nobody is routed
    departments: list[str | None]
    upstream_department: str
    downstream_department: str
    handoff_anchor: str
    first_seen: str
    last_seen: str
    age_days: float
    age: str
    occurrences: int
    blast_radius: int
    is_new: bool
    evidence: Any
    subjects: list[Subject] = field(default_factory=list)
    resolved_at: str | None = None
    waiver_reason: str | None = None
    waived_until: str | None = None
    root_cause: str | None = None  # anchor of the root-cause card that holds it
    explanation: list[str] = field(default_factory=list)  # the evidence as plain sentences
    waived_by: str | None = None
    waived_at: str | None = None


@dataclass
class SourceHealth:
    """The latest sync of one source and what it left behind."""

    source: str
    status: str
    last_run_at: str | None
    last_success_at: str | None
    age_hours: float | None
    age: str | None
    is_failed: bool
    is_stale: bool
    error: str | None
    items: int | None
    rejected_rows: int


@dataclass
class OwnerLoad:
    """Who must act, and on how many open findings."""

    owner: str
    owner_name: str
    open: int
    fail: int


@dataclass
class Headline:
    """The figures a leader reads first."""

    open: SeverityCounts
    open_total: int
    new: int
    resolved: int
    planned: int
    surprise: int
    waived: int
    will_stall_next_week: int
    stale_sources: list[str]
    failed_sources: list[str]
    rejected_rows: dict[str, int]
    owners: list[OwnerLoad]
    root_causes: int = 0
    root_causes_fail: int = 0
    milestones: int = 0
    milestones_at_risk: int = 0
    milestones_off_track: int = 0
    sentences: list[str] = field(default_factory=list)  # the answer, in plain words


@dataclass
class MatrixCell:
    """Open findings on one upstream -> downstream department handoff."""

    upstream: str
    downstream: str
    count: int
    worst_severity: str
    anchor: str


@dataclass
class Matrix:
    """Department x department heatmap of open findings (rows upstream, columns downstream)."""

    departments: list[str]
    cells: list[MatrixCell]
    max_count: int


@dataclass
class HandoffGroup:
    """Open findings on one department pair, ranked by severity then blast radius."""

    upstream: str
    downstream: str
    label: str
    anchor: str
    counts: SeverityCounts
    findings: list[Finding]


@dataclass
class TrendPoint:
    """Totals of one rule evaluation."""

    run_id: str
    evaluated_at: str
    open_fail: int
    open_warn: int
    open_info: int
    open_total: int
    new: int
    resolved: int
    waived: int
    root_causes: int = 0  # open at the run (rebuilt from the findings' lifecycle)


@dataclass
class RuleNotEvaluated:
    """A rule (or waiver) the last evaluation skipped: its open findings were not refreshed."""

    rule_id: str | None
    rule_file: str
    field: str
    reason: str


@dataclass
class RuleAdvice:
    """A rule that sees a root cause, how many findings it has there, and what to do."""

    rule_id: str
    rule_title: str
    severity: str
    findings: int
    advice: str


@dataclass
class BlockedItem:
    """An open item that waits, directly or through others, on a root cause."""

    item: Subject
    depth: int  # 1: waits on the root cause directly


@dataclass
class RootCause:
    """One upstream item (or cycle, or unmapped reference, or source) and all it holds up."""

    key: str
    anchor: str
    kind: str  # item, cycle, unmapped, source
    subject: Subject
    cycle: list[Subject]
    summary: str  # what is wrong, in one plain sentence
    severity: str
    owner: str  # who must act, by name
    owner_kind: str  # person, department or nobody
    department: str
    must_move_by: str | None  # the earliest needed-by date downstream
    days_left: int | None
    blast_radius: int
    blocks: list[BlockedItem]
    milestones: list[str]  # anchors of the milestones it feeds
    rules: list[RuleAdvice]
    is_new: bool
    first_seen: str
    findings: list[Finding]


@dataclass
class Milestone:
    """A milestone or initiative, its steward, and the root causes that threaten it."""

    anchor: str
    item: Subject
    steward: str | None
    due_date: str | None
    status: str  # on track, at risk, off track
    reason: str
    root_causes: list[str]  # root-cause anchors, worst first
    chains: list[list[Subject]] = field(default_factory=list)  # root cause ... -> milestone
    # when the dependency chain says it will finish, and what the team last reported
    forecast_finish: str | None = None
    slip_days: int | None = None
    forecast_chain: list[Subject] = field(default_factory=list)  # root cause first
    reported: str | None = None  # e.g. "on_track (green), 23 Nov, Maya Chen"
    reported_rag: str | None = None


@dataclass
class Action:
    """One thing one person (or department) must do: what, why, by when, where."""

    what: str
    why: str
    by_when: str | None
    item: Subject
    severity: str
    root_cause: str  # anchor of the root-cause card


@dataclass
class ActionList:
    """Everything one person or department must act on, most urgent first."""

    name: str
    kind: str  # person, department or nobody
    anchor: str
    department: str | None
    actions: list[Action]
    fail: int


@dataclass
class DepartmentSummary:
    """A department's open root causes, with its steward from the config when declared."""

    name: str
    anchor: str
    steward: str | None
    root_causes: list[str]  # root-cause anchors, worst first
    fail: int
    warn: int
    info: int


@dataclass
class Changes:
    """What changed since the previous evaluation, in root causes."""

    first_run: bool
    new: list[str]  # root-cause anchors
    resolved: list[str]  # summaries of root causes that no longer have an open finding
    new_findings: int
    resolved_findings: int


@dataclass
class ReportData:
    """Everything the report shows, gathered from the published model."""

    title: str
    generated_at: str
    model_built_at: str | None
    model_run_id: str | None
    last_run_at: str | None
    previous_run_at: str | None
    headline: Headline
    next_week: list[Finding]
    matrix: Matrix
    handoffs: list[HandoffGroup]
    trend: list[TrendPoint]
    waived: list[Finding]
    resolved: list[Finding]
    sources: list[SourceHealth]
    rules_not_evaluated: list[RuleNotEvaluated] = field(default_factory=list)
    organisation: str = "Handoff"
    department: str | None = None  # set when the report is one department's page
    root_causes: list[RootCause] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    actions: list[ActionList] = field(default_factory=list)
    departments: list[DepartmentSummary] = field(default_factory=list)
    changes: Changes | None = None


def to_plain(value: Any) -> Any:
    """`dataclasses.asdict` without its deep copies: the report's values are already plain
    (evidence comes from json.loads), so a shallow walk is enough and many times faster."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value
