"""Geometry for the report's inline SVG charts (heatmap and trend), kept out of the templates.

The templates only place shapes at the coordinates computed here; all text stays in the
templates, where autoescaping applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.report.types import Matrix, TrendPoint

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
class TrendDot:
    x: float
    y: float
    point: TrendPoint


@dataclass
class Trend:
    width: int
    height: int
    total_points: str
    fail_points: str
    dots: list[TrendDot]
    max_total: int
    baseline: int


def trend(points: list[TrendPoint], width: int = 600, height: int = 140) -> Trend:
    """A sparkline of open findings (all severities and fail alone) over the last runs."""
    pad = 24
    top = max([p.open_total for p in points] + [1])
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(value: int) -> float:
        return round(height - pad - (height - 2 * pad) * value / top, 1)

    dots = [TrendDot(round(pad + i * step, 1), y(p.open_total), p) for i, p in enumerate(points)]
    fail = " ".join(f"{d.x},{y(d.point.open_fail)}" for d in dots)
    return Trend(
        width=width,
        height=height,
        total_points=" ".join(f"{d.x},{d.y}" for d in dots),
        fail_points=fail,
        dots=dots,
        max_total=top,
        baseline=height - pad,
    )
