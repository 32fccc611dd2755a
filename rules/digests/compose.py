"""A person's digest, built from the report's action lists: the same what/why/by-when/link the
leaders' report shows, rendered as plain text and HTML.

Source text (titles, advice) reaches both parts escaped for that part: HTML through Jinja's
autoescape with http(s)-only links; plain text with line breaks folded and control and
bidirectional characters neutralised, so a title can neither forge lines nor hide its meaning.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment

from rules.report.escape import LINE_BREAKS, neutralise_bidi, safe_url
from rules.report.plain import day
from rules.report.types import Action, ActionList, ReportData

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

TEXT = """\
Hello {{ name }},

{{ count }} thing{{ "s" if count != 1 else "" }} wait{{ "" if count != 1 else "s" }} on you \
in {{ organisation }}:
{% for a in actions %}
{{ loop.index }}. [{{ a.severity }}] {{ a.what }}
   Item: {{ a.item_label }}{% if a.link %} <{{ a.link }}>{% endif %}
   Why: {{ a.why }}
   By: {{ a.by_when }}
{% endfor %}
{% if report_url %}The whole report: {{ report_url }}
{% endif %}"""

HTML = """\
<!doctype html>
<html><body style="font-family:sans-serif">
<p>Hello {{ name }},</p>
<p>{{ count }} thing{{ "s" if count != 1 else "" }} wait{{ "" if count != 1 else "s" }} \
on you in {{ organisation }}:</p>
<ol>
{% for a in actions %}<li><p><strong>[{{ a.severity }}] {{ a.what }}</strong><br>
Item: {% if a.link %}<a href="{{ a.link }}">{{ a.item_label }}</a>{% else %}{{ a.item_label }}\
{% endif %}<br>
Why: {{ a.why }}<br>
By: {{ a.by_when }}</p></li>
{% endfor %}</ol>
{% if report_url %}<p><a href="{{ report_url }}">The whole report</a></p>{% endif %}
</body></html>
"""


def plain(value: Any) -> Any:
    """Text that stays on its line and reads as written."""
    if not isinstance(value, str):
        return value
    return neutralise_bidi(CONTROL.sub("\ufffd", LINE_BREAKS.sub(" ", value)))


_TEXT_ENV = Environment(autoescape=False, finalize=plain, keep_trailing_newline=True)
_HTML_ENV = Environment(autoescape=True, finalize=neutralise_bidi)
_TEXT_TEMPLATE = _TEXT_ENV.from_string(TEXT)
_HTML_TEMPLATE = _HTML_ENV.from_string(HTML)


@dataclass(frozen=True)
class Digest:
    """One person's message; `fingerprint` changes exactly when their action list does."""

    email: str
    name: str
    subject: str
    text: str
    html: str
    fingerprint: str
    actions: int


def _view(action: Action) -> dict[str, Any]:
    item = action.item
    return {
        "severity": action.severity,
        "what": action.what,
        "why": action.why,
        "by_when": day(action.by_when) if action.by_when else "no date set",
        "item_label": item.label or item.title or item.item_id,
        "link": safe_url(item.url),
    }


def fingerprint(actions: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(actions, sort_keys=True).encode()).hexdigest()


def build_digests(
    data: ReportData, emails: dict[str, str], report_url: str | None = None
) -> tuple[list[Digest], list[str]]:
    """(one digest per person with actions and a known e-mail, the names without one).

    `emails` maps a name as the report shows it (display name or e-mail) to the e-mail."""
    digests: list[Digest] = []
    unroutable: list[str] = []
    for entry in data.actions:
        if entry.kind != "person" or not entry.actions:
            continue
        email = emails.get(entry.name) or emails.get(entry.name.lower())
        if not email:
            unroutable.append(entry.name)
            continue
        digests.append(_digest(entry, email, data.organisation, safe_url(report_url)))
    return digests, unroutable


def _digest(entry: ActionList, email: str, organisation: str, report_url: str | None) -> Digest:
    views = [_view(a) for a in entry.actions]
    values = {
        "name": entry.name,
        "count": len(views),
        "organisation": organisation,
        "actions": views,
        "report_url": report_url,
    }
    count = len(views)
    return Digest(
        email=email,
        name=entry.name,
        subject=f"Handoff: {count} action{'s' if count != 1 else ''} for you",
        text=_TEXT_TEMPLATE.render(values),
        html=_HTML_TEMPLATE.render(values),
        fingerprint=fingerprint(views),
        actions=count,
    )
