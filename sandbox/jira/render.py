"""Renders org objects as Jira's REST JSON (IssueBean, users, statuses, changelogs).

`Renderer` knows the site's base URL, API version (3: rich text as ADF, 2: plain text) and
deployment (Cloud users carry accountId; Data Center users carry name/key).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.jira.org import (
    CUSTOM_FIELDS,
    ISSUE_TYPES,
    LINK_TYPES,
    PRIORITIES,
    History,
    Issue,
    JiraOrg,
    RemoteLink,
)

CATEGORY = {  # key -> (id, name, color)
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
SYSTEM_FIELDS = [
    "summary",
    "description",
    "status",
    "assignee",
    "duedate",
    "created",
    "updated",
    "resolutiondate",
    "issuetype",
    "priority",
    "project",
    "parent",
    "fixVersions",
    "labels",
    "components",
    "issuelinks",
    "reporter",
    "resolution",
]
ALL_FIELDS = SYSTEM_FIELDS + list(CUSTOM_FIELDS)
# Data Center links a story to its epic through Jira Software's "Epic Link" custom field; its id
# differs per instance, so clients must find it by schema type in `GET /field`.
EPIC_LINK_FIELD = "customfield_10101"
EPIC_LINK_TYPE = "com.pyxis.greenhopper.jira:gh-epic-link"
ISSUE_KEY = re.compile(r"\b([A-Z][A-Z0-9_]+-\d+)\b")


def jira_time(value: datetime) -> str:
    """`2025-01-10T09:15:00.000+0000`, the format of every Jira timestamp."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document (v3 rich text)."""
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def wiki(text: str, base: str, projects: Collection[str]) -> str:
    """Plain text as Data Center stores it: wiki markup, mentions of the site's issues as
    `[KEY|url]` links (as written: deleting the issue later does not change the text)."""

    def link(match: re.Match[str]) -> str:
        key = match.group(1)
        return f"[{key}|{base}/browse/{key}]" if key.rsplit("-", 1)[0] in projects else key

    body = ISSUE_KEY.sub(link, text)
    return f"h2. Details\n*Note:* {body}"


def wanted_fields(
    requested: list[str], *, default: list[str], extra: tuple[str, ...] = ()
) -> list[str]:
    """Resolve `fields` (`*all`, `*navigable`, ids, `-x` exclusions) to the fields to render."""
    if not requested:
        requested = default
    every = ALL_FIELDS + list(extra)
    out: list[str] = []
    for name in requested:
        if name in ("*all", "*navigable"):
            out.extend(f for f in every if f not in out)
        elif not name.startswith("-") and name in every and name not in out:
            out.append(name)
    excluded = {name[1:] for name in requested if name.startswith("-")}
    return [f for f in out if f not in excluded]


@dataclass
class Renderer:
    org: JiraOrg
    base: str
    api: str = "3"
    cloud: bool = True
    time_zone: str = "America/New_York"
    dc_shapes: bool = True  # False: Data Center rendered with Cloud's shapes (legacy tests)

    @property
    def cloud_shapes(self) -> bool:
        return self.cloud or not self.dc_shapes

    def url(self, path: str) -> str:
        return f"{self.base}/rest/api/{self.api}/{path}"

    def user(self, account_id: str | None, *, null_email: bool = True) -> dict[str, Any] | None:
        """A user; a hidden e-mail is null in issue fields and left out elsewhere."""
        if account_id is None or account_id not in self.org.users:
            return None
        user = self.org.users[account_id]
        who = f"accountId={user.account_id}" if self.cloud else f"username={user.name}"
        out: dict[str, Any] = {
            "self": self.url(f"user?{who}"),
            "displayName": user.display_name,
            "active": True,
            "timeZone": self.time_zone,
        }
        if user.email is not None or null_email:
            out["emailAddress"] = user.email
        if self.cloud:
            out.update(accountId=user.account_id, accountType="atlassian")
        else:
            out.update(name=user.name, key=user.name)
        return out

    def status(self, status_id: str) -> dict[str, Any]:
        status = self.org.statuses[status_id]
        cat_id, cat_name, color = CATEGORY[status.category]
        return {
            "self": self.url(f"status/{status.id}"),
            "description": "",
            "iconUrl": f"{self.base}/images/icons/status.png",
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": self.url(f"statuscategory/{cat_id}"),
                "id": cat_id,
                "key": status.category,
                "colorName": color,
                "name": cat_name,
            },
        }

    def issuetype(self, name: str) -> dict[str, Any]:
        type_id, level = ISSUE_TYPES[name]
        out: dict[str, Any] = {
            "self": self.url(f"issuetype/{type_id}"),
            "id": type_id,
            "description": "",
            "iconUrl": f"{self.base}/images/icons/{name.lower()}.svg",
            "name": name,
            "subtask": level < 0,
        }
        if self.cloud_shapes:  # Data Center has no issue type hierarchy
            out["hierarchyLevel"] = level
        return out

    def priority(self, name: str) -> dict[str, Any]:
        pid = PRIORITIES.get(name, "3")
        return {"self": self.url(f"priority/{pid}"), "iconUrl": "", "name": name, "id": pid}

    def project(self, key: str) -> dict[str, Any]:
        project = self.org.projects[key]
        return {
            "self": self.url(f"project/{project.id}"),
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
        }

    def issue_ref(self, issue: Issue) -> dict[str, Any]:
        """The short form of an issue inside a link or a parent field."""
        return {
            "id": issue.id,
            "key": issue.key,
            "self": self.url(f"issue/{issue.id}"),
            "fields": {
                "summary": issue.summary,
                "status": self.status(issue.status),
                "priority": self.priority(issue.priority),
                "issuetype": self.issuetype(issue.issuetype),
            },
        }

    def field_value(self, issue: Issue, name: str) -> tuple[bool, Any]:
        """(present, value) of one field; `parent` is absent when the issue has none."""
        if name == "summary":
            return True, issue.summary
        if name == "description":
            if issue.description is None:
                return True, None
            if not self.cloud_shapes:
                return True, wiki(issue.description, self.base, self.org.projects)
            return True, adf(issue.description) if self.api == "3" else issue.description
        if name == "status":
            return True, self.status(issue.status)
        if name == "assignee":
            return True, self.user(issue.assignee)
        if name == "reporter":
            return True, None
        if name == "resolution":
            return True, {"id": "1", "name": "Done"} if issue.resolutiondate else None
        if name == "duedate":
            return True, issue.duedate.isoformat() if issue.duedate else None
        if name in ("created", "updated"):
            return True, jira_time(getattr(issue, name))
        if name == "resolutiondate":
            return True, jira_time(issue.resolutiondate) if issue.resolutiondate else None
        if name == "issuetype":
            return True, self.issuetype(issue.issuetype)
        if name == "priority":
            return True, self.priority(issue.priority)
        if name == "project":
            return True, self.project(issue.project)
        if name == "parent":
            parent = self.org.issues.get(issue.parent) if issue.parent else None
            if parent and (self.cloud_shapes or ISSUE_TYPES[issue.issuetype][1] < 0):
                return True, self.issue_ref(parent)
            return False, None  # Data Center: only sub-tasks have a parent
        if name == EPIC_LINK_FIELD and not self.cloud:
            parent = self.org.issues.get(issue.parent) if issue.parent else None
            if parent and parent.issuetype == "Epic" and ISSUE_TYPES[issue.issuetype][1] >= 0:
                return True, parent.key
            return True, None
        if name == "fixVersions":
            versions = self.org.projects[issue.project].versions
            return True, [self.version(versions[v].id, v) for v in issue.fix_versions]
        if name == "labels":
            return True, list(issue.labels)
        if name == "components":
            comps = self.org.projects[issue.project].components
            return True, [
                {"self": self.url(f"component/{comps[c]}"), "id": comps[c], "name": c}
                for c in issue.components
            ]
        if name == "issuelinks":
            return True, self.issuelinks(issue)
        if name in CUSTOM_FIELDS:
            return True, self.custom(name, issue.custom.get(name))
        return False, None

    def version(self, version_id: str, name: str) -> dict[str, Any]:
        for project in self.org.projects.values():
            version = project.versions.get(name)
            if version and version.id == version_id:
                return {
                    "self": self.url(f"version/{version.id}"),
                    "id": version.id,
                    "name": version.name,
                    "description": "",
                    "archived": False,
                    "released": version.released,
                    **(
                        {"releaseDate": version.release_date.isoformat()}
                        if version.release_date
                        else {}
                    ),
                }
        raise KeyError(version_id)

    def custom(self, field_id: str, value: object) -> Any:
        if value is None:
            return None
        if CUSTOM_FIELDS[field_id][1] == "option":
            option_id = str(zlib.crc32(str(value).encode()) % 100000)
            return {
                "self": self.url(f"customFieldOption/{option_id}"),
                "value": value,
                "id": option_id,
            }
        return value

    def issuelinks(self, issue: Issue) -> list[dict[str, Any]]:
        out = []
        for link in self.org.links_of(issue.key):
            type_id, inward, outward = LINK_TYPES[link.type_name]
            link_type = {
                "id": type_id,
                "name": link.type_name,
                "inward": inward,
                "outward": outward,
                "self": self.url(f"issueLinkType/{type_id}"),
            }
            entry: dict[str, Any] = {
                "id": link.id,
                "self": self.url(f"issueLink/{link.id}"),
                "type": link_type,
            }
            if link.outward_key == issue.key:
                other = self.org.issues.get(link.inward_key)
                if other is None:
                    continue
                entry["outwardIssue"] = self.issue_ref(other)
            else:
                other = self.org.issues.get(link.outward_key)
                if other is None:
                    continue
                entry["inwardIssue"] = self.issue_ref(other)
            out.append(entry)
        return out

    def history(self, history: History, *, field_ids: set[str] | None = None) -> dict[str, Any]:
        items = [
            {
                "field": f,
                "fieldtype": "jira",
                "fieldId": f,
                "from": a,
                "fromString": b,
                "to": c,
                "toString": d,
            }
            for f, a, b, c, d in history.items
            if field_ids is None or f in field_ids
        ]
        out: dict[str, Any] = {"id": history.id, "created": jira_time(history.at), "items": items}
        author = self.user(history.author, null_email=False)
        if author:
            out["author"] = author
        return out

    def issue(
        self,
        issue: Issue,
        fields: list[str],
        *,
        changelog: bool = False,
        changelog_limit: int | None = 100,
    ) -> dict[str, Any]:
        """An IssueBean with the given fields; ids only when `fields` is empty."""
        out: dict[str, Any] = {"id": issue.id}
        if not fields and not changelog:
            return out
        out = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue.id,
            "self": self.url(f"issue/{issue.id}"),
            "key": issue.key,
            "fields": {},
        }
        for name in fields:
            present, value = self.field_value(issue, name)
            if present:
                out["fields"][name] = value
        if changelog:
            histories = issue.histories
            total = len(histories)
            if changelog_limit is not None and total > changelog_limit:
                histories = histories[-changelog_limit:]
            out["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": total,
                "histories": [self.history(h) for h in histories],
            }
        return out

    def remote_link(self, link: RemoteLink) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": link.id,
            "self": self.url(f"issue/{link.issue_key}/remotelink/{link.id}"),
            "globalId": f"system=sandbox&id={link.id}",
            "object": {
                "url": link.url,
                "title": link.title,
                "icon": {},
                "status": {"resolved": link.resolved, "icon": {}},
            },
        }
        if link.application:
            out["application"] = {"type": link.application.lower(), "name": link.application}
        if link.relationship:
            out["relationship"] = link.relationship
        return out
