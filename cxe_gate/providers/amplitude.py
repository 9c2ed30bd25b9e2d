"""The `amplitude` provider: conversion funnels and engagement from Amplitude's Dashboard REST API
(`/api/2/funnels`, `/api/2/events/segmentation`), counted over whole days in the project's time zone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Literal

from pydantic import AnyHttpUrl, Field, field_validator

from ..config import ConversionCriterion, EngagementCriterion, Secret
from ..measurement import Measurement, TimeWindow
from .analytics import (
    AnalyticsProvider,
    AnalyticsService,
    Answers,
    Check,
    QueryKeys,
    engagement_measurement,
    read_count,
    request_text,
    snippet,
)
from .base import MetricRequest, ProviderContext
from .capabilities import criterion_journey, refuse_unservable
from .days import DaySpan, day_spans, time_zone, with_spans
from .funnels import funnel_measurement
from .transport import HttpSettings, basic_auth

REGIONS = {"us": "https://amplitude.com", "eu": "https://analytics.eu.amplitude.com"}
FUNNELS = "/api/2/funnels"
SEGMENTATION = "/api/2/events/segmentation"
ACTIVE = {"event_type": "_active"}


def _is_event(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("event_type"), str)


def _is_segments(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, Mapping) for item in value)


_SEGMENTS: Check = (
    _is_segments,
    "a list of segment conditions such as {prop: country, op: is, values: [France]}",
)
AMPLITUDE = AnalyticsService(
    service="Amplitude",
    segmentation="Amplitude's Dashboard API",
    conversion=QueryKeys(
        "Amplitude funnel",
        {
            "e": (
                lambda v: isinstance(v, list) and len(v) >= 2 and all(_is_event(x) for x in v),
                "a list of two or more event objects such as {event_type: purchase}, one per step",
            ),
            "mode": (
                lambda v: v in ("ordered", "unordered", "sequential"),
                "ordered, unordered or sequential",
            ),
            "n": (lambda v: v in ("active", "new"), "active or new"),
            "cs": (
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
                "the conversion window in seconds, a positive whole number",
            ),
            "s": _SEGMENTS,
        },
        "{mode: unordered, cs: 3600}",
    ),
    engagement=QueryKeys(
        "Amplitude segmentation",
        {
            "e": (_is_event, "the counted event as an event object such as {event_type: purchase}"),
            "active": (
                _is_event,
                "the event that makes a user active, as an event object (default "
                "{event_type: _active})",
            ),
            "s": _SEGMENTS,
        },
        "{e: {event_type: purchase}, s: [{prop: country, op: is, values: [France]}]}",
    ),
)


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class AmplitudeSettings(HttpSettings):
    api_key: Secret = Field(description="the project's API key, e.g. ${AMPLITUDE_API_KEY}")
    secret_key: Secret = Field(description="the project's secret key, e.g. ${AMPLITUDE_SECRET_KEY}")
    region: Literal["us", "eu"] = Field(
        "us",
        description="us (amplitude.com) or eu (analytics.eu.amplitude.com): where data resides",
    )
    url: AnyHttpUrl | None = Field(None, description="replaces the region's host (a proxy)")
    timezone: str = Field(
        "UTC", description="the project's time zone: Amplitude counts whole days in it"
    )

    _zone = field_validator("timezone")(time_zone)


@dataclass(frozen=True)
class _Asked:
    """One request and its answer."""

    text: str
    body: Any


class AmplitudeProvider(AnalyticsProvider):
    settings_model = AmplitudeSettings
    settings: AmplitudeSettings
    max_concurrency = 5  # Amplitude allows 5 concurrent requests per project
    narrow_instead = (
        "narrow an amplitude query with segments instead: query: {s: [{prop: country, op: is, "
        "values: [France]}]}"
    )
    query_kind = "a mapping of Amplitude REST parameters"
    analytics = AMPLITUDE
    why_not: ClassVar[Mapping[str, str]] = {
        # Its 24-hour windows run from each user's start event rounded down to the hour, and its
        # calendar days from midnight in the project's time zone: neither is the gate's day N.
        "retention": "Amplitude's retention (GET /api/2/retention) rounds event times down to the "
        "hour before counting 24-hour windows, or counts calendar days, so its day N is not the "
        "gate's [first_seen + N x 24h, + 24h) (an export of Amplitude's events read by the file "
        "or sql provider is)"
    }

    def __init__(self, settings: AmplitudeSettings, context: ProviderContext):
        super().__init__(settings, context)
        key = context.secret(settings.api_key, "api_key")
        secret = context.secret(settings.secret_key, "secret_key")
        self.client = self._api_client(
            base_url=str(settings.url) if settings.url else REGIONS[settings.region],
            headers=basic_auth(context, key, secret),
            auth_hint="and that region is the project's (us or eu): keys from one region are "
            "refused by the other",
        )
        # Criteria often ask the same question (active users): ask Amplitude once per evaluation.
        self._answers: Answers[_Asked] = Answers()

    # --- plumbing -------------------------------------------------------------------------------

    def _get(self, path: str, params: list[tuple[str, str]]) -> _Asked:
        def ask() -> _Asked:
            text = request_text(path, params)
            reply = self.client.get(path, params=params, query=text, accept={404})
            if reply.status == 404:
                raise self._fail(self._not_found(path), text)
            if reply.body is None:
                raise self._fail(f"GET {path}: {reply.status} with an empty body", text)
            return _Asked(text, reply.body)

        return self._answers.get((path, tuple(params)), ask)

    def _not_found(self, path: str) -> str:
        """A 404 is a wrong host or path. Reading it as "no data" is seen only in third-party
        code, and it would turn a wrong region into a window without data rather than an error."""
        url = f"{self.client.base_url}{path}"
        if self.settings.url:
            hint = "check url: the proxy must pass /api/2/… on to Amplitude's REST host"
        elif self.settings.region == "us":
            hint = (
                "check the region: a project whose data resides in the EU is served by "
                f"{REGIONS['eu']} (region: eu)"
            )
        else:
            hint = f"check the region: a US project is served by {REGIONS['us']} (region: us)"
        return f"GET {url}: 404 Not Found: Amplitude has no such endpoint there; {hint}"

    @staticmethod
    def _dates(span: DaySpan) -> list[tuple[str, str]]:
        return [("start", span.first.strftime("%Y%m%d")), ("end", span.last.strftime("%Y%m%d"))]

    # --- measuring ------------------------------------------------------------------------------

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)
        spans = day_spans(
            windows, self.settings.timezone, service="Amplitude", provider=self.context.name
        )

        def read(span: DaySpan) -> Measurement:
            if not span.days:
                return Measurement(value=None, samples=0, query=span.note())
            if isinstance(request.criterion, ConversionCriterion):
                return self._conversion(request, span, spans)
            assert isinstance(request.criterion, EngagementCriterion)
            return self._engagement(request.criterion, span)

        result = self.at_once({label: partial(read, span) for label, span in spans.items()})
        return with_spans(result, spans)

    def _conversion(
        self, request: MetricRequest, span: DaySpan, spans: dict[str, DaySpan]
    ) -> Measurement:
        criterion = request.criterion
        assert isinstance(criterion, ConversionCriterion)
        journey = criterion_journey(request)
        raw = criterion.query if isinstance(criterion.query, Mapping) else {}
        events = raw.get("e") or [{"event_type": step} for step in journey.steps]
        # The same conversion window for both windows: the journey's, else the release's days.
        reference = spans.get("release", span)
        window = journey.within.total_seconds() if journey.within else reference.seconds
        params = [("e", _json(event)) for event in events]
        params += self._dates(span)
        params += [
            ("mode", str(raw.get("mode", "ordered"))),
            ("n", str(raw.get("n", "active"))),
            ("cs", str(int(raw.get("cs", window)))),
        ]
        if "s" in raw:
            params.append(("s", _json(raw["s"])))
        asked = self._get(FUNNELS, params)
        query = f"{asked.text}\n{span.note()}"
        counts = self._funnel_counts(asked.body, len(events), query)
        if counts is None:
            return Measurement(value=None, samples=0, query=query)
        return funnel_measurement(
            self.context,
            [str(e["event_type"]) for e in events],
            counts,
            query=query,
            rising="funnel: {last} users reached the last step but only {first} the first "
            "(cumulativeRaw should never rise)",
        )

    def _funnel_counts(self, body: Any, steps: int, query: str) -> list[int] | None:
        """Users at each step (`data[0].cumulativeRaw`), or None when Amplitude has no data."""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._fail(
                f"funnel: expected a JSON object with a `data` list, got {snippet(body)}",
                query,
            )
        if not data:
            return None
        first = data[0]
        if not isinstance(first, dict) or "cumulativeRaw" not in first:
            raise self._fail(
                f"funnel: expected data[0].cumulativeRaw (users per step), got {snippet(first)}",
                query,
            )
        raw = first["cumulativeRaw"]
        if raw is None or raw == []:
            return None
        if not isinstance(raw, list) or len(raw) != steps:
            raise self._fail(
                f"funnel: expected cumulativeRaw to hold {steps} counts, one per step, got "
                f"{snippet(raw)}",
                query,
            )
        counts = [
            read_count(self.context, v, f"funnel: cumulativeRaw[{i}]", query)
            for i, v in enumerate(raw)
        ]
        if any(c is None for c in counts) or not counts[0]:
            return None
        return [c for c in counts if c is not None]

    def _segmentation(
        self, event: Mapping[str, Any], metric: str, span: DaySpan, segments: object
    ) -> tuple[int | None, str]:
        """One event's count over the span's days: distinct users (uniques) or events (totals)."""
        params = [("e", _json(event)), ("m", metric), *self._dates(span), ("i", "1")]
        if segments is not None:
            params.append(("s", _json(segments)))
        asked = self._get(SEGMENTATION, params)
        total = self._window_total(asked.body, additive=metric == "totals", query=asked.text)
        return total, asked.text

    def _window_total(self, body: Any, *, additive: bool, query: str) -> int | None:
        """The whole window's figure: `seriesCollapsed` (users are not summed over days, since one
        user active on two days is one user), else the daily series when that is exact."""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise self._fail(
                f"segmentation: expected a JSON object with a `data` object, got {snippet(body)}",
                query,
            )
        collapsed = data.get("seriesCollapsed")
        if collapsed is not None:
            if not isinstance(collapsed, list):
                raise self._fail(
                    f"segmentation: expected seriesCollapsed as a list, got {snippet(collapsed)}",
                    query,
                )
            if not collapsed or collapsed[0] in (None, []):
                return None
            item = collapsed[0][0] if isinstance(collapsed[0], list) else collapsed[0]
            if not isinstance(item, dict) or "value" not in item:
                raise self._fail(
                    "segmentation: expected seriesCollapsed[0][0] as {value: n}, got "
                    f"{snippet(collapsed[0])}",
                    query,
                )
            return read_count(
                self.context, item["value"], "segmentation: seriesCollapsed value", query
            )
        series = data.get("series")
        if not isinstance(series, list):
            raise self._fail(
                f"segmentation: expected data.seriesCollapsed or data.series, got {snippet(data)}",
                query,
            )
        if not series or not series[0]:
            return None
        if not isinstance(series[0], list):
            raise self._fail(
                f"segmentation: expected series[0] as a list of counts, got {snippet(series[0])}",
                query,
            )
        if len(series[0]) > 1 and not additive:
            raise self._fail(
                "segmentation: no seriesCollapsed in the answer, and daily unique users cannot "
                "be added up into the window's users",
                query,
            )
        counts = [
            read_count(self.context, v, "segmentation: series value", query) for v in series[0]
        ]
        known = [c for c in counts if c is not None]
        return sum(known) if known else None

    def _engagement(self, criterion: EngagementCriterion, span: DaySpan) -> Measurement:
        raw = criterion.query if isinstance(criterion.query, Mapping) else {}
        active = raw.get("active", ACTIVE)
        event = raw.get("e") or (
            {"event_type": criterion.event} if criterion.event else dict(active)
        )
        segments = raw.get("s")
        users, asked_users = self._segmentation(active, "uniques", span, segments)
        counted, asked = None, ""
        if criterion.measure != "active_users":
            metric = "uniques" if criterion.measure == "adoption" else "totals"
            counted, asked = self._segmentation(event, metric, span, segments)
        return engagement_measurement(
            self.context,
            criterion,
            users,
            counted,
            query="\n".join(q for q in (asked, asked_users, span.note()) if q),
            event=event["event_type"],
            active=f"were active ({active['event_type']}); the event marking activity should "
            "cover every user (query.active)",
        )
