"""What the product-analytics providers (amplitude, mixpanel, ga4) share: the criteria they can serve,
raw query parameters, counts read from answers, answers kept for one evaluation, and engagement
measured from whole-window user counts."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .. import metrics
from ..config import ConversionCriterion, CriterionBase, EngagementCriterion, Journey, Location
from ..measurement import Measurement
from .answers import provider_error
from .base import MetricRequest, Provider, ProviderContext

Check = tuple[Callable[[Any], bool], str]  # a test of a raw query value, and what it should be


@dataclass(frozen=True)
class QueryKeys:
    """The parameters a raw query may set for one kind of metric, given as a mapping."""

    service: str  # "Amplitude funnel"
    keys: Mapping[str, Check]
    example: str

    def problems(self, query: object) -> list[tuple[Location, str]]:
        if query is None:
            return []
        if not isinstance(query, Mapping):
            return [
                (
                    ("query",),
                    f"expected a mapping of {self.service} parameters for this metric, e.g. "
                    f"{self.example}",
                )
            ]
        problems: list[tuple[Location, str]] = []
        for key, value in query.items():
            if key not in self.keys:
                known = ", ".join(self.keys)
                problems.append(
                    (("query", key), f"unknown key for {self.service}; expected {known}")
                )
            elif not self.keys[key][0](value):
                problems.append((("query", key), f"expected {self.keys[key][1]}"))
        return problems


_OTHER_SOURCE = {
    "error_rate": "an APM or error-tracking provider (prometheus, datadog, newrelic, dynatrace, "
    "sentry)",
    "apdex": "an APM provider (prometheus, datadog, newrelic, dynatrace)",
    "latency": "an APM provider (prometheus, datadog, newrelic, dynatrace)",
    "feedback": "a feedback source (the http provider)",
    "custom": "the http or sql provider",
}
SERVES = "conversion and engagement (active_users, events_per_user, adoption with unit: user)"


@dataclass(frozen=True)
class AnalyticsService:
    """A service that counts conversion and engagement among users (amplitude, mixpanel)."""

    name: str  # the provider's type: "amplitude"
    service: str  # "Amplitude"
    segmentation: str  # what counts engagement: "Amplitude's Dashboard API"
    narrow: str  # how to narrow a query instead of an SQL filter
    conversion: QueryKeys
    engagement: QueryKeys

    def problems(self, criterion: CriterionBase) -> list[tuple[Location, str]]:
        """What such a service cannot serve (session-unit funnels: see funnels.py)."""
        metric = getattr(criterion, "metric", "custom")
        if metric not in ("conversion", "engagement"):
            source = _OTHER_SOURCE.get(metric, "another provider")
            return [
                (
                    ("metric",),
                    f"{self.name} cannot measure {metric}: it serves {SERVES}; read {metric} from "
                    f"{source}",
                )
            ]
        problems: list[tuple[Location, str]] = []
        if criterion.filter is not None:
            problems.append(
                (("filter",), f"filter is SQL for the file and sql providers; {self.narrow}")
            )
        if isinstance(criterion, ConversionCriterion):
            problems += self.conversion.problems(criterion.query)
        elif isinstance(criterion, EngagementCriterion):
            if criterion.measure == "events_per_session":
                problems.append(
                    (
                        ("measure",),
                        f"{self.segmentation} does not count events per session; use "
                        "events_per_user",
                    )
                )
            elif criterion.measure == "adoption" and criterion.unit == "session":
                problems.append(
                    (("unit",), f"{self.service} counts adoption among users: use unit: user")
                )
            problems += self.engagement.problems(criterion.query)
        return problems


def criterion_journey(request: MetricRequest) -> Journey:
    """The journey a conversion criterion reads, the criterion's `unit` winning over the journey's
    (as the loader hands it to `Provider.journey_problems`)."""
    assert request.journey is not None
    unit = getattr(request.criterion, "unit", None)
    return request.journey.model_copy(update={"unit": unit}) if unit else request.journey


def refuse_unservable(provider: Provider, request: MetricRequest) -> None:
    """Raise what the file loader would have refused about a request (for callers without it)."""
    criterion = request.criterion
    problems = [m for _, m in provider.criterion_problems(criterion, provider.settings)]
    if isinstance(criterion, ConversionCriterion) and request.journey is not None:
        problems += provider.journey_problems(criterion_journey(request), provider.settings)
    if problems:
        raise provider_error(provider.context, problems[0])


def parse_count(value: object) -> int | None:
    """A count from an answer: None for no data (null, NaN); ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"expected a count, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a count, got {value!r}")
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value) or not value.is_integer():
            raise ValueError(f"expected a whole count, got {value!r}")
    if value < 0:
        raise ValueError(f"expected a count, got the negative number {value!r}")
    return int(value)


def read_count(context: ProviderContext, value: object, what: str, query: str) -> int | None:
    """`parse_count`, failing as the provider with what was being read."""
    try:
        return parse_count(value)
    except ValueError as exc:
        raise provider_error(context, f"{what}: {exc}", query) from None


def request_text(path: str, params: Sequence[tuple[str, object]]) -> str:
    """A request as a person reads it: parameters unescaped, in the order sent (no credential: these
    services take theirs in the Authorization header)."""
    return f"GET {path}?" + "&".join(f"{key}={value}" for key, value in params)


def snippet(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:120] + "…"


T = TypeVar("T")


class Answers(Generic[T]):
    """Answers kept for one evaluation: criteria asking the same question ask the service once."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, ask: Callable[[], T]) -> T:
        with self._lock:
            if key in self._kept:
                return self._kept[key]
        answer = ask()  # outside the lock: other questions need not wait for this one
        with self._lock:
            return self._kept.setdefault(key, answer)


def engagement_measurement(
    context: ProviderContext,
    criterion: EngagementCriterion,
    users: int | None,
    counted: int | None,
    *,
    query: str,
    event: str,
    active: str,
) -> Measurement:
    """Engagement from whole-window counts: `users` active users, and `counted` the adopters
    (adoption) or events (events_per_user) of `event`. `active` says what made a user active and how
    to change it, for the error when adopters outnumber active users."""
    if criterion.measure == "adoption":
        if counted is not None and users and counted > users:
            raise provider_error(
                context, f"adoption: {counted} users sent {event} but only {users} {active}", query
            )
        details = {"users": users or 0, "adopters": counted or 0}
        return metrics.proportion(counted or 0, users or 0, query=query, details=details)
    if not users:
        return Measurement(value=None, samples=0, query=query)
    if criterion.measure == "active_users":
        return Measurement(value=float(users), samples=users, details={"users": users}, query=query)
    # These services give totals, not each user's count: no variance, so no significance test.
    return Measurement(
        value=(counted or 0) / users,
        samples=users,
        details={"events": counted or 0, "users": users},
        query=query,
    )
