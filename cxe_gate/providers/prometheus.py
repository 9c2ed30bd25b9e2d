"""The `prometheus` provider: error rate, latency, Apdex and raw PromQL over the Prometheus HTTP API.

The judge gets counts (requests, errors, satisfied and tolerating requests), and they are exact:
each is the sum over a counter's series of what it added inside the window, read from its samples
(see `PrometheusProvider._exact`), not `increase()`, which extrapolates to the window's edges and
drops the first value of every series that begins inside the window. A percentile is interpolated
from the exact bucket counts the way `histogram_quantile()` does it. One range query more per
window finds the time of the newest sample the numbers were read from (`data_end`)."""

from __future__ import annotations

import difflib
import itertools
import logging
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

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
from .buckets import Quantile, bucket_quantile
from .criterion_checks import QueryForm, metric_of, query_parts, query_problems, unserved_problems
from .promql import (
    matcher_parts,
    negate,
    parse_matchers,
    promql_string,
    query_problem,
    range_text,
    re2_escape,
    selector,
    substitute,
    unix_time,
)
from .transport import ApiClient, HttpSettings, basic_auth

log = logging.getLogger("cxe_gate.providers")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# Prometheus' default lookback: an instant selector sees a series' last sample up to 5 minutes old.
_LOOKBACK_MS = 5 * 60 * 1000
_MAX_POINTS = 11_000  # query_range refuses more points per series
_DATA_END_STEPS = 1_000  # evaluations of the data-end query across a window (see _data_end)
# How far before a window a series' last value is looked for: a series with no sample in this hour
# began inside the window (a label set first observed, a new pod) and counts from 0.
_BEFORE = "1h"
# Raw samples per answer when a restarted counter is read sample by sample (~2 MB of JSON); a
# window with more is cut into _SPLIT parts, and the parts where a counter restarted cut again.
_RAW_SAMPLES = 50_000
_SPLIT = 10
# Fewer scrapes than this in a window: its counts may be off by a scrape interval at each edge.
_FEW_SCRAPES = 10
# How far back a metric or label is looked for before it is said not to exist (a misspelling).
_HISTORY = timedelta(days=31)
_DURATION_UNITS = {"s": 1.0, "ms": 1000.0}  # histogram units per second
_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_DEFAULT_ERRORS = ErrorRateCriterion.model_fields["errors"].default
# A raw `query` per metric: the parts of a mapping, and the part a text query stands for. The names
# are the other APM providers' (datadog, dynatrace); each part is PromQL answering one number.
_QUERY_FORMS = {
    "error_rate": QueryForm(frozenset({"errors", "requests"})),
    "latency": QueryForm(frozenset({"latency"}), frozenset({"requests"}), "latency"),
    "apdex": QueryForm(frozenset({"apdex"}), frozenset({"requests"}), "apdex"),
    "custom": QueryForm(frozenset({"value"}), frozenset({"samples"}), "value"),
}


def _narrowed(criterion: CriterionBase, cohort: str | None) -> CriterionBase:
    """The criterion with a cohort's label matchers added to its filter."""
    if not cohort:
        return criterion
    matchers = [
        *(parse_matchers(criterion.filter) if criterion.filter else []),
        *parse_matchers(cohort),
    ]
    return criterion.model_copy(update={"filter": ", ".join(matchers)})


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
        description="histogram of request durations (its name without _bucket)",
    )
    duration_unit: Literal["s", "ms"] | None = Field(
        None,
        description="the histogram's unit; by default from its name (_seconds; _milliseconds or "
        "_ms), else from its bucket bounds (the report then says so)",
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


def _matcher_label(matcher: str) -> str:
    parts = matcher_parts(matcher)
    assert parts  # only normalised matchers come here
    return parts[0]


def _duration_text(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


# --- histograms ---------------------------------------------------------------------------------


def _bound(text: str) -> float | None:
    """An `le` label as a number: "0.5", "2", "1e+07", "+Inf"; None for anything else."""
    try:
        return float(text)
    except ValueError:
        return None


def _number_text(value: float) -> str:
    return "+Inf" if math.isinf(value) else f"{value:g}"


# --- what one window's queries leave behind -------------------------------------------------------


@dataclass
class _Asked:
    """The queries sent for one window and what Prometheus warned about: its Measurement's query
    text and details."""

    window: TimeWindow
    queries: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
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
        """`measured` with what the report must say about how it was read: Prometheus' warnings
        (partial data is still data) and the provider's own notes."""
        if not self.warnings and not self.notes:
            return measured
        distinct = list(dict.fromkeys(self.warnings))
        details = dict(measured.details)
        if distinct:
            details["warnings (partial data)"] = len(distinct)
        return replace(
            measured,
            details=details,
            notes=(
                *measured.notes,
                *(f"Prometheus warned (partial data): {w}" for w in distinct),
                *dict.fromkeys(self.notes),
            ),
        )


def _count(value: float | None) -> int:
    """A count as a whole number (exact counts are whole already; a raw query's increase() is
    extrapolated to the window's edges, so rarely whole)."""
    return 0 if value is None else max(0, math.floor(value + 0.5))


@dataclass(frozen=True)
class _Counted:
    """What a counter's series added inside one window, summed by the `by` labels' values."""

    groups: dict[tuple[str, ...], float]
    restarted: int  # series whose counter started again from 0 inside the window

    @property
    def total(self) -> float:
        return sum(self.groups.values())


def _cumulative(counted: _Counted | None) -> dict[float, float]:
    """Cumulative counts by bucket bound, from counts grouped by `le` ("2" and "2.0" are one
    bound)."""
    buckets: dict[float, float] = {}
    for (le,), count in (counted.groups if counted else {}).items():
        bound = _bound(le)
        if bound is not None:
            buckets[bound] = buckets.get(bound, 0.0) + count
    return buckets


def _before(sel: str, window: str) -> str:
    """Each series' last value in the `_BEFORE` before a window as long as `window` (evaluated at
    the window's end)."""
    return f"last_over_time({sel}[{_BEFORE}] offset {window})"


def _restart(sel: str, window: str) -> str:
    """The series that restarted in the window: a reset inside it, or a value under the last one
    before it."""
    dropped = f"min_over_time({sel}[{window}]) < {_before(sel, window)}"
    return f"(resets({sel}[{window}]) > 0) or ({dropped})"


def _kept(sel: str, window: str) -> str:
    """Per series that did not restart: what it added in the window (its last value minus the one
    before the window, or all of it for a series born inside the window)."""
    last = f"last_over_time({sel}[{window}])"
    return f"(({last} - {_before(sel, window)}) or {last}) unless ({_restart(sel, window)})"


def _series_key(labels: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in labels.items() if k != "__name__")


def _narrowing(series: list[dict[str, str]], matchers: list[str]) -> list[str]:
    """Label matchers selecting these series (and perhaps a few more) beside `matchers`: one value
    per label, or an alternation of its values."""
    fixed = {}
    for matcher in matchers:
        parts = matcher_parts(matcher)
        if parts and parts[1] == "=":
            fixed[parts[0]] = parts[2]
    names = sorted({k for labels in series for k in labels if k != "__name__"})
    narrowing = []
    for name in names:
        values = sorted({labels.get(name, "") for labels in series})
        if len(values) == 1 and fixed.get(name) == promql_string(values[0]):
            continue  # already selected by `matchers`
        if len(values) == 1:
            narrowing.append(f"{name}={promql_string(values[0])}")
        else:
            narrowing.append(f"{name}=~{promql_string('|'.join(map(re2_escape, values)))}")
    return narrowing


_EXTRAPOLATING = re.compile(r"\b(increase|rate|irate|delta|idelta)\s*\(")
_STATUS_LABELS = ("status", "code", "status_code", "http_status", "response_code", "http_code")


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
            headers.update(basic_auth(context, settings.username, password))
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

    # --- exact counts ---------------------------------------------------------------------------

    def _exact(
        self, metric: str, matchers: list[str], asked: _Asked, by: tuple[str, ...] = ()
    ) -> _Counted | None:
        """What the counter `metric{matchers}` added inside the window, summed by the `by` labels;
        None when no series of it has a sample in the window (no data, never zero).

        For each series: its last value in the window minus its last value before the window (up
        to `_BEFORE` earlier), or minus 0 for a series that did not exist then (a label set first
        observed inside the window, a new pod). That is what `increase()` approximates; it is
        exact where `increase()` is not: `increase()` needs two samples in the range, so a series
        born inside the window loses its first count, and it extrapolates to the range's edges.
        The counts run from the last scrape at or before the window's start to the last scrape
        in it.

        Every series that did not restart is summed by Prometheus itself, so an answer holds one
        number per group however many series and samples there are (a replaced pod is a new
        series, nothing to correct). A counter that went down was restarted (a pod restarted in
        place): what it counts after the reset adds to what it counted before, which Prometheus
        cannot subtract. Those series, found by `resets()` or by a value in the window under the
        one before it, are read by `_restarted`."""
        sel, window = selector(metric, matchers), asked.range
        grouping = f" by ({', '.join(by)})" if by else ""
        kept = f"sum{grouping} ({_kept(sel, window)})"
        groups: dict[tuple[str, ...], float] = {}
        for series in self._vector(self._send(kept, asked), asked):
            value = self._number(series.get("value"), asked)
            if value is not None:
                groups[tuple(series.get("metric", {}).get(b, "") for b in by)] = value
        changed = self._changed(sel, window, asked, None, None)
        if not groups and not changed:
            return None
        if changed:
            found = self._restarted(metric, matchers, changed, asked.window, asked)
            for key, value in found.items():
                group = tuple(changed[key][0].get(b, "") for b in by)
                groups[group] = groups.get(group, 0.0) + value
        return _Counted(groups, restarted=len(changed))

    def _changed(
        self,
        sel: str,
        window: str,
        asked: _Asked,
        at: str | None,
        among: dict[frozenset, tuple[dict[str, str], float]] | None,
    ) -> dict[frozenset, tuple[dict[str, str], float]]:
        """The series of `sel` that restarted in the window ending `at` (among `among`), each
        with its labels and number of samples in the window."""
        query = f"count_over_time({sel}[{window}]) and ({_restart(sel, window)})"
        found = {}
        for series in self._vector(self._send(query, asked, at=at), asked):
            labels = series.get("metric", {})
            key = _series_key(labels)
            if among is None or key in among:
                found[key] = (labels, self._number(series.get("value"), asked) or 0.0)
        return found

    def _restarted(
        self,
        metric: str,
        matchers: list[str],
        changed: dict[frozenset, tuple[dict[str, str], float]],
        window: TimeWindow,
        asked: _Asked,
    ) -> dict[frozenset, float]:
        """What each restarted series in `changed` added inside `window`: each rise counts, and
        after a drop (a reset) the value it dropped to.

        Read from raw samples when they are few (at most `_RAW_SAMPLES` in one answer, about
        2 MB of JSON); otherwise the window is cut into `_SPLIT` parts, each counted as `_exact`
        counts a window (per series, for these series only), and only the parts where a series
        restarted are cut again. A restart in a week-long window costs a few dozen small
        queries, never the week's raw samples."""
        narrowed = [*matchers, *_narrowing([labels for labels, _ in changed.values()], matchers)]
        sel = selector(metric, narrowed)
        start_ms = round((window.start - _EPOCH) / _MS)
        end_ms = round((window.end - _EPOCH) / _MS)
        samples = sum(n for _, n in changed.values())
        if samples <= _RAW_SAMPLES or end_ms - start_ms < _SPLIT * 1000:
            return self._raw_counts(sel, changed, start_ms, end_ms, asked)
        added = dict.fromkeys(changed, 0.0)
        edges = [start_ms + (end_ms - start_ms) * i // _SPLIT for i in range(_SPLIT + 1)]
        for lower, upper in itertools.pairwise(edges):
            part = _duration_text(upper - lower)
            at = unix_time(_EPOCH + upper * _MS)
            for series in self._vector(self._send(_kept(sel, part), asked, at=at), asked):
                key = _series_key(series.get("metric", {}))
                value = self._number(series.get("value"), asked)
                if key in added and value is not None:
                    added[key] += value
            again = self._changed(sel, part, asked, at, changed)
            if again:
                piece = TimeWindow(window.label, _EPOCH + lower * _MS, _EPOCH + upper * _MS)
                for key, value in self._restarted(metric, matchers, again, piece, asked).items():
                    added[key] += value
        return added

    def _raw_counts(
        self,
        sel: str,
        changed: dict[frozenset, tuple[dict[str, str], float]],
        start_ms: int,
        end_ms: int,
        asked: _Asked,
    ) -> dict[frozenset, float]:
        """The restarted series' counts from their raw samples in [start_ms, end_ms]."""
        span, at = _duration_text(end_ms - start_ms), unix_time(_EPOCH + end_ms * _MS)
        previous: dict[frozenset, float] = {}
        before = f"last_over_time({sel}[{_BEFORE}] offset {span})"
        for series in self._vector(self._send(before, asked, at=at), asked):
            key = _series_key(series.get("metric", {}))
            value = self._number(series.get("value"), asked)
            if key in changed and value is not None:
                previous[key] = value
        data = self._send(f"{sel}[{span}]", asked, at=at)
        if data["resultType"] != "matrix":
            raise self._error(
                f"expected a matrix of raw samples, got a {data['resultType']}", asked
            )
        shape = 'a matrix: a list of {metric, values: [[time, "number"], …]}'
        added = dict.fromkeys(changed, 0.0)
        for series in self._vector(data, asked, shape):
            key = _series_key(series.get("metric", {}))
            if key not in changed:
                continue  # caught by the narrowing, but not restarted
            values = series.get("values")
            if not isinstance(values, list):
                raise self._error(f"expected {shape}, got " + _brief(series), asked)
            for sample in values:
                value = self._number(sample, asked)
                if value is None:
                    continue
                before_value = previous.get(key, 0.0)  # 0: the series began in the window
                added[key] += value if value < before_value else value - before_value
                previous[key] = value
        return added

    def _coverage(self, metric: str, matchers: list[str], counted: _Counted, asked: _Asked) -> None:
        """Notes on how a window's main count was read: series that began or restarted inside it
        (where increase() would have been wrong), and too few scrapes to trust its edges."""
        sel, window = selector(metric, matchers), asked.range
        born = self._value(
            f"count(last_over_time({sel}[{window}]) unless {_before(sel, window)})", asked
        )
        scrapes = self._value(f"max(count_over_time({sel}[{window}]))", asked)
        changes = []
        if born:
            changes.append(f"{_count(born):,} began inside the window (counted from 0)")
        if counted.restarted:
            verb = "restarted its counter" if counted.restarted == 1 else "restarted their counters"
            changes.append(f"{counted.restarted:,} {verb} (a reset: read sample by sample)")
        if changes:
            asked.notes.append(
                f"series of {metric}: "
                + "; ".join(changes)
                + ". The counts are exact differences between samples, where increase() would "
                "extrapolate and drop each new series' first count"
            )
        if scrapes is not None and scrapes < _FEW_SCRAPES:
            span = (asked.window.end - asked.window.start).total_seconds()
            asked.notes.append(
                f"the window holds only {_count(scrapes)} scrape(s) of {metric} (about one every "
                f"{span / max(scrapes, 1):.3g} s): its counts run from the last scrape at or "
                "before its start to its last scrape, so up to a scrape interval of requests at "
                "each edge may belong to the neighbouring window. Make the window longer"
            )

    # --- what the series are --------------------------------------------------------------------

    def _check_labels(
        self, metric: str, scope: list[str], matchers: list[str], asked: _Asked, default: bool
    ) -> None:
        """Fail when a label the error matchers read is on no series of `metric` in the window: a
        matcher on a missing label matches nothing, which would read as 0 errors and pass."""
        sel, window = selector(metric, scope), asked.range
        for label in dict.fromkeys(map(_matcher_label, matchers)):
            data = self._send(f"count by ({label}) (last_over_time({sel}[{window}]))", asked)
            with_label = without = 0
            for series in self._vector(data, asked):
                n = _count(self._number(series.get("value"), asked))
                if series.get("metric", {}).get(label):
                    with_label += n
                else:
                    without += n
            if with_label == 0 and not default and label in self._label_names(sel, asked, True):
                continue  # a label only failed requests carry, and none failed in the window
            if with_label == 0:
                names = [n for n in self._label_names(sel, asked) if n != "__name__"]
                setting = "status_label" if default else "the criterion's errors"
                likely = next((n for n in _STATUS_LABELS if n in names and n != label), None)
                hint = f", e.g. status_label: {likely}" if likely and default else ""
                raise self._error(
                    f"errors are read from the label {label!r} ({' '.join(matchers)}), but no "
                    f"series of {sel} has it in the window, so every request would count as a "
                    f"success; its labels are: {', '.join(names) or 'none'}. Set {setting} to "
                    f"the label that holds the status{hint}",
                    asked,
                )
            if without and default:
                asked.notes.append(
                    f"{without:,} of {with_label + without:,} series of {sel} have no {label!r} "
                    "label: their requests are counted, their errors cannot be"
                )

    def _no_data(self, metric: str, setting: str, asked: _Asked, suffix: str = "") -> Measurement:
        """A window without a sample of `metric` (the setting's value and `suffix`): no data, or
        an error when the metric is not in Prometheus at all (a misspelled name would otherwise
        read as no data forever)."""
        if not self._label_names(metric, asked, True):
            names = [n for n in self._metric_names(asked) if n.endswith(suffix)]
            close = [
                c.removesuffix(suffix)
                for c in difflib.get_close_matches(metric, names, n=3, cutoff=0.6)
            ]
            hint = f"; did you mean {setting}: {' or '.join(close)}?" if close else ""
            raise self._error(
                f"metric {metric} not found: Prometheus has no series of it in the "
                f"{_HISTORY.days} days up to the window's end (check {setting}; GET "
                f"/api/v1/label/__name__/values lists the metrics it has){hint}",
                asked,
            )
        scoped = selector(metric, self.settings.scope)
        if self.settings.scope and not self._label_names(scoped, asked, True):
            raise self._error(
                f"no series of {metric} match the selector {self.settings.selector} in the "
                f"{_HISTORY.days} days up to the window's end: check selector",
                asked,
            )
        asked.notes.append(f"no samples of {metric} in the window (the metric exists)")
        return Measurement(value=None, samples=0, query=asked.text())

    def _label_names(self, sel: str, asked: _Asked, history: bool = False) -> list[str]:
        """The label names of the series `sel` selects in the window, or with `history` in the
        `_HISTORY` up to its end."""
        start = asked.window.start - (_HISTORY if history else timedelta(0))
        form = {"match[]": sel, "start": unix_time(start), "end": asked.time}
        asked.queries.append(f"# POST /api/v1/labels match[]={sel} from {form['start']}")
        names = self._call("/api/v1/labels", form, asked)
        if names is None:
            return []
        if not isinstance(names, list):
            raise self._error("expected a list of label names, got " + _brief(names), asked)
        return [str(n) for n in names]

    def _metric_names(self, asked: _Asked) -> list[str]:
        names = self._call("/api/v1/label/__name__/values", None, asked)
        return [str(n) for n in names] if isinstance(names, list) else []

    def _unit(self, bounds: list[float], asked: _Asked) -> tuple[float, str]:
        """The histogram's unit as (its units per second, name): duration_unit, else its name's
        suffix, else its bucket bounds (said in a note)."""
        histogram, declared = self.settings.duration_histogram, self.settings.duration_unit
        if declared is not None:
            return _DURATION_UNITS[declared], declared
        if histogram.endswith(("_milliseconds", "_ms")):
            return 1000.0, "ms"
        if histogram.endswith("_seconds"):
            return 1.0, "s"
        finite = sorted(b for b in bounds if math.isfinite(b))
        shown = ", ".join(map(_number_text, finite[:4])) + (", …" if len(finite) > 4 else "")
        unit = "ms" if finite and min(finite) >= 1 and max(finite) >= 100 else "s"
        asked.notes.append(
            f"{histogram} is read in {'milliseconds' if unit == 'ms' else 'seconds'}: its name "
            f"does not say (_seconds, _milliseconds) and its bucket bounds ({shown}) look like "
            f"{'milliseconds' if unit == 'ms' else 'seconds'}; set duration_unit to be sure"
        )
        return _DURATION_UNITS[unit], unit

    # --- metrics ---------------------------------------------------------------------------------

    def _error_rate(self, criterion: ErrorRateCriterion, asked: _Asked) -> Measurement:
        counter, scope = self.settings.requests_counter, self._scope(criterion)
        counted = self._exact(counter, scope, asked)
        if counted is None:
            return self._no_data(counter, "requests_counter", asked)
        self._coverage(counter, scope, counted, asked)
        requests = _count(counted.total)
        errors = 0
        if requests > 0:
            errors_matchers = _error_matchers(criterion, self.settings)
            default = criterion.errors == _DEFAULT_ERRORS
            self._check_labels(counter, scope, errors_matchers, asked, default)
            # The label exists: no error series in the window is 0 errors.
            found = self._exact(counter, [*scope, *errors_matchers], asked)
            errors = min(_count(found.total if found else None), requests)
        return metrics.proportion(
            errors,
            requests,
            query=asked.text(),
            details={"requests": requests, "errors": errors},
        )

    def _apdex(self, criterion: ApdexCriterion, asked: _Asked) -> Measurement:
        histogram, scope = self.settings.duration_histogram, self._scope(criterion)
        counted = self._exact(f"{histogram}_count", scope, asked)
        if counted is None:
            return self._no_data(f"{histogram}_count", "duration_histogram", asked, "_count")
        self._coverage(f"{histogram}_count", scope, counted, asked)
        total = _count(counted.total)
        if total == 0:
            return metrics.apdex(0, 0, 0, query=asked.text())
        fast = scope
        if self.settings.status_on_histogram:
            # Buckets of the requests that did not fail; failed ones stay in the count: frustrated.
            errors = _error_matchers(criterion, self.settings)
            default = criterion.errors == _DEFAULT_ERRORS
            self._check_labels(f"{histogram}_count", scope, errors, asked, default)
            fast = [*scope, *(negate(m) for m in errors)]
        buckets = _cumulative(self._exact(f"{histogram}_bucket", fast, asked, ("le",)))
        satisfied = tolerating = 0
        if buckets:  # none: every request failed (status_on_histogram)
            per_second, unit = self._unit(list(buckets), asked)
            t = criterion.t.total_seconds() * per_second
            within_t = self._at_bound(buckets, t, unit, asked)
            within_4t = self._at_bound(buckets, 4 * t, unit, asked)
            satisfied = min(_count(within_t), total)
            tolerating = max(0, min(_count(within_4t), total) - satisfied)
        frustrated = total - satisfied - tolerating
        return metrics.apdex(satisfied, tolerating, frustrated, query=asked.text())

    def _at_bound(
        self, buckets: dict[float, float], bound: float, unit: str, asked: _Asked
    ) -> float:
        """Requests at or under `bound` (in the histogram's unit): the bucket whose `le` is it."""
        for le, count in buckets.items():
            if math.isclose(le, bound, rel_tol=1e-9):
                return count
        listed = ", ".join(map(_number_text, sorted(buckets)))
        raise self._error(
            f"Apdex needs a bucket bound at {_number_text(bound)} {unit} (T and 4T) in "
            f"{self.settings.duration_histogram}_bucket; its bounds are: {listed} ({unit}). "
            "Choose a T whose T and 4T are both bucket bounds, or add them to the histogram",
            asked,
        )

    def _latency(self, criterion: LatencyCriterion, asked: _Asked) -> Measurement:
        histogram, scope = self.settings.duration_histogram, self._scope(criterion)
        counted = self._exact(f"{histogram}_count", scope, asked)
        if counted is None:
            return self._no_data(f"{histogram}_count", "duration_histogram", asked, "_count")
        self._coverage(f"{histogram}_count", scope, counted, asked)
        requests = _count(counted.total)
        found: Quantile | None = None
        buckets: dict[float, float] = {}
        if requests > 0:
            buckets = _cumulative(self._exact(f"{histogram}_bucket", scope, asked, ("le",)))
            if buckets and not any(math.isinf(b) for b in buckets):
                raise self._error(
                    f"{histogram}_bucket has no +Inf bucket: not a Prometheus histogram", asked
                )
            found = bucket_quantile(criterion.percentile / 100, buckets)
        if found is None:  # no observations: no data
            return Measurement(
                value=None, samples=0, details={"requests": requests}, query=asked.text()
            )
        per_second, _ = self._unit(list(buckets), asked)
        ms = found.value / per_second * 1000
        p = f"p{criterion.percentile:g}"
        lower, upper = found.lower / per_second * 1000, found.upper / per_second * 1000
        if found.above_buckets:
            asked.notes.append(
                f"{p} lies above the highest bucket bound ({lower:g} ms): reported as that bound, "
                "so the true value is higher"
            )
        else:
            asked.notes.append(
                f"{p} is interpolated from bucket counts (as histogram_quantile() does): linearly "
                f"inside the bucket {lower:g}–{upper:g} ms that holds it, so the exact {p} can "
                "lie anywhere in that bucket"
            )
        return Measurement(
            value=ms,
            samples=requests,
            details={"requests": requests, "seconds": found.value / per_second},
            query=asked.text(),
        )

    def _raw(self, criterion: CriterionBase, asked: _Asked) -> Measurement:
        """A criterion's own PromQL, one query per part of its `query` (see _QUERY_FORMS)."""
        metric = metric_of(criterion)
        parts = query_parts(criterion, _QUERY_FORMS)
        numbers = {
            part: self._value(substitute(text, asked.window), asked) for part, text in parts.items()
        }
        if any(_EXTRAPOLATING.search(text) for text in parts.values()):
            asked.notes.append(
                "read with the query's own increase()/rate(): Prometheus extrapolates them to the "
                "window's edges and drops the first count of each series that begins inside the "
                "window, so counts are estimates (the default queries count exactly)"
            )
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

    def _send(self, promql: str, asked: _Asked, at: str | None = None) -> dict[str, Any]:
        """POST /api/v1/query (form-encoded: queries can be long), evaluated at the window's end
        unless `at` says otherwise; the `data` of a success."""
        shown = promql if at is None or at == asked.time else f"{promql}  # at time={at}"
        asked.queries.append(shown)
        return self._post("/api/v1/query", {"query": promql, "time": at or asked.time}, asked)

    def _post(self, path: str, form: dict[str, str], asked: _Asked) -> dict[str, Any]:
        """POST `form` to a query endpoint; the `data` of a success, with its resultType."""
        data = self._call(path, form, asked)
        if not isinstance(data, dict) or "resultType" not in data:
            raise self._error(
                "expected data with resultType and result, got " + _brief(data), asked
            )
        return data

    def _call(self, path: str, form: dict[str, str] | None, asked: _Asked) -> Any:
        """POST `form` (or GET without one) to an API path; the `data` of a success."""
        if form is None:
            reply = self._api.get(path, query=asked.text(), accept=(400, 422))
        else:
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
        return body.get("data")

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
