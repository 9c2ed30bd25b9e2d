"""The HTML report's per-interval chart: the release window and its baseline each cut into the same
number of equal intervals, drawn on one scale, interval by interval, with the threshold."""

from __future__ import annotations

from ..measurement import format_value
from ..results import CriterionResult, GateReport, SeriesPoint
from . import wording
from .line_chart import Dot, Line, line_chart

_NAMES = {"baseline": "baseline", "release": "release"}


def _dots(points: list[SeriesPoint], unit: str) -> list[Dot]:
    count = len(points)
    return [
        Dot(
            # Interval i of n sits at its middle, so windows of any length line up.
            at=(i + 0.5) / count,
            value=p.value,
            title=f"{wording.utc_time(p.start)}: {format_value(p.value, unit)}, "
            f"{p.samples:,} samples",
        )
        for i, p in enumerate(points)
    ]


def _range(points: list[SeriesPoint], unit: str) -> str:
    known = [p.value for p in points if p.value is not None]
    if not known:
        return "no data"
    return f"{format_value(min(known), unit)} to {format_value(max(known), unit)}"


def series_svg(criterion: CriterionResult, report: GateReport) -> str:
    """Baseline (dashed) and release per interval; under the axis, the release window's ends."""
    unit = criterion.unit
    lines = [
        Line(name, css, _dots(criterion.series[css], unit))
        for css, name in _NAMES.items()
        if criterion.series.get(css)
    ]
    count = max(len(points) for points in criterion.series.values())
    described = ", ".join(
        f"{css} {_range(criterion.series[css], unit)}"
        for css in _NAMES
        if criterion.series.get(css)
    )
    window = report.windows.get("release")
    left = right = ""
    if window is not None:
        left = f"release {wording.utc_time(window.start).split(' ', 1)[1]}"
        right = wording.utc_time(window.end).split(" ", 1)[1]
    return line_chart(
        lines,
        unit=unit,
        label=f"{criterion.name} in {count} equal intervals of each window: {described}",
        threshold=criterion.threshold,
        left=left,
        right=right,
    )
