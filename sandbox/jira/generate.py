"""Deterministic generated Jira organisations of any size (same seed, same org)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from sandbox.jira.org import History, JiraOrg

PROJECT_POOL = [
    ("OPS", "Operations"),
    ("ENG", "Engineering"),
    ("IT", "IT Service"),
    ("SEC", "Security"),
    ("DATA", "Data Platform"),
    ("WEB", "Web"),
    ("APP", "Mobile App"),
    ("NET", "Network"),
    ("PAY", "Payments"),
    ("POS", "Point of Sale"),
]
COMPONENTS = ["Backend", "Frontend", "Infra", "Stores", "Reporting", "Identity"]
LABELS = ["launch", "q3", "store-opening", "compliance", "tech-debt", "customer", "migration"]
DEPARTMENTS = ["IT", "Marketing", "Finance", "Store Ops", "Engineering"]
VERBS = ["Configure", "Migrate", "Roll out", "Review", "Fix", "Build", "Test", "Document"]
NOUNS = ["POS terminals", "payroll export", "VPN", "store Wi-Fi", "price feed", "SSO", "CRM sync"]
# Walks through the workflow; the last state of each path is the issue's current status.
PATHS = [
    ["1"],
    ["1", "3"],
    ["1", "3", "10001"],
    ["1", "3", "10002"],
    ["1", "3", "10001", "10003"],
    ["1", "3", "10003"],
    ["1", "10004"],
]
REMOTE_KINDS = ("asana0", "asana1", "sheet", "wiki")
RELATIONSHIPS = ["blocks", "is blocked by", "depends on", "relates to", "mentioned in", None]


def generate_org(
    size: int, seed: int, *, projects: int | None = None, now: datetime | None = None
) -> JiraOrg:
    """An org with `size` issues: epics, links, remote links and realistic changelogs."""
    rng = random.Random(seed)
    now = now or datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    org = JiraOrg.empty(now)
    n_projects = projects or max(2, min(len(PROJECT_POOL), size // 2000 + 2))
    for key, name in PROJECT_POOL[:n_projects]:
        start = now.date() - timedelta(days=60)
        versions = [(f"{key} {i}.0", start + timedelta(days=45 * i), i == 1) for i in range(1, 4)]
        org.add_project(key, name, components=rng.sample(COMPONENTS, 3), versions=versions)
    for i in range(max(5, size // 25)):
        email = None if i % 5 == 4 else f"user{i}@example.com"
        org.add_user(f"5f{seed:04d}{i:06d}", f"User {i}", email=email)
    users = list(org.users)
    project_keys = list(org.projects)
    epics: dict[str, list[str]] = {key: [] for key in project_keys}
    keys: list[str] = []
    for n in range(size):
        project = org.projects[project_keys[n % len(project_keys)]]
        is_epic = rng.random() < 0.05 or not epics[project.key]
        created = now - timedelta(minutes=rng.randint(60 * 24 * 2, 60 * 24 * 365))
        parent = None
        if not is_epic and rng.random() < 0.6:
            parent = rng.choice(epics[project.key])
        custom: dict[str, object] = {}
        if rng.random() < 0.5:
            custom["customfield_10010"] = rng.choice(DEPARTMENTS)
        if rng.random() < 0.4:
            custom["customfield_10020"] = rng.choice([1, 2, 3, 5, 8])
        issue = org.add_issue(
            None,
            f"{rng.choice(VERBS)} {rng.choice(NOUNS)} #{n}",
            "To Do",
            project=project.key,
            issuetype="Epic" if is_epic else rng.choice(["Story", "Task", "Task", "Bug"]),
            assignee=rng.choice(users) if rng.random() < 0.85 else None,
            due=(created + timedelta(days=rng.randint(7, 120))).date()
            if rng.random() < 0.7
            else None,
            created=created,
            description=_description(rng, keys),
            priority=rng.choice(["High", "Medium", "Medium", "Low"]),
            parent=parent,
            fix_versions=[rng.choice(list(project.versions))] if rng.random() < 0.3 else [],
            labels=rng.sample(LABELS, rng.randint(0, 2)),
            components=rng.sample(list(project.components), rng.randint(0, 1)),
            custom=custom,
        )
        if is_epic:
            epics[project.key].append(issue.key)
        _changelog(org, rng, issue.key, created, users)
        keys.append(issue.key)
    _links(org, rng, keys)
    _remote_links(org, rng, keys)
    org.version = 0
    return org


def _description(rng: random.Random, keys: list[str]) -> str | None:
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.4 and keys:
        return f"Waiting on {rng.choice(keys)} before we can start."
    if roll < 0.45:
        project, task = rng.randint(100, 999), rng.randint(1000, 9999)
        return f"Depends on the Asana task https://app.asana.com/0/1200{project}/1201{task}"
    return "Plain description with no references."


def _changelog(
    org: JiraOrg, rng: random.Random, key: str, created: datetime, users: list[str]
) -> None:
    """Status history along a workflow path; about 1% of issues bounce hundreds of times."""
    path = rng.choice(PATHS)
    if rng.random() < 0.01:
        bounce = ["3", "10002"] * rng.randint(75, 200)
        path = ["1", *bounce, "3"]
    span = (org.now - created).total_seconds() * 0.9
    step = span / max(len(path), 1)
    at = created
    for previous, current in itertools.pairwise(path):
        at = at + timedelta(seconds=rng.uniform(0.2, 1.0) * step)
        org.add_status_change(key, previous, current, at=at, author=rng.choice(users))
        if rng.random() < 0.15:  # an unrelated field change in the history
            issue = org.issues[key]
            at = at + timedelta(seconds=30)
            issue.histories.append(
                History(
                    org.next_id("history"), at, None, [("priority", "3", "Medium", "2", "High")]
                )
            )
            issue.updated = max(issue.updated, at)


def _links(org: JiraOrg, rng: random.Random, keys: list[str]) -> None:
    types = ["Blocks"] * 4 + ["Dependency"] * 3 + ["Relates"] * 2 + ["Cloners"]
    for _ in range(int(len(keys) * 0.3)):
        a, b = rng.sample(keys, 2) if len(keys) > 1 else (keys[0], keys[0])
        if a != b:
            org.add_link(rng.choice(types), a, b)


def _remote_links(org: JiraOrg, rng: random.Random, keys: list[str]) -> None:
    for key in keys:
        if rng.random() >= 0.1:
            continue
        for _ in range(rng.randint(1, 2)):
            kind = rng.choice(REMOTE_KINDS)
            project, task = rng.randint(1200000, 1200999), rng.randint(1201000000, 1201999999)
            if kind == "asana0":
                url, app = f"https://app.asana.com/0/{project}/{task}", "Asana"
            elif kind == "asana1":
                url, app = f"https://app.asana.com/1/1100/project/{project}/task/{task}", "Asana"
            elif kind == "sheet":
                sheet, row = rng.randint(10, 99), rng.randint(2, 400)
                url = f"https://docs.google.com/spreadsheets/d/1plan{sheet}/edit#gid=0&range=A{row}"
                app = "Google Sheets"
            else:
                url, app = f"https://wiki.example.com/pages/{task}", None
            issue = org.issues[key]
            org.add_remote_link(
                key,
                url,
                title=f"{app or 'Page'} {task}",
                relationship=rng.choice(RELATIONSHIPS),
                application=app,
                at=issue.created + timedelta(minutes=1),  # linked when filed: no later update
            )
