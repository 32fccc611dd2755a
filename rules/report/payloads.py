"""Chat payloads of the report's headline: Slack (text + Block Kit) and Microsoft Teams
(an Adaptive Card message, as Teams workflows and incoming webhooks accept).

Only the headline and the top findings travel; the full report stays at `report_path`.
"""

from __future__ import annotations

from typing import Any

from rules.report.escape import md_escape, safe_url
from rules.report.types import Finding, ReportData

TOP_FINDINGS = 5
SLACK_SECTION_CHARS = 2900  # Slack rejects section text over 3000 characters
HEADER_CHARS = 150


def summary_line(data: ReportData) -> str:
    """One line for notifications and previews: what is open, what is coming, what changed."""
    h = data.headline
    parts = [
        f"{h.open_total} open ({h.open.fail} fail, {h.open.warn} warn, {h.open.info} info)",
        f"{h.will_stall_next_week} will stall next week",
        f"{h.new} new, {h.resolved} resolved since the last run",
        f"{h.planned} planned / {h.surprise} surprise",
    ]
    if h.stale_sources:
        parts.append(f"stale sources: {', '.join(h.stale_sources)}")
    return " · ".join(parts)


def top_findings(data: ReportData) -> list[Finding]:
    """Next week's stalls first, then the highest-ranked open findings, without repeats."""
    seen: set[str] = set()
    out: list[Finding] = []
    ranked = [f for g in data.handoffs for f in g.findings]
    ranked.sort(
        key=lambda f: ({"fail": 0, "warn": 1, "info": 2}.get(f.severity, 9), -f.blast_radius)
    )
    for f in [*data.next_week, *ranked]:
        if f.exception_id not in seen:
            seen.add(f.exception_id)
            out.append(f)
    return out[:TOP_FINDINGS]


def slack_escape(text: Any) -> str:
    """Slack mrkdwn treats &, < and > as control characters; everything else is text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, label: str) -> str:
    href = safe_url(url)
    if not href:
        return f"*{slack_escape(label)}*"
    return f"<{href.replace('|', '%7C')}|{slack_escape(label)}>"


def _slack_finding(f: Finding) -> str:
    links = " ".join(_slack_link(s.url, s.source_key or s.item_id) for s in f.subjects)
    who = slack_escape(f.owner_name or "nobody routed")
    return (
        f"*{f.severity.upper()}* {slack_escape(f.rule_title)}: {slack_escape(f.message)}\n"
        f"{links} · acts: {who} · {slack_escape(f.age)} old · blast radius {f.blast_radius}"
    )


def slack_payload(data: ReportData, report_path: str | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` for notifications, `blocks` for the layout."""
    h = data.headline
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": data.title[:HEADER_CHARS]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Open*\n{h.open_total} ({h.open.fail} fail)"},
                {"type": "mrkdwn", "text": f"*Will stall next week*\n{h.will_stall_next_week}"},
                {"type": "mrkdwn", "text": f"*New / resolved*\n{h.new} / {h.resolved}"},
                {"type": "mrkdwn", "text": f"*Planned / surprise*\n{h.planned} / {h.surprise}"},
            ],
        },
    ]
    if h.stale_sources:
        stale = slack_escape(", ".join(h.stale_sources))
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Stale sources:* {stale}"}}
        )
    findings = top_findings(data)
    if findings:
        blocks.append({"type": "divider"})
        for f in findings:
            text = _slack_finding(f)[:SLACK_SECTION_CHARS]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if report_path:
        link = (
            _slack_link(report_path, "Open the full report")
            if safe_url(report_path)
            else (f"Full report: `{slack_escape(report_path)}`")
        )
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {"text": f"{data.title}: {summary_line(data)}", "blocks": blocks}


def _teams_finding(f: Finding) -> list[dict[str, Any]]:
    links = []
    for s in f.subjects:
        label = md_escape(s.source_key or s.item_id)
        href = safe_url(s.url)
        links.append(
            f"[{label}]({href.replace('(', '%28').replace(')', '%29')})" if href else label
        )
    return [
        {
            "type": "TextBlock",
            "text": f"**{f.severity.upper()}** {md_escape(f.rule_title)}",
            "wrap": True,
            "separator": True,
            "color": {"fail": "Attention", "warn": "Warning"}.get(f.severity, "Default"),
        },
        {"type": "TextBlock", "text": md_escape(f.message), "wrap": True, "spacing": "None"},
        {
            "type": "TextBlock",
            "text": f"{' '.join(links)} · acts: {md_escape(f.owner_name or 'nobody routed')}"
            f" · {md_escape(f.age)} old · blast radius {f.blast_radius}",
            "wrap": True,
            "isSubtle": True,
            "spacing": "None",
        },
    ]


def teams_payload(data: ReportData, report_path: str | None = None) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card (schema 1.4)."""
    h = data.headline
    facts = [
        {"title": "Open", "value": f"{h.open_total} ({h.open.fail} fail, {h.open.warn} warn)"},
        {"title": "Will stall next week", "value": str(h.will_stall_next_week)},
        {"title": "New / resolved", "value": f"{h.new} / {h.resolved}"},
        {"title": "Planned / surprise", "value": f"{h.planned} / {h.surprise}"},
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
    for f in top_findings(data):
        body.extend(_teams_finding(f))
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
