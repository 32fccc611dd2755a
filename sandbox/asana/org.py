"""An Asana organisation in memory: what the Asana sandbox serves, built by hand or generated.

The builder methods (`empty`, `add_user`, `add_project`, `add_section`, `add_task`,
`add_dependency`, `add_story`) let a demo tell a story with a handful of tasks; `generate_org`
(sandbox.asana.generate) builds large ones. Mutators (`touch`, `touch_subtask_only`, `delete`,
`mutate_share`) change the org the way users do between two syncs and record events, so the
events endpoint can report them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

GID_BASE = 1_200_000_000_000_000

DEPARTMENT_FIELD = "Department"
JIRA_KEY_FIELD = "Jira key"
BUDGET_FIELD = "Budget"


@dataclass
class User:
    gid: str
    name: str
    email: str


@dataclass
class Section:
    gid: str
    name: str
    project_gid: str


@dataclass
class Project:
    gid: str
    name: str
    created_at: datetime
    modified_at: datetime
    section_gids: list[str] = field(default_factory=list)


@dataclass
class CustomFieldDef:
    """A workspace custom field; `enum_options` maps option name -> option gid."""

    gid: str
    name: str
    type: str  # "enum" | "text" | "number"
    enum_options: dict[str, str] = field(default_factory=dict)


@dataclass
class Story:
    """A system story on a task; `details` holds subtype fields (old_section, new_dates, ...)."""

    gid: str
    task_gid: str
    created_at: datetime
    resource_subtype: str
    text: str
    created_by: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    gid: str
    name: str
    created_at: datetime
    modified_at: datetime
    resource_subtype: str = "default_task"  # default_task | milestone | approval
    completed: bool = False
    completed_at: datetime | None = None
    due_on: date | None = None
    start_on: date | None = None
    assignee: str | None = None  # user gid
    notes: str = ""
    memberships: list[tuple[str, str]] = field(default_factory=list)  # (project, section)
    parent: str | None = None
    subtasks: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)  # field gid -> value
    story_gids: list[str] = field(default_factory=list)
    approval_status: str | None = None


@dataclass
class Event:
    """One change, as the events endpoint reports it to subscribers of `project_gids`."""

    seq: int
    created_at: datetime
    action: str  # changed | added | removed | deleted
    resource_gid: str
    resource_subtype: str
    resource_name: str
    project_gids: tuple[str, ...]
    parent_gid: str | None = None
    resource_type: str = "task"  # also story, section... as on a real project's feed


def iso(moment: datetime) -> str:
    """Asana's timestamp form: UTC with milliseconds and a Z."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass
class StatusUpdate:
    """A project status update: what the project's owner reports (on_track, at_risk...)."""

    gid: str
    parent_gid: str
    created_at: datetime
    status_type: str  # on_track | at_risk | off_track | on_hold | complete | achieved ...
    title: str
    text: str = ""
    author: str | None = None  # user gid


@dataclass
class AsanaOrg:
    """One workspace with its users, projects, sections, tasks, stories and change events."""

    now: datetime
    workspace_gid: str = ""
    workspace_name: str = "Acme"
    users: dict[str, User] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    stories: dict[str, Story] = field(default_factory=dict)
    custom_field_defs: dict[str, CustomFieldDef] = field(default_factory=dict)
    status_updates: dict[str, StatusUpdate] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    plan: str = "paid"  # "free" workspaces lack premium features such as dependencies
    version: int = 0  # bumped on every change; the server uses it to drop cached renderings
    _next_gid: int = GID_BASE

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def empty(
        cls, now: datetime | None = None, *, workspace: str = "Acme", plan: str = "paid"
    ) -> AsanaOrg:
        """An org with a workspace and the three standard custom fields, nothing else.

        `plan="free"` makes a workspace without premium features (dependencies answer 402).
        """
        if plan not in {"free", "paid"}:
            raise ValueError(f"plan must be 'free' or 'paid', not {plan!r}")
        org = cls(
            now=now or datetime(2025, 6, 2, 9, 0, tzinfo=UTC), workspace_name=workspace, plan=plan
        )
        org.workspace_gid = org.new_gid()
        org.add_custom_field(DEPARTMENT_FIELD, "enum", ["Marketing", "IT", "Finance", "Store Ops"])
        org.add_custom_field(JIRA_KEY_FIELD, "text")
        org.add_custom_field(BUDGET_FIELD, "number")
        return org

    def new_gid(self) -> str:
        self._next_gid += 1
        return str(self._next_gid)

    def add_custom_field(self, name: str, type_: str, options: list[str] | None = None) -> str:
        gid = self.new_gid()
        opts = {o: self.new_gid() for o in options or []}
        self.custom_field_defs[gid] = CustomFieldDef(gid, name, type_, opts)
        return gid

    def field_gid(self, name: str) -> str:
        return next(g for g, f in self.custom_field_defs.items() if f.name == name)

    def add_user(self, name: str, email: str) -> str:
        gid = self.new_gid()
        self.users[gid] = User(gid, name, email)
        return gid

    def add_project(self, name: str, sections: list[str] | None = None) -> str:
        """A project with its sections (default: To do / In progress / Done)."""
        gid = self.new_gid()
        self.projects[gid] = Project(gid, name, self.now - timedelta(days=90), self.now)
        for section in sections if sections is not None else ["To do", "In progress", "Done"]:
            self.add_section(gid, section)
        return gid

    def add_section(self, project: str, name: str) -> str:
        gid = self.new_gid()
        self.sections[gid] = Section(gid, name, project)
        self.projects[project].section_gids.append(gid)
        return gid

    def section_named(self, project: str, name: str) -> str:
        for gid in self.projects[project].section_gids:
            if self.sections[gid].name.lower() == name.lower():
                return gid
        raise KeyError(f"project {project} has no section {name!r}")

    def add_task(
        self,
        name: str,
        *,
        project: str | None = None,
        section: str | None = None,
        assignee: str | None = None,
        due_on: date | None = None,
        start_on: date | None = None,
        milestone: bool = False,
        approval: bool = False,
        notes: str = "",
        custom_fields: dict[str, Any] | None = None,
        parent: str | None = None,
        completed: bool = False,
        created_at: datetime | None = None,
        modified_at: datetime | None = None,
    ) -> str:
        """Add a task (in `project`/`section`, a section gid or name) or a subtask of `parent`.

        `custom_fields` is keyed by field name ("Department", "Jira key", "Budget"); enum values
        are option names.
        """
        gid = self.new_gid()
        created = created_at or self.now - timedelta(days=30)
        task = Task(
            gid=gid,
            name=name,
            created_at=created,
            modified_at=modified_at or created,
            resource_subtype="milestone"
            if milestone
            else "approval"
            if approval
            else "default_task",
            due_on=due_on,
            start_on=start_on,
            assignee=assignee,
            notes=notes,
            parent=parent,
            approval_status="pending" if approval else None,
        )
        if project is not None:
            sec = section or self.projects[project].section_gids[0]
            if sec not in self.sections:
                sec = self.section_named(project, sec)
            task.memberships.append((project, sec))
        for fname, value in (custom_fields or {}).items():
            task.custom_fields[self.field_gid(fname)] = value
        if completed:
            task.completed, task.completed_at = True, task.modified_at
        self.tasks[gid] = task
        if parent is not None:
            self.tasks[parent].subtasks.append(gid)
        self.version += 1
        return gid

    def add_membership(self, task: str, project: str, section: str, *, first: bool = False) -> None:
        """Put a task in another project too (Asana's multi-homing), in `section` (gid or name).

        `first=True` lists the new membership before the others: Asana's order of `memberships`
        says nothing about which project a client is syncing.
        """
        if section not in self.sections:
            section = self.section_named(project, section)
        memberships = self.tasks[task].memberships
        if any(p == project for p, _ in memberships):
            raise ValueError(f"task {task} is already in project {project}")
        memberships.insert(0 if first else len(memberships), (project, section))
        self.version += 1

    def add_dependency(self, task: str, depends_on: str) -> None:
        """`task` is blocked by `depends_on`: a dependency of one, a dependent of the other."""
        if depends_on not in self.tasks[task].dependencies:
            self.tasks[task].dependencies.append(depends_on)
            self.tasks[depends_on].dependents.append(task)
            self.version += 1

    def add_story(
        self,
        task: str,
        subtype: str,
        *,
        at: datetime | None = None,
        by: str | None = None,
        old_section: str | None = None,
        new_section: str | None = None,
        old_due_on: date | None = None,
        new_due_on: date | None = None,
        assignee: str | None = None,
        text: str | None = None,
    ) -> str:
        """Record a system story (section_changed, marked_complete, marked_incomplete,
        due_date_changed, assigned) on a task; sections are gids."""
        gid = self.new_gid()
        details: dict[str, Any] = {}
        if subtype == "section_changed":
            details = {"old_section": old_section, "new_section": new_section}
            old = self.sections[old_section].name if old_section else "?"
            new = self.sections[new_section].name if new_section else "?"
            text = text or f'moved this task from "{old}" to "{new}"'
        elif subtype == "due_date_changed":
            details = {"old_due_on": old_due_on, "new_due_on": new_due_on}
            text = text or f"changed the due date to {new_due_on}"
        elif subtype == "assigned":
            details = {"assignee": assignee}
            who = self.users[assignee].name if assignee else "nobody"
            text = text or f"assigned to {who}"
        elif subtype == "marked_complete":
            text = text or "marked this task complete"
        elif subtype == "marked_incomplete":
            text = text or "marked this task incomplete"
        story = Story(gid, task, at or self.now, subtype, text or subtype, by, details)
        self.stories[gid] = story
        self.tasks[task].story_gids.append(gid)
        self.version += 1
        return gid

    def add_status_update(
        self,
        project: str,
        status_type: str,
        title: str,
        *,
        text: str = "",
        by: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """Post a status update on a project, as its owner does from the project's Overview."""
        gid = self.new_gid()
        self.status_updates[gid] = StatusUpdate(
            gid, project, at or self.now, status_type, title, text, by
        )
        self.version += 1
        return gid

    # -- queries -----------------------------------------------------------------------------
    def root_of(self, gid: str) -> Task:
        task = self.tasks[gid]
        while task.parent is not None and task.parent in self.tasks:
            task = self.tasks[task.parent]
        return task

    def project_tasks(self, project: str) -> list[Task]:
        """Top-level tasks of a project in creation order (Asana: priority order)."""
        return [t for t in self.tasks.values() if any(p == project for p, _ in t.memberships)]

    def all_subtask_gids(self) -> set[str]:
        return {g for g, t in self.tasks.items() if t.parent is not None}

    # -- mutation ----------------------------------------------------------------------------
    def _event(self, task: Task, action: str, now: datetime) -> None:
        root = self.root_of(task.gid)
        self.events.append(
            Event(
                seq=len(self.events) + 1,
                created_at=now,
                action=action,
                resource_gid=task.gid,
                resource_subtype=task.resource_subtype,
                resource_name=task.name,
                project_gids=tuple(p for p, _ in root.memberships),
                parent_gid=task.parent,
            )
        )

    def touch(self, gids: list[str], now: datetime) -> None:
        """Mark tasks modified at `now` (a rename-like change), with an event each."""
        for gid in gids:
            task = self.tasks[gid]
            task.modified_at = now
            task.name = task.name.split(" (rev")[0] + f" (rev {now:%H%M%S})"
            self._event(task, "changed", now)
        self.version += 1

    def touch_subtask_only(self, gid: str, now: datetime) -> None:
        """Change a subtask; like Asana, its parent's modified_at stays as it was."""
        task = self.tasks[gid]
        assert task.parent is not None, f"{gid} is not a subtask"
        task.modified_at = now
        task.completed = not task.completed
        task.completed_at = now if task.completed else None
        self.add_story(gid, "marked_complete" if task.completed else "marked_incomplete", at=now)
        self._event(task, "changed", now)
        self.version += 1

    def move_section(self, gid: str, section: str, now: datetime) -> None:
        """Move a task to another section of that section's project (a status change with a
        story); its memberships in other projects stay as they were."""
        task = self.tasks[gid]
        project = self.sections[section].project_gid
        index = next(i for i, (p, _) in enumerate(task.memberships) if p == project)
        old = task.memberships[index][1]
        task.memberships[index] = (project, section)
        task.modified_at = now
        self.add_story(gid, "section_changed", at=now, old_section=old, new_section=section)
        self._event(task, "changed", now)
        self.version += 1

    def delete(self, gids: list[str], now: datetime | None = None) -> None:
        """Delete tasks and, as Asana does, their subtasks; dependency links go with them."""
        now = now or self.now
        stack = list(gids)
        while stack:
            gid = stack.pop()
            task = self.tasks.get(gid)
            if task is None:
                continue
            stack.extend(task.subtasks)
            self._event(task, "deleted", now)
            for other in task.dependencies:
                if other in self.tasks:
                    self.tasks[other].dependents.remove(gid)
            for other in task.dependents:
                if other in self.tasks:
                    self.tasks[other].dependencies.remove(gid)
            if task.parent in self.tasks:
                self.tasks[task.parent].subtasks.remove(gid)
            for story in task.story_gids:
                self.stories.pop(story, None)
            del self.tasks[gid]
        self.version += 1

    def mutate_share(
        self, share: float, seed: int, now: datetime | None = None
    ) -> dict[str, list[str]]:
        """Change about `share` of the tasks like a working day does: section moves, renames, one
        subtask-only change and one deletion. Returns the gids by kind of change."""
        now = now or self.now + timedelta(days=1)
        rng = random.Random(seed)
        top = sorted(g for g, t in self.tasks.items() if t.parent is None and t.memberships)
        subs = sorted(self.all_subtask_gids())
        count = max(1, int(len(self.tasks) * share))
        picked = rng.sample(top, min(count, len(top)))
        deleted = picked[:1]
        moved = picked[1 : 1 + len(picked) // 2]
        renamed = picked[1 + len(picked) // 2 :]
        for gid in moved:
            task = self.tasks[gid]
            project = task.memberships[0][0]
            options = [
                s for s in self.projects[project].section_gids if s != task.memberships[0][1]
            ]
            self.move_section(gid, rng.choice(options), now)
        self.touch(renamed, now)
        sub_changed = [g for g in subs if self.tasks[g].parent not in deleted][:1]
        for gid in sub_changed:
            self.touch_subtask_only(gid, now)
        self.delete(deleted, now)
        return {"moved": moved, "renamed": renamed, "subtask": sub_changed, "deleted": deleted}
