"""What the product-analytics providers (amplitude, mixpanel, ga4) share: the metrics they serve and
what they refuse, raw query parameters, counts read from answers, answers kept for one evaluation, and engagement
measured from whole-window user counts."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from .. import metrics
from ..config import ConversionCriterion, CriterionBase, EngagementCriterion, JourneySpec, Problems
from ..measurement import Measurement
from .answers import provider_error
from .api_provider import ApiProvider
from .base import ProviderContext, ProviderSettings
from .funnels import users_funnel_problems

Check = tuple[Callable[[Any], bool], str]  # a test of a raw query value, and what it should be


@dataclass(frozen=True)
class QueryKeys:
    """The parameters a raw query may set for one kind of metric, given as a mapping."""

    service: str  # "Amplitude funnel"
    keys: Mapping[str, Check]
    example: str

    def problems(self, query: object) -> Problems:
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
        problems: Problems = []
        for key, value in query.items():
            if key not in self.keys:
                known = ", ".join(self.keys)
                problems.append(
                    (("query", key), f"unknown key for {self.service}; expected {known}")
                )
            elif not self.keys[key][0](value):
                problems.append((("query", key), f"expected {self.keys[key][1]}"))
        return problems


# What such a service counts; its providers declare `serves = ANALYTICS_METRICS`.
ANALYTICS_METRICS = ("conversion", "engagement")


@dataclass(frozen=True)
class AnalyticsService:
    """A service that counts conversion and engagement among users (amplitude, mixpanel)."""

    service: str  # "Amplitude"
    segmentation: str  # what counts engagement: "Amplitude's Dashboard API"
    conversion: QueryKeys
    engagement: QueryKeys

    def problems(self, criterion: CriterionBase) -> Problems:
        """What such a service cannot serve of conversion and engagement (session-unit funnels:
        see funnels.py)."""
        if isinstance(criterion, ConversionCriterion):
            return self.conversion.problems(criterion.query)
        if not isinstance(criterion, EngagementCriterion):
            return []
        problems: Problems = []
        if criterion.measure == "events_per_session":
            problems.append(
                (
                    ("measure",),
                    f"{self.segmentation} does not count events per session; use events_per_user",
                )
            )
        elif criterion.measure == "adoption" and criterion.unit == "session":
            problems.append(
                (("unit",), f"{self.service} counts adoption among users: use unit: user")
            )
        return problems + self.engagement.problems(criterion.query)


class AnalyticsProvider(ApiProvider):
    """A provider of such a service: what it serves and refuses, said once for them all."""

    serves: ClassVar[tuple[str, ...] | None] = ANALYTICS_METRICS
    takes_filter = False
    analytics: ClassVar[AnalyticsService]

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        return cls.analytics.problems(criterion)

    @classmethod
    def journey_problems(cls, journey: JourneySpec, settings: ProviderSettings) -> list[str]:
        return users_funnel_problems(journey, cls.analytics.service)


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
        details: dict[str, float] = {"users": users or 0, "adopters": counted or 0}
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
