"""Gathers the leaders' report from the published DuckDB model (read-only, set-based queries)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from rules.report.titles import rule_title, rule_titles
from rules.report.types import (
    NO_DEPARTMENT,
    Finding,
    HandoffGroup,
    Headline,
    Matrix,
    MatrixCell,
    OwnerLoad,
    ReportData,
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


def gather(db_path: Path, *, now: datetime | None = None) -> ReportData:
    """Read the published model at `db_path` and return the report's content.

    The database is opened read-only so a report never competes with the pipeline's writer.
    `now` fixes the clock for ages (UTC; naive values are taken as UTC).
    """
    clock = _utc_naive(now or datetime.now(UTC))
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return _gather(con, clock)
    finally:
        con.close()


def _gather(con: duckdb.DuckDBPyConnection, now: datetime) -> ReportData:
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
    subjects = _subjects(con, raw, people)
    titles = rule_titles()
    findings = [
        _finding(r, subjects, people, set(departments), source_names, titles, now, previous_run_at)
        for r in raw
    ]
    findings.sort(key=_rank)

    open_ = [f for f in findings if f.status == "open"]
    waived = sorted(
        (f for f in findings if f.status == "waived"),
        key=lambda f: (f.waived_until or "9999", *_rank(f)),
    )
    resolved = [f for f in findings if f.status == "resolved"]
    sources = _sources(con, open_, now)
    return ReportData(
        title="Handoff report",
        generated_at=_iso(now) or "",
        model_built_at=_iso(_scalar(con, "SELECT max(built_at) FROM schema_info")),
        model_run_id=_scalar(con, "SELECT arg_max(run_id, built_at) FROM schema_info"),
        last_run_at=_iso(last_run_at),
        previous_run_at=_iso(previous_run_at),
        headline=_headline(open_, waived, resolved, sources, people),
        next_week=[f for f in open_ if f.rule_id == WILL_STALL_RULE],
        matrix=_matrix(open_, departments),
        handoffs=_groups(open_),
        trend=[_trend_point(r) for r in reversed(runs[:TREND_RUNS])],
        waived=waived,
        resolved=resolved,
        sources=sources,
        rules_not_evaluated=_rules_not_evaluated(con),
    )


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
    found = [subjects.get(s) or Subject(item_id=s, known=False) for s in r["subject_ids"]]
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
        message=r["message"],
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


def _subjects(
    con: duckdb.DuckDBPyConnection, raw: list[dict[str, Any]], people: dict[str, str]
) -> dict[str, Subject]:
    ids = sorted({s for r in raw for s in r["subject_ids"]})
    if not ids:
        return {}
    rows = _rows(
        con,
        """SELECT item_id, title, url, tool, source_key, department, status, due_date,
                  owner_id, owner_name, steward_id, is_milestone
           FROM work_items WHERE item_id IN (SELECT unnest(?::VARCHAR[]))""",
        [ids],
    )
    out: dict[str, Subject] = {}
    for w in rows:
        out[w["item_id"]] = Subject(
            item_id=w["item_id"],
            known=True,
            title=w["title"],
            url=w["url"],
            tool=w["tool"],
            source_key=w["source_key"],
            department=w["department"],
            status=w["status"],
            due_date=_iso(w["due_date"]),
            owner_name=people.get(w["owner_id"] or "") or w["owner_name"],
            steward_name=people.get(w["steward_id"] or "") or w["steward_id"],
            is_milestone=bool(w["is_milestone"]),
        )
    return out


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
        out.append(
            SourceHealth(
                source=name,
                status=r["status"] if r else "unknown",
                last_run_at=_iso(r["started_at"]) if r else None,
                last_success_at=_iso(last_ok),
                age_hours=round((now - last_ok).total_seconds() / 3600, 1) if last_ok else None,
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


def _trend_point(r: dict[str, Any]) -> TrendPoint:
    return TrendPoint(
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
    if value is None:
        return None
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
