"""The Jira organisation a sandbox serves: plain dataclasses plus a small builder API.

Build one by hand for a story-driven demo::

    org = JiraOrg.empty(now)
    org.add_project("OPS", "Operations")
    org.add_user("ana", "Ana Lima", email="ana@example.com")
    org.add_issue("OPS-1", "Order POS terminals", "In Progress", assignee="ana", due=date(...))
    org.add_link("Blocks", "OPS-1", "OPS-2")          # OPS-1 blocks OPS-2
    org.add_remote_link("OPS-2", "https://app.asana.com/0/1/2", relationship="is blocked by")
    org.add_status_change("OPS-1", "To Do", "In Progress", at=...)

or generate one of any size with `sandbox.jira.generate.generate_org`.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

CATEGORIES = ("new", "indeterminate", "done")
LINK_TYPES = {  # name -> (id, inward, outward)
    "Blocks": ("10000", "is blocked by", "blocks"),
    "Cloners": ("10001", "is cloned by", "clones"),
    "Dependency": ("10002", "is depended on by", "depends on"),
    "Relates": ("10003", "relates to", "relates to"),
}
ISSUE_TYPES = {  # name -> (id, hierarchy level)
    "Epic": ("10000", 1),
    "Story": ("10001", 0),
    "Task": ("10002", 0),
    "Bug": ("10003", 0),
    "Sub-task": ("10004", -1),
}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
DEFAULT_STATUSES = (
    ("1", "To Do", "new"),
    ("3", "In Progress", "indeterminate"),
    ("10001", "In Review", "indeterminate"),
    ("10002", "Blocked", "indeterminate"),
    ("10003", "Done", "done"),
    ("10004", "Won't Do", "done"),
)
CUSTOM_FIELDS = {  # id -> (name, schema type)
    "customfield_10010": ("Department", "option"),
    "customfield_10020": ("Story Points", "number"),
    "customfield_10030": ("Health", "option"),  # a RAG select some teams report status in
}


@dataclass(slots=True)
class User:
    account_id: str
    display_name: str
    email: str | None  # None: hidden by the user's privacy settings
    name: str  # Data Center user name


@dataclass(slots=True)
class Status:
    id: str
    name: str
    category: str  # new | indeterminate | done


@dataclass(slots=True)
class Version:
    id: str
    name: str
    release_date: date | None = None
    released: bool = False


@dataclass(slots=True)
class Project:
    id: str
    key: str
    name: str
    components: dict[str, str] = field(default_factory=dict)  # name -> id
    versions: dict[str, Version] = field(default_factory=dict)  # name -> version
    next_number: int = 1


@dataclass(slots=True)
class History:
    """One changelog entry; `items` are (field, from id, from string, to id, to string)."""

    id: str
    at: datetime
    author: str | None
    items: list[tuple[str, str | None, str | None, str | None, str | None]]


@dataclass(slots=True)
class Link:
    id: str
    type_name: str
    outward_key: str  # reads "<outward_key> <outward phrase> <inward_key>"
    inward_key: str


@dataclass(slots=True)
class RemoteLink:
    id: int
    issue_key: str
    url: str
    title: str
    relationship: str | None = None
    application: str | None = None
    resolved: bool = False


@dataclass(slots=True)
class Issue:
    id: str
    key: str
    project: str
    summary: str
    issuetype: str
    status: str  # status id
    created: datetime
    updated: datetime
    description: str | None = None
    assignee: str | None = None  # account id
    priority: str = "Medium"
    duedate: date | None = None
    resolutiondate: datetime | None = None
    parent: str | None = None  # parent issue key (an epic for stories/tasks)
    fix_versions: list[str] = field(default_factory=list)  # version names
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    custom: dict[str, object] = field(default_factory=dict)  # field id -> value
    histories: list[History] = field(default_factory=list)


@dataclass
class JiraOrg:
    """Everything a Jira site holds that the connector reads; `version` bumps on each change."""

    now: datetime
    projects: dict[str, Project] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    statuses: dict[str, Status] = field(default_factory=dict)
    issues: dict[str, Issue] = field(default_factory=dict)  # key -> issue, insertion order
    links: dict[str, Link] = field(default_factory=dict)
    remote_links: dict[str, list[RemoteLink]] = field(default_factory=dict)  # issue key ->
    version: int = 0
    _ids: dict[str, int] = field(default_factory=dict)
    _links_by_issue: dict[str, list[str]] = field(default_factory=dict)

    # -- building --------------------------------------------------------------------------
    @classmethod
    def empty(cls, now: datetime | None = None) -> JiraOrg:
        """An org with the default statuses and no projects, users or issues."""
        org = cls(now=_aware(now or datetime.now(UTC)))
        for status_id, name, category in DEFAULT_STATUSES:
            org.statuses[status_id] = Status(status_id, name, category)
        return org

    def next_id(self, kind: str, start: int = 10000) -> str:
        value = self._ids.get(kind, start) + 1
        self._ids[kind] = value
        return str(value)

    def add_project(
        self,
        key: str,
        name: str,
        *,
        components: Sequence[str] = (),
        versions: Sequence[tuple[str, date | None, bool]] = (),
    ) -> Project:
        """Add a project with its components and (name, release date, released) versions."""
        project = Project(self.next_id("project"), key, name)
        for component in components:
            project.components[component] = self.next_id("component")
        for version_name, release, released in versions:
            project.versions[version_name] = Version(
                self.next_id("version"), version_name, release, released
            )
        self.projects[key] = project
        self.version += 1
        return project

    def add_user(self, account_id: str, display_name: str, *, email: str | None = None) -> User:
        """Add a user; leave `email` None to model a hidden e-mail address."""
        user = User(account_id, display_name, email, account_id)
        self.users[account_id] = user
        return user

    def status_id(self, name_or_id: str) -> str:
        if name_or_id in self.statuses:
            return name_or_id
        for status in self.statuses.values():
            if status.name.lower() == name_or_id.lower():
                return status.id
        raise KeyError(f"unknown status {name_or_id!r}")

    def add_issue(
        self,
        key: str | None,
        summary: str,
        status: str = "To Do",
        *,
        project: str | None = None,
        issuetype: str = "Task",
        assignee: str | None = None,
        due: date | None = None,
        created: datetime | None = None,
        updated: datetime | None = None,
        description: str | None = None,
        priority: str = "Medium",
        parent: str | None = None,
        fix_versions: list[str] | None = None,
        labels: list[str] | None = None,
        components: list[str] | None = None,
        custom: dict[str, object] | None = None,
    ) -> Issue:
        """Add an issue (key None: next number in `project`); a done status sets resolution."""
        project_key = project or (key.rsplit("-", 1)[0] if key else None)
        if project_key is None or project_key not in self.projects:
            raise KeyError(f"unknown project for issue {key!r}")
        proj = self.projects[project_key]
        if key is None:
            key = f"{project_key}-{proj.next_number}"
        proj.next_number = max(proj.next_number, int(key.rsplit("-", 1)[1]) + 1)
        created = _aware(created or self.now - timedelta(days=30))
        status_id = self.status_id(status)
        issue = Issue(
            id=self.next_id("issue"),
            key=key,
            project=project_key,
            summary=summary,
            issuetype=issuetype,
            status=status_id,
            created=created,
            updated=_aware(updated or created),
            description=description,
            assignee=assignee,
            priority=priority,
            duedate=due,
            parent=parent,
            fix_versions=list(fix_versions or []),
            labels=list(labels or []),
            components=list(components or []),
            custom=dict(custom or {}),
        )
        if self.statuses[status_id].category == "done":
            issue.resolutiondate = issue.updated
        self.issues[key] = issue
        self.version += 1
        return issue

    def add_link(
        self, type_name: str, outward_key: str, inward_key: str, *, at: datetime | None = None
    ) -> Link:
        """Link two issues: `add_link("Blocks", "A-1", "B-2")` reads "A-1 blocks B-2".

        With `at`, like Jira, it writes a `Link` item into both issues' history at that time
        ("This issue blocks B-2" / "This issue is blocked by A-1")."""
        if type_name not in LINK_TYPES:
            raise KeyError(f"unknown link type {type_name!r}")
        if at is not None:
            _, inward, outward = LINK_TYPES[type_name]
            text_out = f"This issue {outward} {inward_key}"
            text_in = f"This issue {inward} {outward_key}"
            self._record(outward_key, ("Link", None, None, inward_key, text_out), at, None)
            self._record(inward_key, ("Link", None, None, outward_key, text_in), at, None)
        link = Link(self.next_id("link"), type_name, outward_key, inward_key)
        self.links[link.id] = link
        self._links_by_issue.setdefault(outward_key, []).append(link.id)
        self._links_by_issue.setdefault(inward_key, []).append(link.id)
        self.version += 1
        return link

    def links_of(self, key: str) -> list[Link]:
        return [self.links[i] for i in self._links_by_issue.get(key, ()) if i in self.links]

    def add_remote_link(
        self,
        issue_key: str,
        url: str,
        *,
        title: str | None = None,
        relationship: str | None = None,
        application: str | None = None,
        at: datetime | None = None,
        author: str | None = None,
    ) -> RemoteLink:
        """Attach a remote link (an Asana task, a sheet row, a wiki page) to an issue.

        Like Jira, this writes a `RemoteIssueLink` item into the issue's history.
        """
        link = RemoteLink(
            int(self.next_id("remotelink")), issue_key, url, title or url, relationship, application
        )
        self.remote_links.setdefault(issue_key, []).append(link)
        text = f'This issue links to "{link.title}"'
        self._record(issue_key, ("RemoteIssueLink", None, None, str(link.id), text), at, author)
        self.version += 1
        return link

    def remove_remote_link(
        self, issue_key: str, link_id: int, *, at: datetime | None = None, author: str | None = None
    ) -> None:
        """Delete a remote link; the history item keeps its id and title as `from`."""
        links = self.remote_links.get(issue_key, [])
        link = next(x for x in links if x.id == link_id)
        links.remove(link)
        text = f'This issue links to "{link.title}"'
        self._record(issue_key, ("RemoteIssueLink", str(link.id), text, None, None), at, author)
        self.version += 1

    def _record(
        self,
        key: str,
        item: tuple[str, str | None, str | None, str | None, str | None],
        at: datetime | None,
        author: str | None,
    ) -> None:
        """Insert one history entry in time order; a change now also moves `updated`."""
        issue = self.issues[key]
        when = _aware(at or self.now)
        history = History(self.next_id("history"), when, author, [item])
        times = [h.at for h in issue.histories]
        issue.histories.insert(bisect.bisect_right(times, when), history)
        issue.updated = max(issue.updated, when)

    def change_due(self, key: str, due: date | None, *, at: datetime | None = None) -> None:
        """Move an issue's due date, with the `duedate` item Jira writes into its history."""
        issue = self.issues[key]
        old = issue.duedate.isoformat() if issue.duedate else None
        new = due.isoformat() if due else None
        self._record(key, ("duedate", old, old, new, new), at, None)
        issue.duedate = due
        self.version += 1

    def add_status_change(
        self,
        key: str,
        from_status: str,
        to_status: str,
        *,
        at: datetime | None = None,
        author: str | None = None,
        set_current: bool = True,
    ) -> History:
        """Record a status transition in the changelog (and make it current by default)."""
        issue = self.issues[key]
        from_id, to_id = self.status_id(from_status), self.status_id(to_status)
        at = _aware(at or self.now)
        history = History(
            self.next_id("history"),
            at,
            author,
            [("status", from_id, self.statuses[from_id].name, to_id, self.statuses[to_id].name)],
        )
        issue.histories.append(history)
        if set_current:
            issue.status = to_id
            issue.updated = max(issue.updated, at)
            done = self.statuses[to_id].category == "done"
            issue.resolutiondate = at if done else None
        self.version += 1
        return history

    # -- mutating (tests and benchmarks) --------------------------------------------------
    def touch(self, keys: list[str] | tuple[str, ...], now: datetime | None = None) -> None:
        """Update each issue: move it to the next status, with a changelog entry, at `now`."""
        at = _aware(now or datetime.now(UTC))
        cycle = list(self.statuses)
        for key in keys:
            issue = self.issues[key]
            nxt = cycle[(cycle.index(issue.status) + 1) % len(cycle)]
            self.add_status_change(key, issue.status, nxt, at=at)
            issue.updated = at

    def delete(self, keys: list[str] | tuple[str, ...]) -> None:
        """Delete issues together with their links and remote links."""
        for key in keys:
            self.issues.pop(key, None)
            self.remote_links.pop(key, None)
            for link_id in self._links_by_issue.pop(key, []):
                self.links.pop(link_id, None)
        self.version += 1

    def mutate_share(self, share: float, seed: int, now: datetime | None = None) -> list[str]:
        """Touch a deterministic share of the issues; returns the changed keys."""
        rng = random.Random(seed)
        keys = list(self.issues)
        count = max(1, round(len(keys) * share))
        changed = sorted(rng.sample(keys, min(count, len(keys))))
        self.touch(changed, now)
        return changed


def _aware(value: datetime) -> datetime:
    """Timestamps are stored in UTC, millisecond precision, as the API reports them."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
