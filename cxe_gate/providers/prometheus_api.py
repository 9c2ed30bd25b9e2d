"""The Prometheus HTTP API as the provider reads it: instant and range queries, label names and the
time of the newest sample (`data_end`), each answer checked, and a record of what one window asked."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import ProviderError
from ..measurement import Measurement, TimeWindow
from .base import ProviderContext
from .prometheus_settings import PrometheusSettings
from .promql import epoch_ms, from_epoch_ms, range_text, unix_time
from .transport import ApiClient, basic_auth, token_auth

log = logging.getLogger("cxe_gate.providers")

# Prometheus' default lookback: an instant selector sees a series' last sample up to 5 minutes old.
_LOOKBACK_MS = 5 * 60 * 1000
_MAX_POINTS = 11_000  # query_range refuses more points per series
_DATA_END_STEPS = 1_000  # evaluations of the data-end query across a window (see data_end)
# How far back a metric or label is looked for before it is said not to exist (a misspelling).
HISTORY = timedelta(days=31)
_MATRIX = 'a matrix: a list of {metric, values: [[time, "number"], …]}'


@dataclass
class Asked:
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


def _headers(settings: PrometheusSettings, context: ProviderContext) -> dict[str, str]:
    """The settings' extra headers and credentials, each `${VAR}` read and kept out of reports."""
    headers = {
        name: context.secret(value, f"headers.{name}") if "${" in value else value
        for name, value in settings.headers.items()
    }
    if settings.token is not None:
        token = context.secret(settings.token, "token")
        headers.update(token_auth(context, token))
    elif settings.username is not None and settings.password is not None:
        password = context.secret(settings.password, "password")
        headers.update(basic_auth(context, settings.username, password))
    return headers


class PrometheusApi:
    """One Prometheus server's query API; every failure is a ProviderError quoting what was asked."""

    def __init__(
        self,
        settings: PrometheusSettings,
        context: ProviderContext,
        slots: threading.BoundedSemaphore | None = None,
    ):
        self.context = context
        self._client = ApiClient(
            context,
            settings,
            base_url=settings.url,
            headers=_headers(settings, context),
            auth_hint="and that url is the Prometheus API behind any proxy",
            slots=slots,
        )

    def close(self) -> None:
        self._client.close()

    # --- queries --------------------------------------------------------------------------------

    def query(self, promql: str, asked: Asked, at: str | None = None) -> dict[str, Any]:
        """POST /api/v1/query (form-encoded: queries can be long), evaluated at the window's end
        unless `at` says otherwise; the `data` of a success."""
        shown = promql if at is None or at == asked.time else f"{promql}  # at time={at}"
        asked.queries.append(shown)
        return self._post("/api/v1/query", {"query": promql, "time": at or asked.time}, asked)

    def value(self, promql: str, asked: Asked) -> float | None:
        """The one number a query answers; None for an empty vector or NaN (no data)."""
        data = self.query(promql, asked)
        kind = data["resultType"]
        if kind == "scalar":
            return self.number(data.get("result"), asked)
        if kind != "vector":
            hint = (
                ": a range selector such as x[5m] must be wrapped, e.g. sum(increase(x[$window]))"
                if kind == "matrix"
                else ""
            )
            raise self.error(
                f"expected one number (a vector or a scalar), got a {kind}{hint}", asked
            )
        series = self.vector(data, asked)
        if not series:
            return None
        if len(series) > 1:
            labels = "; ".join(
                "{" + ", ".join(f"{k}={v}" for k, v in s.get("metric", {}).items()) + "}"
                for s in series[:3]
            )
            raise self.error(
                f"expected one series, got {len(series)} ({labels}…); aggregate the query, "
                "e.g. with sum(...)",
                asked,
            )
        return self.number(series[0].get("value"), asked)

    def query_range(
        self, promql: str, asked: Asked, start: str, end: str, step: str
    ) -> list[dict[str, Any]]:
        """POST /api/v1/query_range: `promql` evaluated at `start`, every `step` after it, up to
        `end` (Unix seconds; a step as a PromQL duration); the series of the matrix."""
        asked.queries.append(f"{promql}  # range query from {start} to {end} step {step}")
        form = {"query": promql, "start": start, "end": end, "step": step}
        data = self._post("/api/v1/query_range", form, asked)
        return self.matrix(data, asked, "from a range query")

    def data_end(self, sampled: str, asked: Asked) -> datetime | None:
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
        span = max(0, round((window.end - window.start) / timedelta(milliseconds=1)))
        step = min(max(-(-span // _DATA_END_STEPS), 1000), _LOOKBACK_MS)
        step = max(step, -(-span // (_MAX_POINTS - 1)))
        end_ms = epoch_ms(window.end)
        start = unix_time(from_epoch_ms(end_ms - (span // step) * step))
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
        newest: float | None = None
        for series in self.matrix(data, asked, "from a range query"):
            for seconds_found in self.values(series, asked):
                if seconds_found is not None and (newest is None or seconds_found > newest):
                    newest = seconds_found
        return None if newest is None else from_epoch_ms(round(newest * 1000))

    def label_names(self, sel: str, asked: Asked, history: bool = False) -> list[str]:
        """The label names of the series `sel` selects in the window, or with `history` in the
        `HISTORY` up to its end."""
        start = asked.window.start - (HISTORY if history else timedelta(0))
        form = {"match[]": sel, "start": unix_time(start), "end": asked.time}
        asked.queries.append(f"# POST /api/v1/labels match[]={sel} from {form['start']}")
        names = self._call("/api/v1/labels", form, asked)
        if names is None:
            return []
        if not isinstance(names, list):
            raise self.error("expected a list of label names, got " + _brief(names), asked)
        return [str(n) for n in names]

    def metric_names(self, asked: Asked) -> list[str]:
        names = self._call("/api/v1/label/__name__/values", None, asked)
        return [str(n) for n in names] if isinstance(names, list) else []

    # --- answers --------------------------------------------------------------------------------

    def vector(
        self,
        data: dict[str, Any],
        asked: Asked,
        shape: str = "a vector: a list of {metric, value}",
    ) -> list[dict[str, Any]]:
        """The series of a vector (or, as `shape` says, a matrix)."""
        result = data.get("result")
        if result is None:  # Prometheus 2.0 answered null for some empty results
            return []
        if not isinstance(result, list) or not all(
            isinstance(s, dict) and isinstance(s.get("metric", {}), dict) for s in result
        ):
            raise self.error(f"expected {shape}, got " + _brief(result), asked)
        return result

    def matrix(self, data: dict[str, Any], asked: Asked, what: str) -> list[dict[str, Any]]:
        """The series of a matrix (`what` it should come from, for the error when it is not)."""
        if data["resultType"] != "matrix":
            raise self.error(f"expected a matrix {what}, got a {data['resultType']}", asked)
        return self.vector(data, asked, _MATRIX)

    def values(self, series: dict[str, Any], asked: Asked) -> list[float | None]:
        """The sample values of a matrix's series, in time order."""
        samples = series.get("values")
        if not isinstance(samples, list):
            raise self.error(f"expected {_MATRIX}, got " + _brief(series), asked)
        return [self.number(sample, asked) for sample in samples]

    def timed(self, series: dict[str, Any], asked: Asked) -> list[tuple[int, float | None]]:
        """The samples of a matrix's series as (milliseconds since the epoch, value)."""
        samples = series.get("values")
        if not isinstance(samples, list):
            raise self.error(f"expected {_MATRIX}, got " + _brief(series), asked)
        timed = []
        for sample in samples:
            value = self.number(sample, asked)  # checks the sample's shape first
            try:
                timed.append((round(float(sample[0]) * 1000), value))
            except (TypeError, ValueError):
                raise self.error(
                    'expected a sample [time, "number"], got ' + _brief(sample), asked
                ) from None
        return timed

    def number(self, sample: object, asked: Asked) -> float | None:
        if not isinstance(sample, list) or len(sample) != 2:
            raise self.error('expected a sample [time, "number"], got ' + _brief(sample), asked)
        try:
            value = float(sample[1])
        except (TypeError, ValueError):
            raise self.error(
                'expected a sample [time, "number"], got ' + _brief(sample), asked
            ) from None
        if math.isnan(value):
            return None
        if math.isinf(value) or value < 0:
            raise self.error(
                f"expected a finite, non-negative number, got {sample[1]}: a division by "
                "zero or a counter read without increase()?",
                asked,
            )
        return value

    def error(self, message: str, asked: Asked) -> ProviderError:
        return ProviderError(
            self.context.redact(message),
            provider=self.context.name,
            query=self.context.redact(asked.text()),
        )

    # --- the wire -------------------------------------------------------------------------------

    def _post(self, path: str, form: dict[str, str], asked: Asked) -> dict[str, Any]:
        """POST `form` to a query endpoint; the `data` of a success, with its resultType."""
        data = self._call(path, form, asked)
        if not isinstance(data, dict) or "resultType" not in data:
            raise self.error("expected data with resultType and result, got " + _brief(data), asked)
        return data

    def _call(self, path: str, form: dict[str, str] | None, asked: Asked) -> Any:
        """POST `form` (or GET without one) to an API path; the `data` of a success."""
        if form is None:
            reply = self._client.get(path, query=asked.text(), accept=(400, 422))
        else:
            reply = self._client.post(path, form=form, query=asked.text(), accept=(400, 422))
        body = reply.body
        if reply.status >= 400 or (isinstance(body, dict) and body.get("status") == "error"):
            kind = body.get("errorType", "") if isinstance(body, dict) else ""
            text = body.get("error", "") if isinstance(body, dict) else ""
            if not text:
                raise self.error(f"HTTP {reply.status} without a Prometheus error body", asked)
            raise self.error(
                f"Prometheus refused the query ({kind or reply.status}): {text}", asked
            )
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self.error(
                'expected {"status": "success", "data": ...}, got ' + _brief(body), asked
            )
        for warning in body.get("warnings") or []:
            asked.warnings.append(str(warning))
            log.warning("%s: Prometheus warns (partial data): %s", self.context.name, warning)
        return body.get("data")


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:120] + "…"
