"""Gathers the leaders' report from the published DuckDB model (read-only, set-based queries)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from rules.report import roots as rc
from rules.report.plain import (
    TITLE_CHARS,
    bounded_message,
    clean_message,
    day,
    evidence_sentences,
    file_place,
    reader_label,
    short_title,
)
from rules.report.titles import rule_advice, rule_title, rule_titles
from rules.report.types import (
    NO_DEPARTMENT,
    Finding,
    HandoffGroup,
    Headline,
    Matrix,
    MatrixCell,
    Milestone,
    OwnerLoad,
    ReportData,
    RootCause,
    RuleNotEvaluated,
    SeverityCounts,
    SourceHealth,
    Subject,
    TrendPoint,
)

SEVERITY_RANK = {"fail": 0, "warn": 1, "info": 2}
WILL_STALL_RULE = "will_stall_next_week"
STALE_SOURCE_RULE = "stale_source"
TREND_RUNS = 30

FINDING_COLUMNS = """
    exception_id, rule_id, severity, subject_ids, departments, owner, message,
    CAST(evidence AS VARCHAR) AS evidence, classification, status, first_seen, last_seen,
    resolved_at, occurrences, blast_radius, waiver_reason, waived_until, waived_by, waived_at
"""


@dataclass(frozen=True)
class ReportSettings:
    """What the report needs from the config that the model does not hold."""

    organisation: str = "Handoff"
    # department -> its steward as declared (e-mail or name)
    department_stewards: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Any) -> ReportSettings:
        return cls(
            organisation=cfg.organisation,
            department_stewards={d.name: d.steward for d in cfg.departments if d.steward},
        )


def gather(
    db_path: Path, *, now: datetime | None = None, settings: ReportSettings | None = None
) -> ReportData:
    """Read the published model at `db_path` and return the report's content.

    The database is opened read-only so a report never competes with the pipeline's writer.
    `now` fixes the clock for ages (UTC; naive values are taken as UTC).
    """
    clock = _utc_naive(now or datetime.now(UTC))
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return _gather(con, clock, settings or ReportSettings())
    finally:
        con.close()


def _gather(con: duckdb.DuckDBPyConnection, now: datetime, settings: ReportSettings) -> ReportData:
    runs = _rows(con, "SELECT * FROM exception_runs ORDER BY evaluated_at DESC, run_id DESC")
    last_run_at = runs[0]["evaluated_at"] if runs else None
    previous_run_at = runs[1]["evaluated_at"] if len(runs) > 1 else None

    people = dict(con.execute("SELECT person_id, display_name FROM people").fetchall())
    source_names = {r[0] for r in con.execute("SELECT DISTINCT source FROM sync_runs").fetchall()}
    departments = [
        r[0] for r in con.execute("SELECT name FROM departments ORDER BY name").fetchall()
    ]
    raw = _rows(
        con,
        f"SELECT {FINDING_COLUMNS} FROM exceptions WHERE status IN ('open', 'waived') "
        "OR (status = 'resolved' AND (CAST(? AS TIMESTAMP) IS NULL OR resolved_at > ?))",
        [previous_run_at, previous_run_at],
    )
    subjects, graph = _work(con, people)
    titles = rule_titles()
    findings = [
        _finding(r, subjects, people, set(departments), source_names, titles, now, previous_run_at)
        for r in raw
    ]
    findings.sort(key=_rank)
    stewards = {
        d: people.get(who.lower()) or people.get(who) or who
        for d, who in settings.department_stewards.items()
    }

    open_ = [f for f in findings if f.status == "open"]
    waived = sorted(
        (f for f in findings if f.status == "waived"),
        key=lambda f: (f.waived_until or "9999", *_rank(f)),
    )
    resolved = [f for f in findings if f.status == "resolved"]
    sources = _sources(con, open_, now)
    previous = _iso(previous_run_at)
    today = now.date()
    roots = rc.build_root_causes(open_, graph, today, stewards, previous, rule_advice())
    milestones = rc.build_milestones(roots, graph, today)
    _attach_forecasts(con, milestones, people, graph)
    headline = _headline(open_, waived, resolved, sources, people)
    _headline_roots(headline, roots, milestones, today)
    return ReportData(
        title="Handoff report",
        organisation=settings.organisation,
        root_causes=roots,
        milestones=milestones,
        actions=rc.build_actions(roots, stewards),
        departments=rc.build_departments(roots, departments, stewards),
        changes=rc.build_changes(roots, resolved, open_, previous),
        generated_at=_iso(now) or "",
        model_built_at=_iso(_scalar(con, "SELECT max(built_at) FROM schema_info")),
        model_run_id=_scalar(con, "SELECT arg_max(run_id, built_at) FROM schema_info"),
        last_run_at=_iso(last_run_at),
        previous_run_at=_iso(previous_run_at),
        headline=headline,
        next_week=[f for f in open_ if f.rule_id == WILL_STALL_RULE],
        matrix=_matrix(open_, departments),
        handoffs=_groups(open_),
        trend=_trend(con, runs[:TREND_RUNS]),
        waived=waived,
        resolved=resolved,
        sources=sources,
        rules_not_evaluated=_rules_not_evaluated(con),
    )


def _headline_roots(
    h: Headline, roots: list[RootCause], milestones: list[Milestone], today: date
) -> None:
    """The headline in root causes and milestones, and the answer in plain sentences."""
    serious = [r for r in roots if r.severity in ("fail", "warn")]
    risky = [m for m in milestones if m.status != "on track"]
    h.root_causes = len(roots)
    h.root_causes_fail = sum(r.severity == "fail" for r in roots)
    h.milestones = len(milestones)
    h.milestones_at_risk = len(risky)
    h.milestones_off_track = sum(m.status == "off track" for m in risky)
    by_anchor = {r.anchor: r for r in roots}
    sentences = []
    for m in risky[:3]:
        worst = by_anchor.get(m.root_causes[0]) if m.root_causes else None
        due = f" (due {day(m.due_date)})" if m.due_date else ""
        if worst is None or (worst.key == m.item.item_id and len(m.root_causes) == 1):
            sentences.append(f"\u201c{m.item.title}\u201d{due} is {m.status}: {m.reason}")
            continue
        when = f" by {day(worst.must_move_by)}" if worst.must_move_by else ""
        advice = rc.owner_advice(worst)
        sentences.append(
            f"\u201c{m.item.title}\u201d{due} is {m.status} because {worst.summary}. "
            f"{worst.owner} must act{when}. {advice}".strip()
        )
    if not risky and serious:
        top = serious[0]
        when = f" by {day(top.must_move_by)}" if top.must_move_by else ""
        sentences.append(f"{top.summary}. {top.owner} must act{when}.")
    if not roots:
        sentences.append("Nothing is holding up work: no open findings.")
    h.sentences = sentences


def _rules_not_evaluated(con: duckdb.DuckDBPyConnection) -> list[RuleNotEvaluated]:
    """The last evaluation's skipped rules (none in a model built before they were recorded)."""
    try:
        rows = con.execute(
            "SELECT rule_id, rule_file, field, reason FROM rule_problems "
            "ORDER BY rule_file, rule_id, field"
        ).fetchall()
    except duckdb.CatalogException:
        return []
    return [RuleNotEvaluated(*row) for row in rows]


def _rank(f: Finding) -> tuple[int, int, str, str]:
    """Severity first, then how much waits on it, then the oldest; ids keep ties stable."""
    return (SEVERITY_RANK.get(f.severity, 9), -f.blast_radius, f.first_seen, f.exception_id)


def _finding(
    r: dict[str, Any],
    subjects: dict[str, Subject],
    people: dict[str, str],
    departments: set[str],
    sources: set[str],
    titles: dict[str, str],
    now: datetime,
    previous_run_at: datetime | None,
) -> Finding:
    depts: list[str | None] = list(r["departments"] or [])
    found = [
        subjects.get(s) or Subject(item_id=s, known=False, label=s.removeprefix("unresolved:"))
        for s in r["subject_ids"]
    ]
    if len(found) >= 2 and any(s.known for s in found):
        # Rules list subjects upstream first; their own departments also place an edge whose
        # one side has none (an unmapped reference), where `departments` drops the gap.
        upstream, downstream = handoff_pair([found[0].department, found[1].department])
    else:
        upstream, downstream = handoff_pair(depts)
    owner = r["owner"]
    owner_kind = None
    owner_name = None
    if owner:
        if owner in people:
            owner_kind, owner_name = "person", people[owner] or owner
        elif owner in departments:
            owner_kind, owner_name = "department", owner
        elif owner in sources:
            owner_kind, owner_name = "source", f"owner of source {owner}"
        else:
            owner_kind, owner_name = "person", owner.removeprefix("name:")
    age = max((now - r["first_seen"]).total_seconds(), 0.0) / 86400
    return Finding(
        exception_id=r["exception_id"],
        rule_id=r["rule_id"],
        rule_title=rule_title(r["rule_id"], titles),
        severity=r["severity"],
        classification=r["classification"],
        status=r["status"],
        message=bounded_message(
            clean_message(
                r["message"],
                {s.item_id: s.label or s.item_id for s in found + _chain(r, subjects) if s.known},
            )
        ),
        explanation=evidence_sentences(_evidence(r["evidence"])),
        owner=owner,
        owner_name=owner_name,
        owner_kind=owner_kind,
        departments=depts,
        upstream_department=upstream,
        downstream_department=downstream,
        handoff_anchor=handoff_anchor(upstream, downstream),
        first_seen=_iso(r["first_seen"]) or "",
        last_seen=_iso(r["last_seen"]) or "",
        age_days=round(age, 2),
        age=_humanise_days(age),
        occurrences=r["occurrences"],
        blast_radius=r["blast_radius"],
        is_new=previous_run_at is None or r["first_seen"] > previous_run_at,
        evidence=_evidence(r["evidence"]),
        subjects=found,
        resolved_at=_iso(r["resolved_at"]),
        waiver_reason=r["waiver_reason"],
        waived_until=_iso(r["waived_until"]),
        waived_by=r["waived_by"],
        waived_at=_iso(r["waived_at"]),
    )


def handoff_pair(departments: list[str | None]) -> tuple[str, str]:
    """(upstream, downstream) department of a finding; one department means within it."""
    names = [d or NO_DEPARTMENT for d in departments]
    if not names:
        return NO_DEPARTMENT, NO_DEPARTMENT
    return names[0], names[1] if len(names) > 1 else names[0]


def handoff_anchor(upstream: str, downstream: str) -> str:
    """A stable HTML id for a department pair (slug for readers, hash for uniqueness)."""
    slug = "--".join(
        re.sub(r"[^a-z0-9]+", "-", d.lower()).strip("-") for d in (upstream, downstream)
    )
    digest = hashlib.sha1(f"{upstream}\x00{downstream}".encode()).hexdigest()[:6]
    return f"handoff-{slug}-{digest}"


def _work(
    con: duckdb.DuckDBPyConnection, people: dict[str, str]
) -> tuple[dict[str, Subject], rc.Graph]:
    """Every live work item as a report subject, and the graph of open work waiting on work."""
    rows = con.execute(
        """SELECT item_id, title, url, tool, source_key, department, status, due_date,
                  owner_id, owner_name, steward_id, is_milestone, is_deleted,
                  coalesce(status_category, 'todo') = 'done' AS done, milestone_id
           FROM work_items"""
    ).fetchall()
    out: dict[str, Subject] = {}
    graph = rc.Graph(items={})
    for (
        item_id, title, url, tool, key, dept, status, due, owner_id, owner_name, steward_id,
        is_milestone, deleted, done, milestone_id,
    ) in rows:  # fmt: skip
        subject = Subject(
            item_id=item_id,
            known=True,
            title=short_title(title, TITLE_CHARS) if title else title,
            url=url,
            tool=tool,
            source_key=key,
            department=dept,
            status=status,
            due_date=_iso(due),
            owner_name=people.get(owner_id or "") or owner_name,
            steward_name=people.get(steward_id or "") or steward_id,
            is_milestone=bool(is_milestone),
            place=file_place(url),
            label=reader_label(key, tool, title),
        )
        out[item_id] = subject
        if not deleted and not done:
            graph.items[item_id] = subject
            if milestone_id and milestone_id != item_id:
                graph.downstream[item_id].add(milestone_id)
    edges = con.execute(
        "SELECT upstream_id, downstream_id FROM dependencies WHERE kind <> 'relates'"
    ).fetchall()
    for up, down in edges:
        if down in graph.items and up != down:
            graph.downstream[up].add(down)
    # roll-ups name milestones that may be done or gone: keep only open ones
    for downs in graph.downstream.values():
        downs.intersection_update(graph.items)
    return out, graph


def _sources(
    con: duckdb.DuckDBPyConnection, open_: list[Finding], now: datetime
) -> list[SourceHealth]:
    latest = _rows(
        con,
        """SELECT * FROM sync_runs
           QUALIFY row_number() OVER (PARTITION BY source ORDER BY started_at DESC) = 1""",
    )
    rejected = dict(
        con.execute("SELECT source, count(*) FROM rejected_records GROUP BY source").fetchall()
    )
    stale_named = {s.item_id for f in open_ if f.rule_id == STALE_SOURCE_RULE for s in f.subjects}
    out = []
    for name in sorted({r["source"] for r in latest} | set(rejected)):
        r = next((x for x in latest if x["source"] == name), None)
        last_ok = r["last_success_at"] if r else None
        if r and last_ok is None and r["status"] == "success":
            last_ok = r["finished_at"]
        failed = bool(r and r["status"] == "failed")
        hours = max((now - last_ok).total_seconds() / 3600, 0.0) if last_ok else None
        out.append(
            SourceHealth(
                source=name,
                status=r["status"] if r else "unknown",
                last_run_at=_iso(r["started_at"]) if r else None,
                last_success_at=_iso(last_ok),
                age_hours=round(hours, 1) if hours is not None else None,
                age=_humanise_days(hours / 24) if hours is not None else None,
                is_failed=failed,
                is_stale=failed or name in stale_named,
                error=r["error"] if r else None,
                items=r["items"] if r else None,
                rejected_rows=int(rejected.get(name, 0)),
            )
        )
    return out


def _headline(
    open_: list[Finding],
    waived: list[Finding],
    resolved: list[Finding],
    sources: list[SourceHealth],
    people: dict[str, str],
) -> Headline:
    counts = SeverityCounts()
    loads: dict[str, OwnerLoad] = {}
    for f in open_:
        counts.add(f.severity)
        key = f.owner or ""
        load = loads.setdefault(key, OwnerLoad(key, f.owner_name or "Nobody routed", 0, 0))
        load.open += 1
        load.fail += f.severity == "fail"
    return Headline(
        open=counts,
        open_total=counts.total,
        new=sum(f.is_new for f in open_),
        resolved=len(resolved),
        planned=sum(f.classification == "planned" for f in open_),
        surprise=sum(f.classification != "planned" for f in open_),
        waived=len(waived),
        will_stall_next_week=sum(f.rule_id == WILL_STALL_RULE for f in open_),
        stale_sources=[s.source for s in sources if s.is_stale],
        failed_sources=[s.source for s in sources if s.is_failed],
        rejected_rows={s.source: s.rejected_rows for s in sources},
        owners=sorted(loads.values(), key=lambda o: (-o.fail, -o.open, o.owner_name)),
    )


def _matrix(open_: list[Finding], departments: list[str]) -> Matrix:
    cells: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in open_:
        pair = (f.upstream_department, f.downstream_department)
        if pair != (NO_DEPARTMENT, NO_DEPARTMENT):
            cells[pair].append(f)
    seen = {d for pair in cells for d in pair}
    names = list(departments) + sorted(seen - set(departments) - {NO_DEPARTMENT})
    if NO_DEPARTMENT in seen:
        names.append(NO_DEPARTMENT)
    out = [
        MatrixCell(
            upstream=up,
            downstream=down,
            count=len(fs),
            worst_severity=fs[0].severity,  # findings are ranked, the first is the worst
            anchor=handoff_anchor(up, down),
        )
        for (up, down), fs in cells.items()
    ]
    out.sort(key=lambda c: (names.index(c.upstream), names.index(c.downstream)))
    return Matrix(departments=names, cells=out, max_count=max((c.count for c in out), default=0))


def _groups(open_: list[Finding]) -> list[HandoffGroup]:
    grouped: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in open_:
        grouped[(f.upstream_department, f.downstream_department)].append(f)
    groups = []
    for (up, down), fs in grouped.items():
        counts = SeverityCounts()
        for f in fs:
            counts.add(f.severity)
        if up == down == NO_DEPARTMENT:
            label = "Not tied to a department"
        elif up == down:
            label = f"Within {up}"
        else:
            label = f"{up} \u2192 {down}"
        groups.append(HandoffGroup(up, down, label, handoff_anchor(up, down), counts, fs))
    groups.sort(
        key=lambda g: (
            _rank(g.findings[0])[0],
            -g.counts.fail,
            -sum(f.blast_radius for f in g.findings),
            -g.counts.total,
            g.label,
        )
    )
    return groups


def _trend(con: duckdb.DuckDBPyConnection, runs: list[dict[str, Any]]) -> list[TrendPoint]:
    """The last runs oldest first, with the root causes open at each (rebuilt from the
    findings' first-seen and resolved times: the run totals count findings only)."""
    if not runs:
        return []
    times = [r["evaluated_at"] for r in runs]
    counts = dict(
        con.execute(
            """SELECT t, count(DISTINCT CASE WHEN rule_id = 'dependency_cycle'
                                        THEN array_to_string(subject_ids, ',')
                                        ELSE subject_ids[1] END)
               FROM exceptions, unnest(?::TIMESTAMP[]) AS u(t)
               WHERE first_seen <= t AND (resolved_at IS NULL OR resolved_at > t)
                 AND status <> 'waived'
               GROUP BY t""",
            [times],
        ).fetchall()
    )
    return [_trend_point(r, int(counts.get(r["evaluated_at"], 0))) for r in reversed(runs)]


def _trend_point(r: dict[str, Any], root_causes: int = 0) -> TrendPoint:
    return TrendPoint(
        root_causes=root_causes,
        run_id=r["run_id"],
        evaluated_at=_iso(r["evaluated_at"]) or "",
        open_fail=r["open_fail"],
        open_warn=r["open_warn"],
        open_info=r["open_info"],
        open_total=r["open_fail"] + r["open_warn"] + r["open_info"],
        new=r["new_count"],
        resolved=r["resolved_count"],
        waived=r["waived_count"],
    )


def _evidence(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _humanise_days(days: float) -> str:
    hours = days * 24
    if hours < 1:
        return "under an hour"
    if hours < 48:
        return f"{int(hours)} h"
    return f"{int(days)} d"


def _utc_naive(moment: datetime) -> datetime:
    """The model stores naive UTC timestamps; compare like with like."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _iso(value: Any) -> str | None:
    """ISO text; times carry their zone (the model's naive times are UTC), dates stay dates."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def _chain(r: dict[str, Any], subjects: dict[str, Subject]) -> list[Subject]:
    """Items of a forecast chain a finding names in its evidence, for readable messages."""
    chain = _evidence(r["evidence"])
    ids = chain.get("chain") if isinstance(chain, dict) else None
    return [subjects[i] for i in ids or [] if isinstance(i, str) and i in subjects]


def _attach_forecasts(
    con: duckdb.DuckDBPyConnection,
    milestones: list[Milestone],
    people: dict[str, str],
    graph: rc.Graph,
) -> None:
    """Each milestone's forecast finish and chain, and the latest status reported for it or
    its project. A model built before forecasts existed simply has none."""
    ids = [m.item.item_id for m in milestones]
    if not ids:
        return
    try:
        forecasts = {
            str(r[0]): r[1:]
            for r in con.execute(
                "SELECT item_id, forecast_finish, slip_days, chain FROM forecasts "
                "WHERE list_contains(?, item_id)",
                [ids],
            ).fetchall()
        }
        reports = {
            str(r[0]): r[1:]
            for r in con.execute(
                """
                SELECT w.item_id,
                       arg_max(r.reported_status, (r.subject_kind = 'item', r.reported_at)),
                       arg_max(r.rag, (r.subject_kind = 'item', r.reported_at)),
                       arg_max(r.reported_at, (r.subject_kind = 'item', r.reported_at)),
                       arg_max(r.reporter, (r.subject_kind = 'item', r.reported_at))
                FROM status_reports r
                JOIN work_items w
                  ON (r.subject_kind = 'item' AND r.subject_id = w.item_id)
                  OR (r.subject_kind = 'project' AND r.source = w.source
                      AND r.project = w.project)
                WHERE list_contains(?, w.item_id)
                GROUP BY w.item_id
                """,
                [ids],
            ).fetchall()
        }
    except duckdb.CatalogException:
        return
    for m in milestones:
        f = forecasts.get(m.item.item_id)
        if f:
            m.forecast_finish = _iso_day(f[0])
            m.slip_days = int(f[1]) if f[1] is not None else None
            m.forecast_chain = [graph.items[i] for i in f[2] or [] if i in graph.items]
        r = reports.get(m.item.item_id)
        if r:
            who = people.get(str(r[3]).lower()) or r[3]
            when = f"{r[2]:%d %b}" if r[2] else ""
            m.reported = ", ".join(
                str(p) for p in (f"{r[0]} ({r[1] or 'unrecognised'})", when, who) if p
            )
            m.reported_rag = r[1]


def _iso_day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
