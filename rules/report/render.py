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
from rules.report.data import gather
from rules.report.escape import MdSafe, evidence_value, md_escape, neutralise_bidi, safe_url
from rules.report.types import ReportData, Subject, to_plain

TEMPLATES = Path(__file__).resolve().parent / "templates"
FORMAT_VERSION = 1
MAX_PER_GROUP = 50  # the page stays readable; the JSON keeps every finding
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
    return env


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
    return env


def render_html(data: ReportData) -> str:
    """The report as one HTML page: inline CSS and SVG, no scripts, no external requests."""
    return (
        _html_env()
        .get_template("report.html.j2")
        .render(
            data=data,
            heat=svg.heatmap(data.matrix),
            trend=svg.trend(data.trend),
            max_per_group=MAX_PER_GROUP,
        )
    )


def render_markdown(data: ReportData) -> str:
    """The same content as Markdown, for e-mail and chat."""
    text = (
        _markdown_env().get_template("report.md.j2").render(data=data, max_per_group=MAX_PER_GROUP)
    )
    return text.rstrip() + "\n"


def render_json(data: ReportData) -> str:
    """The same content as JSON (every finding, no truncation), for automation."""
    doc = {"format_version": FORMAT_VERSION, **to_plain(data)}
    # Indented JSON goes through the pure-Python encoder; big reports stay compact and fast.
    indent = 2 if data.headline.open_total <= PRETTY_JSON_FINDINGS else None
    return json.dumps(doc, indent=indent, ensure_ascii=False, default=str) + "\n"


RENDERERS = {"html": render_html, "md": render_markdown, "json": render_json}


def write_report(db_path: Path, out: Path, fmt: Format, *, now: datetime | None = None) -> Path:
    """Gather the report from the model at `db_path` and write it to `out` atomically."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r}: use html, md or json")
    return write_rendered(gather(db_path, now=now), out, fmt)


def write_rendered(data: ReportData, out: Path, fmt: Format) -> Path:
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
