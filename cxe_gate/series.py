"""A criterion's per-interval series for the reports, from its windows' measurements: each window's
as the provider measured it; a baseline of several periods as their mean interval by interval."""

from __future__ import annotations

from .baseline import is_part
from .errors import CxeGateError
from .measurement import Measurement, Point, TimeWindow
from .providers import MetricRequest
from .providers.series import GivesSeries, with_series
from .results import SeriesPoint


def _pooled(periods: list[tuple[Point, ...]]) -> list[SeriesPoint]:
    """Interval i of each period, as one point: their values weighted by samples (which for a rate
    is the pooled rate), at the most recent period's times."""
    count = min(len(p) for p in periods)
    pooled = []
    for i in range(count):
        points = [period[i] for period in periods]
        known = [p for p in points if p.value is not None and p.samples > 0]
        samples = sum(p.samples for p in points)
        weight = sum(p.samples for p in known)
        value = (
            sum(p.value * p.samples for p in known if p.value is not None) / weight
            if weight
            else None
        )
        pooled.append(SeriesPoint(start=periods[0][i].start, value=value, samples=samples))
    return pooled


def series_of(
    measured: dict[str, Measurement], windows: list[TimeWindow]
) -> dict[str, list[SeriesPoint]]:
    """`baseline` and `release` series, each only where the provider gave one."""
    found: dict[str, list[SeriesPoint]] = {}
    # The pooled points take the times of the nearest period, so they sit just before the release.
    nearest_first = sorted(windows, key=lambda w: w.start, reverse=True)
    parts = [
        measured[w.label].series
        for w in nearest_first
        if is_part(w.label) and w.label in measured and measured[w.label].series
    ]
    baseline = measured.get("baseline")
    if parts:
        found["baseline"] = _pooled(parts)
    elif baseline is not None and baseline.series:
        found["baseline"] = [_point(p) for p in baseline.series]
    release = measured.get("release")
    if release is not None and release.series:
        found["release"] = [_point(p) for p in release.series]
    return found


def _point(point: Point) -> SeriesPoint:
    return SeriesPoint(start=point.start, value=point.value, samples=point.samples)


def with_provider_series(
    provider: object,
    request: MetricRequest,
    windows: list[TimeWindow],
    measured: dict[str, Measurement],
) -> tuple[dict[str, Measurement], str | None]:
    """`measured` with each window's series where the provider can measure them. The chart is not
    the verdict: a series that cannot be read is said in a note (returned), never raised."""
    if not isinstance(provider, GivesSeries):
        return measured, None
    try:
        return with_series(measured, provider.measure_series(request, windows)), None
    except CxeGateError as exc:
        return measured, f"no per-interval series: {exc}"
    except Exception as exc:  # a chart must not turn a judged criterion into an error
        return measured, f"no per-interval series: {type(exc).__name__}: {exc}"
