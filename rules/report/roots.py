"""Root causes first: open findings grouped by the upstream item (or cycle, or unmapped
reference, or source) that causes them, and what follows from them for milestones, people
and departments.

Six rules seeing one stalled item are one problem for a leader, with one owner and one date.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from rules.report.plain import day
from rules.report.types import (
    NO_DEPARTMENT,
    Action,
    ActionList,
    BlockedItem,
    Changes,
    DepartmentSummary,
    Finding,
    Milestone,
    RootCause,
    RuleAdvice,
    Subject,
)

SEVERITY_RANK = {"fail": 0, "warn": 1, "info": 2}
MAX_BLOCKS_LISTED = 40
MAX_CHAINS = 3
CYCLE_RULE = "dependency_cycle"
# what a rule says about the root cause's item, in the order a leader should hear it
PHRASES = {
    "stalled_dependency": "has had no status change for {days_idle} days",
    "will_stall_next_week": "will hold up work needed by {needed_by}",
    "overdue_upstream": "was due {upstream_due_date}",
    "dependency_cycle": "wait on each other in a loop, so none can finish first",
    "unmapped_dependency": "is referenced by open work but found in no synced tool",
    "due_date_inversion": "is due {upstream_due_date}, after the work that needs it "
    "({downstream_due_date})",
    "done_with_open_blockers": "is still open though work waiting on it is marked done",
    "unowned_handoff": "has no owner though another department waits on it",
    "blocked_but_moving": "blocks work that has gone ahead anyway",
    "contract_notice_breach": "was asked for with less notice than the contract needs",
    "milestone_without_steward": "is a milestone with no steward",
    "stale_source": "has not synced successfully recently, so its items may be out of date",
    "kpi_tension_unreconciled": "sits between departments whose KPIs pull apart, with no contract",
    "uncontracted_handoff": "is handed to another department without a contract",
}
PHRASE_ORDER = list(PHRASES)


@dataclass
class Graph:
    """Open work and who waits on whom: dependencies plus items rolling up to milestones."""

    items: dict[str, Subject]
    downstream: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def closure(self, starts: Iterable[str]) -> dict[str, int]:
        """Every open item waiting on `starts`, with its distance."""
        seen: dict[str, int] = {}
        queue = deque((s, 0) for s in starts)
        origin = set(seen) | {s for s, _ in queue}
        while queue:
            node, depth = queue.popleft()
            for nxt in self.downstream.get(node, ()):
                if nxt not in seen and nxt not in origin:
                    seen[nxt] = depth + 1
                    queue.append((nxt, depth + 1))
        return seen

    def path(self, start: str, goal: str) -> list[str]:
        """A shortest chain from `start` down to `goal` (empty when none)."""
        parent: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == goal:
                chain = []
                cur: str | None = node
                while cur is not None:
                    chain.append(cur)
                    cur = parent[cur]
                return chain[::-1]
            for nxt in self.downstream.get(node, ()):
                if nxt not in parent:
                    parent[nxt] = node
                    queue.append(nxt)
        return []


def anchor(prefix: str, key: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:40]
    return f"{prefix}-{slug}-{hashlib.sha1(key.encode()).hexdigest()[:6]}"


def root_key(f: Finding) -> str:
    ids = [s.item_id for s in f.subjects]
    if f.rule_id == CYCLE_RULE:
        return "cycle:" + ",".join(ids)
    return ids[0] if ids else f"finding:{f.exception_id}"


def _rank(r: RootCause) -> tuple[int, int, int, str]:
    days = r.days_left if r.days_left is not None else 10**6
    return (SEVERITY_RANK.get(r.severity, 9), -r.blast_radius, days, r.key)


def build_root_causes(
    open_: list[Finding],
    graph: Graph,
    today: date,
    stewards: dict[str, str],
    previous_run_at: str | None,
    advice: dict[str, str],
) -> list[RootCause]:
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for f in open_:
        grouped[root_key(f)].append(f)
    roots = []
    for key, findings in grouped.items():
        root = _root(key, findings, graph, today, stewards, advice)
        root.is_new = previous_run_at is None or root.first_seen > previous_run_at
        for f in findings:
            f.root_cause = root.anchor
        roots.append(root)
    roots.sort(key=_rank)
    return roots


def _root(
    key: str,
    findings: list[Finding],
    graph: Graph,
    today: date,
    stewards: dict[str, str],
    advice: dict[str, str],
) -> RootCause:
    findings.sort(key=lambda f: (SEVERITY_RANK.get(f.severity, 9), f.rule_id, f.exception_id))
    first = findings[0]
    cycle: list[Subject] = []
    if key.startswith("cycle:"):
        kind = "cycle"
        cycle = list(first.subjects)
        subject = cycle[0]
        starts = [s.item_id for s in cycle]
    elif key.startswith("unresolved:"):
        kind = "unmapped"
        reference = str((first.evidence or {}).get("reference") or key.removeprefix("unresolved:"))
        subject = Subject(item_id=key, known=False, label=reference, title=None)
        starts = [key]
    elif first.subjects and first.subjects[0].known:
        kind = "item"
        subject = first.subjects[0]
        starts = [key]
    else:
        kind = "source" if first.rule_id == "stale_source" else "unmapped"
        subject = first.subjects[0] if first.subjects else Subject(item_id=key, known=False)
        subject.label = subject.label or subject.item_id
        starts = [key]
    reach = graph.closure(starts)
    # findings name waiting items the graph may not hold (a rule of the user's own)
    for f in findings:
        for s in f.subjects[1:]:
            if s.known and s.item_id not in reach and s.item_id not in starts:
                reach[s.item_id] = 1
    blocked = sorted(
        (BlockedItem(graph.items[i], d) for i, d in reach.items() if i in graph.items),
        key=lambda b: (b.depth, b.item.due_date or "9999", b.item.item_id),
    )
    dues = [b.item.due_date for b in blocked if b.item.due_date]
    must = min(dues) if dues else subject.due_date
    milestones = [b.item for b in blocked if b.item.is_milestone]
    if subject.is_milestone:
        milestones.insert(0, subject)
    department = subject.department or next(
        (d for f in findings for d in f.departments if d), NO_DEPARTMENT
    )
    owner, owner_kind = _owner(subject, kind, findings, stewards, department)
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_rule[f.rule_id].append(f)
    rules = [
        RuleAdvice(
            rule_id=rule_id,
            rule_title=fs[0].rule_title,
            severity=fs[0].severity,
            findings=len(fs),
            advice=advice.get(rule_id, ""),
        )
        for rule_id, fs in by_rule.items()
    ]
    rules.sort(key=lambda r: (SEVERITY_RANK.get(r.severity, 9), r.rule_id))
    return RootCause(
        key=key,
        anchor=anchor("rc", key),
        kind=kind,
        subject=subject,
        cycle=cycle,
        summary=_summary(kind, subject, cycle, by_rule),
        severity=first.severity,
        owner=owner,
        owner_kind=owner_kind,
        department=department,
        must_move_by=must,
        days_left=(date.fromisoformat(must[:10]) - today).days if must else None,
        blast_radius=max([len(reach)] + [f.blast_radius for f in findings]),
        blocks=blocked[:MAX_BLOCKS_LISTED],
        milestones=[anchor("ms", m.item_id) for m in milestones],
        rules=rules,
        is_new=False,
        first_seen=min(f.first_seen for f in findings),
        findings=findings,
    )


def _owner(
    subject: Subject,
    kind: str,
    findings: list[Finding],
    stewards: dict[str, str],
    department: str,
) -> tuple[str, str]:
    """Who must act: the root item's owner, else the person most findings route to, else the
    department's steward from the config, else the department."""
    if kind in ("item", "cycle") and subject.owner_name:
        return subject.owner_name, "person"
    people = Counter(
        f.owner_name for f in findings if f.owner_kind in ("person", "source") and f.owner_name
    )
    if people:
        return people.most_common(1)[0][0], "person"
    if department in stewards:
        return stewards[department], "person"
    if department != NO_DEPARTMENT:
        return department, "department"
    return "Nobody routed", "nobody"


def _summary(
    kind: str, subject: Subject, cycle: list[Subject], by_rule: dict[str, list[Finding]]
) -> str:
    if kind == "cycle":
        who = ", ".join(f"\u201c{s.title or s.label}\u201d" for s in cycle[:4])
        return f"{len(cycle)} items ({who}) " + PHRASES[CYCLE_RULE]
    if kind == "source":
        who = f"Source {subject.label}"
    elif kind == "unmapped":
        who = f"\u201c{subject.label}\u201d"
    else:
        who = f"\u201c{subject.title or subject.label}\u201d"
    phrases = []
    for rule_id in sorted(
        by_rule, key=lambda r: PHRASE_ORDER.index(r) if r in PHRASE_ORDER else 99
    ):
        phrase = _phrase(rule_id, by_rule[rule_id])
        if phrase and phrase not in phrases:
            phrases.append(phrase)
        if len(phrases) == 2:
            break
    return f"{who} " + " and ".join(phrases)


def _phrase(rule_id: str, findings: list[Finding]) -> str:
    template = PHRASES.get(rule_id)
    if template is None:
        return f"is flagged by \u201c{findings[0].rule_title}\u201d"
    if "{" not in template:
        return template
    # the finding that says the most: the longest idle, the earliest need, the widest gap
    values: dict[str, str] = {}
    for f in findings:
        e = f.evidence if isinstance(f.evidence, dict) else {}
        for k, v in e.items():
            if v is None:
                continue
            if k in ("needed_by", "downstream_due_date"):
                values[k] = min(values.get(k, "9999"), str(v))
            elif k == "days_idle":
                values[k] = str(max(int(values.get(k, "0")), int(v)))
            else:
                values.setdefault(k, str(v))
    fields = re.findall(r"{(\w+)}", template)
    if not all(k in values for k in fields):
        return f"is flagged by \u201c{findings[0].rule_title}\u201d"
    shown = {k: day(v) if ("due" in k or k == "needed_by") else v for k, v in values.items()}
    return template.format(**{k: shown[k] for k in fields})


def build_milestones(
    roots: list[RootCause], graph: Graph, today: date, max_chains: int = MAX_CHAINS
) -> list[Milestone]:
    by_anchor: dict[str, list[RootCause]] = defaultdict(list)
    for r in roots:
        for a in r.milestones:
            by_anchor[a].append(r)
    out = []
    for m in graph.items.values():
        if not m.is_milestone:
            continue
        a = anchor("ms", m.item_id)
        feeding = by_anchor.get(a, [])
        status, reason = _status(m, feeding, today)
        chains: list[list[Subject]] = []
        if status != "on track":
            for r in feeding[:max_chains]:
                starts = [s.item_id for s in r.cycle] or [r.key]
                ids = graph.path(starts[0], m.item_id) if r.key != m.item_id else [m.item_id]
                chain = [graph.items.get(i) or r.subject for i in ids]
                if chain:
                    chains.append(chain)
        out.append(
            Milestone(
                anchor=a,
                item=m,
                steward=m.steward_name,
                due_date=m.due_date,
                status=status,
                reason=reason,
                root_causes=[r.anchor for r in feeding],
                chains=chains,
            )
        )
    order = {"off track": 0, "at risk": 1, "on track": 2}
    rank = {r.anchor: i for i, r in enumerate(roots)}
    out.sort(
        key=lambda m: (
            order[m.status],
            min((rank[a] for a in m.root_causes), default=len(rank)),
            m.due_date or "9999",
            m.item.item_id,
        )
    )
    return out


def _status(m: Subject, feeding: list[RootCause], today: date) -> tuple[str, str]:
    serious = [r for r in feeding if r.severity in ("fail", "warn")]
    if m.due_date and date.fromisoformat(m.due_date[:10]) < today:
        return "off track", f"It was due {day(m.due_date)} and is not done."
    late = [r for r in serious if r.days_left is not None and r.days_left < 0]
    if late:
        r = late[0]
        return "off track", (
            f"{r.summary}; it had to move by {day(r.must_move_by)}, which has passed."
        )
    if serious:
        r = serious[0]
        more = len(serious) - 1
        tail = f" ({more} more root cause{'s' if more != 1 else ''} below)" if more else ""
        when = f" by {day(r.must_move_by)}" if r.must_move_by else ""
        return "at risk", f"{r.summary}; {r.owner} must move it{when}{tail}."
    if feeding:
        return "on track", (
            f"Nothing threatens its date; {len(feeding)} note{'s' if len(feeding) != 1 else ''} "
            "on how work reaches it."
        )
    return "on track", "No open problem feeds it."


def owner_advice(r: RootCause) -> str:
    """What the person who must act is asked to do: the worst rule routed to them."""
    mine = next((f for f in r.findings if f.owner_name == r.owner), r.findings[0])
    return next((x.advice for x in r.rules if x.rule_id == mine.rule_id and x.advice), "")


def build_actions(roots: list[RootCause], stewards: dict[str, str]) -> list[ActionList]:
    """One action per person (or department) and root cause: the worst rule routed to them."""
    lists: dict[str, ActionList] = {}
    for r in roots:
        mine: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for f in r.findings:
            who, kind = _actor(f, stewards)
            mine[(who, kind)].append(f)
        if (r.owner, r.owner_kind) not in mine and r.owner_kind != "nobody":
            mine[(r.owner, r.owner_kind)] = list(r.findings)
        for (who, kind), fs in mine.items():
            worst = fs[0]
            advice = next((x.advice for x in r.rules if x.rule_id == worst.rule_id), "")
            item = next((s for s in worst.subjects if s.owner_name == who), r.subject)
            holds = ""
            if r.milestones:
                holds = f" It holds up {len(r.milestones)} milestone" + (
                    "s." if len(r.milestones) != 1 else "."
                )
            elif r.blast_radius:
                holds = f" {r.blast_radius} open item{'s wait' if r.blast_radius != 1 else ' waits'} on it."
            action = Action(
                what=advice or worst.rule_title,
                why=r.summary + "." + holds,
                by_when=r.must_move_by,
                item=item,
                severity=worst.severity,
                root_cause=r.anchor,
            )
            dept = next((d for d, s in stewards.items() if s == who), None)
            entry = lists.setdefault(
                who, ActionList(who, kind, anchor("who", who), dept or None, [], 0)
            )
            entry.actions.append(action)
            entry.fail += worst.severity == "fail"
    for entry in lists.values():
        entry.actions.sort(
            key=lambda a: (SEVERITY_RANK.get(a.severity, 9), a.by_when or "9999", a.root_cause)
        )
    return sorted(
        lists.values(),
        key=lambda e: (
            e.kind == "nobody",
            -e.fail,
            min((a.by_when or "9999" for a in e.actions), default="9999"),
            -len(e.actions),
            e.name,
        ),
    )


def _actor(f: Finding, stewards: dict[str, str]) -> tuple[str, str]:
    if f.owner_kind == "department" and f.owner_name:
        steward = stewards.get(f.owner_name)
        return (steward, "person") if steward else (f.owner_name, "department")
    if f.owner_name:
        return f.owner_name, "person"
    return "Nobody routed", "nobody"


def build_departments(
    roots: list[RootCause], names: list[str], stewards: dict[str, str]
) -> list[DepartmentSummary]:
    grouped: dict[str, list[RootCause]] = defaultdict(list)
    for r in roots:
        grouped[r.department].append(r)
    order = list(names) + sorted(set(grouped) - set(names))
    out = []
    for name in order:
        rs = grouped.get(name, [])
        if not rs and name not in names:
            continue
        out.append(
            DepartmentSummary(
                name=name,
                anchor=anchor("dept", name),
                steward=stewards.get(name),
                root_causes=[r.anchor for r in rs],
                fail=sum(r.severity == "fail" for r in rs),
                warn=sum(r.severity == "warn" for r in rs),
                info=sum(r.severity == "info" for r in rs),
            )
        )
    return out


def build_changes(
    roots: list[RootCause],
    resolved: list[Finding],
    open_: list[Finding],
    previous_run_at: str | None,
) -> Changes:
    open_keys = {root_key(f) for f in open_}
    gone: dict[str, list[Finding]] = defaultdict(list)
    for f in resolved:
        key = root_key(f)
        if key not in open_keys:
            gone[key].append(f)
    resolved_text = []
    for key, fs in gone.items():
        s = fs[0].subjects[0] if fs[0].subjects else None
        what = (s.title or s.label or s.item_id) if s else key
        rules = ", ".join(sorted({f.rule_title for f in fs}))
        resolved_text.append(f"\u201c{what}\u201d no longer has an open finding ({rules}).")
    return Changes(
        first_run=previous_run_at is None,
        new=[r.anchor for r in roots if r.is_new],
        resolved=sorted(resolved_text),
        new_findings=sum(f.is_new for f in open_),
        resolved_findings=len(resolved),
    )
