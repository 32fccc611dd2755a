"""Rule titles for the report, read from the rule files so leaders see the rule's own words."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

BUILTIN_PACK = Path(__file__).resolve().parents[1] / "builtin"


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
