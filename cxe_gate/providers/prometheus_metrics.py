"""The queries per metric: error rate from the requests counter, Apdex and latency from the duration
histogram (exact bucket counts, a percentile interpolated as `histogram_quantile()` does), and a
criterion's own PromQL, each read into one window's Measurement."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from .. import metrics
from ..config import ApdexCriterion, CriterionBase, ErrorRateCriterion, LatencyCriterion
from ..measurement import Measurement
from .buckets import Quantile, bucket_quantile
from .criterion_checks import QueryForm, query_parts
from .prometheus_api import Asked, PrometheusApi
from .prometheus_counts import Counted, coverage, exact, whole_count
from .prometheus_series import check_labels, no_data
from .prometheus_settings import PrometheusSettings, default_errors, error_matchers
from .promql import negate, substitute

_DURATION_UNITS = {"s": 1.0, "ms": 1000.0}  # histogram units per second
# A raw `query` per metric: the parts of a mapping, and the part a text query stands for. The names
# are the other APM providers' (datadog, dynatrace); each part is PromQL answering one number.
QUERY_FORMS = {
    "error_rate": QueryForm(frozenset({"errors", "requests"})),
    "latency": QueryForm(frozenset({"latency"}), frozenset({"requests"}), "latency"),
    "apdex": QueryForm(frozenset({"apdex"}), frozenset({"requests"}), "apdex"),
    "custom": QueryForm(frozenset({"value"}), frozenset({"samples"}), "value"),
}
_EXTRAPOLATING = re.compile(r"\b(increase|rate|irate|delta|idelta)\s*\(")
# What a counter added in the asked window: (metric, matchers, asked, by) → `exact`'s answer.
Count = Callable[[str, list[str], Asked, tuple[str, ...]], Counted | None]


def _bound(text: str) -> float | None:
    """An `le` label as a number: "0.5", "2", "1e+07", "+Inf"; None for anything else."""
    try:
        return float(text)
    except ValueError:
        return None


def _number_text(value: float) -> str:
    return "+Inf" if math.isinf(value) else f"{value:g}"


def _cumulative(counted: Counted | None) -> dict[float, float]:
    """Cumulative counts by bucket bound, from counts grouped by `le` ("2" and "2.0" are one
    bound)."""
    buckets: dict[float, float] = {}
    for (le,), count in (counted.groups if counted else {}).items():
        bound = _bound(le)
        if bound is not None:
            buckets[bound] = buckets.get(bound, 0.0) + count
    return buckets


class MetricReader:
    """Reads a criterion from one Prometheus server, one window at a time. A series' reader
    (`checks=False`) reads intervals of a window `measure` has checked already: an interval
    without samples is no data, and its counts may come from a `count` shared by the intervals."""

    def __init__(
        self,
        api: PrometheusApi,
        settings: PrometheusSettings,
        count: Count | None = None,
        checks: bool = True,
    ):
        self.api = api
        self.settings = settings
        self._count = count
        self._checks = checks

    def _exact(
        self, metric: str, matchers: list[str], asked: Asked, by: tuple[str, ...] = ()
    ) -> Counted | None:
        if self._count is None:
            return exact(self.api, metric, matchers, asked, by)
        return self._count(metric, matchers, asked, by)

    def read(self, criterion: CriterionBase, asked: Asked) -> Measurement:
        if criterion.query is not None:
            return self._raw(criterion, asked)
        if isinstance(criterion, ErrorRateCriterion):
            return self._error_rate(criterion, asked)
        if isinstance(criterion, ApdexCriterion):
            return self._apdex(criterion, asked)
        assert isinstance(criterion, LatencyCriterion)  # criterion_problems saw to it
        return self._latency(criterion, asked)

    def _requests(
        self, metric: str, setting: str, scope: list[str], asked: Asked, suffix: str = ""
    ) -> int | Measurement:
        """The requests the counter `metric` counted in the window (how it was read noted), or
        the Measurement of a window without data."""
        counted = self._exact(metric, scope, asked)
        if counted is None and not self._checks:
            return Measurement(value=None, samples=0, query=asked.text())
        if counted is None:
            return no_data(self.api, self.settings, metric, setting, asked, suffix)
        if self._checks:
            coverage(self.api, metric, scope, counted, asked)
        return whole_count(counted.total)

    def _observed(self, scope: list[str], asked: Asked) -> int | Measurement:
        """The requests the duration histogram observed in the window, as `_requests`."""
        metric = f"{self.settings.duration_histogram}_count"
        return self._requests(metric, "duration_histogram", scope, asked, "_count")

    def _error_rate(self, criterion: ErrorRateCriterion, asked: Asked) -> Measurement:
        counter, scope = self.settings.requests_counter, self.settings.scope_of(criterion)
        requests = self._requests(counter, "requests_counter", scope, asked)
        if isinstance(requests, Measurement):
            return requests
        errors = 0
        if requests > 0:
            matchers = error_matchers(criterion, self.settings)
            if self._checks:
                check_labels(self.api, counter, scope, matchers, asked, default_errors(criterion))
            # The label exists: no error series in the window is 0 errors.
            found = self._exact(counter, [*scope, *matchers], asked)
            errors = min(whole_count(found.total if found else None), requests)
        return metrics.proportion(
            errors,
            requests,
            query=asked.text(),
            details={"requests": requests, "errors": errors},
        )

    def _apdex(self, criterion: ApdexCriterion, asked: Asked) -> Measurement:
        histogram, scope = self.settings.duration_histogram, self.settings.scope_of(criterion)
        total = self._observed(scope, asked)
        if isinstance(total, Measurement):
            return total
        if total == 0:
            return metrics.apdex(0, 0, 0, query=asked.text())
        fast = scope
        if self.settings.status_on_histogram:
            # Buckets of the requests that did not fail; failed ones stay in the count: frustrated.
            errors = error_matchers(criterion, self.settings)
            default = default_errors(criterion)
            if self._checks:
                check_labels(self.api, f"{histogram}_count", scope, errors, asked, default)
            fast = [*scope, *(negate(m) for m in errors)]
        buckets = _cumulative(self._exact(f"{histogram}_bucket", fast, asked, ("le",)))
        satisfied = tolerating = 0
        if buckets:  # none: every request failed (status_on_histogram)
            per_second, unit = self._unit(list(buckets), asked)
            t = criterion.t.total_seconds() * per_second
            within_t = self._at_bound(buckets, t, unit, asked)
            within_4t = self._at_bound(buckets, 4 * t, unit, asked)
            satisfied = min(whole_count(within_t), total)
            tolerating = max(0, min(whole_count(within_4t), total) - satisfied)
        frustrated = total - satisfied - tolerating
        return metrics.apdex(satisfied, tolerating, frustrated, query=asked.text())

    def _latency(self, criterion: LatencyCriterion, asked: Asked) -> Measurement:
        histogram, scope = self.settings.duration_histogram, self.settings.scope_of(criterion)
        requests = self._observed(scope, asked)
        if isinstance(requests, Measurement):
            return requests
        found: Quantile | None = None
        buckets: dict[float, float] = {}
        if requests > 0:
            buckets = _cumulative(self._exact(f"{histogram}_bucket", scope, asked, ("le",)))
            if buckets and not any(math.isinf(b) for b in buckets):
                raise self.api.error(
                    f"{histogram}_bucket has no +Inf bucket: not a Prometheus histogram", asked
                )
            found = bucket_quantile(criterion.percentile / 100, buckets)
        if found is None:  # no observations: no data
            return Measurement(
                value=None, samples=0, details={"requests": requests}, query=asked.text()
            )
        per_second, _ = self._unit(list(buckets), asked)
        ms = found.value / per_second * 1000
        p = f"p{criterion.percentile:g}"
        lower, upper = found.lower / per_second * 1000, found.upper / per_second * 1000
        if found.above_buckets:
            asked.notes.append(
                f"{p} lies above the highest bucket bound ({lower:g} ms): reported as that bound, "
                "so the true value is higher"
            )
        else:
            asked.notes.append(
                f"{p} is interpolated from bucket counts (as histogram_quantile() does): linearly "
                f"inside the bucket {lower:g}–{upper:g} ms that holds it, so the exact {p} can "
                "lie anywhere in that bucket"
            )
        return Measurement(
            value=ms,
            samples=requests,
            details={"requests": requests, "seconds": found.value / per_second},
            query=asked.text(),
        )

    def _raw(self, criterion: CriterionBase, asked: Asked) -> Measurement:
        """A criterion's own PromQL, one query per part of its `query` (see QUERY_FORMS)."""
        metric = criterion.metric
        parts = query_parts(criterion, QUERY_FORMS)
        numbers = {
            part: self.api.value(substitute(text, asked.window), asked)
            for part, text in parts.items()
        }
        if any(_EXTRAPOLATING.search(text) for text in parts.values()):
            asked.notes.append(
                "read with the query's own increase()/rate(): Prometheus extrapolates them to the "
                "window's edges and drops the first count of each series that begins inside the "
                "window, so counts are estimates (the default queries count exactly)"
            )
        if metric == "error_rate":
            requests = whole_count(numbers["requests"])
            errors = whole_count(numbers["errors"])
            if errors > requests:
                raise self.api.error(
                    f"expected errors between 0 and the request count, got {errors:,} errors of "
                    f"{requests:,} requests (do both queries count the same requests?)",
                    asked,
                )
            return metrics.proportion(
                errors,
                requests,
                query=asked.text(),
                details={"requests": requests, "errors": errors},
            )
        value = numbers[QUERY_FORMS[metric].text_part or "value"]
        counted = "samples" if metric == "custom" else "requests"
        # Without a count, a bare number: enough to compare with min/max, too few for a test.
        samples = whole_count(numbers[counted]) if counted in numbers else 1
        if value is None or samples == 0:
            return Measurement(value=None, samples=0, query=asked.text())
        counts: dict[str, float] = {counted: samples} if counted in numbers else {}
        variance = None
        if metric == "latency":
            counts["seconds"] = value
            value *= 1000  # PromQL durations are in seconds
        elif metric == "apdex":
            if value > 1:
                raise self.api.error(f"expected an Apdex score from 0 to 1, got {value:g}", asked)
            # A score without its counts: scores of 0, 0.5 and 1 with mean m vary at most m(1 - m),
            # the widest the score allows, so a test never claims more certainty than it has.
            variance = value * (1 - value) * samples / (samples - 1) if samples > 1 else 0.0
            counts["variance upper bound"] = variance
        return Measurement(
            value=value,
            samples=samples,
            variance=variance,
            details=counts,
            query=asked.text(),
        )

    # --- the duration histogram -----------------------------------------------------------------

    def _unit(self, bounds: list[float], asked: Asked) -> tuple[float, str]:
        """The histogram's unit as (its units per second, name): duration_unit, else its name's
        suffix, else its bucket bounds (said in a note)."""
        histogram, declared = self.settings.duration_histogram, self.settings.duration_unit
        if declared is not None:
            return _DURATION_UNITS[declared], declared
        if histogram.endswith(("_milliseconds", "_ms")):
            return 1000.0, "ms"
        if histogram.endswith("_seconds"):
            return 1.0, "s"
        finite = sorted(b for b in bounds if math.isfinite(b))
        shown = ", ".join(map(_number_text, finite[:4])) + (", …" if len(finite) > 4 else "")
        unit = "ms" if finite and min(finite) >= 1 and max(finite) >= 100 else "s"
        asked.notes.append(
            f"{histogram} is read in {'milliseconds' if unit == 'ms' else 'seconds'}: its name "
            f"does not say (_seconds, _milliseconds) and its bucket bounds ({shown}) look like "
            f"{'milliseconds' if unit == 'ms' else 'seconds'}; set duration_unit to be sure"
        )
        return _DURATION_UNITS[unit], unit

    def _at_bound(
        self, buckets: dict[float, float], bound: float, unit: str, asked: Asked
    ) -> float:
        """Requests at or under `bound` (in the histogram's unit): the bucket whose `le` is it."""
        for le, count in buckets.items():
            if math.isclose(le, bound, rel_tol=1e-9):
                return count
        listed = ", ".join(map(_number_text, sorted(buckets)))
        raise self.api.error(
            f"Apdex needs a bucket bound at {_number_text(bound)} {unit} (T and 4T) in "
            f"{self.settings.duration_histogram}_bucket; its bounds are: {listed} ({unit}). "
            "Choose a T whose T and 4T are both bucket bounds, or add them to the histogram",
            asked,
        )
