"""The `newrelic` provider: NRQL through NerdGraph, both windows in one GraphQL request. Counts come
back with every value (requests, errors, Apdex zones, funnel steps) so the judge can run its tests,
and the default queries also ask for the newest event's time (`data_end`). Funnel counts that NRQL
estimates are judged as the estimates they are."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import metrics
from ..config import (
    ApdexCriterion,
    ConversionCriterion,
    CriterionBase,
    CustomCriterion,
    Duration,
    ErrorRateCriterion,
    JourneySpec,
    LatencyCriterion,
    Problems,
    Secret,
)
from ..measurement import Measurement, TimeWindow
from .answers import data_point, expected_shape, shown
from .api_provider import ApiProvider
from .base import MetricRequest, ProviderContext, ProviderSettings
from .capabilities import refuse_unservable, text_query_problems
from .funnels import judged_on
from .nerdgraph import NerdGraph
from .transport import HttpSettings, key_headers

# NerdGraph per data center (newrelic-client-go pkg/region: US, EU, JP, and GOV for FedRAMP).
ENDPOINTS = {
    "us": "https://api.newrelic.com/graphql",
    "eu": "https://api.eu.newrelic.com/graphql",
    "jp": "https://api.jp.newrelic.com/graphql",
    "gov": "https://gov-api.newrelic.com/graphql",
}
# Clauses the provider writes itself: a raw query that sets them would measure another window or
# come back as many rows.
_OWN_CLAUSES = re.compile(r"\b(SINCE|UNTIL|TIMESERIES|FACET|COMPARE\s+WITH)\b", re.IGNORECASE)
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_FUNNEL_STEPS = 10  # NRQL's limit for one funnel()
# The newest event the row counts, by its `timestamp` (epoch milliseconds): how far the data
# reaches. An aggregate of the same events in the same query, so it costs no query of its own.
_DATA_END = "data_end"
_NEWEST = f"max(timestamp) AS '{_DATA_END}'"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The `timeout` NerdGraph's nrql field takes, in whole seconds (newrelic-client-go: 5 to 120).
_NRQL_TIMEOUT = (5, 120)
# NRQL's funnel() counts exactly below 256 distinct values of its attribute and estimates with
# MinHash from 256 on. New Relic documents no error bound; the gate assumes a sketch of this many
# hash values (the threshold) and judges an estimated conversion as a proportion of at most about
# this many units: variance p(1-p)(1/n + 1/256) rather than p(1-p)/n.
_MINHASH_VALUES = 256
_DISTINCT = "values"  # the alias of the uniqueCount() asked beside each funnel
ORDER_PROBLEM = (
    "NRQL funnel() does not enforce the order of steps (a session that paid before it viewed "
    "counts as converted), so it cannot measure an ordered journey; set order: any on this "
    "criterion to accept a count that ignores step order, or read this journey from a provider "
    "that orders steps (ga4, amplitude, mixpanel, file)"
)


class NewRelicSettings(HttpSettings):
    api_key: Secret = Field(description="a User API key (NRAK-…), as ${NEW_RELIC_API_KEY}")
    account_id: int = Field(ge=1, description="the account the NRQL runs in")
    region: Literal["us", "eu", "jp", "gov"] = Field(
        "us", description="the account's data center: us, eu, jp, or gov (FedRAMP)"
    )
    url: str | None = Field(None, description="NerdGraph endpoint (a proxy); default by region")
    nrql_timeout: Duration | None = Field(
        None,
        description="how long NerdGraph lets each NRQL query run, 5 to 120 whole seconds; default: "
        "timeout, held within 5 to 120 s",
    )
    event_type: str = Field(
        "Transaction", description="events for error rate, latency and Apdex (e.g. PageView)"
    )
    where: str | None = Field(
        None, description="an NRQL condition for every query, e.g. appName = 'shop'"
    )
    error_condition: str = Field(
        "error IS true", description="an NRQL condition that marks a failed request"
    )
    duration_attribute: str = Field("duration", description="the response time attribute")
    duration_unit: Literal["s", "ms"] = Field("s", description="its unit (Transaction: s)")
    journey_event_type: str = Field(
        "PageAction", description="events that carry journey steps (funnel())"
    )
    step_attribute: str = Field(
        "actionName", description="the attribute holding a step's event name"
    )
    session_attribute: str = Field("session", description="identifies a session in a funnel")
    user_attribute: str = Field("enduser.id", description="identifies a user in a funnel")
    max_concurrency: int | None = Field(
        None, ge=1, description="queries in flight at once (NerdGraph allows 25 per user)"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL such as {ENDPOINTS['us']}")
        return url

    @field_validator("nrql_timeout")
    @classmethod
    def _nerdgraph_timeout(cls, value: timedelta | None) -> timedelta | None:
        low, high = _NRQL_TIMEOUT
        if value is not None and (
            not low <= value.total_seconds() <= high or value % timedelta(seconds=1)
        ):
            raise ValueError(
                f"expected {low} to {high} whole seconds: NerdGraph refuses an NRQL timeout "
                "outside that range"
            )
        return value

    @model_validator(mode="after")
    def _request_outlasts_query(self) -> NewRelicSettings:
        if self.nrql_timeout is not None and self.nrql_timeout > self.timeout:
            raise ValueError(
                f"nrql_timeout ({self.nrql_timeout.total_seconds():g} s) is longer than timeout "
                f"({self.timeout.total_seconds():g} s), so the request would be abandoned before "
                "the query may end; raise timeout or lower nrql_timeout"
            )
        return self

    @property
    def query_seconds(self) -> int:
        """The `timeout` sent with each NRQL query: nrql_timeout, else timeout held within 5-120 s."""
        if self.nrql_timeout is not None:
            return round(self.nrql_timeout.total_seconds())
        low, high = _NRQL_TIMEOUT
        return min(high, max(low, math.ceil(self.timeout.total_seconds())))


def nrql_string(text: str) -> str:
    """A quoted NRQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def nrql_name(name: str) -> str:
    """An attribute or event type name, in backticks when it is not a plain identifier."""
    return name if _PLAIN_NAME.match(name) else "`" + name.replace("`", "``") + "`"


def _epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _literal(value: float) -> str:
    return f"{value:g}"


class NewRelicProvider(ApiProvider):
    settings_model = NewRelicSettings
    settings: NewRelicSettings
    max_concurrency = 20  # NerdGraph: 25 concurrent requests per user, shared with other tools
    serves = ("error_rate", "latency", "apdex", "conversion", "custom")
    query_kind = "NRQL"  # a filter is an NRQL condition too

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        if isinstance(criterion, ConversionCriterion) and criterion.order == "strict":
            return [(("order",), ORDER_PROBLEM)]
        query = criterion.query
        if not isinstance(query, str):
            return text_query_problems(cls, criterion)
        if "select" not in query.lower():
            return [(("query",), "expected an NRQL query: SELECT … FROM …")]
        clause = _OWN_CLAUSES.search(query)
        if clause:
            return [
                (
                    ("query",),
                    f"leave {clause[1].upper()} out of the query: the gate adds SINCE/UNTIL for "
                    "each window and reads one row",
                )
            ]
        return []

    @classmethod
    def journey_problems(cls, journey: JourneySpec, settings: ProviderSettings) -> list[str]:
        problems = []
        if journey.within is not None:
            problems.append(
                "`within` is set, but NRQL funnel() cannot bound the time between steps; "
                "remove it or measure this journey with another provider"
            )
        if len(journey.steps) > _MAX_FUNNEL_STEPS:
            problems.append(
                f"{len(journey.steps)} steps, but NRQL funnel() takes at most {_MAX_FUNNEL_STEPS}"
            )
        return problems

    def __init__(self, settings: NewRelicSettings, context: ProviderContext):
        super().__init__(settings, context)
        key = context.secret(settings.api_key, "api_key")
        self.client = self._api_client(
            base_url=settings.url or ENDPOINTS[settings.region],
            headers=key_headers(context, {"API-Key": key}),
            auth_hint="(a User key, NRAK-…) and that region is the account's data center",
        )
        self._nerdgraph = NerdGraph(self.client, settings.account_id, settings.query_seconds)

    # --- queries ----------------------------------------------------------------------------------

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        refuse_unservable(self, request)  # the loader's refusals, for a request built in code
        criterion = request.criterion
        if isinstance(criterion, ConversionCriterion):
            return self._conversions(criterion, request, windows)
        select = self._select(request)
        nrql = {w.label: f"{select} {_since(w)}" for w in windows}
        rows = self._nerdgraph.rows([(w.label, nrql[w.label]) for w in windows])
        # Each reader takes its own kind of criterion: the dict is keyed by that kind.
        readers: dict[type, Callable[[Any, dict[str, Any] | None, str], Measurement]] = {
            ErrorRateCriterion: self._error_rate,
            ApdexCriterion: self._apdex,
            LatencyCriterion: self._latency,
            CustomCriterion: self._custom,
        }
        read = readers[type(criterion)]
        # A raw query's SELECT is its author's.
        dated = criterion.query is None
        result = {}
        for w, row in zip(windows, rows, strict=True):
            query = nrql[w.label]
            measured = read(criterion, row, query)
            if dated and row is not None:
                measured = replace(measured, data_end=self._data_end(row, query))
            result[w.label] = measured
        return result

    def _conversions(
        self, criterion: ConversionCriterion, request: MetricRequest, windows: list[TimeWindow]
    ) -> dict[str, Measurement]:
        """Each window's funnel and, for the default funnel, how many distinct values of its
        attribute it dealt with (whether NRQL counted exactly), all in one GraphQL request."""
        funnel = self._select(request)
        nrql = {w.label: f"{funnel} {_since(w)}" for w in windows}
        asked = [(w.label, nrql[w.label]) for w in windows]
        distinct: dict[str, str] = {}
        if criterion.query is None:
            counted = self._distinct_values(criterion, request)
            distinct = {w.label: f"{counted} {_since(w)}" for w in windows}
            asked += [(w.label, distinct[w.label]) for w in windows]
        rows = self._nerdgraph.rows(asked)
        result = {}
        for i, w in enumerate(windows):
            values = None
            counted_row = rows[len(windows) + i] if distinct else None
            if counted_row is not None:
                # Past 256 uniqueCount() is an estimate too: a number, not necessarily whole.
                number = self._number(counted_row, _DISTINCT, distinct[w.label])
                values = None if number is None else round(number)
            result[w.label] = self._conversion(
                criterion,
                rows[i],
                "\n".join(q for q in (nrql[w.label], distinct.get(w.label)) if q),
                values,
            )
        return result

    def _data_end(self, row: dict[str, Any], query: str) -> datetime | None:
        newest = data_point(row.get(_DATA_END), f"{_DATA_END!r} (epoch ms)", self.context, query)
        return None if newest is None else _EPOCH + timedelta(milliseconds=round(newest))

    def _scope(self, criterion: CriterionBase, *also: str) -> str:
        conditions = [f"({c})" for c in (self.settings.where, criterion.filter) if c]
        conditions += also
        return " WHERE " + " AND ".join(conditions) if conditions else ""

    def _errors(self, criterion: ErrorRateCriterion | ApdexCriterion) -> str:
        # `errors` defaults to an SQL condition for the file provider; written out, it is NRQL here.
        return (
            criterion.errors
            if "errors" in criterion.model_fields_set
            else self.settings.error_condition
        )

    def _select(self, request: MetricRequest) -> str:
        """The NRQL for a window, without its SINCE/UNTIL."""
        criterion = request.criterion
        if criterion.query is not None:
            assert isinstance(criterion.query, str)  # criterion_problems refused the rest
            return criterion.query.strip().rstrip(";")
        s = self.settings
        source = f"FROM {nrql_name(s.event_type)}{self._scope(criterion)}"
        duration = nrql_name(s.duration_attribute)
        if isinstance(criterion, ErrorRateCriterion):
            return (
                f"SELECT filter(count(*), WHERE {self._errors(criterion)}) AS 'errors', "
                f"count(*) AS 'requests', {_NEWEST} {source}"
            )
        if isinstance(criterion, LatencyCriterion):
            return (
                f"SELECT percentile({duration}, {criterion.percentile:g}), "
                f"count({duration}) AS 'requests', {_NEWEST} {source}"
            )
        if isinstance(criterion, ApdexCriterion):
            scale = 1.0 if s.duration_unit == "s" else 1000.0
            t = _literal(criterion.t.total_seconds() * scale)
            t4 = _literal(4 * criterion.t.total_seconds() * scale)
            failed = f"({self._errors(criterion)})"
            # Counts, not apdex(): NRQL's apdex() judges timing only, so a fast failed request would
            # count as satisfied; the gate's Apdex counts every failed request as frustrated.
            return (
                f"SELECT filter(count(*), WHERE {duration} <= {t}) AS 'within_t', "
                f"filter(count(*), WHERE {duration} <= {t4}) AS 'within_4t', "
                f"filter(count(*), WHERE {failed} AND {duration} <= {t}) AS 'failed_within_t', "
                f"filter(count(*), WHERE {failed} AND {duration} <= {t4}) AS 'failed_within_4t', "
                f"count(*) AS 'requests', {_NEWEST} {source}"
            )
        if isinstance(criterion, ConversionCriterion):
            return self._funnel(criterion, request)
        raise AssertionError(f"unserved metric {criterion!r}")  # criterion_problems refused it

    def _funnel(self, criterion: ConversionCriterion, request: MetricRequest) -> str:
        journey = request.journey
        assert journey is not None
        step = nrql_name(self.settings.step_attribute)
        steps = ", ".join(
            f"WHERE {step} = {nrql_string(name)} AS {nrql_string(name)}" for name in journey.steps
        )
        return f"SELECT funnel({self._funnel_attribute(criterion, journey)}, {steps}) " + (
            self._journey_events(criterion, journey)
        )

    def _distinct_values(self, criterion: ConversionCriterion, request: MetricRequest) -> str:
        """How many values of the funnel's attribute the funnel deals with: NRQL counts them
        exactly up to 256 (uniqueCount estimates only beyond), enough to tell whether funnel()
        estimated."""
        journey = request.journey
        assert journey is not None
        attribute = self._funnel_attribute(criterion, journey)
        return (
            f"SELECT uniqueCount({attribute}) AS {nrql_string(_DISTINCT)} "
            + self._journey_events(criterion, journey)
        )

    def _funnel_attribute(self, criterion: ConversionCriterion, journey: JourneySpec) -> str:
        s = self.settings
        unit = criterion.unit or journey.unit
        return nrql_name(s.session_attribute if unit == "session" else s.user_attribute)

    def _journey_events(self, criterion: ConversionCriterion, journey: JourneySpec) -> str:
        """FROM the journey's events, only those of its steps: the funnel counts the same, and
        sessions that took no step do not push it past the 256 values it counts exactly."""
        s = self.settings
        names = ", ".join(nrql_string(name) for name in journey.steps)
        steps_only = f"{nrql_name(s.step_attribute)} IN ({names})"
        return f"FROM {nrql_name(s.journey_event_type)}{self._scope(criterion, steps_only)}"

    # --- reading rows -----------------------------------------------------------------------------

    def _number(self, row: dict[str, Any], key: str, query: str) -> float | None:
        return data_point(row.get(key), repr(key), self.context, query)

    def _count(self, row: dict[str, Any], key: str, query: str) -> int:
        if key not in row:
            raise self._fail(
                f"expected a count named {key!r} in the row, got keys {sorted(row)}", query
            )
        value = self._number(row, key, query)
        if value is None:
            return 0
        if value < 0 or value != int(value):
            raise self._fail(f"expected {key!r} as a whole count, got {value:g}", query)
        return int(value)

    def _error_rate(
        self, criterion: ErrorRateCriterion, row: dict[str, Any] | None, query: str
    ) -> Measurement:
        if row is None:
            return metrics.proportion(0, 0, query=query)
        requests = self._count(row, "requests", query)
        errors = self._count(row, "errors", query)
        if errors > requests:
            raise self._fail(f"{errors} errors of only {requests} requests", query)
        return metrics.proportion(
            errors, requests, query=query, details={"requests": requests, "errors": errors}
        )

    def _apdex(
        self, criterion: ApdexCriterion, row: dict[str, Any] | None, query: str
    ) -> Measurement:
        if row is None:
            return metrics.apdex(0, 0, 0, query=query)
        total = self._count(row, "requests", query)
        within_t = self._count(row, "within_t", query)
        within_4t = self._count(row, "within_4t", query)
        failed_t = self._count(row, "failed_within_t", query)
        failed_4t = self._count(row, "failed_within_4t", query)
        satisfied = within_t - failed_t
        tolerating = (within_4t - failed_4t) - satisfied
        frustrated = total - satisfied - tolerating
        if min(satisfied, tolerating, frustrated) < 0 or failed_t > failed_4t:
            raise self._fail(
                f"inconsistent Apdex counts {dict(row)}: expected failed ≤ within T ≤ within 4T "
                "≤ requests",
                query,
            )
        return metrics.apdex(satisfied, tolerating, frustrated, query=query)

    def _latency(
        self, criterion: LatencyCriterion, row: dict[str, Any] | None, query: str
    ) -> Measurement:
        if row is None:
            return Measurement(value=None, samples=0, query=query)
        samples = self._count(row, "requests", query)
        raw = self._percentile(row, criterion.percentile, query)
        if raw is None or samples == 0:
            return Measurement(value=None, samples=0, details={"requests": samples}, query=query)
        unit = self.settings.duration_unit
        return Measurement(
            value=raw * 1000 if unit == "s" else raw,
            samples=samples,
            # the number as New Relic gave it, before the conversion to milliseconds
            details={"requests": samples, f"p{criterion.percentile:g} in {unit}": raw},
            query=query,
        )

    def _percentile(self, row: dict[str, Any], percentile: float, query: str) -> float | None:
        """`percentile.duration: {"95": x}`, or the same under an alias, or a bare number."""
        keys = [k for k in row if k == "latency" or k.startswith("percentile")]
        if not keys:
            raise self._fail(
                f"expected a percentile(…) value in the row, got keys {sorted(row)}", query
            )
        value = row[keys[0]]
        if isinstance(value, dict):
            wanted = f"{percentile:g}"
            if wanted in value:
                return self._number(value, wanted, query)
            if len(value) == 1:
                return self._number(value, next(iter(value)), query)
            raise self._fail(f"expected the {wanted}th percentile in {shown(value)}", query)
        return self._number(row, keys[0], query)

    def _conversion(
        self,
        criterion: ConversionCriterion,
        row: dict[str, Any] | None,
        query: str,
        values: int | None,
    ) -> Measurement:
        """The last step's count over the first's. `values`: how many distinct values of the
        funnel's attribute the funnel dealt with (None: not asked, for a raw query)."""
        if row is None:
            return metrics.proportion(0, 0, query=query)
        steps = _funnel_steps(row)
        if steps is None:
            raise self._fail(
                expected_shape("funnel steps (a list of counts) in the row", row), query
            )
        counts = [self._count({"step": n}, "step", query) for n in steps]
        if len(counts) < 2:
            raise self._fail(expected_shape("a count per journey step", steps), query)
        started, completed = counts[0], counts[-1]
        if completed > started:
            raise self._fail(f"{completed} completed of only {started} started", query)
        details: dict[str, float] = {f"step {i + 1}": n for i, n in enumerate(counts)}
        if values is not None:
            details["funnel attribute values"] = values
        measured = metrics.proportion(completed, started, query=query, details=details)
        dealt = max(started, values or 0)
        if dealt >= _MINHASH_VALUES and started > 0:
            # n_eff = 1 / (1/n + 1/k): the counted units' binomial variance plus the sketch's.
            effective = int(started * _MINHASH_VALUES / (started + _MINHASH_VALUES))
            return judged_on(
                measured,
                effective,
                f"estimated: NRQL funnel() dealt with {dealt:,} values of its attribute (256 or "
                "more), so it estimated its step counts with MinHash; New Relic documents no error "
                f"bound, so the conversion is judged as a proportion of {effective:,} (as if read "
                f"from a {_MINHASH_VALUES}-value sketch: variance p(1-p)(1/n + 1/{_MINHASH_VALUES})) "
                f"rather than of the {started:,} counted",
            )
        if values is None:
            why = (
                "the gate cannot count the values of a raw query's funnel attribute"
                if criterion.query is not None
                else "New Relic gave no count of them"
            )
            return replace(
                measured,
                notes=(
                    *measured.notes,
                    "whether NRQL funnel() estimated these counts (it does from 256 values of its "
                    f"attribute on) is not known: {why}",
                ),
            )
        return measured

    def _custom(
        self, criterion: CustomCriterion, row: dict[str, Any] | None, query: str
    ) -> Measurement:
        if row is None:
            return Measurement(value=None, samples=0, query=query)
        if "successes" in row and "trials" in row:
            successes = self._count(row, "successes", query)
            trials = self._count(row, "trials", query)
            if successes > trials:
                raise self._fail(f"{successes} successes of only {trials} trials", query)
            return metrics.proportion(successes, trials, query=query)
        if "value" not in row:
            raise self._fail(
                "a custom NRQL query must return `AS 'value'` (and optionally `AS 'samples'`), "
                f"or `AS 'successes'` and `AS 'trials'`; got keys {sorted(row)}",
                query,
            )
        value = self._number(row, "value", query)
        if value is None:
            return Measurement(value=None, samples=0, query=query)
        samples = self._count(row, "samples", query) if "samples" in row else 1
        if samples == 0:
            return Measurement(value=None, samples=0, query=query)
        return Measurement(value=value, samples=samples, query=query)


def _since(window: TimeWindow) -> str:
    return f"SINCE {_epoch_ms(window.start)} UNTIL {_epoch_ms(window.end)}"


def _funnel_steps(row: dict[str, Any]) -> list[Any] | None:
    """`{"steps": [...]}` (what New Relic's own funnel component reads) or the same one level down
    (`{"funnel": {"steps": [...]}}`)."""
    if isinstance(row.get("steps"), list):
        return row["steps"]
    for value in row.values():
        if isinstance(value, dict) and isinstance(value.get("steps"), list):
            return value["steps"]
    return None
