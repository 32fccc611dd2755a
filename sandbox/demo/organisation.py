"""Builds the demo story into the Jira and Asana stand-ins (and the Store Ops workbook).

IT Operations lives in Jira, Marketing in Asana, Finance in a spreadsheet, Store Ops in Excel.
Cross-tool references use every form users write: issue links, a Jira remote link to an Asana
task, an Asana "Jira key" field, "blocked by OPS-…" in notes, sheet cells with keys and Asana URLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sandbox.asana import AsanaOrg
from sandbox.demo import story
from sandbox.demo.story import StoryItem
from sandbox.jira import JiraOrg

ASANA_APP = "https://app.asana.com"


@dataclass
class DemoOrganisation:
    today: date
    jira: JiraOrg
    asana: AsanaOrg
    asana_gids: dict[str, str] = field(default_factory=dict)  # story key -> task gid
    asana_project: str = ""

    def asana_url(self, key: str) -> str:
        return f"{ASANA_APP}/0/{self.asana_project}/{self.asana_gids[key]}"

    def sheet_item(self, item: StoryItem) -> StoryItem:
        """The item as a spreadsheet holds it: Asana tasks referenced by their URLs."""
        refs = tuple(self.asana_url(k) if k in self.asana_gids else k for k in item.depends_on)
        return StoryItem(**{**item.__dict__, "depends_on": refs})


def _at(now: datetime, days_ago: int) -> datetime:
    return now - timedelta(days=days_ago)


def _due(today: date, item: StoryItem) -> date | None:
    return None if item.due_in_days is None else today + timedelta(days=item.due_in_days)


def build_jira(now: datetime) -> JiraOrg:
    org = JiraOrg.empty(now)
    org.add_project("OPS", "IT Operations", components=["Platform", "Network", "Stores"])
    org.add_user("acc-raj", "Raj Patel", email="raj.patel@retail.example")
    org.add_user("acc-lena", "Lena Fischer")  # e-mail hidden by Jira privacy settings
    accounts = {"raj.patel@retail.example": "acc-raj", "lena.fischer@retail.example": "acc-lena"}
    today = now.date()
    for item in story.IT_OPS:
        created = _at(now, 45)
        org.add_issue(
            item.key,
            item.title,
            "To Do",
            issuetype=item.item_type,
            assignee=accounts.get(item.owner or ""),
            due=_due(today, item),
            created=created,
            description=item.notes or None,
            labels=list(item.labels),
        )
        if item.status != "To Do":
            org.add_status_change(
                item.key, "To Do", item.status, at=_at(now, item.last_change_days_ago)
            )
    # The POS rollout blocks nothing in Jira itself, but the load test waits on the API work.
    org.add_link("Blocks", "OPS-101", "OPS-105")
    return org


def build_asana(now: datetime) -> tuple[AsanaOrg, str, dict[str, str]]:
    org = AsanaOrg.empty(now, workspace="Retail Co")
    people = {
        "maya.chen@retail.example": org.add_user("Maya Chen", "maya.chen@retail.example"),
        "tom.baker@retail.example": org.add_user("Tom Baker", "Tom.Baker+asana@retail.example"),
    }
    project = org.add_project("Loyalty Launch", ["Planned", "In progress", "Done"])
    gids: dict[str, str] = {}
    today = now.date()
    for item in story.MARKETING:
        custom: dict[str, object] = {"Department": "Marketing"}
        jira_keys = [k for k in item.depends_on if k.startswith("OPS-")]
        if item.key == "MKT-2":
            custom["Jira key"] = jira_keys[0]  # the "Jira key" field form
        notes = item.notes
        if item.key == "MKT-1":
            notes += " Budget approval tracked as FIN-1 in the finance plan."
        if item.key == "MKT-5":
            notes = (
                "Blocked by OPS-240 (payment provider certificate renewal), which nobody synced."
            )
        gid = org.add_task(
            item.title,
            project=project,
            section=item.status if item.status != "Planned" else "Planned",
            assignee=people.get(item.owner or ""),
            due_on=_due(today, item),
            milestone=item.milestone,
            notes=notes,
            custom_fields=custom,
            created_at=_at(now, 40),
            modified_at=_at(now, item.last_change_days_ago),
        )
        gids[item.key] = gid
    for item in story.MARKETING:
        for upstream in item.depends_on:
            if upstream in gids:
                org.add_dependency(gids[item.key], gids[upstream])  # native Asana dependency
    report = story.MARKETING_STATUS_UPDATE
    org.add_status_update(
        project,
        report.status_type,
        report.title,
        text=report.text,
        by=people[report.author],
        at=_at(now, report.days_ago),
    )
    return org, project, gids


def build_demo(now: datetime | None = None) -> DemoOrganisation:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    jira = build_jira(now)
    asana, project, gids = build_asana(now)
    demo = DemoOrganisation(
        today=now.date(), jira=jira, asana=asana, asana_gids=gids, asana_project=project
    )
    # A Jira remote link: the API scaling work blocks the Marketing campaign task in Asana.
    jira.add_remote_link(
        "OPS-101",
        demo.asana_url("MKT-1"),
        title="Loyalty launch campaign goes live",
        relationship="blocks",
        application="Asana",
    )
    return demo
