"""The demo organisation: an omni-channel loyalty programme launch at a mid-sized retailer.

Marketing plans the campaign and is measured on user acquisition; IT Operations is measured on
uptime and server cost; Finance approves the budget; Store Ops trains staff. The story is kept
tool-neutral here and written into each tool's stand-in by `sandbox.demo.files` (and the
sandbox servers).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StoryItem:
    key: str
    title: str
    status: str
    owner: str | None  # e-mail, or a display name for sheets
    due_in_days: int | None  # relative to the demo's "today"
    last_change_days_ago: int
    depends_on: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    milestone: bool = False
    item_type: str = "Task"
    notes: str = ""
    start_in_days: int | None = None
    history: tuple[tuple[int, str, str], ...] = field(default=())  # (days ago, from, to)


@dataclass(frozen=True)
class StatusReport:
    """A status update a team posts on its project."""

    status_type: str  # on_track | at_risk | off_track | on_hold | complete
    title: str
    text: str
    author: str  # e-mail
    days_ago: int


IT_OPS = [
    StoryItem(
        "OPS-101",
        "Scale loyalty API for launch traffic",
        "In Progress",
        "raj.patel@retail.example",
        12,
        19,
        labels=("capacity",),
        item_type="Story",
        history=((30, "To Do", "In Progress"),),
    ),
    StoryItem(
        "OPS-102",
        "Provision CDN for the campaign landing page",
        "To Do",
        "lena.fischer@retail.example",
        16,
        25,
        labels=("network",),
    ),
    StoryItem(
        "OPS-103",
        "Loyalty database read replica",
        "Done",
        "raj.patel@retail.example",
        -3,
        4,
        labels=("capacity",),
        history=((20, "To Do", "In Progress"), (4, "In Progress", "Done")),
    ),
    StoryItem(
        "OPS-104",
        "Point-of-sale loyalty plug-in rollout",
        "In Progress",
        "lena.fischer@retail.example",
        -2,
        14,
        labels=("stores",),
        item_type="Story",
    ),
    StoryItem(
        "OPS-105",
        "Load test sign-up flow",
        "To Do",
        None,
        9,
        12,
        labels=("capacity",),
        notes="Needs the campaign creative freeze MKT-3 before we can script the journeys",
    ),
]
MARKETING = [
    StoryItem(
        "MKT-1",
        "Loyalty launch campaign goes live",
        "In progress",
        "maya.chen@retail.example",
        5,
        2,
        depends_on=("OPS-101", "FIN-1"),
        item_type="Task",
        notes="Blocked by OPS-101 until the API can take campaign traffic.",
    ),
    StoryItem(
        "MKT-2",
        "Launch e-mail blast to 2M customers",
        "Planned",
        "maya.chen@retail.example",
        10,
        8,
        depends_on=("OPS-102",),
    ),
    StoryItem("MKT-3", "Campaign creative freeze", "In progress", "tom.baker@retail.example", 6, 1),
    StoryItem(
        "MKT-4",
        "Loyalty programme public launch",
        "Planned",
        None,
        14,
        3,
        milestone=True,
        item_type="Milestone",
        depends_on=("MKT-1", "MKT-2"),
    ),
    StoryItem(
        "MKT-5",
        "Partner promotion with payment provider",
        "Planned",
        "tom.baker@retail.example",
        20,
        6,
        notes="Waiting on PAY-77 from the payments team (not synced).",
    ),
]
FINANCE = [
    StoryItem("FIN-1", "Approve loyalty campaign budget", "Approved", "Priya Nair", -5, 6),
    StoryItem(
        "FIN-2",
        "Approve extra server spend for launch",
        "Pending",
        "Priya Nair",
        3,
        11,
        depends_on=("OPS-101",),
    ),
    StoryItem("FIN-3", "Points liability provision", "In progress", "Priya Nair", 25, 2),
]
STORE_OPS = [
    StoryItem(
        "STO-1",
        "Train store staff on loyalty sign-up",
        "Not started",
        "Omar Haddad",
        8,
        9,
        depends_on=("OPS-104", "MKT-3"),
    ),
    StoryItem(
        "STO-2",
        "Print in-store loyalty signage",
        "In progress",
        "Omar Haddad",
        11,
        3,
        depends_on=("MKT-3",),
    ),
    StoryItem(
        "STO-3",
        "Store launch readiness checklist",
        "Not started",
        "Omar Haddad",
        13,
        5,
        milestone=True,
        item_type="Milestone",
        depends_on=("STO-1", "STO-2"),
    ),
]

# What Marketing reports on its Asana project: green, two days ago, while the API scaling work
# it waits on (OPS-101) has sat idle for almost three weeks.
MARKETING_STATUS_UPDATE = StatusReport(
    status_type="on_track",
    title="Loyalty launch: on track",
    text="Creative freeze this week, launch date holds.",
    author="maya.chen@retail.example",
    days_ago=2,
)

DEPARTMENTS = {
    "IT Operations": ("uptime", "server_cost"),
    "Marketing": ("user_acquisition",),
    "Finance": ("budget_adherence",),
    "Store Ops": ("staff_readiness",),
}
# who answers for each department's findings (same order as DEPARTMENTS)
DEPARTMENT_STEWARDS = (
    "lena.fischer@retail.example",
    "maya.chen@retail.example",
    "priya.nair@retail.example",
    "omar.haddad@retail.example",
)
