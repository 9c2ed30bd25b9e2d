"""Per-interval series for providers that label rows by window: each window cut into equal
intervals (sub-windows the metric's own query can measure), and the points read back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..measurement import Measurement, Point, TimeWindow

if TYPE_CHECKING:
    from .base import MetricRequest

# Enough points to see a step or a trend in a release window, few enough to stay cheap.
INTERVALS = 12


def _label(window: TimeWindow, index: int) -> str:
    return f"{window.label}@{index}"


def intervals(windows: list[TimeWindow], count: int = INTERVALS) -> list[TimeWindow]:
    """Each window as `count` equal, adjacent sub-windows with its cohort, labelled `label@i`.
    Together they cover exactly the windows' time, so the query's span does not change."""
    cut = []
    for window in windows:
        step = (window.end - window.start) / count
        for i in range(count):
            end = window.end if i == count - 1 else window.start + step * (i + 1)
            cut.append(
                replace(window, label=_label(window, i), start=window.start + step * i, end=end)
            )
    return cut


def points(
    windows: list[TimeWindow],
    measure: Callable[[str], Measurement],
    count: int = INTERVALS,
) -> dict[str, tuple[Point, ...]]:
    """Per window, its intervals' points; `measure(label)` gives a sub-window's measurement."""
    series = {}
    for window in windows:
        cut = intervals([window], count)
        found = []
        for sub in cut:
            measured = measure(sub.label)
            value = measured.value if measured.has_data else None
            found.append(Point(start=sub.start, value=value, samples=measured.samples))
        series[window.label] = tuple(found)
    return series


def with_series(
    measured: dict[str, Measurement], series: dict[str, tuple[Point, ...]]
) -> dict[str, Measurement]:
    return {label: replace(m, series=series.get(label, m.series)) for label, m in measured.items()}


@runtime_checkable
class GivesSeries(Protocol):
    """A provider that can measure each window per interval, on request (gate.series)."""

    def measure_series(
        self, request: MetricRequest, windows: list[TimeWindow]
    ) -> dict[str, tuple[Point, ...]]: ...
