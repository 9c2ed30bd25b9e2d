"""What the providers of an APM metrics API share (datadog, dynatrace): the metrics they serve, the
checks every such API makes of a criterion (an `errors` rule it cannot apply, the parts of a raw
query), and measuring a criterion window by window, one reader per metric."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from ..config import (
    ApdexCriterion,
    CriterionBase,
    CustomCriterion,
    ErrorRateCriterion,
    LatencyCriterion,
    Problems,
)
from ..measurement import Measurement, TimeWindow
from .api_provider import ApiProvider
from .base import MetricRequest, ProviderSettings
from .capabilities import refuse_unservable
from .criterion_checks import APM_METRICS, QueryForm, query_problems


@dataclass(frozen=True)
class ApmQueries:
    """What a raw `query` may be on one APM product, for the checks and their messages."""

    forms: Mapping[str, QueryForm]  # per metric
    not_counts: str  # what a text error-rate query would be: "a ratio"
    # (metric, part, text) → what is wrong with a part's text, or None
    part_problem: Callable[[str, str, str], str | None]


class ApmProvider(ApiProvider):
    """A provider of an APM metrics API: a subclass says how its product counts errors and what its
    raw queries may be, and reads each metric for one window."""

    serves = APM_METRICS
    errors_problem: ClassVar[str]  # why `errors` does not apply, and how to count other failures
    queries: ClassVar[ApmQueries]

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        problems: Problems = []
        if "errors" in criterion.model_fields_set:
            problems.append((("errors",), cls.errors_problem))
        problems += cls.product_problems(criterion, settings)
        problems += query_problems(
            criterion,
            cls.queries.forms,
            query_kind=cls.query_kind,
            not_counts=cls.queries.not_counts,
            part_problem=partial(cls.queries.part_problem, criterion.metric),
        )
        return problems

    @classmethod
    def product_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        """What else the product cannot apply (an Apdex T other than its own)."""
        return []

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)
        criterion = request.criterion
        read = {
            ErrorRateCriterion: self._error_rate,
            LatencyCriterion: self._latency,
            ApdexCriterion: self._apdex,
            CustomCriterion: self._custom,
        }[type(criterion)]
        return self.each_window(windows, lambda window: read(criterion, window))

    @abstractmethod
    def _error_rate(self, criterion: CriterionBase, window: TimeWindow) -> Measurement: ...

    @abstractmethod
    def _latency(self, criterion: CriterionBase, window: TimeWindow) -> Measurement: ...

    @abstractmethod
    def _apdex(self, criterion: CriterionBase, window: TimeWindow) -> Measurement: ...

    @abstractmethod
    def _custom(self, criterion: CriterionBase, window: TimeWindow) -> Measurement: ...
