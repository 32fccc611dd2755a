"""Making source text safe for each output: links, Markdown and evidence values.

HTML escaping is Jinja's autoescape; what it cannot know is that a link must be http(s) (a
`javascript:` URL is valid, escaped HTML) and that Markdown has its own active characters.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

SAFE_SCHEMES = {"http", "https"}
MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]<>|#~!{}])")
LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
EVIDENCE_CHARS = 300
# embeddings, overrides, isolates and marks: they reorder the text around them on screen, so a
# title could make a finding read as something else ("Trojan Source")
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
BIDI_SHOWN_AS = "\ufffd"


class MdSafe(str):
    """Markdown that is already escaped (or is the report's own markup)."""


def safe_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) link, else None (rendered as plain text)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.netloc:
        return None
    if any(ch in url for ch in " \t\r\n<>\"'`"):
        return None
    return url


def neutralise_bidi(value: Any) -> Any:
    """Source text with its bidirectional controls replaced by a visible U+FFFD."""
    if isinstance(value, str) and BIDI_CONTROLS.search(value):
        return type(value)(BIDI_CONTROLS.sub(BIDI_SHOWN_AS, value))
    return value


def md_escape(value: Any) -> str:
    """Escape Markdown's active characters and fold line breaks, so text stays text."""
    if isinstance(value, MdSafe):
        return value
    if value is None:
        return ""
    text = neutralise_bidi(LINE_BREAKS.sub(" ", str(value)))
    return MARKDOWN_ACTIVE.sub(r"\\\1", text)


def evidence_value(value: Any) -> str:
    """One evidence value as short text (nested values as compact JSON)."""
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "\u2026"
