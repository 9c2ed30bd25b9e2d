"""Dynatrace: error rate, latency and Apdex from the Metrics API v2 (`GET /api/v2/metrics/query`), or
any metric selector, with one value per time window (`resolution=Inf`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from pydantic import Field, field_validator, model_validator

from .. import metrics
from ..config import (
    ApdexCriterion,
    CriterionBase,
    CustomCriterion,
    Duration,
    LatencyCriterion,
    Problems,
    Secret,
)
from ..measurement import Measurement, TimeWindow, Unit
from .answers import data_point, error_rate_of_counts, expected_shape, total
from .apm import ApmProvider, ApmQueries
from .base import MetricRequest, ProviderContext, ProviderSettings
from .criterion_checks import QueryForm, apdex_t_problems, query_parts
from .transport import HttpSettings, http_url, token_auth, unix_time

# When a rate limit lifts. Dynatrace's Managed Cluster API documents X-RateLimit-Reset as a UNIX
# time in microseconds (dynatrace.com/support/help/managed-cluster/cluster-api/basics/
# cluster-access-limit); API changelog 1.210 (docs.dynatrace.com/managed/whats-new/dynatrace-api/
# sprint-210) deprecated the X-RateLimit-* headers, and the environment API's access-limit page
# (docs.dynatrace.com/docs/dynatrace-api/basics/access-limit) documents a bare 429. So a
# Retry-After wins when sent (the transport reads it first), and a reset is read as a UNIX time in
# whichever unit it comes (microseconds as documented, or seconds or milliseconds).
RESET_HEADERS = {"X-RateLimit-Reset": unix_time}

ERRORS = "builtin:service.errors.total.count:splitBy():sum"
REQUESTS = "builtin:service.requestCount.total:splitBy():sum"
RESPONSE_TIME = "builtin:service.response.time:splitBy():percentile({percentile})"  # µs
# User actions of a web application by the Apdex category Dynatrace gave them (the application's
# own thresholds): the counts behind its Apdex score.
APDEX_CATEGORIES = 'builtin:apps.web.actionCount.category:splitBy("Apdex category"):sum'
_CATEGORIES = ("SATISFIED", "TOLERATING", "FRUSTRATED")

_MAX_PAGES = 100

# What a declared unit does to a value: a factor to milliseconds, or a percentage to a ratio.
_TO_MS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0}
_PERCENT = "percent"

# Per metric: what a raw `query` may be (a text query stands for the metric's main selector).
_ENTITY = frozenset({"entitySelector"})
_QUERY_FORMS = {
    "error_rate": QueryForm(frozenset({"errors", "requests"}), _ENTITY),
    "latency": QueryForm(frozenset({"latency"}), _ENTITY | {"requests", "unit"}, "latency"),
    "apdex": QueryForm(frozenset({"apdex"}), _ENTITY, "apdex"),
    "custom": QueryForm(
        frozenset({"metricSelector"}), _ENTITY | {"samples", "unit"}, "metricSelector"
    ),
}


class DynatraceSettings(HttpSettings):
    url: str | None = Field(
        None,
        description="the environment's URL: https://{env-id}.live.dynatrace.com (SaaS) or "
        "https://{domain}/e/{env-id} (Managed)",
    )
    environment: str | None = Field(
        None, description="a SaaS environment ID, short for url: https://{id}.live.dynatrace.com"
    )
    token: Secret = Field(description="an API token with metrics.read, e.g. ${DT_API_TOKEN}")
    entity_selector: str | None = Field(
        None,
        description='the services the default queries read, e.g. type(SERVICE),entityId("SERVICE-…")'
        " (all services, merged, when left out)",
    )
    application_selector: str | None = Field(
        None,
        description='the web application for Apdex, e.g. type(APPLICATION),entityId("APPLICATION-…")',
    )
    mz_selector: str | None = Field(
        None, description='a management zone for every query, e.g. mzName("checkout")'
    )
    apdex_t: Duration | None = Field(
        None,
        description="the Apdex T set for the application in Dynatrace; an apdex criterion's t must "
        "match it, because Dynatrace cannot apply another T at query time",
    )

    _url = field_validator("url")(http_url("https://abc12345.live.dynatrace.com"))

    @field_validator("environment")
    @classmethod
    def _environment_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError(f"expected an environment ID such as abc12345, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_place(self) -> DynatraceSettings:
        if (self.url is None) == (self.environment is None):
            raise ValueError("give either url (SaaS or Managed) or environment (a SaaS ID)")
        return self

    @property
    def base_url(self) -> str:
        return self.url or f"https://{self.environment}.live.dynatrace.com"


def _unit_problem(metric: str, part: str, value: str) -> str | None:
    units = sorted(_TO_MS) + ([_PERCENT] if metric == "custom" else [])
    if part == "unit" and value.strip() not in units:
        return f"expected one of {', '.join(units)}, got {value!r}"
    return None


@dataclass(frozen=True)
class _Series:
    """One series of a metric's answer: its dimension values and its values (None: no data)."""

    dimensions: tuple[str, ...]
    values: tuple[float | None, ...]


class DynatraceProvider(ApmProvider):
    settings_model = DynatraceSettings
    settings: DynatraceSettings
    takes_filter = False
    narrow_instead = (
        "it narrows by entity: set the provider's entity_selector, or the query's entitySelector"
    )
    query_kind = "a metric selector"
    errors_problem = (
        "Dynatrace counts failed requests itself (builtin:service.errors.total.count); to count "
        "others, give query: {errors: <metric selector>, requests: <metric selector>}"
    )
    queries = ApmQueries(_QUERY_FORMS, "a rate", _unit_problem)

    @classmethod
    def product_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        assert isinstance(settings, DynatraceSettings)
        if not isinstance(criterion, ApdexCriterion):
            return []
        return apdex_t_problems(
            criterion,
            settings.apdex_t,
            product="Dynatrace",
            own_t="rates each user action by the Apdex thresholds set for the application in "
            "Dynatrace",
            with_t="rates this application's actions with",
        )

    def __init__(self, settings: DynatraceSettings, context: ProviderContext):
        super().__init__(settings, context)
        token = context.secret(settings.token, "token")
        self.client = self._api_client(
            base_url=settings.base_url,
            headers=token_auth(context, token, scheme="Api-Token") | {"Accept": "application/json"},
            auth_hint="and that the token has the metrics.read scope",
            reset_headers=RESET_HEADERS,
        )

    def unit(self, request: MetricRequest) -> Unit | str:
        criterion = request.criterion
        declared = query_parts(criterion, _QUERY_FORMS, strip=True).get("unit")
        if isinstance(criterion, CustomCriterion) and declared:
            return Unit.RATIO if declared == _PERCENT else Unit.MILLISECONDS
        return criterion.default_unit()

    # --- metrics --------------------------------------------------------------------------------

    def _error_rate(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        parts = query_parts(criterion, _QUERY_FORMS, strip=True)
        selectors = [parts.get("errors", ERRORS), parts.get("requests", REQUESTS)]
        entity = parts.get("entitySelector", self.settings.entity_selector)
        (errors_series, requests_series), text = self._fetch(selectors, entity, window)
        return error_rate_of_counts(
            total(errors_series),
            total(requests_series),
            self.context,
            text,
            same_source="do both selectors read the same services?",
        )

    def _latency(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        assert isinstance(criterion, LatencyCriterion)
        parts = query_parts(criterion, _QUERY_FORMS, strip=True)
        latency = parts.get("latency", RESPONSE_TIME.format(percentile=f"{criterion.percentile:g}"))
        selectors = [latency, parts.get("requests", REQUESTS)]
        entity = parts.get("entitySelector", self.settings.entity_selector)
        (latency_series, requests_series), text = self._fetch(selectors, entity, window)
        value = self._single(latency_series, "latency", text)
        if value is None:
            return Measurement(value=None, samples=0, query=text)
        requests = total(requests_series)
        if requests is None:
            raise self._fail(
                "the latency came back but the request count did not; expected both for the "
                "window (check the requests selector reads the same services)",
                text,
            )
        unit = parts.get("unit", "us")
        details = {
            "requests": round(requests),
            f"p{criterion.percentile:g} as sent ({unit})": value,
        }
        return Measurement(value * _TO_MS[unit], round(requests), details=details, query=text)

    def _apdex(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        parts = query_parts(criterion, _QUERY_FORMS, strip=True)
        entity = parts.get("entitySelector", self.settings.application_selector)
        (series,), text = self._fetch([parts.get("apdex", APDEX_CATEGORIES)], entity, window)
        counts = dict.fromkeys(_CATEGORIES, 0.0)
        other = 0.0
        for item in series:
            if not item.dimensions:
                raise self._fail(
                    "expected action counts split by Apdex category (SATISFIED, TOLERATING, "
                    'FRUSTRATED); add :splitBy("Apdex category") to the selector',
                    text,
                )
            category = next((d.upper() for d in item.dimensions if d.upper() in counts), None)
            total = sum(v for v in item.values if v is not None)
            if category is None:
                other += total  # actions Dynatrace could not rate (no Apdex category)
            else:
                counts[category] += total
        measured = metrics.apdex(*(round(counts[c]) for c in _CATEGORIES), query=text)
        if not other:
            return measured
        left_out = {"actions without an Apdex category (left out)": round(other)}
        return replace(measured, details=measured.details | left_out)

    def _custom(self, criterion: CriterionBase, window: TimeWindow) -> Measurement:
        parts = query_parts(criterion, _QUERY_FORMS, strip=True)
        selectors = [parts["metricSelector"]]
        if "samples" in parts:
            selectors.append(parts["samples"])
        found, text = self._fetch(selectors, parts.get("entitySelector"), window)
        value = self._single(found[0], "value", text)
        if value is None:
            return Measurement(value=None, samples=0, query=text)
        details: dict[str, float] = {}
        unit = parts.get("unit")
        if unit == _PERCENT:
            details["as sent (percent)"] = value
            value /= 100
        elif unit in _TO_MS:
            details[f"as sent ({unit})"] = value
            value *= _TO_MS[unit]
        samples = 1
        if "samples" in parts:
            counted = total(found[1])
            samples = round(counted) if counted is not None else 0
            details["samples"] = samples
        return Measurement(value, samples, details=details, query=text)

    def _single(self, series: list[_Series], role: str, text: str) -> float | None:
        """The one value of a window (`resolution=Inf`), or None when there is none."""
        if len(series) > 1:
            raise self._fail(
                f"expected one {role} series for the window, got {len(series)} (one per "
                "dimension); add :splitBy() to the selector to merge them",
                text,
            )
        values = [v for s in series for v in s.values if v is not None]
        if len(values) > 1:
            raise self._fail(
                f"expected one {role} value for the window (resolution=Inf), got {len(values)}",
                text,
            )
        return values[0] if values else None

    # --- the API --------------------------------------------------------------------------------

    def _fetch(
        self, selectors: list[str], entity: str | None, window: TimeWindow
    ) -> tuple[list[list[_Series]], str]:
        """Each selector's series over the window (all pages), and the query as sent.

        `resolution=Inf` gives one time slot per series, the whole window; Dynatrace stamps a slot
        with its end, so the answer's timestamp is the window's end whatever the data: it cannot
        tell how far the data reaches, and measurements leave `data_end` None."""
        params = {
            "metricSelector": ",".join(selectors),
            "from": int(window.start.timestamp() * 1000),
            "to": int(window.end.timestamp() * 1000),
            "resolution": "Inf",
        }
        if entity:
            params["entitySelector"] = entity
        if self.settings.mz_selector:
            params["mzSelector"] = self.settings.mz_selector
        text = "&".join(f"{key}={value}" for key, value in params.items())
        found: list[list[_Series]] | None = None
        page: dict[str, Any] = params
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            results, next_key = self._page(page, text)
            if found is None:
                if len(results) != len(selectors):
                    raise self._fail(
                        f"expected {len(selectors)} metric results (one per selector), got "
                        f"{len(results)}",
                        text,
                    )
                found = results
            else:
                if len(results) != len(found):
                    raise self._fail(
                        f"expected every page to hold {len(found)} metric results, got "
                        f"{len(results)}",
                        text,
                    )
                for collected, more in zip(found, results, strict=True):
                    collected.extend(more)
            if not next_key:
                return found, text
            if next_key in seen:
                raise self._fail("the service sent the same nextPageKey twice", text)
            seen.add(next_key)
            # A next page is asked for with the key alone: the service refuses other parameters.
            page = {"nextPageKey": next_key}
        raise self._fail(f"more than {_MAX_PAGES} pages; narrow the selectors", text)

    def _page(self, params: dict[str, Any], text: str) -> tuple[list[list[_Series]], str | None]:
        reply = self.client.get("/api/v2/metrics/query", params=params, query=text, accept={400})
        answer = reply.body
        if reply.status == 400:
            raise self._fail(f"Dynatrace rejected the query: {_error_text(answer)}", text)
        if not isinstance(answer, dict) or not isinstance(answer.get("result"), list):
            raise self._fail(expected_shape("an object with result as a list", answer), text)
        next_key = answer.get("nextPageKey")
        if next_key is not None and not isinstance(next_key, str):
            raise self._fail(expected_shape("nextPageKey as text or null", next_key), text)
        results = []
        for item in answer["result"]:
            data = item.get("data") if isinstance(item, dict) else None
            if not isinstance(data, list):
                raise self._fail(expected_shape("result[].data as a list", item), text)
            results.append([self._series(entry, text) for entry in data])
        return results, next_key

    def _series(self, entry: Any, text: str) -> _Series:
        values = entry.get("values") if isinstance(entry, dict) else None
        if not isinstance(values, list):
            raise self._fail(expected_shape("result[].data[].values as a list", entry), text)
        dimensions = [str(d) for d in entry.get("dimensions") or [] if d is not None]
        mapped = entry.get("dimensionMap")
        if isinstance(mapped, dict):
            dimensions += [str(v) for v in mapped.values() if v is not None]
        return _Series(
            tuple(dimensions),
            tuple(data_point(v, "values", self.context, text, plural=True) for v in values),
        )


def _error_text(answer: Any) -> str:
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return str(answer or "no reason given")[:300]
    text = str(error.get("message") or "no reason given")
    violations = [
        f"{v.get('path') or v.get('parameterLocation') or '?'}: {v.get('message')}"
        for v in error.get("constraintViolations") or []
        if isinstance(v, dict)
    ]
    return f"{text} ({'; '.join(violations)})" if violations else text
