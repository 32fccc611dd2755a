"""Deterministic generation of Asana organisations of any size for tests, demo and benchmarks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sandbox.asana.org import BUDGET_FIELD, DEPARTMENT_FIELD, JIRA_KEY_FIELD, AsanaOrg

SECTION_SETS = [
    ["To do", "In progress", "Review", "Done"],
    ["Backlog", "Doing", "Blocked", "Done"],
    ["Planned", "In progress", "Done"],
]
DEPARTMENTS = ["Marketing", "IT", "Finance", "Store Ops"]
JIRA_PROJECTS = ["OPS", "IT", "WEB"]
VERBS = ["Draft", "Review", "Launch", "Plan", "Design", "Approve", "Ship", "Brief", "Test"]
NOUNS = [
    "campaign",
    "landing page",
    "budget",
    "store rollout",
    "newsletter",
    "price list",
    "banner",
    "press release",
    "POS update",
    "survey",
]
FIRST = ["Ana", "Ben", "Chloe", "Dev", "Eva", "Farid", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena"]
LAST = ["Lopez", "Smith", "Nguyen", "Okafor", "Berg", "Rossi", "Kim", "Dubois", "Silva"]


def generate_org(
    size: int,
    seed: int,
    *,
    now: datetime | None = None,
    multi_project_share: float = 0.08,
    plan: str = "paid",
) -> AsanaOrg:
    """An org with about `size` tasks (subtasks included), the same for the same arguments.

    Mix: ~15% subtasks, milestones and approvals, department / Jira-key / budget custom fields,
    dependencies (a third across projects), notes that mention Jira keys and browse URLs, and
    stories consistent with each task's current section and completion.

    About `multi_project_share` of the top-level tasks are also members of a second project, in
    a section of their own there, with that membership listed first half of the time (as in
    Asana, where `memberships` order is not the synced project's). 0 keeps every task in one
    project.
    """
    rng = random.Random(seed)
    org = AsanaOrg.empty(now or datetime(2025, 6, 2, 9, 0, tzinfo=UTC), plan=plan)
    now = org.now
    dept_field = org.field_gid(DEPARTMENT_FIELD)
    jira_field = org.field_gid(JIRA_KEY_FIELD)
    budget_field = org.field_gid(BUDGET_FIELD)
    users = [
        org.add_user(f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"user{i}@acme.example")
        for i in range(max(4, min(500, size // 40)))
    ]
    projects = []
    for i in range(max(2, size // 1000)):
        sections = SECTION_SETS[i % len(SECTION_SETS)]
        projects.append(org.add_project(f"{DEPARTMENTS[i % 4]} plan {i + 1}", list(sections)))
    top_level: list[str] = []
    for n in range(size):
        created = now - timedelta(days=180) + timedelta(seconds=rng.randrange(150 * 86400))
        name = f"{rng.choice(VERBS)} {rng.choice(NOUNS)} #{n + 1}"
        if top_level and rng.random() < 0.15:
            parent = rng.choice(top_level[-200:])
            gid = org.add_task(
                name,
                parent=parent,
                created_at=created,
                assignee=rng.choice(users) if rng.random() < 0.7 else None,
            )
            _finish(org, gid, rng, users, now, section_path=None)
            continue
        project = rng.choice(projects)
        path_len = rng.randrange(1, len(org.projects[project].section_gids) + 1)
        path = org.projects[project].section_gids[:path_len]
        kind = rng.random()
        gid = org.add_task(
            name,
            project=project,
            section=path[-1],
            created_at=created,
            milestone=kind < 0.03,
            approval=0.03 <= kind < 0.05,
            assignee=rng.choice(users) if rng.random() < 0.85 else None,
            due_on=(created + timedelta(days=rng.randrange(5, 90))).date()
            if rng.random() < 0.8
            else None,
            start_on=(created + timedelta(days=rng.randrange(0, 5))).date()
            if rng.random() < 0.3
            else None,
        )
        task = org.tasks[gid]
        task.custom_fields[dept_field] = (
            DEPARTMENTS[projects.index(project) % 4]
            if rng.random() < 0.9
            else rng.choice(DEPARTMENTS)
        )
        if rng.random() < 0.1:
            task.custom_fields[jira_field] = f"{rng.choice(JIRA_PROJECTS)}-{rng.randrange(1, 5000)}"
        if rng.random() < 0.3:
            task.custom_fields[budget_field] = float(rng.randrange(1, 500) * 100)
        roll = rng.random()
        key = f"{rng.choice(JIRA_PROJECTS)}-{rng.randrange(1, 5000)}"
        if roll < 0.06:
            task.notes = f"Waiting on IT: blocked by {key} before we can go live."
        elif roll < 0.1:
            task.notes = f"Depends on https://acme.atlassian.net/browse/{key}"
        elif roll < 0.4:
            task.notes = "Brief and assets in the shared drive."
        _finish(org, gid, rng, users, now, section_path=path)
        top_level.append(gid)
    by_project: dict[str, list[str]] = {}
    for gid in top_level:
        by_project.setdefault(org.tasks[gid].memberships[0][0], []).append(gid)
    for gid in top_level:
        if rng.random() < 0.1:
            same = by_project[org.tasks[gid].memberships[0][0]]
            pool = top_level if rng.random() < 0.35 else same[-300:]
            other = rng.choice(pool)
            if other != gid and gid not in org.tasks[other].dependencies:
                org.add_dependency(gid, other)
    _multi_home(org, top_level, projects, multi_project_share, random.Random(seed * 7919 + 1))
    return org


def _multi_home(
    org: AsanaOrg, top_level: list[str], projects: list[str], share: float, rng: random.Random
) -> None:
    """Add a second project membership to about `share` of the top-level tasks (own rng, so
    the rest of the org is the same whatever the share)."""
    if share <= 0 or len(projects) < 2:
        return
    for gid in top_level:
        if rng.random() >= share:
            continue
        home, home_section = org.tasks[gid].memberships[0]
        other = rng.choice([p for p in projects if p != home])
        home_name = org.sections[home_section].name
        sections = [
            s for s in org.projects[other].section_gids if org.sections[s].name != home_name
        ]
        org.add_membership(gid, other, rng.choice(sections), first=rng.random() < 0.5)


def _finish(
    org: AsanaOrg,
    gid: str,
    rng: random.Random,
    users: list[str],
    now: datetime,
    section_path: list[str] | None,
) -> None:
    """Give a task its history: section moves along `section_path`, assignment, due-date
    change, completion; modified_at follows the last story."""
    task = org.tasks[gid]
    moment = task.created_at
    horizon = now - timedelta(hours=1)

    def step() -> datetime:
        nonlocal moment
        moment = min(horizon, moment + timedelta(minutes=rng.randrange(30, 7 * 1440)))
        return moment

    if task.assignee and rng.random() < 0.5:
        org.add_story(gid, "assigned", at=step(), assignee=task.assignee, by=rng.choice(users))
    for old, new in zip(section_path or [], (section_path or [])[1:], strict=False):
        org.add_story(
            gid,
            "section_changed",
            at=step(),
            old_section=old,
            new_section=new,
            by=rng.choice(users),
        )
    if task.due_on and rng.random() < 0.2:
        old_due = task.due_on
        task.due_on = old_due + timedelta(days=rng.randrange(1, 15))
        org.add_story(
            gid, "due_date_changed", at=step(), old_due_on=old_due, new_due_on=task.due_on
        )
    last_section = bool(section_path) and len(section_path or []) == len(
        org.projects[task.memberships[0][0]].section_gids
    )
    if last_section or (section_path is None and rng.random() < 0.4):
        task.completed = True
        task.completed_at = step()
        org.add_story(gid, "marked_complete", at=task.completed_at)
    task.modified_at = max(moment, task.created_at) + timedelta(milliseconds=rng.randrange(1000))
