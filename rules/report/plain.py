"""Plain words for leaders: evidence as sentences, dates as days, places instead of ids.

A leader should never have to read an evidence key, an internal item id or a run id: each
known evidence column has a sentence here, and unknown ones are spelled out from their name.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

# evidence columns that only repeat what the card already shows (owner, links, departments)
HIDDEN_EVIDENCE = {
    "upstream_owner",
    "downstream_owner",
    "upstream_url",
    "downstream_url",
    "url",
    "department",
    "upstream_department",
    "downstream_department",
    "owner",
}
FILE_ROW = re.compile(r"^(?P<sheet>.+?)!A(?P<row>\d+)$")


def day(value: str | date | datetime | None) -> str:
    """25 Nov 2026 (no time: leaders plan in days)."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            parsed = date.fromisoformat(value[:10])
        except ValueError:
            return value
        return f"{parsed.day} {parsed.strftime('%b %Y')}"
    return f"{value.day} {value.strftime('%b %Y')}"


def days_phrase(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    return f"in {days} days" if days > 0 else f"{-days} days ago"


def file_place(url: str | None) -> str | None:
    """Where a file row lives, for links a browser will not follow (file:// URLs)."""
    if not url or not url.startswith("file:"):
        return None
    parts = urlsplit(url)
    name = unquote(parts.path.rsplit("/", 1)[-1])
    found = FILE_ROW.match(unquote(parts.fragment))
    if not found:
        return name
    return f"{name}, sheet {found['sheet']}, row {found['row']}"


def reader_label(source_key: str, tool: str | None, title: str | None) -> str:
    """The id a reader knows: Jira keys and sheet ids, but no Asana gid (a long number)."""
    if tool == "asana" and source_key.isdigit():
        return short_title(title or "Asana task")
    return source_key


TITLE_CHARS = 200  # a title longer than this is cut wherever the report shows it
MESSAGE_CHARS = 600  # a rule message longer than this keeps its start and its end


def short_title(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def bounded_message(text: str, limit: int = MESSAGE_CHARS) -> str:
    """A rule message cut in the middle: messages name the items first (their titles can be
    any length) and say what is wrong last, so both ends are kept."""
    if len(text) <= limit:
        return text
    head, tail = limit // 3, limit - limit // 3
    return f"{text[:head]}\u2026 ({len(text) - limit:,} characters left out) \u2026{text[-tail:]}"


def clean_message(message: str, labels: dict[str, str]) -> str:
    """The rule's message without internal item ids: titles say what, links say where."""
    for item_id, label in sorted(labels.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(f" ({item_id})", "").replace(item_id, label)
    return message


def evidence_sentences(evidence: Any) -> list[str]:
    """The rule's evidence columns as sentences, skipping what the card already shows."""
    if evidence is None:
        return []
    if not isinstance(evidence, dict):
        return [str(evidence)]
    out: list[str] = []
    e = evidence
    for key, value in e.items():
        if key in HIDDEN_EVIDENCE or value is None or value is False:
            continue
        sentence = _sentence(key, value, e)
        if sentence:
            out.append(sentence)
    return out


# Evidence keys said by a fixed sentence: `{value}` is the value, `{day}` the value as a date.
SENTENCES: dict[str, str] = {
    "days_idle": "No status change for {value} days.",
    "upstream_days_idle": "No status change for {value} days.",
    "upstream_status": "Its status in the tool is \u201c{value}\u201d.",
    "needed_by": "Needed by {day}.",
    "upstream_stalled": "The work it waits on is stalled.",
    "upstream_overdue": "The work it waits on is overdue.",
    "upstream_due_later": "The work it waits on is due after it is needed.",
    "upstream_due_date": "The work it waits on is due {day}.",
    "downstream_due_date": "The waiting work is due {day}.",
    "due_date": "Due {day}.",
    "days_inverted": "The dates are {value} days the wrong way round.",
    "days_overdue": "{value} days overdue.",
    "contract_id": "Contract: {value}.",
    "kpi_tension": "KPIs in tension: {value}.",
    "reference": "Written as \u201c{value}\u201d in the waiting item.",
    "forecast_finish": "Forecast to finish {day}.",
    "reported_status": "Last reported \u201c{value}\u201d.",
    "cycle_length": "{value} items in the loop.",
    "length": "{value} items in the loop.",
}
# Keys said together with another key's sentence.
SAID_ELSEWHERE = {"notice_given_days": "notice_days", "reported_by": "reported_status"}


def _sentence(key: str, value: Any, e: dict[str, Any]) -> str | None:
    template = SENTENCES.get(key)
    if template is not None:
        when = day(value) if "{day}" in template else ""
        return template.format(value=value, day=when)
    if key in SAID_ELSEWHERE:
        return None
    if key == "days_to_due":
        return f"Due {days_phrase(int(value))}." if isinstance(value, int) else None
    if key == "notice_days":
        given = e.get("notice_given_days")
        extra = f", {given} given" if given is not None else ""
        return f"The contract needs {value} days of notice{extra}."
    if key == "origin":
        return (
            None if value == "text_reference" else f"Found through {str(value).replace('_', ' ')}."
        )
    if key == "slip_days":
        return (
            f"{value} days late on the forecast." if isinstance(value, int) and value > 0 else None
        )
    if isinstance(value, bool):
        return f"{key.replace('_', ' ').capitalize()}."
    if isinstance(value, (list, dict)):
        return None  # structured evidence stays in the JSON
    return f"{key.replace('_', ' ').capitalize()}: {value}."
