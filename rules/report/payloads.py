"""Chat payloads of the report's headline: Slack (text + Block Kit) and Microsoft Teams
(an Adaptive Card message, as Teams workflows and incoming webhooks accept).

Only the headline and the top root causes travel: one entry per upstream cause with who must act
by when and what to do, not one per raw finding (one stalled item seen by six rules is one
message line). The full report stays at `report_path`.
"""

from __future__ import annotations

from typing import Any

from rules.report.escape import md_escape, safe_url
from rules.report.plain import day
from rules.report.types import ReportData, RootCause

TOP_ROOT_CAUSES = 5
SLACK_SECTION_CHARS = 2900  # Slack rejects section text over 3000 characters
HEADER_CHARS = 150
ADVICE_CHARS = 300


def summary_line(data: ReportData) -> str:
    """One line for notifications and previews: causes, milestones at risk, what changed."""
    h = data.headline
    parts = [
        f"{h.root_causes} root causes ({h.root_causes_fail} fail)",
        f"{h.milestones_at_risk} of {h.milestones} milestones at risk",
        f"{h.open_total} open findings",
        f"{h.will_stall_next_week} will stall next week",
        f"{h.new} new, {h.resolved} resolved since the last run",
    ]
    if h.stale_sources:
        parts.append(f"stale sources: {', '.join(h.stale_sources)}")
    return " · ".join(parts)


def top_root_causes(data: ReportData) -> list[RootCause]:
    """The root causes the report leads with, in its order (worst and widest first)."""
    return data.root_causes[:TOP_ROOT_CAUSES]


def _by_when(r: RootCause) -> str:
    return f"by {day(r.must_move_by)}" if r.must_move_by else "no date downstream"


def _advice(r: RootCause) -> str:
    advice = r.rules[0].advice if r.rules else ""
    return advice if len(advice) <= ADVICE_CHARS else advice[: ADVICE_CHARS - 1] + "\u2026"


def _seen_by(r: RootCause) -> str:
    return f"blocks {r.blast_radius} · {len(r.findings)} finding(s) from {len(r.rules)} rule(s)"


def slack_escape(text: Any) -> str:
    """Slack mrkdwn treats &, < and > as control characters; everything else is text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, label: str) -> str:
    href = safe_url(url)
    if not href:
        return f"*{slack_escape(label)}*"
    return f"<{href.replace('|', '%7C')}|{slack_escape(label)}>"


def _slack_root_cause(r: RootCause) -> str:
    label = r.subject.label or r.subject.source_key or r.subject.item_id
    link = _slack_link(r.subject.url, label)
    advice = _advice(r)
    return (
        f"*{r.severity.upper()}* {link} {slack_escape(r.summary)}\n"
        f"acts: *{slack_escape(r.owner)}* {slack_escape(_by_when(r))} · {_seen_by(r)}"
        + (f"\n_{slack_escape(advice)}_" if advice else "")
    )


def slack_payload(data: ReportData, report_path: str | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` for notifications, `blocks` for the layout."""
    h = data.headline
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": data.title[:HEADER_CHARS]}},
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*Root causes*\n{h.root_causes} ({h.root_causes_fail} fail)",
                },
                {
                    "type": "mrkdwn",
                    "text": f"*Milestones at risk*\n{h.milestones_at_risk} of {h.milestones}",
                },
                {"type": "mrkdwn", "text": f"*Open findings*\n{h.open_total} ({h.open.fail} fail)"},
                {"type": "mrkdwn", "text": f"*New / resolved*\n{h.new} / {h.resolved}"},
            ],
        },
    ]
    if h.stale_sources:
        stale = slack_escape(", ".join(h.stale_sources))
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Stale sources:* {stale}"}}
        )
    causes = top_root_causes(data)
    if causes:
        blocks.append({"type": "divider"})
        for r in causes:
            text = _slack_root_cause(r)[:SLACK_SECTION_CHARS]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if report_path:
        link = (
            _slack_link(report_path, "Open the full report")
            if safe_url(report_path)
            else (f"Full report: `{slack_escape(report_path)}`")
        )
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {"text": f"{data.title}: {summary_line(data)}", "blocks": blocks}


def _teams_root_cause(r: RootCause) -> list[dict[str, Any]]:
    label = md_escape(r.subject.label or r.subject.source_key or r.subject.item_id)
    href = safe_url(r.subject.url)
    link = f"[{label}]({href.replace('(', '%28').replace(')', '%29')})" if href else label
    blocks: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"**{r.severity.upper()}** {link} {md_escape(r.summary)}",
            "wrap": True,
            "separator": True,
            "color": {"fail": "Attention", "warn": "Warning"}.get(r.severity, "Default"),
        },
        {
            "type": "TextBlock",
            "text": f"acts: **{md_escape(r.owner)}** {md_escape(_by_when(r))} · {_seen_by(r)}",
            "wrap": True,
            "isSubtle": True,
            "spacing": "None",
        },
    ]
    if advice := _advice(r):
        blocks.append(
            {"type": "TextBlock", "text": md_escape(advice), "wrap": True, "spacing": "None"}
        )
    return blocks


def teams_payload(data: ReportData, report_path: str | None = None) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card (schema 1.4)."""
    h = data.headline
    facts = [
        {"title": "Root causes", "value": f"{h.root_causes} ({h.root_causes_fail} fail)"},
        {"title": "Milestones at risk", "value": f"{h.milestones_at_risk} of {h.milestones}"},
        {"title": "Open findings", "value": f"{h.open_total} ({h.open.fail} fail)"},
        {"title": "Will stall next week", "value": str(h.will_stall_next_week)},
        {"title": "New / resolved", "value": f"{h.new} / {h.resolved}"},
    ]
    if h.stale_sources:
        facts.append({"title": "Stale sources", "value": md_escape(", ".join(h.stale_sources))})
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": md_escape(data.title),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "FactSet", "facts": facts},
    ]
    for r in top_root_causes(data):
        body.extend(_teams_root_cause(r))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if report_path and safe_url(report_path):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the full report", "url": report_path}
        ]
    elif report_path:
        body.append(
            {
                "type": "TextBlock",
                "text": f"Full report: {md_escape(report_path)}",
                "wrap": True,
                "isSubtle": True,
            }
        )
    return {
        "type": "message",
        "summary": f"{data.title}: {summary_line(data)}",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
