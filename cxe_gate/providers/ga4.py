"""The `ga4` provider: conversion from GA4 funnel reports and engagement from core reports of the
Google Analytics 4 Data API, signed in as a service account.

GA4 counts days in the property's time zone; a window that is not whole days is cut to the hour
with a `dateHour` filter (or widened to whole days, if asked), and the report says so. Sampled
answers are said to be, and a quota no retry within seconds can refill ends the request at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..config import CriterionBase, JourneySpec, Problems
from ..measurement import Measurement, TimeWindow
from .base import MetricRequest, Provider, ProviderContext, ProviderSettings
from .capabilities import refuse_unservable
from .days import with_spans
from .ga4_client import Ga4Client
from .ga4_metrics import MetricReader
from .ga4_requests import spans
from .ga4_settings import Ga4Settings

__all__ = ["Ga4Provider", "Ga4Settings"]

_QUERY_SHAPE = (
    "expected a mapping {report: <runReport request body without dateRanges>, metric: <a metric "
    "of the report>} (optionally samples: <metric>), or {report: ..., successes: <metric>, "
    "trials: <metric>} for a rate"
)


class Ga4Provider(Provider):
    settings_model = Ga4Settings
    settings: Ga4Settings
    max_concurrency = 10  # GA4's concurrent-request quota for a standard property
    serves = ("conversion", "engagement", "custom")
    why_not: ClassVar[Mapping[str, str]] = {
        "error_rate": "GA4 counts analytics events, not failed requests",
        "apdex": "GA4 has no request durations",
        "latency": "GA4 has no request durations",
        "feedback": "GA4 holds no survey answers",
        "retention": "GA4's cohort reports (cohortSpec) count calendar days in the property's time "
        "zone from the first session's date, not the gate's 24-hour blocks from each user's first "
        "event; read GA4's BigQuery export with the sql provider (preset: ga4)",
    }
    takes_filter = False
    narrow_instead = (
        "put a dimensionFilter in a raw query "
        "(query: {report: {metrics: ..., dimensionFilter: ...}, metric: ...})"
    )
    query_kind = "a mapping {report: …, metric: …}"

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        return [] if criterion.query is None else _query_problems(criterion.query)

    @classmethod
    def journey_problems(cls, journey: JourneySpec, settings: ProviderSettings) -> list[str]:
        problems = []
        # A journey left at the default unit is read as users; one that says sessions is refused.
        if journey.unit == "session" and "unit" in journey.model_fields_set:
            problems.append(
                "GA4 funnels count users, not sessions; set unit: user on the criterion (or the "
                "journey) to judge users"
            )
        if journey.within is not None:
            problems.append(
                "the journey has `within`, but GA4 funnels bound only the time between one step "
                "and the next, not from first to last; drop `within` or read this journey from "
                "another provider"
            )
        return problems

    def __init__(self, settings: Ga4Settings, context: ProviderContext):
        super().__init__(settings, context)
        self._client = Ga4Client(settings, context)
        self._reader = MetricReader(self._client)

    def close(self) -> None:
        self._client.close()

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)
        found = spans(windows, self.settings, self.context)
        live = [s for s in found if s.begun]
        result = self._reader.read(request, live) if live else {}
        for span in found:
            result.setdefault(span.label, Measurement(value=None, samples=0))
        return with_spans(result, {s.label: s for s in found})


def _query_problems(query: Any) -> Problems:
    """What is wrong with a raw query mapping, each at its place under `query`."""
    if not isinstance(query, Mapping):
        return [(("query",), f"the ga4 provider takes no query text; {_QUERY_SHAPE}")]
    problems: Problems = []
    unknown = sorted(set(query) - {"report", "metric", "samples", "successes", "trials"})
    if unknown:
        problems.append((("query", unknown[0]), f"unknown key {unknown[0]!r}; {_QUERY_SHAPE}"))
    report = query.get("report")
    if not isinstance(report, Mapping):
        problems.append(
            (("query", "report"), f"required, a runReport request body; {_QUERY_SHAPE}")
        )
        return problems
    if "dateRanges" in report:
        problems.append(
            (
                ("query", "report", "dateRanges"),
                "leave dateRanges out: the gate sets one per window (release and baseline)",
            )
        )
    listed = report.get("metrics")
    found = (
        [m.get("name") for m in listed if isinstance(m, Mapping)]
        if isinstance(listed, list)
        else []
    )
    names = [n for n in found if isinstance(n, str) and n]
    if not names or len(names) != len(found):
        problems.append(
            (
                ("query", "report", "metrics"),
                "expected a list of metrics such as [{name: activeUsers}, {name: eventCount}]",
            )
        )
        return problems
    rate = "successes" in query or "trials" in query
    if rate and "metric" in query:
        problems.append(
            (("query",), "give either metric (a value) or successes and trials (a rate), not both")
        )
    wanted = ("successes", "trials") if rate else ("metric",)
    for key in (*wanted, *(("samples",) if "samples" in query else ())):
        name = query.get(key)
        if not isinstance(name, str) or not name:
            problems.append((("query", key), "required, the name of a metric of the report"))
        elif name not in names:
            problems.append(
                (
                    ("query", key),
                    f"{name!r} is not among the report's metrics ({', '.join(names)})",
                )
            )
    return problems
