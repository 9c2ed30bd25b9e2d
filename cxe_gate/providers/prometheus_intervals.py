"""The `prometheus` provider's per-interval series (gate.series): each window's 12 intervals read
with the window's own queries, each counter in one range query for all of them."""

from __future__ import annotations

from ..config import CriterionBase
from ..measurement import Measurement, Point, TimeWindow
from .prometheus_api import Asked, PrometheusApi
from .prometheus_counts import Counted, exact, exact_intervals
from .prometheus_metrics import MetricReader
from .prometheus_settings import PrometheusSettings
from .promql import epoch_ms, from_epoch_ms
from .series import INTERVALS, intervals, points

CountKey = tuple[str, tuple[str, ...], tuple[str, ...]]


def ranged(window: TimeWindow, count: int = INTERVALS) -> bool:
    """Whether a range query evaluates at exactly the intervals' ends: Prometheus keeps whole
    milliseconds and steps evenly, so the window's bounds must be whole milliseconds and its
    length a multiple of `count` of them. Otherwise each interval is asked on its own (same
    numbers, more requests): a release window read up to now rarely ends on a millisecond."""
    start, end = epoch_ms(window.start), epoch_ms(window.end)
    whole = from_epoch_ms(start) == window.start and from_epoch_ms(end) == window.end
    return whole and (end - start) % count == 0


class IntervalCounts:
    """The counts of one window's intervals, each (metric, matchers, by) read once for all of
    them, at its first use; what was sent is recorded on the window's own `Asked`."""

    def __init__(self, api: PrometheusApi, window: TimeWindow, cut: list[TimeWindow]):
        self._api = api
        self._asked = Asked(window)
        self._cut = cut
        self._index = {sub.label: i for i, sub in enumerate(cut)}
        self._ranged = ranged(window, len(cut))
        self._found: dict[CountKey, list[Counted | None]] = {}

    def count(
        self, metric: str, matchers: list[str], asked: Asked, by: tuple[str, ...]
    ) -> Counted | None:
        if not self._ranged:
            return exact(self._api, metric, matchers, asked, by)
        key = (metric, tuple(matchers), by)
        if key not in self._found:
            self._found[key] = exact_intervals(
                self._api, metric, matchers, self._cut, self._asked, by
            )
        return self._found[key][self._index[asked.window.label]]


def window_series(
    api: PrometheusApi, settings: PrometheusSettings, criterion: CriterionBase, window: TimeWindow
) -> tuple[Point, ...]:
    """`window`'s intervals, each measured as `measure` measures a window, after `measure`
    checked the window (its labels, its metric's name): an interval without samples has no
    data. A raw query is sent once per interval, its `$window`, `$start` and `$end` the
    interval's."""
    cut = intervals([window])
    by_label = {sub.label: sub for sub in cut}
    counts = IntervalCounts(api, window, cut)
    reader = MetricReader(api, settings, count=counts.count, checks=False)

    def measure(label: str) -> Measurement:
        return reader.read(criterion, Asked(by_label[label]))

    return points([window], measure)[window.label]
