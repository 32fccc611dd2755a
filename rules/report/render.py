"""Renders the report as one self-contained HTML page, Markdown (e-mail, chat) or JSON."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2

from rules.report import svg
from rules.report.data import ReportSettings, gather
from rules.report.department import for_department
from rules.report.escape import MdSafe, evidence_value, md_escape, neutralise_bidi, safe_url
from rules.report.plain import day, days_phrase
from rules.report.roots import anchor
from rules.report.types import ReportData, Subject, to_plain

TEMPLATES = Path(__file__).resolve().parent / "templates"
FORMAT_VERSION = 1
MAX_PER_GROUP = 50  # the page stays readable; the JSON keeps every finding
MAX_ROOT_CARDS = 25  # root causes shown in full; the rest sit in the department tables
MAX_PEOPLE = 40
MAX_ACTIONS = 10
MAX_MILESTONE_CARDS = 20
MAX_ROWS = 200
MAX_ROWS_PER_DEPARTMENT = 150
DEFAULT_FILE_MODE = 0o644
PRETTY_JSON_FINDINGS = 2000

Format = Literal["html", "md", "json"]


@lru_cache(maxsize=1)
def _html_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value from a source is text, never markup
        undefined=jinja2.StrictUndefined,
        finalize=neutralise_bidi,  # no source text may reorder the report around it
    )
    env.filters["safe_url"] = safe_url
    env.filters["evidence_value"] = evidence_value
    _date_filters(env)
    return env


def _date_filters(env: jinja2.Environment) -> None:
    env.filters["day"] = day
    env.filters["days"] = days_phrase
    env.filters["moment"] = moment


def moment(value: str | None) -> str:
    """25 Nov 2026 06:00 UTC."""
    if not value:
        return ""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{day(value)} {t.strftime('%H:%M')} UTC"


@lru_cache(maxsize=1)
def _markdown_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=md_escape,  # escaped by default; the report's own markup opts out with `raw`
        keep_trailing_newline=True,
    )
    env.filters["raw"] = MdSafe
    env.filters["md_subject"] = _md_subject
    env.filters["md_evidence"] = _md_evidence
    env.filters["md_link"] = _md_link
    _date_filters(env)
    return env


def render_html(data: ReportData) -> str:
    """The report as one HTML page: inline CSS and SVG, no scripts, no external requests."""
    heat = svg.heatmap(data.matrix)
    for cell in heat.cells:  # a cell leads to the providing department's root causes
        if cell.anchor:
            cell.anchor = anchor("dept", cell.upstream)
    today = datetime.fromisoformat(data.generated_at).date()
    return (
        _html_env()
        .get_template("report.html.j2")
        .render(
            data=data,
            heat=heat,
            trend=svg.trend(data.trend),
            timeline=svg.timeline(data.milestones, today),
            roots_by_anchor={r.anchor: r for r in data.root_causes},
            ms_by_anchor={m.anchor: m for m in data.milestones},
            shown_cards={r.anchor for r in data.root_causes[:MAX_ROOT_CARDS]},
            **_limits(),
        )
    )


def _limits() -> dict[str, int]:
    return {
        "max_per_group": MAX_PER_GROUP,
        "max_root_cards": MAX_ROOT_CARDS,
        "max_people": MAX_PEOPLE,
        "max_actions": MAX_ACTIONS,
        "max_milestones": MAX_MILESTONE_CARDS,
        "max_rows": MAX_ROWS,
        "max_rows_per_department": MAX_ROWS_PER_DEPARTMENT,
    }


def render_markdown(data: ReportData) -> str:
    """The same content as Markdown, for e-mail and chat."""
    text = (
        _markdown_env()
        .get_template("report.md.j2")
        .render(data=data, roots_by_anchor={r.anchor: r for r in data.root_causes}, **_limits())
    )
    return text.rstrip() + "\n"


def render_json(data: ReportData) -> str:
    """The same content as JSON (every finding, no truncation), for automation."""
    doc = {"format_version": FORMAT_VERSION, **to_plain(data)}
    # Indented JSON goes through the pure-Python encoder; big reports stay compact and fast.
    indent = 2 if data.headline.open_total <= PRETTY_JSON_FINDINGS else None
    return json.dumps(doc, indent=indent, ensure_ascii=False, default=str) + "\n"


RENDERERS = {"html": render_html, "md": render_markdown, "json": render_json}


def write_report(
    db_path: Path,
    out: Path,
    fmt: Format,
    *,
    now: datetime | None = None,
    settings: ReportSettings | None = None,
    department: str | None = None,
    mode: int = DEFAULT_FILE_MODE,
) -> Path:
    """Gather the report from the model at `db_path` and write it to `out` atomically;
    `department` narrows it to one department's page."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r}: use html, md or json")
    data = gather(db_path, now=now, settings=settings)
    if department is not None:
        data = for_department(data, department)
    return write_rendered(data, out, fmt, mode=mode)


def write_rendered(
    data: ReportData, out: Path, fmt: Format, *, mode: int = DEFAULT_FILE_MODE
) -> Path:
    """Render gathered data and write it atomically (a reader never sees half a page),
    creating the folder if needed; gather once, write every format."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r}: use html, md or json")
    text = RENDERERS[fmt](data)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)  # mkstemp makes 0600; a web server or share must read reports
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _md_subject(subject: Subject) -> MdSafe:
    label = md_escape(subject.source_key or subject.item_id)
    url = safe_url(subject.url)
    if url:
        url = url.replace("(", "%28").replace(")", "%29")
        return MdSafe(f"[{label}]({url})")
    return MdSafe(f"**{label}**")


def _md_evidence(evidence: Any) -> MdSafe:
    if isinstance(evidence, dict):
        parts = [f"{md_escape(k)}={md_escape(evidence_value(v))}" for k, v in evidence.items()]
        return MdSafe(", ".join(parts))
    return MdSafe(md_escape(evidence_value(evidence)))


def _md_link(subject: Subject) -> MdSafe:
    """An item as its reader label linked into its tool, or its file and row."""
    label = md_escape(subject.label or subject.source_key or subject.item_id)
    url = safe_url(subject.url)
    if url:
        url = url.replace("(", "%28").replace(")", "%29")
        return MdSafe(f"[{label}]({url})")
    place = f" ({md_escape(subject.place)})" if subject.place else ""
    return MdSafe(f"**{label}**{place}")
