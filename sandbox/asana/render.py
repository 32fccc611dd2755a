"""Asana's JSON shapes for the org's objects, and `opt_fields` selection (nested paths)."""

from __future__ import annotations

from typing import Any

from sandbox.asana.org import AsanaOrg, Event, Story, Task, iso

APP_URL = "https://app.asana.com"
FieldTree = dict[str, "FieldTree"]
COMPACT_KEYS = ("gid", "resource_type", "name", "resource_subtype")
TASK_COMPACT = ("gid", "resource_type", "name", "resource_subtype")
STATUS_UPDATE_COMPACT = ("gid", "resource_type", "title", "resource_subtype")
STORY_COMPACT = ("gid", "resource_type", "created_at", "created_by", "resource_subtype", "text")


def field_tree(opt_fields: list[str]) -> FieldTree:
    """`["assignee.email", "memberships.section.name"]` -> nested dict of requested keys."""
    tree: FieldTree = {}
    for path in opt_fields:
        node = tree
        for part in path.strip().split("."):
            node = node.setdefault(part, {})
    return tree


def select(obj: dict[str, Any], tree: FieldTree | None, compact: tuple[str, ...]) -> dict[str, Any]:
    """Asana's selection: without opt_fields the compact keys; with them gid plus what was asked."""
    if not tree:
        return {k: obj[k] for k in compact if k in obj}
    out: dict[str, Any] = {"gid": obj["gid"]} if "gid" in obj else {}
    for key, sub in tree.items():
        if key in obj:
            out[key] = _value(obj[key], sub)
    return out


def _value(value: Any, sub: FieldTree) -> Any:
    if isinstance(value, list):
        return [_value(v, sub) for v in value]
    if isinstance(value, dict):
        if sub:
            return select(value, sub, COMPACT_KEYS)
        if value.get("resource_type") == "custom_field":
            return value
        return {k: value[k] for k in COMPACT_KEYS if k in value}
    return value


def user_json(org: AsanaOrg, gid: str | None) -> dict[str, Any] | None:
    if gid is None or gid not in org.users:
        return None
    user = org.users[gid]
    return {"gid": gid, "resource_type": "user", "name": user.name, "email": user.email}


def workspace_json(org: AsanaOrg) -> dict[str, Any]:
    return {"gid": org.workspace_gid, "resource_type": "workspace", "name": org.workspace_name}


def project_json(org: AsanaOrg, gid: str) -> dict[str, Any]:
    project = org.projects[gid]
    return {
        "gid": gid,
        "resource_type": "project",
        "name": project.name,
        "archived": False,
        "created_at": iso(project.created_at),
        "modified_at": iso(project.modified_at),
        "workspace": workspace_json(org),
        "permalink_url": f"{APP_URL}/0/{gid}/list",
    }


def section_json(org: AsanaOrg, gid: str) -> dict[str, Any]:
    section = org.sections[gid]
    project = org.projects[section.project_gid]
    return {
        "gid": gid,
        "resource_type": "section",
        "name": section.name,
        "created_at": iso(project.created_at),
        "project": {"gid": project.gid, "resource_type": "project", "name": project.name},
    }


def _ref(gid: str) -> dict[str, Any]:
    return {"gid": gid, "resource_type": "task"}


def custom_field_values(org: AsanaOrg, task: Task) -> list[dict[str, Any]]:
    """Every workspace field appears on every task in a project, set or not (as in Asana)."""
    out = []
    for gid, definition in org.custom_field_defs.items():
        value = task.custom_fields.get(gid)
        entry: dict[str, Any] = {
            "gid": gid,
            "resource_type": "custom_field",
            "name": definition.name,
            "type": definition.type,
            "resource_subtype": definition.type,
            "display_value": None,
        }
        if definition.type == "enum":
            entry["enum_value"] = (
                {
                    "gid": definition.enum_options[value],
                    "resource_type": "enum_option",
                    "name": value,
                    "enabled": True,
                    "color": "blue",
                }
                if value is not None
                else None
            )
            entry["display_value"] = value
        elif definition.type == "text":
            entry["text_value"] = value
            entry["display_value"] = value
        elif definition.type == "number":
            entry["number_value"] = value
            entry["display_value"] = None if value is None else f"{value:g}"
        out.append(entry)
    return out


def task_json(org: AsanaOrg, task: Task) -> dict[str, Any]:
    """The full task; list endpoints select from it with opt_fields."""
    parent = org.tasks.get(task.parent) if task.parent else None
    home = task.memberships[0][0] if task.memberships else "0"
    memberships = []
    for project_gid, section_gid in task.memberships:
        project = org.projects[project_gid]
        section = org.sections[section_gid]
        memberships.append(
            {
                "project": {"gid": project_gid, "resource_type": "project", "name": project.name},
                "section": {"gid": section_gid, "resource_type": "section", "name": section.name},
            }
        )
    data: dict[str, Any] = {
        "gid": task.gid,
        "resource_type": "task",
        "name": task.name,
        "resource_subtype": task.resource_subtype,
        "completed": task.completed,
        "completed_at": iso(task.completed_at) if task.completed_at else None,
        "created_at": iso(task.created_at),
        "modified_at": iso(task.modified_at),
        "due_on": task.due_on.isoformat() if task.due_on else None,
        "due_at": None,
        "start_on": task.start_on.isoformat() if task.start_on else None,
        "start_at": None,
        "notes": task.notes,
        "assignee": user_json(org, task.assignee),
        "memberships": memberships,
        "projects": [m["project"] for m in memberships],
        "parent": (
            {
                "gid": parent.gid,
                "resource_type": "task",
                "name": parent.name,
                "resource_subtype": parent.resource_subtype,
            }
            if parent
            else None
        ),
        "dependencies": [_ref(g) for g in task.dependencies],
        "dependents": [_ref(g) for g in task.dependents],
        "num_subtasks": len(task.subtasks),
        "custom_fields": custom_field_values(org, task) if task.memberships else [],
        "tags": [],
        "workspace": workspace_json(org),
        "permalink_url": f"{APP_URL}/0/{home}/{task.gid}",
    }
    if task.approval_status:
        data["approval_status"] = task.approval_status
    return data


def story_json(org: AsanaOrg, story: Story) -> dict[str, Any]:
    data: dict[str, Any] = {
        "gid": story.gid,
        "resource_type": "story",
        "created_at": iso(story.created_at),
        "resource_subtype": story.resource_subtype,
        "text": story.text,
        "type": "comment" if story.resource_subtype == "comment_added" else "system",
        "target": {"gid": story.task_gid, "resource_type": "task"},
    }
    creator = user_json(org, story.created_by)
    if creator is not None:  # system stories without an actor carry no created_by
        data["created_by"] = creator
    d = story.details
    if story.resource_subtype == "section_changed":
        for key in ("old_section", "new_section"):
            gid = d.get(key)
            data[key] = (
                {"gid": gid, "resource_type": "section", "name": org.sections[gid].name}
                if gid in org.sections
                else None
            )
    elif story.resource_subtype == "due_date_changed":
        for key, attr in (("old_dates", "old_due_on"), ("new_dates", "new_due_on")):
            due = d.get(attr)
            data[key] = {
                "start_on": None,
                "due_at": None,
                "due_on": due.isoformat() if due else None,
            }
    elif story.resource_subtype == "assigned":
        data["assignee"] = user_json(org, d.get("assignee"))
    return data


def status_update_json(org: AsanaOrg, gid: str) -> dict[str, Any]:
    update = org.status_updates[gid]
    project = org.projects[update.parent_gid]
    data: dict[str, Any] = {
        "gid": update.gid,
        "resource_type": "status_update",
        "resource_subtype": "project_status_update",
        "title": update.title,
        "text": update.text,
        "html_text": f"<body>{update.text}</body>",
        "status_type": update.status_type,
        "created_at": iso(update.created_at),
        "modified_at": iso(update.created_at),
        "parent": {"gid": project.gid, "resource_type": "project", "name": project.name},
    }
    author = user_json(org, update.author)
    if author is not None:
        data["author"] = author
        data["created_by"] = author
    return data


def event_json(org: AsanaOrg, event: Event, type_field: bool = True) -> dict[str, Any]:
    """An event; `type` is deprecated in favour of `resource.resource_type` (kept unless
    `type_field` is False)."""
    parent = (
        {
            "gid": event.parent_gid,
            "resource_type": "task",
            "name": org.tasks[event.parent_gid].name if event.parent_gid in org.tasks else "",
        }
        if event.parent_gid
        else None
    )
    data: dict[str, Any] = {
        "resource": {
            "gid": event.resource_gid,
            "resource_type": event.resource_type,
            "name": event.resource_name,
            "resource_subtype": event.resource_subtype,
        },
        "action": event.action,
        "created_at": iso(event.created_at),
    }
    if type_field:
        data["type"] = event.resource_type
    if parent is not None:
        data["parent"] = parent
    if event.action == "changed":
        data["change"] = {"field": "modified_at", "action": "changed"}
    return data
