"""One department's page: its root causes, milestones, people and findings, nothing else."""

from __future__ import annotations

from dataclasses import replace

from rules.report.types import ReportData


def for_department(data: ReportData, name: str) -> ReportData:
    """The report narrowed to `name`: root causes it provides or waits on, its milestones, and
    the actions that follow. An unknown name is an error naming the departments there are."""
    known = [d.name for d in data.departments]
    if name not in known:
        raise ValueError(
            f"no department named {name!r} in the report; known: {', '.join(known) or 'none'}"
        )
    roots = [
        r
        for r in data.root_causes
        if r.department == name or any(b.item.department == name for b in r.blocks)
    ]
    kept = {r.anchor for r in roots}
    milestones = [
        m
        for m in data.milestones
        if m.item.department == name or any(a in kept for a in m.root_causes)
    ]
    actions = []
    for person in data.actions:
        mine = [a for a in person.actions if a.root_cause in kept]
        if mine:
            actions.append(replace(person, actions=mine))
    in_dept = lambda f: name in (f.upstream_department, f.downstream_department)  # noqa: E731
    handoffs = [g for g in data.handoffs if name in (g.upstream, g.downstream)]
    changes = data.changes and replace(data.changes, new=[a for a in data.changes.new if a in kept])
    return replace(
        data,
        department=name,
        root_causes=roots,
        milestones=milestones,
        actions=actions,
        departments=[d for d in data.departments if d.name == name],
        handoffs=handoffs,
        next_week=[f for f in data.next_week if in_dept(f)],
        waived=[f for f in data.waived if in_dept(f)],
        resolved=[f for f in data.resolved if in_dept(f)],
        changes=changes,
    )
