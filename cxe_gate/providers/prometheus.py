"""The `prometheus` provider: error rate, latency, Apdex and raw PromQL over the Prometheus HTTP API.

The judge gets counts (requests, errors, satisfied and tolerating requests), and they are exact:
each is the sum over a counter's series of what it added inside the window, read from its samples
(see `prometheus_counts.exact`), not `increase()`, which extrapolates to the window's edges and
drops the first value of every series that begins inside the window. A percentile is interpolated
from the exact bucket counts the way `histogram_quantile()` does it. One range query more per
window finds the time of the newest sample the numbers were read from (`data_end`). With
gate.series, each window's intervals are counted the same way (`prometheus_intervals`)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from ..config import ApdexCriterion, Cohorts, CriterionBase, ErrorRateCriterion, Problems
from ..measurement import Measurement, Point, TimeWindow
from .base import MetricRequest, Provider, ProviderContext, ProviderSettings
from .capabilities import refuse_unservable
from .criterion_checks import APM_METRICS, query_problems
from .prometheus_api import Asked, PrometheusApi
from .prometheus_intervals import window_series
from .prometheus_metrics import QUERY_FORMS, MetricReader
from .prometheus_settings import PrometheusSettings, default_errors
from .promql import parse_matchers, query_problem, selector

__all__ = ["PrometheusProvider", "PrometheusSettings"]


def _narrowed(criterion: CriterionBase, cohort: str | None) -> CriterionBase:
    """The criterion with a cohort's label matchers added to its filter."""
    if not cohort:
        return criterion
    matchers = [
        *(parse_matchers(criterion.filter) if criterion.filter else []),
        *parse_matchers(cohort),
    ]
    return criterion.model_copy(update={"filter": ", ".join(matchers)})


class PrometheusProvider(Provider):
    settings_model = PrometheusSettings
    settings: PrometheusSettings
    requests_take_slots = True
    serves = APM_METRICS
    takes_cohorts = True  # a cohort is label matchers beside the filter's
    query_kind = "a PromQL query"

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        assert isinstance(settings, PrometheusSettings)
        problems: Problems = []
        if criterion.filter is not None and criterion.query is not None:
            problems.append(
                (
                    ("filter",),
                    "filter narrows the default queries only; write the label matchers into "
                    "the raw query instead",
                )
            )
        elif criterion.filter is not None:
            try:
                parse_matchers(criterion.filter)
            except ValueError as exc:
                problems.append((("filter",), f"for prometheus, {exc}"))
        if isinstance(criterion, ErrorRateCriterion | ApdexCriterion):
            problems += _errors_problems(criterion, settings)
        shape = query_problems(
            criterion,
            QUERY_FORMS,
            query_kind=cls.query_kind,
            not_counts="a ratio",
            part_problem=lambda part, text: query_problem(text),
        )
        if isinstance(criterion.query, str) and not shape:
            # The shared check reads the text of a mapping's parts only; a text query is one part.
            problem = query_problem(criterion.query)
            shape = [(("query",), problem)] if problem else []
        problems += shape
        return problems

    @classmethod
    def cohort_problems(
        cls, cohorts: Cohorts, criterion: CriterionBase, settings: ProviderSettings
    ) -> list[str]:
        if criterion.query is not None:
            return ["a raw query cannot be narrowed to a cohort; use the default queries"]
        problems = []
        for label, text in (("release", cohorts.release), ("baseline", cohorts.baseline)):
            try:
                parse_matchers(text)
            except ValueError as exc:
                problems.append(f"the {label} cohort: {exc}")
        return problems

    def __init__(self, settings: PrometheusSettings, context: ProviderContext):
        super().__init__(settings, context)
        self._api = PrometheusApi(settings, context, slots=self.request_slots())
        self._reader = MetricReader(self._api, settings)

    def close(self) -> None:
        self._api.close()

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)
        criterion = request.criterion
        if any(w.cohort for w in windows):
            # Each cohort is its own label matchers beside the filter's: measure one at a time.
            return {
                label: measured
                for window in windows
                for label, measured in self.measure(
                    MetricRequest(
                        criterion=_narrowed(criterion, window.cohort),
                        journey=request.journey,
                        release=request.release,
                    ),
                    [replace(window, cohort=None)],
                ).items()
            }
        return self.each_window(windows, partial(self._measure_window, criterion))

    def measure_series(
        self, request: MetricRequest, windows: list[TimeWindow]
    ) -> dict[str, tuple[Point, ...]]:
        """Each window's value per interval (gate.series), read as `measure` reads the window
        (a cohort's matchers beside the filter's), the windows side by side as `measure` reads
        them; a window that has not begun has no series."""
        refuse_unservable(self, request)
        reads = {
            window.label: partial(
                self._window_series,
                _narrowed(request.criterion, window.cohort),
                replace(window, cohort=None),
            )
            for window in windows
            if window.end > window.start
        }
        return {label: measured.series for label, measured in self.at_once(reads).items()}

    def _window_series(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        # Carried in a Measurement so the windows run side by side through `at_once`.
        series = window_series(self._api, self.settings, criterion, window)
        return Measurement(value=None, samples=0, series=series)

    def _measure_window(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        if window.end <= window.start:  # a release window that has not begun yet
            return Measurement(value=None, samples=0)
        asked = Asked(window)
        measured = self._reader.read(criterion, asked)
        sampled = self._sampled(criterion)
        if measured.has_data and sampled is not None:
            measured = replace(
                measured, data_end=self._api.data_end(sampled, asked), query=asked.text()
            )
        return asked.noted(measured)

    def _sampled(self, criterion: CriterionBase) -> str | None:
        """The series a default query reads, whose samples tell how far the data reaches; None for
        a raw query, whose series only its author knows."""
        if criterion.query is not None:
            return None
        scope = self.settings.scope_of(criterion)
        if isinstance(criterion, ErrorRateCriterion):
            return selector(self.settings.requests_counter, scope)
        return selector(f"{self.settings.duration_histogram}_count", scope)


def _errors_problems(
    criterion: ErrorRateCriterion | ApdexCriterion, settings: PrometheusSettings
) -> Problems:
    if default_errors(criterion):
        return []
    try:
        matchers = parse_matchers(criterion.errors)
    except ValueError:
        return [
            (
                ("errors",),
                f"for prometheus, errors is a PromQL label matcher on the requests counter, "
                f'e.g. {settings.status_label}=~"5..|429"; leave it out to use the provider\'s '
                f"{settings.error_matcher}",
            )
        ]
    if isinstance(criterion, ApdexCriterion) and settings.status_on_histogram and len(matchers) > 1:
        return [
            (
                ("errors",),
                "with status_on_histogram, errors must be one label matcher (its negation picks "
                "the requests that did not fail)",
            )
        ]
    return []
