"""The `mixpanel` provider: conversion from saved funnels, engagement from segmentation and day-N
retention from birth retention, through Mixpanel's Query API, over whole days in the project's
time zone. The API allows 60 queries an hour, so one request covers both windows wherever the API
can split its answer by day without counting a user twice; a funnel cannot, so each window is its
own funnel query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, field_validator

from ..config import ConversionCriterion, CriterionBase, EngagementCriterion, Problems, Secret
from ..config.criteria import RetentionCriterion
from ..measurement import Measurement, TimeWindow
from ..quantities import format_duration
from .analytics import (
    ANALYTICS_METRICS,
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
from .base import MetricRequest, ProviderContext, ProviderSettings
from .capabilities import criterion_journey, refuse_unservable
from .days import DaySpan, day_spans, local, time_zone, with_spans
from .funnels import funnel_measurement
from .mixpanel_retention import (
    RETENTION,
    cohort_measurement,
    day_cohort_windows,
    read_cohorts,
    retention_params,
    retention_problems,
)
from .transport import HttpSettings, basic_auth

REGIONS = {
    "us": "https://mixpanel.com",
    "eu": "https://eu.mixpanel.com",
    "in": "https://in.mixpanel.com",
}
FUNNELS = "/api/query/funnels"
SEGMENTATION = "/api/query/segmentation"


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


_WHERE: Check = (_text, 'a segmentation expression such as properties["$os"] == "iOS"')
MIXPANEL = AnalyticsService(
    service="Mixpanel",
    segmentation="Mixpanel's segmentation",
    conversion=QueryKeys(
        "Mixpanel funnel",
        {
            "funnel_id": (
                _positive_int,
                "the saved funnel's id (listed by GET /api/query/funnels/list), a positive whole "
                "number",
            ),
            "where": _WHERE,
            "length": (
                _positive_int,
                "the conversion window in length_unit, a positive whole number",
            ),
            "length_unit": (
                lambda v: v in ("day", "hour", "minute", "second"),
                "day, hour, minute or second",
            ),
        },
        "{funnel_id: 7501}",
    ),
    engagement=QueryKeys(
        "Mixpanel segmentation",
        {
            "event": (_text, "the counted event's name"),
            "active_event": (_text, "the name of the event every active user sends"),
            "where": _WHERE,
        },
        '{event: Checkout, where: \'properties["$os"] == "iOS"\'}',
    ),
)


class MixpanelSettings(HttpSettings):
    project_id: int = Field(ge=1, description="the project's id (sent with every query)")
    workspace_id: int | None = Field(None, ge=1, description="for projects that use Data Views")
    username: Secret = Field(description="service account username, e.g. ${MIXPANEL_SA_USERNAME}")
    secret: Secret = Field(description="service account secret, e.g. ${MIXPANEL_SA_SECRET}")
    region: Literal["us", "eu", "in"] = Field(
        "us", description="data residency: us (mixpanel.com), eu or in"
    )
    url: AnyHttpUrl | None = Field(None, description="replaces the region's host (a proxy)")
    timezone: str = Field("UTC", description="the project's time zone: Mixpanel counts whole days")
    funnels: dict[str, int] = Field(
        default_factory=dict,
        description="journey name → the id of the saved Mixpanel funnel with the same steps",
    )
    active_event: str | None = Field(
        None,
        description="the event every active user sends (e.g. App Open): engagement counts users "
        "of one named event, as Mixpanel's segmentation does",
    )
    first_event: str | None = Field(
        None,
        min_length=1,
        description="the event each user sends once, as their first (e.g. $ae_first_open): "
        "retention's new users are those born on it (Mixpanel's birth retention)",
    )

    _zone = field_validator("timezone")(time_zone)

    @field_validator("funnels")
    @classmethod
    def _ids(cls, funnels: dict[str, int]) -> dict[str, int]:
        for journey, funnel_id in funnels.items():
            if funnel_id <= 0:
                raise ValueError(f"{journey}: a funnel id is a positive whole number")
        return funnels


_UNIT_SECONDS = {"day": 86_400, "hour": 3_600, "minute": 60, "second": 1}


def _length(within: timedelta) -> tuple[int, str]:
    """A conversion window in the largest unit Mixpanel takes that states it exactly."""
    seconds = round(within.total_seconds())
    for unit, size in _UNIT_SECONDS.items():
        if seconds % size == 0:
            return seconds // size, unit
    return max(1, seconds), "second"


def _spill_note(
    label: str, span: DaySpan, spans: dict[str, DaySpan], conversion_window: timedelta
) -> str:
    """What the conversion window lets in after a window's last day."""
    reach = span.end + conversion_window
    note = (
        f"Mixpanel counts a completion up to {format_duration(conversion_window)} after each "
        f"user's first step, also after the {label} window's last day: completions until "
        f"{local(reach, span.zone)} ({span.zone.key}) count; the Funnels API cannot stop at to_date"
    )
    later = [o for name, o in spans.items() if name != label and span.end <= o.start < reach]
    if later:
        note += (
            f", so users who entered near its end may convert on events of the "
            f"{later[0].window.label} window"
        )
    return note


class MixpanelProvider(AnalyticsProvider):
    settings_model = MixpanelSettings
    settings: MixpanelSettings
    max_concurrency = 5  # the Query API runs 5 queries at once per project (and 60 an hour)
    narrow_instead = 'narrow a mixpanel query with query: {where: \'properties["$os"] == "iOS"\'}'
    query_kind = "a mapping of Mixpanel Query API parameters"
    analytics = MIXPANEL
    # analytics.py's `serves = ANALYTICS_METRICS` is inferred as a 2-tuple (fix sent to its owner)
    serves = (*ANALYTICS_METRICS, "retention")

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        assert isinstance(settings, MixpanelSettings)
        if isinstance(criterion, RetentionCriterion):
            return retention_problems(criterion, settings.first_event)
        problems = super().criterion_problems(criterion, settings)
        raw = criterion.query if isinstance(criterion.query, Mapping) else {}
        if isinstance(criterion, ConversionCriterion) and not (
            "funnel_id" in raw or criterion.journey in settings.funnels
        ):
            problems.append(
                (
                    ("journey",),
                    f"Mixpanel funnels are saved reports: give journey {criterion.journey!r} "
                    f"its saved funnel's id with funnels: {{{criterion.journey}: <funnel_id>}} "
                    "on the mixpanel provider, or query: {funnel_id: <funnel_id>} here (GET "
                    "/api/query/funnels/list lists them)",
                )
            )
        if isinstance(criterion, EngagementCriterion) and not (
            raw.get("active_event") or settings.active_event
        ):
            problems.append(
                (
                    ("measure",),
                    "Mixpanel counts users of one named event: set active_event on the "
                    "mixpanel provider (the event every active user sends, e.g. App Open) or "
                    "query: {active_event: <event>} here",
                )
            )
        return problems

    def __init__(self, settings: MixpanelSettings, context: ProviderContext):
        super().__init__(settings, context)
        username = context.secret(settings.username, "username")
        secret = context.secret(settings.secret, "secret")
        self.client = self._api_client(
            base_url=str(settings.url) if settings.url else REGIONS[settings.region],
            headers=basic_auth(context, username, secret),
            auth_hint=f"that the service account may read project {settings.project_id}, and "
            "that region is the project's data residency (us, eu or in)",
        )
        # 60 queries an hour: a question two criteria share is asked once per evaluation.
        self._answers: Answers[tuple[str, Any]] = Answers()

    # --- plumbing -------------------------------------------------------------------------------

    def _get(self, path: str, params: list[tuple[str, str]]) -> tuple[str, Any]:
        """The request as text, and its parsed answer."""
        scope = [("project_id", str(self.settings.project_id))]
        if self.settings.workspace_id:
            scope.append(("workspace_id", str(self.settings.workspace_id)))
        params = scope + params

        def ask() -> tuple[str, Any]:
            text = request_text(path, params)
            return text, self.client.get(path, params=params, query=text).body

        return self._answers.get((path, tuple(params)), ask)

    def _day(self, key: object, what: str, query: str) -> date:
        try:
            return date.fromisoformat(str(key)[:10])
        except ValueError:
            raise self._fail(f"{what}: expected a yyyy-mm-dd date, got {key!r}", query) from None

    # --- measuring ------------------------------------------------------------------------------

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)
        if isinstance(request.criterion, RetentionCriterion):
            return self._retention(request.criterion, windows)
        spans = day_spans(
            windows, self.settings.timezone, service="Mixpanel", provider=self.context.name
        )
        live = {label: span for label, span in spans.items() if span.days}
        measured: dict[str, Measurement] = {}
        if live and isinstance(request.criterion, ConversionCriterion):
            measured = self._conversion(request, live)
        elif live:
            assert isinstance(request.criterion, EngagementCriterion)
            measured = self._engagement(request.criterion, live)
        result = {
            label: measured.get(label) or Measurement(value=None, samples=0, query=span.note())
            for label, span in spans.items()
        }
        return with_spans(result, spans)

    def _conversion(
        self, request: MetricRequest, spans: dict[str, DaySpan]
    ) -> dict[str, Measurement]:
        """Each window's funnel, asked on its own as one bucket (`interval` = its days): a user who
        entered on several days counts once, and one window's users never convert in another's
        bucket. Mixpanel still looks for completions up to `length` after each user's first step,
        past `to_date`: the notes say how far, since the API offers no way to stop it."""
        criterion = request.criterion
        assert isinstance(criterion, ConversionCriterion)
        journey = criterion_journey(request)
        raw = criterion.query if isinstance(criterion.query, Mapping) else {}
        funnel_id = raw.get("funnel_id") or self.settings.funnels[criterion.journey]
        # One conversion window for both windows, or the longer one would convert more: the
        # journey's, else the release window's days.
        reference = spans.get("release") or next(iter(spans.values()))
        length, unit = _length(journey.within) if journey.within else (reference.days, "day")
        length, unit = int(raw.get("length", length)), str(raw.get("length_unit", unit))
        conversion_window = timedelta(seconds=length * _UNIT_SECONDS[unit])

        def read(label: str, span: DaySpan) -> Measurement:
            params = [
                ("funnel_id", str(funnel_id)),
                ("from_date", span.first.isoformat()),
                ("to_date", span.last.isoformat()),
                ("interval", str(span.days)),
                ("length", str(length)),
                ("length_unit", unit),
            ]
            if "where" in raw:
                params.append(("where", raw["where"]))
            text, body = self._get(FUNNELS, params)
            query = f"{text}\n{span.note()}"
            users = self._funnel_bucket(body, journey.steps, funnel_id, span, query)
            if users is None:
                return Measurement(value=None, samples=0, query=query)
            measured = funnel_measurement(
                self.context,
                journey.steps,
                users,
                query=query,
                rising=f"funnel {funnel_id}: {{last}} users completed it but only {{first}} "
                "started it",
                details={"conversion window hours": conversion_window.total_seconds() / 3600},
            )
            spill = _spill_note(label, span, spans, conversion_window)
            return replace(measured, notes=(*measured.notes, spill))

        return self.at_once({label: partial(read, label, span) for label, span in spans.items()})

    def _funnel_bucket(
        self, body: Any, steps: list[str], funnel_id: int, span: DaySpan, query: str
    ) -> list[int] | None:
        """Users at each step of the one bucket a window's days make; None when it has no data."""
        buckets = self._funnel_days(body, steps, funnel_id, query)
        stray = [day for day in buckets if day not in span]
        if stray:
            raise self._fail(
                f"funnel {funnel_id}: a bucket dated {stray[0]} lies outside the days asked for "
                f"({span.period})",
                query,
            )
        if len(buckets) > 1:
            raise self._fail(
                f"funnel {funnel_id}: expected the {span.window.label} window's {span.days} day(s) "
                f"as one bucket, got {len(buckets)}; users of several buckets cannot be added up "
                "(one who entered in two would count twice)",
                query,
            )
        return next(iter(buckets.values()), None)

    def _funnel_days(
        self, body: Any, steps: list[str], funnel_id: int, query: str
    ) -> dict[date, list[int]]:
        """Users at each step, per bucket by its first day (buckets without data left out)."""
        data = body.get("data") if isinstance(body, dict) else None
        if data is None and isinstance(body, dict) and "data" in body:
            return {}
        if not isinstance(data, dict):
            raise self._fail(
                f"funnel {funnel_id}: expected a JSON object with a `data` object of days, got {snippet(body)}",
                query,
            )
        per_day: dict[date, list[int]] = {}
        for key, entry in data.items():
            day = self._day(key, f"funnel {funnel_id}: data", query)
            found = entry.get("steps") if isinstance(entry, dict) else None
            if found is None or found == []:
                continue
            if not isinstance(found, list) or not all(isinstance(s, dict) for s in found):
                raise self._fail(
                    f"funnel {funnel_id}: expected data[{key}].steps as a list of steps, got {snippet(found)}",
                    query,
                )
            self._check_steps(found, steps, funnel_id, query)
            counts = [
                read_count(self.context, s.get("count"), f"funnel {funnel_id}: {key} count", query)
                for s in found
            ]
            if any(c is None for c in counts):
                continue  # no data that day
            per_day[day] = [c for c in counts if c is not None]
        return per_day

    def _check_steps(
        self, found: list[dict[str, Any]], steps: list[str], funnel_id: int, query: str
    ) -> None:
        """The saved funnel must be the journey: same number of steps, same events."""
        names = [str(s.get("step_label") or s.get("event") or s.get("goal")) for s in found]
        same = len(found) == len(steps) and all(
            s.get("custom_event") or s.get("event", s.get("goal")) == step
            for s, step in zip(found, steps, strict=False)
        )
        if not same:
            raise self._fail(
                f"funnel {funnel_id} has the steps {names}, but the journey is {steps}: point "
                "funnels (or query.funnel_id) at the saved funnel with the journey's steps",
                query,
            )

    # --- retention ------------------------------------------------------------------------------

    def _retention(
        self, criterion: RetentionCriterion, windows: list[TimeWindow]
    ) -> dict[str, Measurement]:
        """Both windows' cohorts from one request over their days (60 queries an hour): each user
        is born on one day only, so a window's users are the sum of its days'."""
        spans = day_spans(
            day_cohort_windows(criterion, windows),
            self.settings.timezone,
            service="Mixpanel",
            provider=self.context.name,
        )
        live = {label: span for label, span in spans.items() if span.days}
        measured: dict[str, Measurement] = {}
        if live:
            first = min(s.first for s in live.values())
            last = max(s.last for s in live.values())
            params = retention_params(criterion, self.settings.first_event, first, last)
            born_event = dict(params)["born_event"]
            text, body = self._get(RETENTION, params)
            cohorts = read_cohorts(self.context, body, text)
            stray = [day for day in cohorts if not first <= day <= last]
            if stray:
                raise self._fail(
                    f"retention: a cohort dated {stray[0]} lies outside the days asked for "
                    f"({first} to {last})",
                    text,
                )
            # The gate is judged as of the end of the latest window (the checkpoint, or now).
            as_of = max(w.end for w in windows)
            measured = {
                label: cohort_measurement(
                    criterion,
                    span,
                    cohorts,
                    born_event=born_event,
                    as_of=as_of,
                    query=f"{text}\n{span.note()}",
                )
                for label, span in live.items()
            }
        result = {
            label: measured.get(label) or Measurement(value=None, samples=0, query=span.note())
            for label, span in spans.items()
        }
        return with_spans(result, spans)

    # --- engagement -----------------------------------------------------------------------------

    def _series(self, body: Any, event: str, query: str) -> dict[date, int | None]:
        """{day: count} from a segmentation answer (`data.values[event]`)."""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or "values" not in data:
            raise self._fail(
                "segmentation: expected {data: {series: [...], values: {event: {date: count}}}}, "
                f"got {snippet(body)}",
                query,
            )
        values = self._object(data["values"], "data.values as an object", query)
        if not values:
            return {}
        if event in values:
            by_date = values[event]
        elif len(values) == 1:
            by_date = next(iter(values.values()))
        else:
            raise self._fail(
                f"segmentation: expected the counts of {event!r}, got those of {sorted(values)}",
                query,
            )
        by_date = self._object(by_date, f"data.values[{event!r}] as {{date: count}}", query)
        if not by_date:
            return {}
        series: dict[date, int | None] = {}
        for key, value in by_date.items():
            day = self._day(key, "segmentation: data.values", query)
            count = read_count(self.context, value, f"segmentation: {key}", query)
            if count is not None:
                series[day] = (series.get(day) or 0) + count
            else:
                series.setdefault(day, None)
        return series

    def _object(self, value: Any, expected: str, query: str) -> dict[Any, Any]:
        """A part of a segmentation answer that is a JSON object, or empty (no data: {})."""
        if not value:
            return {}
        if not isinstance(value, dict):
            raise self._fail(f"segmentation: expected {expected}, got {snippet(value)}", query)
        return value

    def _totals(
        self, event: str, where: str | None, spans: dict[str, DaySpan]
    ) -> dict[str, tuple[int | None, str]]:
        """Events per window, all from one request by day (events, unlike users, add up)."""
        params = [
            ("event", event),
            ("type", "general"),
            ("unit", "day"),
            ("from_date", min(s.first for s in spans.values()).isoformat()),
            ("to_date", max(s.last for s in spans.values()).isoformat()),
        ]
        if where:
            params.append(("where", where))
        text, body = self._get(SEGMENTATION, params)
        series = self._series(body, event, text)
        result = {}
        for label, span in spans.items():
            known = [n for d, n in series.items() if d in span and n is not None]
            result[label] = (sum(known) if known else None, text)
        return result

    def _uniques(
        self, event: str, where: str | None, spans: dict[str, DaySpan]
    ) -> dict[str, tuple[int | None, str]]:
        """Distinct users per window. A user active on two days is one user, so each window must be
        one bucket (`interval` = its days): one request when the windows are adjacent and equally
        long, else one per window."""
        ordered = sorted(spans.items(), key=lambda item: item[1].first)
        together = (
            len(ordered) == 2
            and ordered[0][1].days == ordered[1][1].days
            and ordered[0][1].last + timedelta(days=1) == ordered[1][1].first
        )
        groups = [ordered] if together else [[item] for item in ordered]
        result: dict[str, tuple[int | None, str]] = {}
        for group in groups:
            params = [
                ("event", event),
                ("type", "unique"),
                ("interval", str(group[0][1].days)),
                ("from_date", group[0][1].first.isoformat()),
                ("to_date", group[-1][1].last.isoformat()),
            ]
            if where:
                params.append(("where", where))
            text, body = self._get(SEGMENTATION, params)
            buckets = {d: n for d, n in self._series(body, event, text).items() if n}
            for label, span in group:
                mine = [n for d, n in buckets.items() if d in span]
                if len(mine) > 1:
                    raise self._fail(
                        f"segmentation: expected the {label} window's {span.days} day(s) as one "
                        f"bucket of unique users, got {len(mine)}; unique users of several "
                        "buckets cannot be added up",
                        text,
                    )
                result[label] = (mine[0] if mine else None, text)
            stray = [d for d in buckets if not any(d in span for _, span in group)]
            if stray:
                raise self._fail(
                    f"segmentation: a bucket of unique users dated {stray[0]} lies outside the "
                    "days asked for",
                    text,
                )
        return result

    def _engagement(
        self, criterion: EngagementCriterion, spans: dict[str, DaySpan]
    ) -> dict[str, Measurement]:
        raw = criterion.query if isinstance(criterion.query, Mapping) else {}
        active = raw.get("active_event") or self.settings.active_event
        assert active  # criterion_problems saw to it
        event = raw.get("event") or criterion.event or active
        where = raw.get("where")
        users = self._uniques(active, where, spans)
        counted: dict[str, tuple[int | None, str]] = {}
        if criterion.measure == "adoption":
            counted = self._uniques(event, where, spans)
        elif criterion.measure == "events_per_user":
            counted = self._totals(event, where, spans)
        result = {}
        for label, span in spans.items():
            (active_users, users_text), (count, counted_text) = (
                users[label],
                counted.get(label, (None, "")),
            )
            result[label] = engagement_measurement(
                self.context,
                criterion,
                active_users,
                count,
                query="\n".join(q for q in (counted_text, users_text, span.note()) if q),
                event=event,
                active=f"sent {active}; active_event should be an event every active user sends",
            )
        return result
