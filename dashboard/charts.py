"""Charts as server-rendered SVG: no script, no library, nothing loaded from elsewhere.

Each function takes plain numbers and returns markup (escaped labels, classes for the
colours: static/css/app.css styles `.chart-*`; the CSP allows no style attributes).
A chart has a <title> and a <desc> summarising it, and every point or bar a <title>
(the browser's tooltip), so the numbers are there for a screen reader too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 12, 14, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # chart-a, chart-b, ...


def _nice_max(value: float) -> float:
    """A round axis top at or above `value` (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _divisions(top: float) -> int:
    """Grid lines at round values: 2 -> 0.5 steps (4), 1, 2.5, 5, 10 -> fifths."""
    mantissa = top / 10 ** math.floor(math.log10(top))
    return 4 if round(mantissa, 6) == 2 else 5


def _frame(title: str, desc: str, body: list[str], unit: str, top: float) -> SafeString:
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    grid = []
    divisions = _divisions(top)
    for step in range(divisions + 1):
        value = top * step / divisions
        y = PAD_TOP + inner_h - inner_h * step / divisions
        grid.append(
            f'<line class="chart-grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="chart-tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(_number(value))}{escape(unit)}</text>'
        )
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'preserveAspectRatio="xMidYMid meet" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
        + "".join(grid)
        + "".join(body)
        + "</svg>"
    )


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    every: int = 4,
) -> SafeString:
    """Lines over evenly spaced x labels (None = no data at that point: a gap)."""
    values = [v for s in series for v in s.values if v is not None]
    top = _nice_max(max(values, default=0))
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return PAD_LEFT + (inner_w * i / (count - 1) if count > 1 else inner_w / 2)

    def y(v: float) -> float:
        return PAD_TOP + inner_h - inner_h * min(v, top) / top

    body = []
    for i, label in enumerate(labels):
        if i % every == 0 or i == count - 1:
            anchor = "start" if i == 0 else "end" if i == count - 1 else "middle"
            body.append(
                f'<text class="chart-tick" x="{x(i):.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="{anchor}">{escape(label)}</text>'
            )
    for s in series:
        segments, current = [], []
        for i, v in enumerate(s.values):
            if v is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append(f"{x(i):.1f},{y(v):.1f}")
        if current:
            segments.append(current)
        for segment in segments:
            body.append(f'<polyline class="chart-line {s.css}" points="{" ".join(segment)}"/>')
        for i, v in enumerate(s.values):
            if v is not None:
                body.append(
                    f'<circle class="chart-dot {s.css}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5">'
                    f"<title>{escape(s.name)} at {escape(labels[i])}: "
                    f"{escape(_number(v))}{escape(unit)}</title></circle>"
                )
    desc = "; ".join(
        f"{s.name}: latest {_number(next((v for v in reversed(s.values) if v is not None), 0))}"
        f"{unit}, highest {_number(max((v for v in s.values if v is not None), default=0))}{unit}"
        for s in series
    )
    return _frame(title, desc, body, unit, top)


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    every: int = 1,
) -> SafeString:
    """Grouped bars, one group per label, one bar per series."""
    values = [v or 0 for s in series for v in s.values]
    top = _nice_max(max(values, default=0))
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    groups = max(len(labels), 1)
    group_w = inner_w / groups
    bar_w = max(min(group_w * 0.8 / max(len(series), 1), 40), 1.5)
    body = []
    for i, label in enumerate(labels):
        left = PAD_LEFT + group_w * i + (group_w - bar_w * len(series)) / 2
        for j, s in enumerate(series):
            v = s.values[i] or 0
            h = inner_h * min(v, top) / top
            body.append(
                f'<rect class="chart-bar {s.css}" x="{left + j * bar_w:.1f}" '
                f'y="{PAD_TOP + inner_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}">'
                f"<title>{escape(s.name)}, {escape(label)}: {escape(_number(v))}{escape(unit)}"
                "</title></rect>"
            )
        if i % every == 0 or i == groups - 1:
            body.append(
                f'<text class="chart-tick" x="{PAD_LEFT + group_w * (i + 0.5):.1f}" '
                f'y="{HEIGHT - 8}" text-anchor="middle">{escape(label[:14])}</text>'
            )
    desc = "; ".join(
        f"{s.name}: "
        + ", ".join(f"{label} {_number(v or 0)}" for label, v in zip(labels, s.values, strict=True))
        for s in series
    )
    return _frame(title, desc, body, unit, top)
