"""Geometry for the report's inline SVG charts (heatmap and trend), kept out of the templates.

The templates only place shapes at the coordinates computed here; all text stays in the
templates, where autoescaping applies to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rules.report.types import Matrix, Milestone, TrendPoint

CELL = 44
LABEL_WIDTH = 150
HEADER_HEIGHT = 110
LABEL_CHARS = 22
SEVERITY_COLOURS = {"fail": "#c62828", "warn": "#d98b00", "info": "#1e6bb8"}


@dataclass
class HeatCell:
    x: int
    y: int
    count: int
    opacity: float
    colour: str
    anchor: str | None
    upstream: str
    downstream: str
    worst_severity: str


@dataclass
class HeatLabel:
    x: int
    y: int
    text: str
    full: str


@dataclass
class Heatmap:
    width: int
    height: int
    cell: int
    caption_y: int
    rows: list[HeatLabel]
    columns: list[HeatLabel]
    cells: list[HeatCell]


def short(text: str, limit: int = LABEL_CHARS) -> str:
    """Axis labels must fit the chart; the full name stays in the cell's tooltip."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def heatmap(matrix: Matrix) -> Heatmap:
    """Lay out the department matrix: rows are upstream, columns downstream departments."""
    names = matrix.departments
    index = {name: i for i, name in enumerate(names)}
    by_pair = {(c.upstream, c.downstream): c for c in matrix.cells}
    top = max(1, matrix.max_count)
    cells = []
    for r, up in enumerate(names):
        for c, down in enumerate(names):
            found = by_pair.get((up, down))
            count = found.count if found else 0
            cells.append(
                HeatCell(
                    x=LABEL_WIDTH + c * CELL,
                    y=HEADER_HEIGHT + r * CELL,
                    count=count,
                    opacity=round(0.25 + 0.75 * count / top, 3) if count else 1.0,
                    colour=SEVERITY_COLOURS.get(found.worst_severity, "#666")
                    if found
                    else "#f1f3f5",
                    anchor=found.anchor if found else None,
                    upstream=up,
                    downstream=down,
                    worst_severity=found.worst_severity if found else "",
                )
            )
    rows = [
        HeatLabel(LABEL_WIDTH - 8, HEADER_HEIGHT + index[n] * CELL + CELL // 2 + 4, short(n), n)
        for n in names
    ]
    columns = [
        HeatLabel(LABEL_WIDTH + index[n] * CELL + CELL // 2, HEADER_HEIGHT - 8, short(n), n)
        for n in names
    ]
    return Heatmap(
        width=LABEL_WIDTH + len(names) * CELL + HEADER_HEIGHT,  # room for slanted headers
        height=HEADER_HEIGHT + len(names) * CELL + 4,
        cell=CELL,
        caption_y=HEADER_HEIGHT - 8,
        rows=rows,
        columns=columns,
        cells=cells,
    )


@dataclass
class Tick:
    pos: float
    text: str


@dataclass
class Series:
    name: str
    css: str
    points: str
    dots: list[tuple[float, float, int]]


@dataclass
class Trend:
    width: int
    height: int
    left: int
    right: int
    top: int
    baseline: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[Series]
    points: list[TrendPoint]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def trend(points: list[TrendPoint], width: int = 640, height: int = 220) -> Trend:
    """Open root causes and findings by severity over the runs, on dated axes. One run is a
    point in the middle of a two-day axis, so a first report already reads as a chart."""
    left, right, top, bottom = 44, width - 16, 16, height - 36
    times = [_moment(p.evaluated_at) for p in points] or [datetime.now()]
    start, end = min(times), max(times)
    if end - start < timedelta(days=2):
        mid = start + (end - start) / 2
        start, end = mid - timedelta(days=1), mid + timedelta(days=1)
    span = (end - start).total_seconds()
    peak = max([max(p.open_total, p.root_causes) for p in points] + [1])
    step = _nice_step(peak)
    y_max = step * math.ceil(peak / step)

    def x(t: datetime) -> float:
        return round(left + (right - left) * (t - start).total_seconds() / span, 1)

    def y(v: int) -> float:
        return round(bottom - (bottom - top) * v / y_max, 1)

    series = []
    for name, css, value in (
        ("open root causes", "line-roots", lambda p: p.root_causes),
        ("fail findings", "line-fail", lambda p: p.open_fail),
        ("warn findings", "line-warn", lambda p: p.open_warn),
        ("info findings", "line-info", lambda p: p.open_info),
    ):
        dots = [(x(t), y(value(p)), value(p)) for t, p in zip(times, points, strict=False)]
        series.append(Series(name, css, " ".join(f"{a},{b}" for a, b, _ in dots), dots))
    days = max(1, round(span / 86400 / 6))
    x_ticks = []
    tick = datetime(start.year, start.month, start.day, tzinfo=start.tzinfo)
    while tick <= end:
        if tick >= start:
            x_ticks.append(Tick(x(tick), f"{tick.day} {tick.strftime('%b')}"))
        tick += timedelta(days=days)
    y_ticks = [Tick(y(v), str(v)) for v in range(0, y_max + 1, step)]
    return Trend(width, height, left, right, top, bottom, x_ticks, y_ticks, series, points)


def _nice_step(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if peak / step <= 5:
            return step
    return 10 ** len(str(peak))


@dataclass
class TimelineRow:
    y: int
    x: float | None  # the due date's place; None when the item has no due date
    label: str
    title: str
    tool: str
    due: str
    late: bool  # due after the item it feeds needs it
    milestone: bool
    href: str | None
    forecast_x: float | None = None  # a milestone's forecast finish, when after its due date
    forecast: str | None = None


@dataclass
class TimelineLink:
    x1: float
    y1: int
    x2: float
    y2: int


@dataclass
class TimelineGroup:
    title: str
    y: int
    status: str


@dataclass
class Timeline:
    width: int
    height: int
    left: int
    right: int
    today_x: float
    x_ticks: list[Tick]
    groups: list[TimelineGroup]
    rows: list[TimelineRow]
    links: list[TimelineLink]


ROW = 24
GROUP_GAP = 30


def timeline(milestones: list[Milestone], today: date, width: int = 900) -> Timeline | None:
    """The chains feeding each threatened milestone, placed on one date axis with today."""
    shown = [m for m in milestones if m.status != "on track" and m.chains][:6]
    if not shown:
        return None
    left, right = 300, width - 20
    dates = (
        [today]
        + [
            date.fromisoformat(s.due_date[:10])
            for m in shown
            for c in m.chains
            for s in c
            if s.due_date
        ]
        + [date.fromisoformat(m.forecast_finish[:10]) for m in shown if m.forecast_finish]
    )
    start, end = min(dates) - timedelta(days=2), max(dates) + timedelta(days=2)
    span = max((end - start).days, 1)

    def x(d: date) -> float:
        return round(left + (right - left) * (d - start).days / span, 1)

    rows: list[TimelineRow] = []
    links: list[TimelineLink] = []
    groups: list[TimelineGroup] = []
    y = 34
    for m in shown:
        groups.append(TimelineGroup(m.item.title or m.item.label or "", y, m.status))
        y += 8
        placed: dict[str, TimelineRow] = {}
        for chain in m.chains:
            prev: TimelineRow | None = None
            for i, s in enumerate(chain):
                row = placed.get(s.item_id)
                if row is None:
                    due = date.fromisoformat(s.due_date[:10]) if s.due_date else None
                    nxt = chain[i + 1] if i + 1 < len(chain) else None
                    needed = date.fromisoformat(nxt.due_date[:10]) if nxt and nxt.due_date else None
                    y += ROW
                    row = TimelineRow(
                        y=y,
                        x=x(due) if due else None,
                        label=s.label or s.item_id,
                        title=s.title or "",
                        tool=s.tool or "",
                        due=f"{due.day} {due.strftime('%b')}" if due else "no date",
                        late=bool(due and needed and due > needed),
                        milestone=s.is_milestone,
                        href=s.url,
                    )
                    if s.item_id == m.item.item_id and m.forecast_finish and (m.slip_days or 0) > 0:
                        forecast = date.fromisoformat(m.forecast_finish[:10])
                        row.forecast_x = x(forecast)
                        row.forecast = _short_day(forecast)
                    placed[s.item_id] = row
                    rows.append(row)
                if prev and prev.x is not None and row.x is not None:
                    links.append(TimelineLink(prev.x, prev.y, row.x, row.y))
                prev = row
        y += GROUP_GAP
    step = max(1, round(span / 8))
    ticks = [
        Tick(x(start + timedelta(days=d)), _short_day(start + timedelta(days=d)))
        for d in range(0, span + 1, step)
    ]
    return Timeline(width, y, left, right, x(today), ticks, groups, rows, links)


def _short_day(d: date) -> str:
    return f"{d.day} {d.strftime('%b')}"
