"""The `prometheus` provider: error rate, latency, Apdex and raw PromQL over the Prometheus HTTP API.

Every number is an instant query evaluated at a window's end over a range as long as the window, with
`increase()`, so the judge gets counts (requests, errors, satisfied and tolerating requests). One range
query more per window finds the time of the newest sample the numbers were read from (`data_end`)."""

from __future__ import annotations

import base64
import logging
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from .. import metrics
from ..config import (
    ApdexCriterion,
    Cohorts,
    CriterionBase,
    ErrorRateCriterion,
    LatencyCriterion,
    Location,
    Secret,
    SecretRef,
)
from ..errors import ProviderError
from ..measurement import Measurement, TimeWindow
from .base import MetricRequest, Provider, ProviderContext, ProviderSettings
from .criterion_checks import QueryForm, metric_of, query_parts, query_problems, unserved_problems
from .transport import ApiClient, HttpSettings

log = logging.getLogger("cxe_gate.providers")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# Prometheus' default lookback: an instant selector sees a series' last sample up to 5 minutes old.
_LOOKBACK_MS = 5 * 60 * 1000
_MAX_POINTS = 11_000  # query_range refuses more points per series
_DATA_END_STEPS = 1_000  # evaluations of the data-end query across a window (see _data_end)
_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_MATCHER = re.compile(
    r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*"""
)
_NEGATED = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)")
PLACEHOLDERS = ("window", "start", "end")
_DEFAULT_ERRORS = ErrorRateCriterion.model_fields["errors"].default
# A raw `query` per metric: the parts of a mapping, and the part a text query stands for. The names
# are the other APM providers' (datadog, dynatrace); each part is PromQL answering one number.
_QUERY_FORMS = {
    "error_rate": QueryForm(frozenset({"errors", "requests"})),
    "latency": QueryForm(frozenset({"latency"}), frozenset({"requests"}), "latency"),
    "apdex": QueryForm(frozenset({"apdex"}), frozenset({"requests"}), "apdex"),
    "custom": QueryForm(frozenset({"value"}), frozenset({"samples"}), "value"),
}


# --- PromQL pieces ------------------------------------------------------------------------------


def parse_matchers(text: str) -> list[str]:
    """`job="shop", path=~"/api/.*"` (braces optional) → one normalised matcher per item; a
    ValueError says what is expected."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    found: list[str] = []
    position = 0
    while position < len(body) or not found:
        match = _MATCHER.match(body, position)
        if match is None:
            raise ValueError(
                f'expected PromQL label matchers such as job="shop", path=~"/api/.*"; got {text!r}'
            )
        label, operator, value = match.groups()
        found.append(f"{label}{operator}{value}")
        position = match.end()
        if position < len(body):
            if body[position] != ",":
                raise ValueError(
                    f"expected a comma between label matchers at {body[position:][:20]!r} in {text!r}"
                )
            position += 1
            if not body[position:].strip():
                break  # a trailing comma, as PromQL allows
    return found


def _narrowed(criterion: CriterionBase, cohort: str | None) -> CriterionBase:
    """The criterion with a cohort's label matchers added to its filter."""
    if not cohort:
        return criterion
    matchers = [
        *(parse_matchers(criterion.filter) if criterion.filter else []),
        *parse_matchers(cohort),
    ]
    return criterion.model_copy(update={"filter": ", ".join(matchers)})


def negate(matcher: str) -> str:
    """`code=~"5.."` → `code!~"5.."`: the requests that are not errors."""
    match = _MATCHER.fullmatch(matcher)
    assert match  # only normalised matchers come here
    label, operator, value = match.groups()
    return f"{label}{_NEGATED[operator]}{value}"


def promql_string(text: str) -> str:
    """A PromQL double-quoted string literal holding `text` exactly."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(metric: str, matchers: list[str]) -> str:
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def le_text(seconds: float) -> str:
    """A bucket bound as Python's prometheus_client writes the `le` label ("0.5", "2.0", "+Inf"):
    the spelling the Apdex queries try first (other clients write "2"; see `_bucket_bound`)."""
    if math.isinf(seconds):
        return "+Inf"
    text = repr(float(seconds))
    dot = text.find(".")
    if seconds > 0 and dot > 6:  # Go switches to exponent notation sooner than Python
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


def unix_time(moment: datetime) -> str:
    """Unix seconds with milliseconds, the precision Prometheus keeps: `1763884800.123`."""
    ms = round((moment - _EPOCH) / _MS)
    return f"{ms // 1000}.{ms % 1000:03d}"


def range_text(window: TimeWindow) -> str:
    """The window's length as a PromQL range: `3600s`, or `1500ms` when not whole seconds."""
    ms = round((window.end - window.start) / _MS)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def substitute(query: str, window: TimeWindow) -> str:
    """A raw query with `$window` (the range), `$start` and `$end` (Unix seconds) filled in."""
    values = {
        "window": range_text(window),
        "start": unix_time(window.start),
        "end": unix_time(window.end),
    }
    return _PLACEHOLDER.sub(lambda m: values[m[1] or m[2]], query)


def query_problem(text: object) -> str | None:
    """What is wrong with a raw PromQL text, or None. Only what can be told without a server:
    empty text, unknown placeholders, brackets and strings left open."""
    if not isinstance(text, str) or not text.strip():
        return "expected a PromQL query as text"
    unknown = sorted({m[1] or m[2] for m in _PLACEHOLDER.finditer(text)} - set(PLACEHOLDERS))
    if unknown:
        return (
            f"unknown placeholder ${unknown[0]}; a query may use $window (the window's length as "
            "a range, e.g. 3600s), $start and $end (Unix seconds)"
        )
    closing = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in closing:
            stack.append(closing[char])
        elif char in ")]}" and (not stack or stack.pop() != char):
            return f"unbalanced {char!r} in the PromQL query"
    if quote is not None:
        return f"a string opened with {quote} is never closed in the PromQL query"
    if stack:
        return f"{stack[-1]!r} is missing: a bracket is left open in the PromQL query"
    return None


# --- settings -----------------------------------------------------------------------------------


class PrometheusSettings(HttpSettings):
    url: str = Field(
        description="the server's base URL, with any path prefix a proxy adds "
        "(https://prometheus.example.com, https://example.com/prometheus)"
    )
    token: Secret | None = Field(
        None, description="bearer token (a proxy's or a managed service's): ${PROMETHEUS_TOKEN}"
    )
    username: str | None = Field(None, description="basic auth user (Prometheus' web config)")
    password: Secret | None = Field(None, description="basic auth password: ${PROMETHEUS_PASSWORD}")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="extra headers, e.g. X-Scope-OrgID for Mimir or Cortex; a value written as "
        "${VAR} is read from that variable and kept out of reports",
    )
    requests_counter: str = Field(
        "http_requests_total", description="counter of answered requests, with the status label"
    )
    duration_histogram: str = Field(
        "http_request_duration_seconds",
        description="histogram of request durations in seconds (its name without _bucket)",
    )
    status_label: str = Field("code", description="the status label on the requests counter")
    error_status: str = Field(
        "5..", description="regular expression of the status values that are errors"
    )
    selector: str | None = Field(
        None, description='label matchers added to every default query, e.g. job="shop"'
    )
    status_on_histogram: bool = Field(
        False,
        description="the histogram carries the status label too: Apdex then counts failed "
        "requests as frustrated; otherwise by their duration",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        return url.rstrip("/")

    @field_validator("requests_counter", "duration_histogram")
    @classmethod
    def _metric_name(cls, name: str) -> str:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"expected a Prometheus metric name, got {name!r}")
        return name.removesuffix("_bucket")

    @field_validator("status_label")
    @classmethod
    def _label_name(cls, name: str) -> str:
        if not _LABEL_NAME.match(name):
            raise ValueError(f"expected a Prometheus label name, got {name!r}")
        return name

    @field_validator("error_status")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"expected a regular expression, got {pattern!r}: {exc}") from None
        return pattern

    @field_validator("selector")
    @classmethod
    def _matchers(cls, text: str | None) -> str | None:
        return None if text is None else ", ".join(parse_matchers(text))

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if "${" in value:
                SecretRef.validate(value)  # all of the value or none of it, never echoed
        return headers

    @model_validator(mode="after")
    def _one_way_in(self) -> PrometheusSettings:
        if self.token is not None and (self.username is not None or self.password is not None):
            raise ValueError(
                "give either token (bearer) or username and password (basic), not both"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        return self

    @property
    def scope(self) -> list[str]:
        return parse_matchers(self.selector) if self.selector else []

    @property
    def error_matcher(self) -> str:
        return f"{self.status_label}=~{promql_string(self.error_status)}"


def _error_matchers(
    criterion: ErrorRateCriterion | ApdexCriterion, settings: PrometheusSettings
) -> list[str]:
    """The criterion's `errors` as PromQL matchers: the settings' by default, else its own."""
    if criterion.errors == _DEFAULT_ERRORS:
        return [settings.error_matcher]
    return parse_matchers(criterion.errors)


# --- what one window's queries leave behind -------------------------------------------------------


@dataclass
class _Asked:
    """The queries sent for one window and what Prometheus warned about: its Measurement's query
    text and details."""

    window: TimeWindow
    queries: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data_end: str | None = None  # the range query that found the newest sample, as shown

    @property
    def range(self) -> str:
        return range_text(self.window)

    @property
    def time(self) -> str:
        return unix_time(self.window.end)

    def text(self) -> str:
        stamp = self.window.end.astimezone(UTC).isoformat(timespec="milliseconds")
        lines = [*self.queries, f"# instant queries at {stamp} (time={self.time})"]
        if self.data_end is not None:
            lines.append(self.data_end)
        return "\n".join(lines)

    def noted(self, measured: Measurement) -> Measurement:
        """`measured` with what Prometheus warned about: partial data is still data, but the
        report must say so."""
        if not self.warnings:
            return measured
        distinct = list(dict.fromkeys(self.warnings))
        return replace(
            measured,
            details={**measured.details, "warnings (partial data)": len(distinct)},
            notes=(*measured.notes, *(f"Prometheus warned (partial data): {w}" for w in distinct)),
        )


def _count(value: float | None) -> int:
    """A count from increase(): extrapolated to the window's edges, so rarely whole."""
    return 0 if value is None else max(0, math.floor(value + 0.5))


# --- the provider -------------------------------------------------------------------------------


class PrometheusProvider(Provider):
    settings_model = PrometheusSettings
    settings: PrometheusSettings

    @classmethod
    def criterion_problems(
        cls, criterion: CriterionBase, settings: ProviderSettings
    ) -> list[tuple[Location, str]]:
        assert isinstance(settings, PrometheusSettings)
        problems: list[tuple[Location, str]] = []
        unserved = unserved_problems(criterion, "prometheus")
        if unserved:
            return unserved
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
            _QUERY_FORMS,
            query_kind="a PromQL query",
            not_counts="a ratio",
            part_problem=lambda part, text: query_problem(text),
        )
        if isinstance(criterion.query, str) and not shape:
            # The shared check reads the text of a mapping's parts only; a text query is one part.
            problem = query_problem(criterion.query)
            shape = [(("query",), problem)] if problem else []
        problems += shape
        return problems

    def __init__(self, settings: PrometheusSettings, context: ProviderContext):
        super().__init__(settings, context)
        headers = {
            name: context.secret(SecretRef(value), f"headers.{name}") if "${" in value else value
            for name, value in settings.headers.items()
        }
        if settings.token is not None:
            token = context.secret(SecretRef(settings.token), "token")
            headers["Authorization"] = f"Bearer {token}"
        elif settings.username is not None and settings.password is not None:
            password = context.secret(SecretRef(settings.password), "password")
            pair = base64.b64encode(f"{settings.username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        self._api = ApiClient(
            context,
            settings,
            base_url=settings.url,
            headers=headers,
            auth_hint="and that url is the Prometheus API behind any proxy",
        )

    def close(self) -> None:
        self._api.close()

    # --- metrics ------------------------------------------------------------------------------

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

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
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
        if criterion.query is not None:
            build = self._raw
        else:
            build = {
                ErrorRateCriterion: self._error_rate,
                ApdexCriterion: self._apdex,
                LatencyCriterion: self._latency,
            }[type(criterion)]
        result = {}
        for window in windows:
            if window.end <= window.start:  # a release window that has not begun yet
                result[window.label] = Measurement(value=None, samples=0)
                continue
            asked = _Asked(window)
            measured = build(criterion, asked)
            sampled = self._sampled(criterion)
            if measured.has_data and sampled is not None:
                measured = replace(
                    measured, data_end=self._data_end(sampled, asked), query=asked.text()
                )
            result[window.label] = asked.noted(measured)
        return result

    def _sampled(self, criterion: CriterionBase) -> str | None:
        """The series a default query reads, whose samples tell how far the data reaches; None for
        a raw query, whose series only its author knows."""
        if criterion.query is not None:
            return None
        if isinstance(criterion, ErrorRateCriterion):
            return selector(self.settings.requests_counter, self._scope(criterion))
        return selector(f"{self.settings.duration_histogram}_count", self._scope(criterion))

    def _data_end(self, sampled: str, asked: _Asked) -> datetime | None:
        """The time of the newest sample of `sampled` up to the window's end.

        An instant query's time stamp is its evaluation time, not the data's; `timestamp(x)` gives
        the time of the sample the lookback picked for each series, the last one scraped at or
        before the evaluation time. A range query evaluates it across the window, steps counted
        back from the window's end so the last step is the end itself: a series still scraped shows
        its last sample there; one that stopped within the window (a stopped exporter, a scrape
        gap) shows its last sample at the steps before it went stale. Steps no longer than the
        5-minute lookback (any window under 38 days, within query_range's 11,000 points) leave no
        sample unseen, unless a staleness marker (a failed scrape) follows it before the next step:
        then the step before it shows an earlier sample. The time found is never later than the
        truth."""
        window = asked.window
        span = max(0, round((window.end - window.start) / _MS))
        step = min(max(-(-span // _DATA_END_STEPS), 1000), _LOOKBACK_MS)
        step = max(step, -(-span // (_MAX_POINTS - 1)))
        end_ms = round((window.end - _EPOCH) / _MS)
        start_ms = end_ms - (span // step) * step
        start = unix_time(_EPOCH + start_ms * _MS)
        seconds = f"{step // 1000}.{step % 1000:03d}"
        promql = f"max(timestamp({sampled}))"
        asked.data_end = (
            f"{promql}\n# range query from {start} to {asked.time} step {seconds}s: the time of "
            "the newest sample (data end)"
        )
        data = self._post(
            "/api/v1/query_range",
            {"query": promql, "start": start, "end": asked.time, "step": seconds},
            asked,
        )
        if data["resultType"] != "matrix":
            raise self._error(
                f"expected a matrix from a range query, got a {data['resultType']}", asked
            )
        shape = 'a matrix: a list of {metric, values: [[time, "number"], …]}'
        newest: float | None = None
        for series in self._vector(data, asked, shape):
            values = series.get("values")
            if not isinstance(values, list):
                raise self._error(f"expected {shape}, got " + _brief(series), asked)
            for sample in values:
                seconds_found = self._number(sample, asked)
                if seconds_found is not None and (newest is None or seconds_found > newest):
                    newest = seconds_found
        return None if newest is None else _EPOCH + round(newest * 1000) * _MS

    def _scope(self, criterion: CriterionBase) -> list[str]:
        extra = parse_matchers(criterion.filter) if criterion.filter else []
        return [*self.settings.scope, *extra]

    def _increase(self, metric: str, matchers: list[str], asked: _Asked) -> str:
        return f"sum(increase({selector(metric, matchers)}[{asked.range}]))"

    def _error_rate(self, criterion: ErrorRateCriterion, asked: _Asked) -> Measurement:
        counter, scope = self.settings.requests_counter, self._scope(criterion)
        total = self._value(self._increase(counter, scope, asked), asked)
        requests = _count(total)
        errors = 0
        if requests > 0:
            errors_matchers = _error_matchers(criterion, self.settings)
            # No error series at all is an empty answer: zero errors among requests that exist.
            found = self._value(self._increase(counter, [*scope, *errors_matchers], asked), asked)
            errors = min(_count(found), requests)
        return metrics.proportion(
            errors,
            requests,
            query=asked.text(),
            details={"requests": requests, "errors": errors},
        )

    def _apdex(self, criterion: ApdexCriterion, asked: _Asked) -> Measurement:
        histogram, scope = self.settings.duration_histogram, self._scope(criterion)
        total = _count(self._value(self._increase(f"{histogram}_count", scope, asked), asked))
        if total == 0:
            return metrics.apdex(0, 0, 0, query=asked.text())
        fast = scope
        if self.settings.status_on_histogram:
            # Buckets of the requests that did not fail; failed ones stay in the count: frustrated.
            fast = [*scope, *(negate(m) for m in _error_matchers(criterion, self.settings))]
        t = criterion.t.total_seconds()
        within_t = self._bucket(histogram, fast, t, asked)
        within_4t = self._bucket(histogram, fast, (4 * criterion.t).total_seconds(), asked)
        satisfied = min(within_t, total)
        tolerating = max(0, min(within_4t, total) - satisfied)
        frustrated = total - satisfied - tolerating
        return metrics.apdex(satisfied, tolerating, frustrated, query=asked.text())

    def _bucket(self, histogram: str, matchers: list[str], bound: float, asked: _Asked) -> int:
        """Requests at or under `bound` seconds, from the bucket whose `le` is that bound."""
        spelled = le_text(bound)
        query = self._increase(
            f"{histogram}_bucket", [*matchers, f"le={promql_string(spelled)}"], asked
        )
        found = self._value(query, asked)
        if found is not None:
            return _count(found)
        # Empty: the bound is written differently ("2" from Go clients), or is no bucket at all.
        actual = self._bucket_bound(histogram, bound, asked)
        if actual == spelled:
            return 0  # the bucket exists; only the narrowed series (status_on_histogram) are empty
        query = self._increase(
            f"{histogram}_bucket", [*matchers, f"le={promql_string(actual)}"], asked
        )
        return _count(self._value(query, asked))

    def _bucket_bound(self, histogram: str, bound: float, asked: _Asked) -> str:
        query = f"count by (le) ({selector(f'{histogram}_bucket', self.settings.scope)})"
        bounds: dict[str, float] = {}
        for series in self._vector(self._send(query, asked), asked):
            text = str(series.get("metric", {}).get("le", ""))
            try:
                bounds[text] = float(text)
            except ValueError:
                continue
        for text, value in bounds.items():
            if math.isclose(value, bound, rel_tol=1e-9):
                return text
        listed = ", ".join(sorted(bounds, key=bounds.__getitem__)) or "none found"
        raise self._error(
            f"Apdex needs a bucket bound at {le_text(bound)} s (T and 4T) in "
            f"{histogram}_bucket; its bounds are: {listed}. Choose a T whose T and 4T are both "
            "bucket bounds, or add them to the histogram",
            asked,
        )

    def _latency(self, criterion: LatencyCriterion, asked: _Asked) -> Measurement:
        histogram, scope = self.settings.duration_histogram, self._scope(criterion)
        requests = _count(self._value(self._increase(f"{histogram}_count", scope, asked), asked))
        seconds = None
        if requests > 0:
            buckets = f"{selector(f'{histogram}_bucket', scope)}[{asked.range}]"
            q = format(criterion.percentile / 100, ".10g")  # 0.999, not 0.9990000000000001
            # NaN (no observations) is no data, as is an empty answer.
            seconds = self._value(
                f"histogram_quantile({q}, sum by (le) (increase({buckets})))", asked
            )
        counts: dict[str, float] = {"requests": requests}
        if seconds is not None:
            counts["seconds"] = seconds
        return Measurement(
            value=None if seconds is None else seconds * 1000,  # Prometheus' seconds → ms
            samples=requests if seconds is not None else 0,
            details=counts,
            query=asked.text(),
        )

    def _raw(self, criterion: CriterionBase, asked: _Asked) -> Measurement:
        """A criterion's own PromQL, one query per part of its `query` (see _QUERY_FORMS)."""
        metric = metric_of(criterion)
        numbers = {
            part: self._value(substitute(text, asked.window), asked)
            for part, text in query_parts(criterion, _QUERY_FORMS).items()
        }
        if metric == "error_rate":
            requests = _count(numbers["requests"])
            errors = _count(numbers["errors"])
            if errors > requests:
                raise self._error(
                    f"expected errors between 0 and the request count, got {errors:,} errors of "
                    f"{requests:,} requests (do both queries count the same requests?)",
                    asked,
                )
            return metrics.proportion(
                errors,
                requests,
                query=asked.text(),
                details={"requests": requests, "errors": errors},
            )
        value = numbers[_QUERY_FORMS[metric].text_part or "value"]
        counted = "samples" if metric == "custom" else "requests"
        # Without a count, a bare number: enough to compare with min/max, too few for a test.
        samples = _count(numbers[counted]) if counted in numbers else 1
        if value is None or samples == 0:
            return Measurement(value=None, samples=0, query=asked.text())
        counts: dict[str, float] = {counted: samples} if counted in numbers else {}
        variance = None
        if metric == "latency":
            counts["seconds"] = value
            value *= 1000  # PromQL durations are in seconds
        elif metric == "apdex":
            if value > 1:
                raise self._error(f"expected an Apdex score from 0 to 1, got {value:g}", asked)
            # A score without its counts: scores of 0, 0.5 and 1 with mean m vary at most m(1 - m),
            # the widest the score allows, so a test never claims more certainty than it has.
            variance = value * (1 - value) * samples / (samples - 1) if samples > 1 else 0.0
            counts["variance upper bound"] = variance
        return Measurement(
            value=value,
            samples=samples,
            variance=variance,
            details=counts,
            query=asked.text(),
        )

    # --- the HTTP API ---------------------------------------------------------------------------

    def _send(self, promql: str, asked: _Asked) -> dict[str, Any]:
        """POST /api/v1/query (form-encoded: queries can be long); the `data` of a success."""
        asked.queries.append(promql)
        return self._post("/api/v1/query", {"query": promql, "time": asked.time}, asked)

    def _post(self, path: str, form: dict[str, str], asked: _Asked) -> dict[str, Any]:
        """POST `form` to an API path; the `data` of a success."""
        reply = self._api.post(path, form=form, query=asked.text(), accept=(400, 422))
        body = reply.body
        if reply.status >= 400 or (isinstance(body, dict) and body.get("status") == "error"):
            kind = body.get("errorType", "") if isinstance(body, dict) else ""
            text = body.get("error", "") if isinstance(body, dict) else ""
            if not text:
                raise self._error(f"HTTP {reply.status} without a Prometheus error body", asked)
            raise self._error(
                f"Prometheus refused the query ({kind or reply.status}): {text}", asked
            )
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self._error(
                'expected {"status": "success", "data": ...}, got ' + _brief(body), asked
            )
        for warning in body.get("warnings") or []:
            asked.warnings.append(str(warning))
            log.warning("%s: Prometheus warns (partial data): %s", self.context.name, warning)
        data = body.get("data")
        if not isinstance(data, dict) or "resultType" not in data:
            raise self._error(
                "expected data with resultType and result, got " + _brief(data), asked
            )
        return data

    def _value(self, promql: str, asked: _Asked) -> float | None:
        """The one number a query answers; None for an empty vector or NaN (no data)."""
        data = self._send(promql, asked)
        kind = data["resultType"]
        if kind == "scalar":
            return self._number(data.get("result"), asked)
        if kind != "vector":
            hint = (
                ": a range selector such as x[5m] must be wrapped, e.g. sum(increase(x[$window]))"
                if kind == "matrix"
                else ""
            )
            raise self._error(
                f"expected one number (a vector or a scalar), got a {kind}{hint}", asked
            )
        series = self._vector(data, asked)
        if not series:
            return None
        if len(series) > 1:
            labels = "; ".join(
                "{" + ", ".join(f"{k}={v}" for k, v in s.get("metric", {}).items()) + "}"
                for s in series[:3]
            )
            raise self._error(
                f"expected one series, got {len(series)} ({labels}…); aggregate the query, "
                "e.g. with sum(...)",
                asked,
            )
        return self._number(series[0].get("value"), asked)

    def _vector(
        self,
        data: dict[str, Any],
        asked: _Asked,
        shape: str = "a vector: a list of {metric, value}",
    ) -> list[dict[str, Any]]:
        """The series of a vector (or, as `shape` says, a matrix)."""
        result = data.get("result")
        if result is None:  # Prometheus 2.0 answered null for some empty results
            return []
        if not isinstance(result, list) or not all(
            isinstance(s, dict) and isinstance(s.get("metric", {}), dict) for s in result
        ):
            raise self._error(f"expected {shape}, got " + _brief(result), asked)
        return result

    def _number(self, sample: object, asked: _Asked) -> float | None:
        if not isinstance(sample, list) or len(sample) != 2:
            raise self._error('expected a sample [time, "number"], got ' + _brief(sample), asked)
        try:
            value = float(sample[1])
        except (TypeError, ValueError):
            raise self._error(
                'expected a sample [time, "number"], got ' + _brief(sample), asked
            ) from None
        if math.isnan(value):
            return None
        if math.isinf(value) or value < 0:
            raise self._error(
                f"expected a finite, non-negative number, got {sample[1]}: a division by "
                "zero or a counter read without increase()?",
                asked,
            )
        return value

    def _error(self, message: str, asked: _Asked) -> ProviderError:
        return ProviderError(
            self.context.redact(message),
            provider=self.context.name,
            query=self.context.redact(asked.text()),
        )


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:120] + "…"


def _errors_problems(
    criterion: ErrorRateCriterion | ApdexCriterion, settings: PrometheusSettings
) -> list[tuple[Location, str]]:
    if criterion.errors == _DEFAULT_ERRORS:
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
