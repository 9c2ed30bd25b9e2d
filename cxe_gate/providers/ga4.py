"""The `ga4` provider: conversion from GA4 funnel reports and engagement from core reports of the
Google Analytics 4 Data API, signed in as a service account.

GA4 counts days in the property's time zone; a window that is not whole days is cut to the hour
with a `dateHour` filter (or widened to whole days, if asked), and the report says so. Sampled
answers are said to be, and a quota no retry within seconds can refill ends the request at once."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from .. import metrics
from ..config import (
    ConversionCriterion,
    CriterionBase,
    EngagementCriterion,
    Journey,
    Location,
    Secret,
    SecretRef,
)
from ..errors import ProviderError
from ..measurement import Measurement, TimeWindow
from .analytics import Answers, criterion_journey, refuse_unservable
from .answers import provider_error
from .base import MetricRequest, Provider, ProviderContext, ProviderSettings
from .days import (
    NOT_BEGUN,
    DaySpan,
    day_spans,
    is_midnight,
    local,
    read_hours,
    time_zone,
    widening_details,
    widening_notes,
    with_spans,
)
from .funnels import funnel_measurement, judged_on
from .google_account import load_service_account
from .transport import ApiClient, HttpSettings, Reply

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_TOKEN_LIFETIME = 3600  # the longest a service account's assertion may ask for
_TOKEN_MARGIN = 60.0  # renew a token this many seconds before Google says it expires

_SERVES = ("conversion", "engagement", "custom")
_ELSEWHERE = {
    "error_rate": "GA4 counts analytics events, not failed requests; read error_rate from an "
    "APM provider (prometheus, datadog, newrelic, dynatrace) or sentry",
    "apdex": "GA4 has no request durations; read apdex from an APM provider (prometheus, datadog, "
    "newrelic, dynatrace)",
    "latency": "GA4 has no request durations; read latency from an APM provider (prometheus, "
    "datadog, newrelic, dynatrace)",
    "feedback": "GA4 holds no survey answers; read feedback from the http provider (Delighted, "
    "Typeform, your own survey API) or a file",
}
_QUERY_SHAPE = (
    "expected a mapping {report: <runReport request body without dateRanges>, metric: <a metric "
    "of the report>} (optionally samples: <metric>), or {report: ..., successes: <metric>, "
    "trials: <metric>} for a rate"
)

Values = dict[str, float | None]

# Funnel answers carry no time zone: the property's is read from the smallest core report. Fixed, so
# every criterion of an evaluation shares the one answer.
_ZONE_PROBE: dict[str, Any] = {
    "dateRanges": [{"startDate": "yesterday", "endDate": "today"}],
    "metrics": [{"name": "activeUsers"}],
    "limit": 1,
}
# What a 429 RESOURCE_EXHAUSTED message names (by a word in it), the quota's name in
# PropertyQuota, and when it refills. Only the concurrent-requests quota frees up within seconds.
_QUOTAS = (
    ("thresholded", "potentiallyThresholdedRequestsPerHour", "within the hour"),
    ("server error", "serverErrorsPerProjectPerHour", "within the hour"),
    ("project", "tokensPerProjectPerHour", "within the hour"),
    ("hour", "tokensPerHour", "within the hour"),
    ("day", "tokensPerDay", "within a day"),
)


class Ga4Settings(HttpSettings):
    property_id: str = Field(
        pattern=r"^(properties/)?\d+$", description="the GA4 property's numeric id (not G-XXXX)"
    )
    credentials: Secret = Field(
        description="a service account key: the key file's JSON itself or the path to the key "
        "file (relative to the criteria file), as ${VAR}"
    )
    base_url: str = Field(
        "https://analyticsdata.googleapis.com", description="the Data API's address"
    )
    timezone: str = Field(
        "UTC", description="the property's reporting time zone (Admin → Property details)"
    )
    partial_days: Literal["hours", "widen"] = Field(
        "hours",
        description="a window that is not whole days: hours (cut it to the hour with a dateHour "
        "filter) or widen (read the whole days it touches; a day both windows touch counts in the "
        "release window only)",
    )

    @field_validator("property_id")
    @classmethod
    def _bare_id(cls, value: str) -> str:
        return value.removeprefix("properties/")

    _zone = field_validator("timezone")(time_zone)


# --- windows in GA4's terms ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """One window as GA4 reads it: whole days, optionally narrowed to listed hours."""

    label: str
    first_day: date
    last_day: date  # inclusive, as GA4 reads date ranges; before first_day: not begun
    hours: tuple[str, ...] = ()  # dateHour values (YYYYMMDDHH); empty: the whole days
    details: dict[str, float] = field(default_factory=dict)  # hours added, or left to the release
    notes: tuple[str, ...] = ()  # why

    @classmethod
    def whole_days(cls, span: DaySpan) -> _Span:
        return cls(span.window.label, span.first, span.last, (), span.details, span.notes)

    @property
    def begun(self) -> bool:
        return self.first_day <= self.last_day

    @property
    def days(self) -> list[date]:
        return [
            self.first_day + timedelta(days=n)
            for n in range((self.last_day - self.first_day).days + 1)
        ]

    def date_range(self) -> dict[str, str]:
        return {
            "startDate": self.first_day.isoformat(),
            "endDate": self.last_day.isoformat(),
            "name": self.label,
        }

    def restriction(self) -> dict[str, Any]:
        """A filter keeping only this window's hours (or days)."""
        if self.hours:
            return _in_list("dateHour", list(self.hours))
        return _in_list("date", [day.strftime("%Y%m%d") for day in self.days])


def _in_list(field_name: str, values: list[str]) -> dict[str, Any]:
    return {"filter": {"fieldName": field_name, "inListFilter": {"values": values}}}


def _whole_hours(window: TimeWindow, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The whole hours, in the property's time zone, that a window touches (in UTC)."""
    if is_midnight(window.start, zone) and is_midnight(window.end, zone):
        return window.start.astimezone(UTC), window.end.astimezone(UTC)
    # Step in UTC from the local hour's start: right across DST changes and half-hour zones.
    start = window.start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    end = start = start.astimezone(UTC)
    while end < window.end:
        end += timedelta(hours=1)
    return start, end


def _hour_span(window: TimeWindow, start: datetime, end: datetime, zone: ZoneInfo) -> _Span:
    """A window read from `start` to `end` (whole hours): as date ranges when those are whole days,
    else narrowed by a dateHour filter."""
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    hours: list[str] = []
    if not (is_midnight(start, zone) and is_midnight(end, zone)):
        moment = start
        while moment < end:
            text = moment.astimezone(zone).strftime("%Y%m%d%H")
            if text not in hours:
                hours.append(text)
            moment += timedelta(hours=1)
    added, left = read_hours(window, start, end)
    counted_as = f"whole hours in {zone.key} ({local(start, zone)} to {local(end, zone)})"
    return _Span(
        window.label,
        start.astimezone(zone).date(),
        last_day,
        tuple(hours),
        widening_details(added, left),
        widening_notes(window, counted_as, added, left, grain="hour"),
    )


def _groups(spans: list[_Span]) -> list[list[_Span]]:
    """Which windows can share one runReport call: all of them when each reads whole days, or
    when their days are apart (a dateHour/date filter per window, OR-ed); else one call each."""
    if all(not s.hours for s in spans):
        return [spans]
    days = [set(s.days) for s in spans]
    apart = all(not (a & b) for i, a in enumerate(days) for b in days[i + 1 :])
    return [spans] if apart else [[s] for s in spans]


def _restriction(group: list[_Span]) -> dict[str, Any] | None:
    if all(not s.hours for s in group):
        return None  # whole days: the date ranges say it all
    if len(group) == 1:
        return group[0].restriction()
    return {"orGroup": {"expressions": [s.restriction() for s in group]}}


def _and(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict[str, Any] | None:
    if first is None or second is None:
        return first or second
    return {"andGroup": {"expressions": [first, second]}}


def _event_filter(event: str) -> dict[str, Any]:
    return {
        "filter": {"fieldName": "eventName", "stringFilter": {"matchType": "EXACT", "value": event}}
    }


# --- reading answers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    """One window's row of a report (None: GA4 had no row for it), how it was asked for, and what
    the report said about itself (the quota left; whether small counts were withheld)."""

    values: Values | None
    query: str
    details: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def add_to(self, measurement: Measurement) -> Measurement:
        return replace(
            measurement,
            details=measurement.details | self.details,
            notes=measurement.notes + tuple(n for n in self.notes if n not in measurement.notes),
        )


_STEP_PREFIX = re.compile(r"^(\d+)\.\s*(.*)$")


class Ga4Provider(Provider):
    settings_model = Ga4Settings
    settings: Ga4Settings
    max_concurrency = 10  # GA4's concurrent-request quota for a standard property

    @classmethod
    def criterion_problems(
        cls, criterion: CriterionBase, settings: ProviderSettings
    ) -> list[tuple[Location, str]]:
        metric = getattr(criterion, "metric", "custom")
        if metric not in _SERVES:
            return [
                (
                    ("metric",),
                    f"the ga4 provider cannot measure {metric}: "
                    + _ELSEWHERE.get(metric, "it serves conversion, engagement and custom"),
                )
            ]
        problems: list[tuple[Location, str]] = []
        if criterion.filter is not None:
            problems.append(
                (
                    ("filter",),
                    "the ga4 provider takes no SQL filter; put a dimensionFilter in a raw query "
                    "(query: {report: {metrics: ..., dimensionFilter: ...}, metric: ...})",
                )
            )
        if criterion.query is not None:
            problems.extend(_query_problems(criterion.query))
        return problems

    @classmethod
    def journey_problems(cls, journey: Journey, settings: ProviderSettings) -> list[str]:
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
        ref = SecretRef(settings.credentials)
        self._variable = ref.variable
        self._account = load_service_account(context.secret(ref, "credentials"), context, ref)
        self._zone = ZoneInfo(settings.timezone)
        self._client = ApiClient(
            context,
            settings,
            base_url=settings.base_url,
            auth_hint=f"and that {self._account.email} has Viewer access to GA4 property "
            f"{settings.property_id}",
        )
        self._token: str | None = None
        self._token_expires = 0.0  # time.monotonic()
        self._token_lock = threading.Lock()
        self._answers: Answers[Any] = Answers()  # query → parsed reply: criteria share reports

    def close(self) -> None:
        self._client.close()

    # --- credentials ----------------------------------------------------------------------------

    def _fail(self, message: str, query: str | None) -> ProviderError:
        # Tokens, assertions and key material are registered with add_secret: redacted here too.
        return provider_error(self.context, message, query)

    def _access_token(self, failed: str | None = None) -> str:
        """A cached bearer token; a new one when it is about to expire or `failed` was refused."""
        with self._token_lock:
            stale = self._token is None or time.monotonic() >= self._token_expires
            if stale or (failed is not None and failed == self._token):
                self._token, lifetime = self._new_token()
                self._token_expires = time.monotonic() + max(0.0, lifetime - _TOKEN_MARGIN)
            assert self._token is not None
            return self._token

    def _new_token(self) -> tuple[str, float]:
        from google.auth import jwt

        account = self._account
        now = int(time.time())
        claims = {
            "iss": account.email,
            "scope": SCOPE,
            "aud": account.token_uri,
            "iat": now,
            "exp": now + _TOKEN_LIFETIME,
        }
        assertion = jwt.encode(account.signer, claims).decode("ascii")
        self.context.add_secret(assertion)
        query = f"POST {account.token_uri} (JWT-bearer grant for {account.email}, scope {SCOPE})"
        reply = self._client.post(
            account.token_uri,
            form={"grant_type": JWT_GRANT, "assertion": assertion},
            query=query,
            accept={400, 401, 403},
        )
        body = reply.body if isinstance(reply.body, dict) else {}
        if reply.status >= 400:
            reason = ": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
            raise self._fail(
                f"the token endpoint {account.token_uri} refused the service account key "
                f"({reply.status}{': ' + reason if reason else ''}); check {self._variable} "
                "(a revoked or deleted key, or a wrong token_uri)",
                query,
            )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise self._fail(
                f"the token endpoint {account.token_uri} answered without an access_token "
                f"(keys: {', '.join(sorted(body)) or 'none'}); expected access_token, expires_in "
                "and token_type",
                query,
            )
        self.context.add_secret(token)
        kind = body.get("token_type", "Bearer")
        if str(kind).lower() != "bearer":
            raise self._fail(f"expected a Bearer token, got token_type {kind!r}", query)
        lifetime = body.get("expires_in", _TOKEN_LIFETIME)
        try:
            seconds = float(lifetime)
        except (TypeError, ValueError):
            raise self._fail(
                f"expires_in is {lifetime!r}; expected a number of seconds", query
            ) from None
        return token, seconds

    # --- calls ----------------------------------------------------------------------------------

    def _call(self, path: str, body: dict[str, Any]) -> tuple[Any, str]:
        """POST a report request with a bearer token (renewed once on 401); the parsed answer and
        the query as sent. Answers are kept: criteria reading the same report ask GA4 once."""
        query = f"POST {self._client.base_url}{path} {json.dumps(body, separators=(',', ':'))}"

        def worth_retrying(reply: Reply) -> bool:
            return self._worth_retrying(reply, query)

        def ask() -> Any:
            token = self._access_token()
            reply = self._client.post(
                path,
                json_body=body,
                headers=_bearer(token),
                query=query,
                accept={401},
                retryable=worth_retrying,
            )
            if reply.status == 401:  # expired or revoked early: one new token, then give up
                token = self._access_token(failed=token)
                reply = self._client.post(
                    path,
                    json_body=body,
                    headers=_bearer(token),
                    query=query,
                    retryable=worth_retrying,
                )
            if reply.body is None:
                raise self._fail(f"POST {path}: {reply.status} with an empty body", query)
            return reply.body

        return self._answers.get(query, ask), query

    def _worth_retrying(self, reply: Reply, query: str) -> bool:
        """A 429 RESOURCE_EXHAUSTED is a used-up property quota: only the concurrent-requests one
        frees up within seconds; the hourly and daily ones refill within the hour or the day, so
        no retry can help, and the error says which quota it was. Other 429s and 5xx are
        retried."""
        error = reply.body.get("error") if isinstance(reply.body, dict) else None
        if reply.status != 429 or not isinstance(error, dict):
            return True
        if error.get("status") != "RESOURCE_EXHAUSTED":
            return True
        message = str(error.get("message") or "").strip()
        words = message.lower()
        if "concurrent" in words:
            return True
        named = next(((q, when) for word, q, when in _QUOTAS if word in words), None)
        quota = (
            f"its {named[0]} quota, which refills {named[1]}"
            if named
            else "a quota GA4 did not name"
        )
        raise self._fail(
            f"429 RESOURCE_EXHAUSTED: GA4 property {self.settings.property_id} has used up "
            f"{quota} ({message or 'no message'}); not retried, since no wait of seconds "
            "refills it: evaluate again once it has (the report details show the tokens left "
            "after each answer)",
            query,
        )

    def _report(self, base: dict[str, Any], spans: list[_Span]) -> dict[str, _Answer]:
        """Run a core report over every window, in as few calls as the windows allow."""
        path = f"/v1beta/properties/{self.settings.property_id}:runReport"
        answers: dict[str, _Answer] = {}
        for group in _groups(spans):
            body = {k: v for k, v in base.items() if k != "dimensionFilter"}
            body["dateRanges"] = [s.date_range() for s in group]
            restriction = _and(base.get("dimensionFilter"), _restriction(group))
            if restriction is not None:
                body["dimensionFilter"] = restriction
            body["returnPropertyQuota"] = True
            reply, query = self._call(path, body)
            rows = self._rows(reply, group, query)
            details, notes = self._metadata(reply, reply.get("metadata"), query)
            sampled = self._sampling(reply.get("metadata"), query)
            for i, span in enumerate(group):
                fraction = sampled[i] if i < len(sampled) else None
                said = notes
                if fraction is not None:
                    said += (
                        _sampled_note(*fraction) + "; the values are estimates, and the tests "
                        "here are not widened for the sampling",
                    )
                answers[span.label] = _Answer(rows.get(span.label), query, details, said)
        return answers

    def _rows(self, reply: Any, group: list[_Span], query: str) -> dict[str, Values]:
        """The report's row per window label, metrics by name (GA4 sends values as text)."""
        if not isinstance(reply, dict):
            raise self._fail(f"expected a runReport answer (an object), got {_kind(reply)}", query)
        rows = reply.get("rows") or []
        if not isinstance(rows, list):
            raise self._fail(f"expected rows to be a list, got {_kind(rows)}", query)
        if not rows:
            return {}
        names = _header_names(reply.get("metricHeaders"))
        dimensions = _header_names(reply.get("dimensionHeaders") or [])
        if names is None or dimensions is None:
            raise self._fail(
                "expected metricHeaders and dimensionHeaders naming the columns of the rows, "
                f"got {_kind(reply.get('metricHeaders'))}",
                query,
            )
        labels = {s.label: s.label for s in group}
        labels.update({f"date_range_{i}": s.label for i, s in enumerate(group)})
        by_range = dimensions.index("dateRange") if "dateRange" in dimensions else None
        if by_range is None and len(group) > 1:
            raise self._fail(
                f"expected a dateRange dimension telling {' and '.join(s.label for s in group)} rows "
                f"apart, got "
                f"dimensions {dimensions}",
                query,
            )
        found: dict[str, Values] = {}
        for row in rows:
            cells = row.get("metricValues") if isinstance(row, dict) else None
            keys = row.get("dimensionValues") if isinstance(row, dict) else None
            if not isinstance(cells, list) or len(cells) != len(names):
                raise self._fail(
                    f"expected {len(names)} metricValues per row ({', '.join(names)}), got "
                    f"{json.dumps(row)[:200]}",
                    query,
                )
            label = group[0].label
            if by_range is not None:
                if not isinstance(keys, list) or len(keys) != len(dimensions):
                    raise self._fail(
                        f"expected {len(dimensions)} dimensionValues per row, got {json.dumps(row)[:200]}",
                        query,
                    )
                name = _cell(keys[by_range])
                if name not in labels:
                    raise self._fail(
                        f"a row is for date range {name!r}; expected one of {', '.join(labels)}",
                        query,
                    )
                label = labels[name]
            if label in found:
                raise self._fail(
                    f"more than one row for the {label} window; a report read by the gate must "
                    "give one row per window (drop its dimensions, or filter them to one value)",
                    query,
                )
            found[label] = {
                name: self._number(_cell(cell), f"{label} {name}", query)
                for name, cell in zip(names, cells, strict=True)
            }
        return found

    def _metadata(
        self, reply: dict[str, Any], metadata: Any, query: str
    ) -> tuple[dict[str, float], tuple[str, ...]]:
        """Check the property's time zone; the quota left (details) and thresholding (a note)."""
        details: dict[str, float] = {}
        notes: tuple[str, ...] = ()
        if isinstance(metadata, dict):
            zone = metadata.get("timeZone")
            if zone:
                self._guard_zone(str(zone), query)
            if metadata.get("subjectToThresholding"):
                notes = ("thresholded: GA4 withheld small counts, so values may be too low",)
        quota = reply.get("propertyQuota")
        if isinstance(quota, dict):
            for key, label in (
                ("tokensPerHour", "quota tokens left this hour"),
                ("tokensPerDay", "quota tokens left today"),
            ):
                remaining = (quota.get(key) or {}).get("remaining")
                if isinstance(remaining, int | float):
                    details[label] = float(remaining)
        return details, notes

    def _guard_zone(self, zone: str, query: str) -> None:
        if zone != self.settings.timezone:
            raise self._fail(
                f"GA4 property {self.settings.property_id} reports days in {zone}, but "
                f"providers.{self.context.name}.timezone is {self.settings.timezone}: the "
                f"windows would be cut at the wrong midnight; set timezone: {zone}",
                query,
            )

    def _zone_checked(self) -> tuple[str, tuple[str, ...]]:
        """Funnel answers say nothing of the time zone their days are in: read the property's
        from a one-row core report (asked once per evaluation, as answers are kept) and check it
        as every core report is checked. The probe as asked, and a note when GA4 gave none."""
        path = f"/v1beta/properties/{self.settings.property_id}:runReport"
        reply, query = self._call(path, dict(_ZONE_PROBE))
        metadata = reply.get("metadata") if isinstance(reply, dict) else None
        zone = metadata.get("timeZone") if isinstance(metadata, dict) else None
        if not zone:
            return query, (
                "GA4 did not say the property's time zone (a runReport answer without "
                f"metadata.timeZone): the windows are cut at midnight in {self.settings.timezone} "
                f"(providers.{self.context.name}.timezone), unchecked",
            )
        self._guard_zone(str(zone), query)
        return query, ()

    def _sampling(self, metadata: Any, query: str) -> list[tuple[int, int] | None]:
        """Per date range, in the order asked: (events read, events there) where GA4 sampled;
        empty when it did not (GA4 then leaves samplingMetadatas out)."""
        found = metadata.get("samplingMetadatas") if isinstance(metadata, dict) else None
        if not found:
            return []
        if not isinstance(found, list):
            raise self._fail(
                f"expected metadata.samplingMetadatas to be a list, got {_kind(found)}", query
            )
        result: list[tuple[int, int] | None] = []
        for item in found:
            said = item if isinstance(item, dict) else {}
            read, space = (
                self._count(self._number(said.get(key), key, query), key, query)
                for key in ("samplesReadCount", "samplingSpaceSize")
            )
            if read is not None and space is not None and read < space:
                result.append((read, space))
            else:
                result.append(None)  # all of it read, or GA4 did not say how much
        return result

    def _number(self, text: Any, what: str, query: str) -> float | None:
        """A GA4 value: numbers come as text; null or NaN means no data, never zero."""
        if text is None or isinstance(text, bool):
            return None
        if isinstance(text, int | float):
            value = float(text)
        else:
            cleaned = str(text).strip()
            if cleaned == "" or cleaned.lower() in ("nan", "null", "(not set)"):
                return None
            try:
                value = float(cleaned)
            except ValueError:
                raise self._fail(
                    f"{what} is {str(text)[:40]!r}; expected a number", query
                ) from None
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise self._fail(f"{what} is {text!r}; expected a finite number", query)
        return value

    def _count(self, value: float | None, what: str, query: str) -> int | None:
        if value is None:
            return None
        if value < 0 or value != int(value):
            raise self._fail(f"{what} is {value:g}; expected a count (a whole number ≥ 0)", query)
        return int(value)

    # --- metrics --------------------------------------------------------------------------------

    def _spans(self, windows: list[TimeWindow]) -> list[_Span]:
        """Each window as GA4 reads it. Time both windows touch (a day when widened, else an hour)
        is read in the release window only; a window left with none of its own is an error."""
        zone, name = self._zone, self.settings.timezone
        if self.settings.partial_days == "widen":
            days = day_spans(
                windows,
                name,
                service="GA4",
                provider=self.context.name,
                remedy=" (or use partial_days: hours, the default)",
            )
            return [_Span.whole_days(days[w.label]) for w in windows]
        read = {w.label: _whole_hours(w, zone) for w in windows if w.end > w.start}
        release = read.get("release")
        spans = []
        for window in windows:
            if window.label not in read:  # a release window that has not begun
                day = window.start.astimezone(zone).date()
                spans.append(_Span(window.label, day, day - timedelta(days=1), notes=(NOT_BEGUN,)))
                continue
            start, end = read[window.label]
            if release and window.label != "release" and start < release[1] and release[0] < end:
                start, end = (start, release[0]) if start < release[0] else (release[1], end)
                if end <= start:
                    raise self._fail(
                        f"the {window.label} window ({local(window.start, zone)} to "
                        f"{local(window.end, zone)}) falls within the release window's hours in "
                        f"{name}; GA4 counts whole hours at best, so give the {window.label} "
                        "window hours of its own",
                        None,
                    )
            spans.append(_hour_span(window, start, end, zone))
        return spans

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)
        spans = self._spans(windows)
        live = [s for s in spans if s.begun]
        result = self._read(request, live) if live else {}
        for span in spans:
            result.setdefault(span.label, Measurement(value=None, samples=0))
        return with_spans(result, {s.label: s for s in spans})

    def _read(self, request: MetricRequest, spans: list[_Span]) -> dict[str, Measurement]:
        criterion = request.criterion
        if criterion.query is not None:
            return self._raw(criterion.query, spans)
        if isinstance(criterion, ConversionCriterion):
            return self._conversion(request, spans)
        assert isinstance(criterion, EngagementCriterion)  # criterion_problems saw to it
        return self._engagement(criterion, spans)

    def _conversion(self, request: MetricRequest, spans: list[_Span]) -> dict[str, Measurement]:
        journey = criterion_journey(request)
        zone_query, zone_notes = self._zone_checked()
        path = f"/v1alpha/properties/{self.settings.property_id}:runFunnelReport"
        steps = [
            {"name": step, "filterExpression": {"funnelEventFilter": {"eventName": step}}}
            for step in journey.steps
        ]
        result: dict[str, Measurement] = {}
        for span in spans:  # a funnel report reads one date range at a time
            body: dict[str, Any] = {
                "dateRanges": [span.date_range()],
                "funnel": {"isOpenFunnel": False, "steps": steps},
            }
            restriction = _restriction([span])
            if restriction is not None:
                body["dimensionFilter"] = restriction
            body["returnPropertyQuota"] = True
            reply, query = self._call(path, body)
            table = reply.get("funnelTable") if isinstance(reply, dict) else None
            if not isinstance(table, dict):
                raise self._fail(
                    f"expected a runFunnelReport answer with a funnelTable, got {_kind(reply)}"
                    + (f" with keys {', '.join(sorted(reply))}" if isinstance(reply, dict) else ""),
                    query,
                )
            details, notes = self._metadata(reply, table.get("metadata"), query)
            shown = f"{query}\n# the property's time zone, read with: {zone_query}"
            said = _Answer(None, shown, details, notes + zone_notes)
            users = self._funnel_users(table, journey.steps, query)
            if users is None:
                result[span.label] = said.add_to(Measurement(value=None, samples=0, query=shown))
                continue
            measured = funnel_measurement(
                self.context,
                journey.steps,
                users,
                query=shown,
                rising="the funnel's last step has more users ({last}) than its first "
                "({first}); a closed funnel cannot grow",
                suffix=" (users)",
            )
            sampled = self._sampling(table.get("metadata"), query)
            if sampled and sampled[0] is not None and users[0] > 0:
                read, space = sampled[0]
                # The users GA4 saw are about its sampled share of those it reports: the
                # conversion is a proportion of them (the effective sample), not of the scaled-up
                # count.
                effective = int(users[0] * read / space)
                measured = judged_on(
                    measured,
                    effective,
                    _sampled_note(read, space) + f"; the conversion is judged as a proportion of "
                    f"the {max(1, effective):,} users that share holds, not of the {users[0]:,} "
                    "reported",
                )
            result[span.label] = said.add_to(measured)
        return result

    def _funnel_users(
        self, table: dict[str, Any], steps: list[str], query: str
    ) -> list[int] | None:
        """Active users per step, in step order; None when GA4 had no rows (no data)."""
        rows = table.get("rows") or []
        if not isinstance(rows, list):
            raise self._fail(f"expected funnelTable.rows to be a list, got {_kind(rows)}", query)
        if not rows:
            return None
        dimensions = _header_names(table.get("dimensionHeaders"))
        names = _header_names(table.get("metricHeaders"))
        if (
            dimensions is None
            or names is None
            or "funnelStepName" not in dimensions
            or "activeUsers" not in names
        ):
            raise self._fail(
                "expected funnelTable headers with the dimension funnelStepName and the metric "
                f"activeUsers, got dimensions {dimensions} and metrics {names}",
                query,
            )
        step_at, users_at = dimensions.index("funnelStepName"), names.index("activeUsers")
        users: dict[int, int | None] = {}
        for row in rows:
            keys = row.get("dimensionValues") if isinstance(row, dict) else None
            cells = row.get("metricValues") if isinstance(row, dict) else None
            if not (isinstance(keys, list) and isinstance(cells, list)) or len(cells) != len(names):
                raise self._fail(f"a funnelTable row is malformed: {json.dumps(row)[:200]}", query)
            label = str(_cell(keys[step_at]) if step_at < len(keys) else "")
            match = _STEP_PREFIX.match(label)
            index = int(match[1]) - 1 if match else (steps.index(label) if label in steps else -1)
            if not 0 <= index < len(steps):
                raise self._fail(
                    f"a funnelTable row is for step {label!r}; expected one of "
                    + ", ".join(f"{i + 1}. {s}" for i, s in enumerate(steps)),
                    query,
                )
            if index in users:
                raise self._fail(f"two funnelTable rows for step {label!r}", query)
            value = self._number(_cell(cells[users_at]), f"{label} activeUsers", query)
            users[index] = self._count(value, f"{label} activeUsers", query)
        missing = [f"{i + 1}. {s}" for i, s in enumerate(steps) if i not in users]
        if missing:
            raise self._fail(
                f"the funnelTable has no row for step {', '.join(missing)}; expected one row per "
                "step",
                query,
            )
        counts = [users[i] for i in range(len(steps))]
        if any(n is None for n in counts):
            return None
        return [n for n in counts if n is not None]

    def _engagement(
        self, criterion: EngagementCriterion, spans: list[_Span]
    ) -> dict[str, Measurement]:
        totals = self._report(
            {
                "metrics": [
                    {"name": m}
                    for m in (
                        "activeUsers",
                        "sessions",
                        "eventCount",
                        "engagementRate",
                        "userEngagementDuration",
                    )
                ]
            },
            spans,
        )
        counted: dict[str, _Answer] | None = None
        if criterion.event and criterion.measure != "active_users":
            counted = self._report(
                {
                    "metrics": [{"name": m} for m in ("activeUsers", "sessions", "eventCount")],
                    "dimensionFilter": _event_filter(criterion.event),
                },
                spans,
            )
        result: dict[str, Measurement] = {}
        for span in spans:
            total = totals[span.label]
            event = counted[span.label] if counted is not None else None
            query = total.query if event is None else f"{total.query}\n{event.query}"
            measured = self._engagement_measurement(criterion, total, event, query)
            result[span.label] = total.add_to(event.add_to(measured) if event else measured)
        return result

    def _engagement_measurement(
        self, criterion: EngagementCriterion, total: _Answer, event: _Answer | None, query: str
    ) -> Measurement:
        values = total.values or {}
        users = self._count(values.get("activeUsers"), "activeUsers", query)
        sessions = self._count(values.get("sessions"), "sessions", query)
        events = self._count(values.get("eventCount"), "eventCount", query)
        details: dict[str, float] = {}
        for label, number in (
            ("active users", users),
            ("sessions", sessions),
            ("events", events),
            ("engagement rate", values.get("engagementRate")),
        ):
            if number is not None:
                details[label] = float(number)
        duration = values.get("userEngagementDuration")
        if duration is not None and users:
            details["engagement seconds per user"] = duration / users
        adopters = 0
        if event is not None:
            # No row: active users sent none of the event, a true zero (the totals had a row).
            counted = event.values or {}
            word = criterion.event
            events = self._count(counted.get("eventCount"), f"{word} eventCount", query) or 0
            details[f"{word} events"] = float(events)
            unit = "activeUsers" if criterion.unit == "user" else "sessions"
            adopters = self._count(counted.get(unit), f"{word} {unit}", query) or 0
        empty = Measurement(value=None, samples=0, details=details, query=query)
        if criterion.measure == "active_users":
            if not users:
                return empty
            return Measurement(value=float(users), samples=users, details=details, query=query)
        if criterion.measure == "adoption":
            trials = users if criterion.unit == "user" else sessions
            if not trials:
                return empty
            details["adopters"] = float(adopters)
            # GA4 estimates distinct counts (HyperLogLog++): a filtered count may exceed the total.
            return metrics.proportion(min(adopters, trials), trials, query=query, details=details)
        per = users if criterion.measure == "events_per_user" else sessions
        if not per or events is None:
            return empty
        # GA4 gives totals only, no per-user counts: no variance, so no significance test.
        return Measurement(value=events / per, samples=per, details=details, query=query)

    def _raw(self, query: Any, spans: list[_Span]) -> dict[str, Measurement]:
        assert isinstance(query, dict)  # criterion_problems checked the shape
        answers = self._report(dict(query["report"]), spans)
        result: dict[str, Measurement] = {}
        for span in spans:
            answer = answers[span.label]
            values = answer.values or {}
            details = {k: v for k, v in values.items() if v is not None}
            if "successes" in query:
                successes = self._count(
                    values.get(query["successes"]), query["successes"], answer.query
                )
                trials = self._count(values.get(query["trials"]), query["trials"], answer.query)
                if successes is None or not trials:
                    result[span.label] = Measurement(
                        value=None, samples=0, details=details, query=answer.query
                    )
                    continue
                if successes > trials:
                    raise self._fail(
                        f"{query['successes']} ({successes}) exceeds {query['trials']} ({trials}) "
                        f"in the {span.label} window; successes must be a part of the trials",
                        answer.query,
                    )
                result[span.label] = metrics.proportion(
                    successes, trials, query=answer.query, details=details
                )
                continue
            value = values.get(query["metric"])
            if "samples" in query:
                samples = self._count(values.get(query["samples"]), query["samples"], answer.query)
            else:
                samples = 1 if value is not None else 0
            if value is None or not samples:
                result[span.label] = Measurement(
                    value=None, samples=0, details=details, query=answer.query
                )
                continue
            result[span.label] = Measurement(
                value=value, samples=samples, details=details, query=answer.query
            )
        return {label: answers[label].add_to(m) for label, m in result.items()}


def _query_problems(query: Any) -> list[tuple[Location, str]]:
    """What is wrong with a raw query mapping, each at its place under `query`."""
    if not isinstance(query, Mapping):
        return [(("query",), f"the ga4 provider takes no query text; {_QUERY_SHAPE}")]
    problems: list[tuple[Location, str]] = []
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
    names = (
        [m.get("name") for m in listed if isinstance(m, Mapping)]
        if isinstance(listed, list)
        else []
    )
    if not names or not all(isinstance(n, str) and n for n in names):
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


def _sampled_note(read: int, space: int) -> str:
    return (
        f"sampled: GA4 read {read / space:.1%} of the events ({read:,} of {space:,}) and scaled "
        "its counts up"
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _header_names(headers: Any) -> list[str] | None:
    if not isinstance(headers, list):
        return None
    names = [h.get("name") if isinstance(h, dict) else None for h in headers]
    return names if all(isinstance(n, str) for n in names) else None  # type: ignore[return-value]


def _cell(cell: Any) -> Any:
    return cell.get("value") if isinstance(cell, dict) else None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {str(value)[:40]!r}"
