"""Exact counts from Prometheus counters: what each series added inside a window, read from its
samples rather than `increase()` (which extrapolates to the window's edges and drops the first count
of every series that begins inside it); restarted counters are read sample by sample."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from ..measurement import TimeWindow
from .prometheus_api import Asked, PrometheusApi
from .promql import (
    duration_text,
    epoch_ms,
    from_epoch_ms,
    matcher_parts,
    promql_string,
    re2_escape,
    selector,
    unix_time,
)

# How far before a window a series' last value is looked for: a series with no sample in this hour
# began inside the window (a label set first observed, a new pod) and counts from 0.
_BEFORE = "1h"
# Raw samples per answer when a restarted counter is read sample by sample (~2 MB of JSON); a
# window with more is cut into _SPLIT parts, and the parts where a counter restarted cut again.
_RAW_SAMPLES = 50_000
_SPLIT = 10
# Fewer scrapes than this in a window: its counts may be off by a scrape interval at each edge.
_FEW_SCRAPES = 10

SeriesKey = frozenset[tuple[str, str]]  # a series' labels, without its metric name
# Restarted series: each one's labels and its number of samples in the window.
Restarted = dict[SeriesKey, tuple[dict[str, str], float]]


def whole_count(value: float | None) -> int:
    """A count as a whole number (exact counts are whole already; a raw query's increase() is
    extrapolated to the window's edges, so rarely whole)."""
    return 0 if value is None else max(0, math.floor(value + 0.5))


@dataclass(frozen=True)
class Counted:
    """What a counter's series added inside one window, summed by the `by` labels' values."""

    groups: dict[tuple[str, ...], float]
    restarted: int  # series whose counter started again from 0 inside the window

    @property
    def total(self) -> float:
        return sum(self.groups.values())


def _before(sel: str, window: str) -> str:
    """Each series' last value in the `_BEFORE` before a window as long as `window` (evaluated at
    the window's end)."""
    return f"last_over_time({sel}[{_BEFORE}] offset {window})"


def _restart(sel: str, window: str) -> str:
    """The series that restarted in the window: a reset inside it, or a value under the last one
    before it."""
    dropped = f"min_over_time({sel}[{window}]) < {_before(sel, window)}"
    return f"(resets({sel}[{window}]) > 0) or ({dropped})"


def _kept(sel: str, window: str) -> str:
    """Per series that did not restart: what it added in the window (its last value minus the one
    before the window, or all of it for a series born inside the window)."""
    last = f"last_over_time({sel}[{window}])"
    return f"(({last} - {_before(sel, window)}) or {last}) unless ({_restart(sel, window)})"


def _series_key(labels: dict[str, str]) -> SeriesKey:
    return frozenset((k, v) for k, v in labels.items() if k != "__name__")


def _narrowing(series: list[dict[str, str]], matchers: list[str]) -> list[str]:
    """Label matchers selecting these series (and perhaps a few more) beside `matchers`: one value
    per label, or an alternation of its values."""
    fixed = {}
    for matcher in matchers:
        parts = matcher_parts(matcher)
        if parts and parts[1] == "=":
            fixed[parts[0]] = parts[2]
    names = sorted({k for labels in series for k in labels if k != "__name__"})
    narrowing = []
    for name in names:
        values = sorted({labels.get(name, "") for labels in series})
        if len(values) == 1 and fixed.get(name) == promql_string(values[0]):
            continue  # already selected by `matchers`
        if len(values) == 1:
            narrowing.append(f"{name}={promql_string(values[0])}")
        else:
            narrowing.append(f"{name}=~{promql_string('|'.join(map(re2_escape, values)))}")
    return narrowing


def exact(
    api: PrometheusApi, metric: str, matchers: list[str], asked: Asked, by: tuple[str, ...] = ()
) -> Counted | None:
    """What the counter `metric{matchers}` added inside the window, summed by the `by` labels;
    None when no series of it has a sample in the window (no data, never zero).

    For each series: its last value in the window minus its last value before the window (up
    to `_BEFORE` earlier), or minus 0 for a series that did not exist then (a label set first
    observed inside the window, a new pod). That is what `increase()` approximates; it is
    exact where `increase()` is not: `increase()` needs two samples in the range, so a series
    born inside the window loses its first count, and it extrapolates to the range's edges.
    The counts run from the last scrape at or before the window's start to the last scrape
    in it.

    Every series that did not restart is summed by Prometheus itself, so an answer holds one
    number per group however many series and samples there are (a replaced pod is a new
    series, nothing to correct). A counter that went down was restarted (a pod restarted in
    place): what it counts after the reset adds to what it counted before, which Prometheus
    cannot subtract. Those series, found by `resets()` or by a value in the window under the
    one before it, are read by `_restarted`."""
    sel, window = selector(metric, matchers), asked.range
    groups: dict[tuple[str, ...], float] = {}
    for series in api.vector(api.query(_summed(sel, window, by), asked), asked):
        value = api.number(series.get("value"), asked)
        if value is not None:
            groups[_group(series, by)] = value
    changed = _changed(api, sel, window, asked, None, None)
    return _counted(api, metric, matchers, groups, changed, asked.window, asked, by)


def exact_intervals(
    api: PrometheusApi,
    metric: str,
    matchers: list[str],
    cut: list[TimeWindow],
    asked: Asked,
    by: tuple[str, ...] = (),
) -> list[Counted | None]:
    """`exact` of each of `cut` (equal, adjacent intervals whose ends are whole milliseconds),
    from two range queries in all: the same expressions evaluated at each interval's end with
    the interval's length as their range, which is what `exact` sends for one interval. Only an
    interval where a series restarted is read on its own, as `exact` reads it."""
    sel = selector(metric, matchers)
    step = duration_text(epoch_ms(cut[0].end) - epoch_ms(cut[0].start))
    first, last = unix_time(cut[0].end), unix_time(cut[-1].end)
    kept: dict[int, dict[tuple[str, ...], float]] = {}
    for series in api.query_range(_summed(sel, step, by), asked, first, last, step):
        for ms, value in api.timed(series, asked):
            if value is not None:
                kept.setdefault(ms, {})[_group(series, by)] = value
    changed: dict[int, Restarted] = {}
    for series in api.query_range(_changed_query(sel, step), asked, first, last, step):
        labels = series.get("metric", {})
        for ms, samples in api.timed(series, asked):
            changed.setdefault(ms, {})[_series_key(labels)] = (labels, samples or 0.0)
    return [
        _counted(api, metric, matchers, kept.get(end, {}), changed.get(end, {}), window, asked, by)
        for window, end in ((w, epoch_ms(w.end)) for w in cut)
    ]


def _summed(sel: str, window: str, by: tuple[str, ...]) -> str:
    grouping = f" by ({', '.join(by)})" if by else ""
    return f"sum{grouping} ({_kept(sel, window)})"


def _group(series: dict[str, Any], by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(series.get("metric", {}).get(b, "") for b in by)


def _counted(
    api: PrometheusApi,
    metric: str,
    matchers: list[str],
    groups: dict[tuple[str, ...], float],
    changed: Restarted,
    window: TimeWindow,
    asked: Asked,
    by: tuple[str, ...],
) -> Counted | None:
    """The groups summed by Prometheus plus what the restarted series added, read one by one."""
    if not groups and not changed:
        return None
    if changed:
        found = _restarted(api, metric, matchers, changed, window, asked)
        for key, value in found.items():
            group = tuple(changed[key][0].get(b, "") for b in by)
            groups[group] = groups.get(group, 0.0) + value
    return Counted(groups, restarted=len(changed))


def coverage(
    api: PrometheusApi, metric: str, matchers: list[str], counted: Counted, asked: Asked
) -> None:
    """Notes on how a window's main count was read: series that began or restarted inside it
    (where increase() would have been wrong), and too few scrapes to trust its edges."""
    sel, window = selector(metric, matchers), asked.range
    born = api.value(f"count(last_over_time({sel}[{window}]) unless {_before(sel, window)})", asked)
    scrapes = api.value(f"max(count_over_time({sel}[{window}]))", asked)
    changes = []
    if born:
        changes.append(f"{whole_count(born):,} began inside the window (counted from 0)")
    if counted.restarted:
        verb = "restarted its counter" if counted.restarted == 1 else "restarted their counters"
        changes.append(f"{counted.restarted:,} {verb} (a reset: read sample by sample)")
    if changes:
        asked.notes.append(
            f"series of {metric}: "
            + "; ".join(changes)
            + ". The counts are exact differences between samples, where increase() would "
            "extrapolate and drop each new series' first count"
        )
    if scrapes is not None and scrapes < _FEW_SCRAPES:
        span = (asked.window.end - asked.window.start).total_seconds()
        asked.notes.append(
            f"the window holds only {whole_count(scrapes)} scrape(s) of {metric} (about one every "
            f"{span / max(scrapes, 1):.3g} s): its counts run from the last scrape at or "
            "before its start to its last scrape, so up to a scrape interval of requests at "
            "each edge may belong to the neighbouring window. Make the window longer"
        )


def _changed_query(sel: str, window: str) -> str:
    """Per series that restarted in the window, its number of samples in it."""
    return f"count_over_time({sel}[{window}]) and ({_restart(sel, window)})"


def _changed(
    api: PrometheusApi,
    sel: str,
    window: str,
    asked: Asked,
    at: str | None,
    among: Restarted | None,
) -> Restarted:
    """The series of `sel` that restarted in the window ending `at` (among `among`), each
    with its labels and number of samples in the window."""
    found = {}
    for series in api.vector(api.query(_changed_query(sel, window), asked, at=at), asked):
        labels = series.get("metric", {})
        key = _series_key(labels)
        if among is None or key in among:
            found[key] = (labels, api.number(series.get("value"), asked) or 0.0)
    return found


def _restarted(
    api: PrometheusApi,
    metric: str,
    matchers: list[str],
    changed: Restarted,
    window: TimeWindow,
    asked: Asked,
) -> dict[SeriesKey, float]:
    """What each restarted series in `changed` added inside `window`: each rise counts, and
    after a drop (a reset) the value it dropped to.

    Read from raw samples when they are few (at most `_RAW_SAMPLES` in one answer, about
    2 MB of JSON); otherwise the window is cut into `_SPLIT` parts, each counted as `exact`
    counts a window (per series, for these series only), and only the parts where a series
    restarted are cut again. A restart in a week-long window costs a few dozen small
    queries, never the week's raw samples."""
    narrowed = [*matchers, *_narrowing([labels for labels, _ in changed.values()], matchers)]
    sel = selector(metric, narrowed)
    start_ms, end_ms = epoch_ms(window.start), epoch_ms(window.end)
    samples = sum(n for _, n in changed.values())
    if samples <= _RAW_SAMPLES or end_ms - start_ms < _SPLIT * 1000:
        return _raw_counts(api, sel, changed, start_ms, end_ms, asked)
    added = dict.fromkeys(changed, 0.0)
    edges = [start_ms + (end_ms - start_ms) * i // _SPLIT for i in range(_SPLIT + 1)]
    for lower, upper in itertools.pairwise(edges):
        part = duration_text(upper - lower)
        at = unix_time(from_epoch_ms(upper))
        for series in api.vector(api.query(_kept(sel, part), asked, at=at), asked):
            key = _series_key(series.get("metric", {}))
            value = api.number(series.get("value"), asked)
            if key in added and value is not None:
                added[key] += value
        again = _changed(api, sel, part, asked, at, changed)
        if again:
            piece = TimeWindow(window.label, from_epoch_ms(lower), from_epoch_ms(upper))
            for key, value in _restarted(api, metric, matchers, again, piece, asked).items():
                added[key] += value
    return added


def _raw_counts(
    api: PrometheusApi,
    sel: str,
    changed: Restarted,
    start_ms: int,
    end_ms: int,
    asked: Asked,
) -> dict[SeriesKey, float]:
    """The restarted series' counts from their raw samples in [start_ms, end_ms]."""
    span, at = duration_text(end_ms - start_ms), unix_time(from_epoch_ms(end_ms))
    previous: dict[SeriesKey, float] = {}
    for series in api.vector(api.query(_before(sel, span), asked, at=at), asked):
        key = _series_key(series.get("metric", {}))
        value = api.number(series.get("value"), asked)
        if key in changed and value is not None:
            previous[key] = value
    data = api.query(f"{sel}[{span}]", asked, at=at)
    added = dict.fromkeys(changed, 0.0)
    for series in api.matrix(data, asked, "of raw samples"):
        key = _series_key(series.get("metric", {}))
        if key not in changed:
            continue  # caught by the narrowing, but not restarted
        for value in api.values(series, asked):
            if value is None:
                continue
            before_value = previous.get(key, 0.0)  # 0: the series began in the window
            added[key] += value if value < before_value else value - before_value
            previous[key] = value
    return added
