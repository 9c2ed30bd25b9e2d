"""Datadog's metric query APIs, v2 (`POST /api/v2/query/timeseries`) and v1 (`GET /api/v1/query`):
a window's queries sent, and each answer read as series with their times, units and rollup interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from ..errors import ProviderError
from ..measurement import TimeWindow
from .answers import data_point, dig, expected_shape, provider_error
from .transport import ApiClient


@dataclass(frozen=True)
class Series:
    """One series of an answer: values in time order (None where Datadog had no point)."""

    times: tuple[float, ...]  # ms, each the start of the rollup bucket its value stands for
    values: tuple[float | None, ...]
    unit: str | None  # a time unit's name ("second") when Datadog said so
    bucket_ms: float | None = None  # the rollup interval, when the answer tells it


def data_end(answer: dict[str, list[Series]], window: TimeWindow) -> datetime | None:
    """How far the answer's data reaches: the time of its newest point holding a value. Datadog
    stamps a point with the start of its rollup bucket, so this is never later than the newest
    data, and short of it by at most a bucket; a bucket that began before the window counts from
    the window's start (the query reads nothing earlier). A bucket as long as the window (the
    default queries' `.rollup(…, <window>)`) cannot place the end of the data: None, as when the
    answer does not tell the interval."""
    span_ms = (window.end - window.start).total_seconds() * 1000
    newest: float | None = None
    for series in answer.values():
        for item in series:
            if item.bucket_ms is None or item.bucket_ms >= span_ms:
                continue
            for start, value in zip(item.times, item.values, strict=True):
                if value is not None and (newest is None or start > newest):
                    newest = start
    if newest is None:
        return None
    found = datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=newest)
    return min(window.end, max(window.start, found))


def _spacing(times: tuple[float, ...]) -> float | None:
    """The rollup interval the times are spaced by (the smallest step, should queries of several
    intervals share them); None with fewer than two."""
    steps = [b - a for a, b in pairwise(times) if b > a]
    return min(steps) if steps else None


class DatadogApi:
    """One account's metric queries, through the API version its settings name."""

    def __init__(self, client: ApiClient, api: Literal["v2", "v1"]):
        self.client = client
        self.context = client.context
        self.api = api

    def fetch(
        self, queries: dict[str, str], window: TimeWindow
    ) -> tuple[dict[str, list[Series]], str]:
        """Every query's series over the window, by role, and the text of what was sent."""
        start_ms = int(window.start.timestamp() * 1000)
        end_ms = int(window.end.timestamp() * 1000)
        if self.api == "v1":
            start, end = start_ms // 1000, end_ms // 1000
            text = "; ".join(f"{role}: {q}" for role, q in queries.items())
            text += f" (GET /api/v1/query, from={start}&to={end} s)"
            return {role: self._v1(q, start, end, text) for role, q in queries.items()}, text
        text = "; ".join(f"{role}: {q}" for role, q in queries.items())
        text += f" (POST /api/v2/query/timeseries, from={start_ms}&to={end_ms} ms)"
        return self._v2(queries, start_ms, end_ms, text), text

    def _v2(
        self, queries: dict[str, str], start_ms: int, end_ms: int, text: str
    ) -> dict[str, list[Series]]:
        roles = list(queries)
        body = {
            "data": {
                "type": "timeseries_request",
                "attributes": {
                    "from": start_ms,
                    "to": end_ms,
                    "queries": [
                        {"data_source": "metrics", "name": role, "query": queries[role]}
                        for role in roles
                    ],
                },
            }
        }
        reply = self.client.post(
            "/api/v2/query/timeseries", json_body=body, query=text, accept={400}
        )
        answer = reply.body
        if reply.status == 400:
            raise self._fail(f"Datadog rejected the query: {_error_text(answer)}", text)
        attributes = dig(answer, ("data", "attributes"))
        if isinstance(answer, dict) and answer.get("errors"):
            raise self._fail(f"Datadog answered with errors: {_error_text(answer)}", text)
        if not isinstance(attributes, dict):
            raise self._fail(
                expected_shape("data.attributes with series, times and values", answer), text
            )
        series = attributes.get("series") or []
        values = attributes.get("values") or []
        times = attributes.get("times") or []
        if not (isinstance(series, list) and isinstance(values, list) and isinstance(times, list)):
            raise self._fail(expected_shape("lists in series, times and values", attributes), text)
        if len(values) != len(series):
            raise self._fail(
                f"expected a values list for each of the {len(series)} series, got {len(values)}",
                text,
            )
        found: dict[str, list[Series]] = {role: [] for role in roles}
        stamps = tuple(data_point(t, "a time", self.context, text) or 0.0 for t in times)
        bucket_ms = _spacing(stamps)  # every series shares the times
        for info, points in zip(series, values, strict=True):
            index = info.get("query_index") if isinstance(info, dict) else None
            if not isinstance(index, int) or not 0 <= index < len(roles):
                raise self._fail(
                    f"expected series[].query_index between 0 and {len(roles) - 1}, got {index!r}",
                    text,
                )
            if not isinstance(points, list) or len(points) != len(stamps):
                raise self._fail(
                    f"expected {len(stamps)} values per series (one per time), got "
                    f"{len(points) if isinstance(points, list) else points!r}",
                    text,
                )
            found[roles[index]].append(
                Series(
                    stamps,
                    tuple(data_point(v, "a value", self.context, text) for v in points),
                    _unit_name(info.get("unit")),
                    bucket_ms,
                )
            )
        return found

    def _v1(self, query: str, start: int, end: int, text: str) -> list[Series]:
        reply = self.client.get(
            "/api/v1/query",
            params={"from": start, "to": end, "query": query},
            query=text,
            accept={400},
        )
        answer = reply.body
        if reply.status == 400:
            raise self._fail(f"Datadog rejected the query: {_error_text(answer)}", text)
        if not isinstance(answer, dict):
            raise self._fail(expected_shape("an object with series", answer), text)
        if answer.get("status") == "error" or answer.get("error"):
            raise self._fail(f"Datadog answered with an error: {answer.get('error')}", text)
        series = answer.get("series")
        if not isinstance(series, list):
            raise self._fail(expected_shape("series as a list", answer), text)
        found = []
        for item in series:
            pointlist = item.get("pointlist") if isinstance(item, dict) else None
            if pointlist is None and isinstance(item, dict) and "pointlist" in item:
                pointlist = []  # a null pointlist: no points
            if not isinstance(pointlist, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in pointlist
            ):
                raise self._fail(
                    expected_shape("series[].pointlist as [[time, value], …]", item), text
                )
            stamps = tuple(data_point(p[0], "a time", self.context, text) or 0.0 for p in pointlist)
            # `interval` is the series' rollup interval in seconds
            interval = item.get("interval")
            known = isinstance(interval, int | float) and not isinstance(interval, bool)
            found.append(
                Series(
                    stamps,
                    tuple(data_point(p[1], "a value", self.context, text) for p in pointlist),
                    _unit_name(item.get("unit")),
                    interval * 1000 if known and interval > 0 else _spacing(stamps),
                )
            )
        return found

    def _fail(self, message: str, text: str) -> ProviderError:
        return provider_error(self.context, message, text)


def _unit_name(unit: Any) -> str | None:
    """The unit Datadog names for a series' values: `unit` is [{name: "second", …}, per-unit]."""
    first = unit[0] if isinstance(unit, list) and unit else unit
    name = first.get("name") if isinstance(first, dict) else None
    return str(name).lower() if name else None


def _error_text(answer: Any) -> str:
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if isinstance(errors, list):
        return "; ".join(str(e) for e in errors) or "no reason given"
    return str(errors or answer or "no reason given")[:300]
