"""Rule titles for the report, read from the rule files so leaders see the rule's own words."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

BUILTIN_PACK = Path(__file__).resolve().parents[1] / "builtin"
WHAT_TO_DO = "What to do:"
SENTENCE_END = re.compile(r"(?<=[.;!?])\s+")


@lru_cache(maxsize=8)
def rule_titles(folder: Path = BUILTIN_PACK) -> dict[str, str]:
    """Map rule id -> title for every readable rule file in `folder` (bad files are skipped:
    the engine reports them; the report only needs a title)."""
    titles: dict[str, str] = {}
    if not folder.is_dir():
        return titles
    for path in sorted(folder.glob("*.y*ml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("title"), str):
            titles[str(doc.get("id") or path.stem)] = doc["title"]
    return titles


def rule_title(rule_id: str, titles: dict[str, str]) -> str:
    """The rule's title, else its id made readable (a user rule folder the report cannot see)."""
    return titles.get(rule_id) or rule_id.replace("_", " ").strip().capitalize()


@lru_cache(maxsize=8)
def rule_advice(folder: Path = BUILTIN_PACK) -> dict[str, str]:
    """Map rule id -> the "What to do:" part of its description, in plain words: sentences
    that name a parameter (`stall_days`) speak to rule authors, not leaders, and are dropped."""
    advice: dict[str, str] = {}
    if not folder.is_dir():
        return advice
    for path in sorted(folder.glob("*.y*ml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("description"), str):
            text = plain_advice(doc["description"])
            if text:
                advice[str(doc.get("id") or path.stem)] = text
    return advice


def plain_advice(description: str) -> str:
    """The advice a description gives after "What to do:", as one plain paragraph."""
    _, found, after = description.partition(WHAT_TO_DO)
    if not found:
        return ""
    sentences = [s for s in SENTENCE_END.split(" ".join(after.split())) if s and "`" not in s]
    text = " ".join(sentences).strip()
    if text and not text.endswith((".", "!", "?")):
        text = text.rstrip(";,") + "."
    return text[:1].upper() + text[1:]
