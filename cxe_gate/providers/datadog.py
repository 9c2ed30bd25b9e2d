"""Datadog: error rate, latency and Apdex from APM trace metrics, or any metric query, per time window
(v2 `POST /api/v2/query/timeseries` by default, v1 `GET /api/v1/query` by setting)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Literal

from pydantic import Field, field_validator

from ..config import ApdexCriterion, CriterionBase, Duration, LatencyCriterion, Problems, Secret
from ..measurement import Measurement, TimeWindow
from .answers import error_rate_of_counts, total
from .apm import ApmProvider, ApmQueries
from .base import ProviderContext, ProviderSettings
from .criterion_checks import QueryForm, apdex_t_problems, query_parts
from .datadog_api import DatadogApi, Series, data_end
from .transport import HttpSettings, http_url, key_headers, seconds_from_now

# When a rate limit lifts. Datadog sends no Retry-After: X-RateLimit-Reset holds the seconds left
# until the limit resets, next to X-RateLimit-Limit, -Period, -Remaining and -Name
# (docs.datadoghq.com/api/latest/rate-limits, "Rate Limit Headers").
RESET_HEADERS = {"X-RateLimit-Reset": seconds_from_now}

# Datadog sites by their short name → the domain the API lives under (https://api.<domain>).
SITES = {
    "US1": "datadoghq.com",
    "US3": "us3.datadoghq.com",
    "US5": "us5.datadoghq.com",
    "EU1": "datadoghq.eu",
    "AP1": "ap1.datadoghq.com",
    "AP2": "ap2.datadoghq.com",
    "UK1": "uk1.datadoghq.com",
    "US1-FED": "ddog-gov.com",
    "US2-FED": "us2.ddog-gov.com",
}
_SITE_ALIASES = {"EU": "EU1", "GOV": "US1-FED"}

# A tag value or span name written into `{service:…,env:…}`: no scope syntax, no spaces.
_TAG = re.compile(r"^[^\s{},]+$")

# How a time unit Datadog names in a series (or a query declares) becomes milliseconds.
_TO_MS = {
    "nanosecond": 1e-6,
    "microsecond": 1e-3,
    "millisecond": 1.0,
    "second": 1000.0,
    "minute": 60_000.0,
}
_UNIT_WORDS = {"ns": "nanosecond", "us": "microsecond", "µs": "microsecond", "ms": "millisecond"}
_UNIT_WORDS |= {"s": "second", "m": "minute"} | {name: name for name in _TO_MS}

_AGGREGATES = ("avg", "sum", "min", "max", "last")

# Per metric: what a raw `query` may be (a text query stands for the metric's main query).
_QUERY_FORMS = {
    "error_rate": QueryForm(frozenset({"errors", "requests"})),
    "latency": QueryForm(frozenset({"latency"}), frozenset({"requests", "unit"}), "latency"),
    "apdex": QueryForm(frozenset({"apdex"}), frozenset({"requests"}), "apdex"),
    "custom": QueryForm(frozenset({"query"}), frozenset({"aggregate", "samples"}), "query"),
}


def site_domain(value: str) -> str:
    """The API domain for a `site` setting: a short name (US3, EU1, US1-FED) or the domain the
    Datadog app runs under (datadoghq.eu, us3.datadoghq.com, app.datadoghq.com)."""
    text = value.strip()
    short = text.upper()
    short = _SITE_ALIASES.get(short, short)
    if short in SITES:
        return SITES[short]
    domain = re.sub(r"^https?://", "", text.lower()).rstrip("/")
    domain = re.sub(r"^(app|api)\.", "", domain)
    if domain in SITES.values():
        return domain
    known = ", ".join(f"{name} ({domain})" for name, domain in SITES.items())
    raise ValueError(f"unknown Datadog site {value!r}; expected one of {known}, or set api_url")


class DatadogSettings(HttpSettings):
    site: str = Field(
        "datadoghq.com",
        description="the account's Datadog site: US1, US3, US5, EU1, AP1, AP2, UK1, US1-FED, "
        "US2-FED, or its domain (datadoghq.eu, us3.datadoghq.com, ddog-gov.com)",
    )
    api_url: str | None = Field(
        None, description="the API's base URL, replacing the one `site` gives (a proxy)"
    )
    api_key: Secret = Field(description="DD-API-KEY, e.g. ${DD_API_KEY}")
    app_key: Secret = Field(description="DD-APPLICATION-KEY, e.g. ${DD_APP_KEY}")
    api: Literal["v2", "v1"] = Field(
        "v2",
        description="v2: POST /api/v2/query/timeseries (one request per window); v1: GET "
        "/api/v1/query (one request per query and window)",
    )
    service: str | None = Field(None, description="APM service the default queries read")
    env: str | None = Field(None, description="APM env tag the default queries read")
    operation: str = Field(
        "http.request",
        description="the span name of the trace metrics: trace.<operation>.hits, .errors, …",
    )
    apdex_t: Duration | None = Field(
        None,
        description="the Apdex T set for the service in Datadog; an apdex criterion's t must "
        "match it, because Datadog cannot apply another T at query time",
    )

    _site = field_validator("site")(site_domain)
    _api_url = field_validator("api_url")(http_url("https://api.datadoghq.com"))

    @field_validator("service", "env", "operation")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is not None and not _TAG.match(value):
            raise ValueError(
                f"expected a tag value without spaces, commas or braces, got {value!r}"
            )
        return value

    @property
    def base_url(self) -> str:
        return self.api_url or f"https://api.{self.site}"


def _part_problem(metric: str, part: str, value: str) -> str | None:
    """What is wrong with the text of a raw query's part (the same for every metric)."""
    if part == "unit" and value.strip() not in _UNIT_WORDS:
        return f"expected a unit of time (ns, us, ms, s), got {value!r}"
    if part == "aggregate" and value not in _AGGREGATES:
        return f"expected one of {', '.join(_AGGREGATES)}, got {value!r}"
    return None


class DatadogProvider(ApmProvider):
    settings_model = DatadogSettings
    settings: DatadogSettings
    query_kind = "a Datadog metric query"  # a filter is tags added to the scope
    errors_problem = (
        "Datadog counts an error where the tracer flagged the span as one "
        "(trace.<operation>.errors); to count other failures, give query: "
        "{errors: <count query>, requests: <count query>}"
    )
    queries = ApmQueries(_QUERY_FORMS, "a ratio", _part_problem)

    @classmethod
    def product_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        assert isinstance(settings, DatadogSettings)
        problems: Problems = []
        if criterion.filter is not None:
            if criterion.query is not None:
                problems.append(
                    (("filter",), "a raw query replaces the default one; write the tags into it")
                )
            elif not all(_TAG.match(tag.strip()) for tag in criterion.filter.split(",")):
                problems.append(
                    (
                        ("filter",),
                        "expected Datadog tags added to the scope, such as "
                        f"resource_name:get_/checkout, got {criterion.filter!r}",
                    )
                )
        if isinstance(criterion, LatencyCriterion) and round(criterion.percentile, 2) != (
            criterion.percentile
        ):
            problems.append(
                (
                    ("percentile",),
                    "Datadog percentiles have at most two decimals (p99.99), got "
                    f"{criterion.percentile:g}",
                )
            )
        if isinstance(criterion, ApdexCriterion):
            problems += apdex_t_problems(
                criterion,
                settings.apdex_t,
                product="Datadog",
                own_t="computes Apdex with the T set for the service in Datadog (APM › service › "
                "settings)",
                with_t="computes this service's Apdex with",
            )
        return problems

    def __init__(self, settings: DatadogSettings, context: ProviderContext):
        super().__init__(settings, context)
        api_key = context.secret(settings.api_key, "api_key")
        app_key = context.secret(settings.app_key, "app_key")
        self.client = self._api_client(
            base_url=settings.base_url,
            headers=key_headers(context, {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key})
            | {"Accept": "application/json"},
            auth_hint=f"and that site ({settings.site}) is the account's Datadog site",
            reset_headers=RESET_HEADERS,
        )
        self._api = DatadogApi(self.client, settings.api)

    # --- metrics --------------------------------------------------------------------------------

    def _scope(self, criterion: CriterionBase) -> str:
        tags = [f"service:{self.settings.service}"] if self.settings.service else []
        tags += [f"env:{self.settings.env}"] if self.settings.env else []
        if criterion.filter:
            tags += [tag.strip() for tag in criterion.filter.split(",") if tag.strip()]
        return "{" + (",".join(tags) or "*") + "}"

    def _defaults(self, criterion: CriterionBase, window: TimeWindow) -> dict[str, str]:
        """The default trace-metric queries, rolled up to the whole window (one point each when
        Datadog's buckets line up with it)."""
        span = f"trace.{self.settings.operation}"
        scope = self._scope(criterion)
        length = max(1, round((window.end - window.start).total_seconds()))
        queries = {
            "errors": f"sum:{span}.errors{scope}.as_count().rollup(sum, {length})",
            "requests": f"sum:{span}.hits{scope}.as_count().rollup(sum, {length})",
            "apdex": f"avg:{span}.apdex{scope}.rollup(avg, {length})",
        }
        if isinstance(criterion, LatencyCriterion):
            queries["latency"] = f"p{criterion.percentile:g}:{span}{scope}.rollup({length})"
        return queries

    def _error_rate(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        queries = self._defaults(criterion, window) | query_parts(criterion, _QUERY_FORMS)
        sent = {role: queries[role] for role in ("errors", "requests")}
        answer, text = self._api.fetch(sent, window)
        measured = error_rate_of_counts(
            total(answer["errors"]),
            total(answer["requests"]),
            self.context,
            text,
            same_source="do both queries read the same spans?",
        )
        return replace(measured, data_end=data_end(answer, window))

    def _latency(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        assert isinstance(criterion, LatencyCriterion)
        parts = query_parts(criterion, _QUERY_FORMS)
        queries = self._defaults(criterion, window) | parts
        sent = {role: queries[role] for role in ("latency", "requests")}
        answer, text = self._api.fetch(sent, window)
        value, buckets = self._window_mean(answer, "latency", text)
        if value is None:
            return Measurement(value=None, samples=0, query=text)
        samples = self._samples(answer, text)
        unit = _series_unit(answer["latency"]) or _UNIT_WORDS[parts.get("unit", "s").strip()]
        if unit not in _TO_MS:
            raise self._fail(f"expected the latency in a unit of time, got {unit}", text)
        label = f"p{criterion.percentile:g}"
        details = {"requests": samples, f"{label} as sent ({unit}s)": value}
        if buckets > 1:
            details["rollup buckets (request-weighted mean)"] = buckets
        return Measurement(
            value * _TO_MS[unit],
            samples,
            details=details,
            query=text,
            data_end=data_end(answer, window),
        )

    def _apdex(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        queries = self._defaults(criterion, window) | query_parts(criterion, _QUERY_FORMS)
        sent = {role: queries[role] for role in ("apdex", "requests")}
        answer, text = self._api.fetch(sent, window)
        score, buckets = self._window_mean(answer, "apdex", text)
        if score is None:
            return Measurement(value=None, samples=0, query=text)
        if not 0.0 <= score <= 1.0:
            raise self._fail(f"expected an Apdex score from 0 to 1, got {score:g}", text)
        samples = self._samples(answer, text)
        # Datadog gives the score, not the satisfied/tolerating/frustrated counts. Scores of 0, 0.5
        # and 1 with mean m vary at most m(1 - m) (no tolerating requests): the widest variance the
        # score allows, so a test never claims more certainty than the data has.
        variance = score * (1 - score) * samples / (samples - 1) if samples > 1 else 0.0
        details = {"requests": samples, "variance upper bound": variance}
        if buckets > 1:
            details["rollup buckets (request-weighted mean)"] = buckets
        return Measurement(
            score,
            samples,
            variance=variance,
            details=details,
            query=text,
            data_end=data_end(answer, window),
        )

    def _custom(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        parts = query_parts(criterion, _QUERY_FORMS)
        aggregate = parts.get("aggregate", "avg")
        sent = {"value": parts["query"]}
        if "samples" in parts:
            sent["samples"] = parts["samples"]
        answer, text = self._api.fetch(sent, window)
        value = self._aggregate(answer["value"], aggregate, text)
        if value is None:
            return Measurement(value=None, samples=0, query=text)
        samples = 1
        if "samples" in parts:
            counted = total(answer["samples"])
            samples = round(counted) if counted is not None else 0
        details: dict[str, float] = {"samples": samples} if "samples" in parts else {}
        return Measurement(
            value, samples, details=details, query=text, data_end=data_end(answer, window)
        )

    # --- reading answers ------------------------------------------------------------------------

    def _window_mean(
        self, answer: dict[str, list[Series]], role: str, text: str
    ) -> tuple[float | None, int]:
        """One value over the window: the single bucket's, or, when Datadog split the window into
        rollup buckets, their mean weighted by each bucket's requests (exact for Apdex, an
        approximation for a percentile). Also returns how many buckets had a value."""
        series = answer[role]
        if not series:
            return None, 0
        if len(series) > 1:
            raise self._fail(
                f"expected one {role} series for the window, got {len(series)} (the query groups "
                "by tags; remove its `by {…}` or narrow the scope)",
                text,
            )
        points = [
            (t, v) for t, v in zip(series[0].times, series[0].values, strict=True) if v is not None
        ]
        if not points:
            return None, 0
        if len(points) == 1:
            return points[0][1], 1
        weights: dict[float, float] = {}
        for counted in answer.get("requests", []):
            for t, v in zip(counted.times, counted.values, strict=True):
                weights[t] = weights.get(t, 0.0) + (v or 0.0)
        weight = sum(weights.get(t, 0.0) for t, _ in points)
        if weight <= 0:
            return sum(v for _, v in points) / len(points), len(points)
        return sum(weights.get(t, 0.0) * v for t, v in points) / weight, len(points)

    def _samples(self, answer: dict[str, list[Series]], text: str) -> int:
        requests = total(answer["requests"])
        if requests is None:
            raise self._fail(
                "the value came back but the request count did not; expected both for the "
                "window (check the requests query reads the same spans)",
                text,
            )
        return round(requests)

    def _aggregate(self, series: list[Series], aggregate: str, text: str) -> float | None:
        if aggregate == "sum":
            return total(series)
        if len(series) > 1:
            raise self._fail(
                f"expected one series to take the {aggregate} of, got {len(series)}; aggregate "
                "across groups in the query (e.g. avg:metric{…} without `by {…}`) or use "
                "aggregate: sum",
                text,
            )
        values = [v for s in series for v in s.values if v is not None]
        if not values:
            return None
        if aggregate == "avg":
            return sum(values) / len(values)
        if aggregate == "last":
            return values[-1]
        return min(values) if aggregate == "min" else max(values)


def _series_unit(series: list[Series]) -> str | None:
    return next((s.unit for s in series if s.unit), None)
