"""A small inline SVG line chart (no script, no network) shared by the HTML report's per-interval
chart and the history page's trends: lines over a 0..1 axis, the threshold dashed across."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from ..measurement import format_value

# The colours come from the page: --accent (the card's verdict), --bar, --muted, --fg.
CHART_STYLE = """
.chart .line { fill: none; stroke-width: 1.5; }
.chart .line-baseline { stroke: var(--bar); stroke-dasharray: 5 2; }
.chart .line-release { stroke: var(--accent); }
.chart .dot-baseline { fill: var(--bar); }
.chart .dot-release { fill: var(--accent); }
.chart .legend-baseline { fill: var(--muted); font-size: 10px; }
.chart .legend-release { fill: var(--accent); font-size: 10px; }
"""

WIDTH, HEIGHT = 320, 120
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, WIDTH - 8, 18, HEIGHT - 18


@dataclass(frozen=True)
class Dot:
    at: float  # 0..1 along the x axis
    value: float | None  # None (or not finite): a gap in the line
    title: str  # the dot's tooltip
    css: str = ""  # an extra class, e.g. the verdict's "v-fail"


@dataclass(frozen=True)
class Line:
    name: str  # shown in the legend
    css: str  # "baseline" or "release": the line's colour and dash
    dots: Sequence[Dot]


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def levels(bounds: Sequence[float]) -> Callable[[float], float]:
    """Where a value sits on a scale holding every one of `bounds`, from 0 (bottom) to 1 (top),
    padded by 8% of the range; a flat line sits in the middle."""
    # Work in -1..1 so that values near the float limits cannot overflow the arithmetic.
    scale = max(abs(v) for v in bounds) or 1.0
    low, high = min(v / scale for v in bounds), max(v / scale for v in bounds)
    if high == low:
        low, high = low - 0.5, high + 0.5
    else:
        pad = 0.08 * (high - low)
        low, high = low - pad, high + pad
    return lambda v: (v / scale - low) / (high - low)


def line_chart(
    lines: Sequence[Line],
    *,
    unit: str,
    label: str,
    threshold: float | None = None,
    left: str = "",
    right: str = "",
) -> str:
    """The lines on one scale, with their highest and lowest value on the left and `left` and
    `right` under the x axis's ends. `label` is the chart's accessible description."""
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_e(label)}">'
    ]
    known = [v for line in lines for d in line.dots if (v := _finite(d.value)) is not None]
    threshold = _finite(threshold)
    if not known:
        parts.append(f'<text class="nodata" x="{_LEFT + 4}" y="{_TOP + 20}">no data</text></svg>')
        return "".join(parts)
    share_of = levels(known + ([threshold] if threshold is not None else []))

    def x(at: float) -> float:
        return _LEFT + min(1.0, max(0.0, at)) * (_RIGHT - _LEFT)

    def y(v: float) -> float:
        return _BOTTOM - share_of(v) * (_BOTTOM - _TOP)

    parts.append(f'<line class="axis" x1="{_LEFT}" y1="{_BOTTOM}" x2="{_RIGHT}" y2="{_BOTTOM}"/>')
    for tick in sorted({max(known), min(known)}):
        parts.append(
            f'<text class="tick" x="0" y="{y(tick) + 4:.1f}">{_e(format_value(tick, unit))}</text>'
        )
    parts.append(
        f'<text class="tick" x="{_LEFT}" y="{HEIGHT - 4}">{_e(left)}</text>'
        f'<text class="tick" x="{_RIGHT}" y="{HEIGHT - 4}" text-anchor="end">{_e(right)}</text>'
    )
    legend = _LEFT
    for line in lines:
        parts.append(f'<text class="legend-{line.css}" x="{legend}" y="10">{_e(line.name)}</text>')
        legend += 8 + 6 * len(line.name)  # about one character width at 10px
    if threshold is not None:
        level = y(threshold)
        parts.append(
            f'<line class="threshold" x1="{_LEFT}" y1="{level:.1f}" x2="{_RIGHT}" y2="{level:.1f}"/>'
            f'<text class="threshold-label" x="{_RIGHT}" y="10" text-anchor="end">'
            f"- - threshold {_e(format_value(threshold, unit))}</text>"
        )
    for line in lines:
        parts += _line(line, x, y)
    parts.append("</svg>")
    return "".join(parts)


def _line(line: Line, x: Callable[[float], float], y: Callable[[float], float]) -> list[str]:
    # A dot without a value breaks the line rather than bridging the gap.
    runs: list[list[str]] = [[]]
    for dot in line.dots:
        value = _finite(dot.value)
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{x(dot.at):.1f},{y(value):.1f}")
    parts = [
        f'<polyline class="line line-{line.css}" points="{" ".join(run)}"/>'
        for run in runs
        if len(run) > 1
    ]
    for dot in line.dots:
        value = _finite(dot.value)
        if value is not None:
            css = f"dot-{line.css} {dot.css}".strip()
            parts.append(
                f'<circle class="{css}" cx="{x(dot.at):.1f}" cy="{y(value):.1f}" r="2.5">'
                f"<title>{_e(dot.title)}</title></circle>"
            )
    return parts
