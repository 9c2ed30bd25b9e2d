"""A loopback Prometheus HTTP API (/api/v1/query, /api/v1/query_range, /api/v1/labels) answering from
a table of queries in its documented shape, the queries the provider builds spelled out, and the
half hour of a release it is asked about: an hour's baseline before a 07:00 deploy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.measurement import TimeWindow

DEPLOY = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
BASELINE = TimeWindow("baseline", DEPLOY - timedelta(hours=1), DEPLOY)
RELEASE = TimeWindow("release", DEPLOY, DEPLOY + timedelta(minutes=30))
AT = {"1795417200.000": "baseline", "1795419000.000": "release"}  # `time` → window

REQ = 'http_requests_total{job="shop"}'
ERR = 'http_requests_total{job="shop", code=~"5.."}'
COUNT_SERIES = 'http_request_duration_seconds_count{job="shop"}'
BUCKET_SERIES = 'http_request_duration_seconds_bucket{job="shop"}'
NEWEST = 'max(timestamp(http_requests_total{job="shop"}))'


# --- the queries, spelled out -------------------------------------------------------------------


def before(sel: str, window: str) -> str:
    """Each series' last value in the hour before the window."""
    return f"last_over_time({sel}[1h] offset {window})"


def _restarted(sel: str, window: str) -> str:
    return (
        f"(resets({sel}[{window}]) > 0) or (min_over_time({sel}[{window}]) < {before(sel, window)})"
    )


def kept(sel: str, window: str) -> str:
    """Per series that did not restart: its last value in the window minus its value before the
    window (or all of it, for a series born in the window)."""
    last = f"last_over_time({sel}[{window}])"
    return f"(({last} - {before(sel, window)}) or {last}) unless ({_restarted(sel, window)})"


def exact(sel: str, window: str, by: str = "") -> str:
    """What a counter added in the window, summed by Prometheus; restarted series left out."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} ({kept(sel, window)})"


def restarted(sel: str, window: str) -> str:
    """The series whose counter went down in the window, with their samples in it."""
    return f"count_over_time({sel}[{window}]) and ({_restarted(sel, window)})"


def born(sel: str, window: str) -> str:
    return f"count(last_over_time({sel}[{window}]) unless {before(sel, window)})"


def scrapes(sel: str, window: str) -> str:
    return f"max(count_over_time({sel}[{window}]))"


def has_label(label: str, sel: str, window: str) -> str:
    return f"count by ({label}) (last_over_time({sel}[{window}]))"


def REQUESTS(window: str) -> str:
    return exact(REQ, window)


def ERRORS(window: str) -> str:
    return exact(ERR, window)


def COUNT(window: str) -> str:
    return exact(COUNT_SERIES, window)


def BUCKETS(window: str, sel: str = BUCKET_SERIES) -> str:
    return exact(sel, window, "le")


# --- a loopback Prometheus ----------------------------------------------------------------------


def vector(*values: str, labels: dict | None = None) -> dict:
    """A success with one sample per value, as Prometheus sends them: numbers as strings."""
    result = [{"metric": labels or {}, "value": [1795419000, v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def series(*samples: tuple[dict, str]) -> dict:
    """A vector of labelled samples: (labels, value) each."""
    result = [{"metric": labels, "value": [1795419000, v]} for labels, v in samples]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def by_le(counts: dict[str, str]) -> dict:
    """Cumulative bucket counts by `le`, as `sum by (le)` answers them."""
    return series(*(({"le": le}, n) for le, n in counts.items()))


def matrix(*values: list[list], labels: list[dict] | None = None) -> dict:
    """A range query's success: one series per list of [time, "value"] points."""
    names = labels or [{}] * len(values)
    result = [{"metric": m, "values": v} for m, v in zip(names, values, strict=True)]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def failure(error_type: str, error: str) -> dict:
    return {"status": "error", "errorType": error_type, "error": error}


def success(data: object) -> Response:
    return Response(
        json.dumps({"status": "success", "data": data}), content_type="application/json"
    )


Answer = dict | Callable[[], Response]

# What a healthy Prometheus answers to the questions every count asks besides the count itself: no
# restarted series, no series born in the window, plenty of scrapes, the status label present.
DEFAULTS: list[tuple[re.Pattern, Callable[[re.Match], dict]]] = [
    (re.compile(r"^count_over_time\(.*\) and \(\(resets\("), lambda m: vector()),
    (re.compile(r"^count\(last_over_time\(.* unless last_over_time\("), lambda m: vector()),
    (re.compile(r"^max\(count_over_time\("), lambda m: vector("240")),
    (
        re.compile(r"^count by \((\w+)\) \(last_over_time\("),
        lambda m: vector("12", labels={m[1]: "200"}),
    ),
]


class FakePrometheus:
    """Answers POST /api/v1/query from a table of (query, window) → JSON body; a query it does not
    know is a 400 bad_data, as a real server's answer to a query it cannot parse would be, unless
    it is one of the DEFAULTS. Range queries (POST /api/v1/query_range) find no series unless
    `on_range` says otherwise. /api/v1/labels knows `job`, `code` and `__name__` unless `labels`
    says otherwise; /api/v1/label/__name__/values lists `names`."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.answers: dict[tuple[str, str], Answer] = {}
        self.ranges: dict[tuple[str, str], Answer] = {}
        self.labels: dict[str, list | Callable[[Request], list]] = {}  # match[] → names
        self.names = ["http_requests_total", "http_request_duration_seconds_bucket"]
        self.asked: list[tuple[str, str]] = []  # (query, window)
        self.ranged: list[dict[str, str]] = []  # each range query's form
        self.requests: list[Request] = []
        server.expect_request("/api/v1/query", method="POST").respond_with_handler(self._answer)
        server.expect_request("/api/v1/query_range", method="POST").respond_with_handler(
            self._answer_range
        )
        server.expect_request("/api/v1/labels", method="POST").respond_with_handler(
            self._answer_labels
        )
        server.expect_request("/api/v1/label/__name__/values").respond_with_handler(
            lambda r: success(self.names)
        )

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def on(self, query: str, baseline: Answer, release: Answer | None = None) -> None:
        self.answers[(query, "baseline")] = baseline
        self.answers[(query, "release")] = baseline if release is None else release

    def on_at(self, query: str, time: str, answer: Answer) -> None:
        """An answer for an instant query evaluated at `time` (Unix seconds as sent)."""
        self.answers[(query, time)] = answer

    def on_range(self, query: str, baseline: Answer, release: Answer | None = None) -> None:
        self.ranges[(query, "baseline")] = baseline
        self.ranges[(query, "release")] = baseline if release is None else release

    def _answer_labels(self, request: Request) -> Response:
        self.requests.append(request)
        known = self.labels.get(request.form["match[]"], ["__name__", "code", "job"])
        return success(known(request) if callable(known) else known)

    def _answer_range(self, request: Request) -> Response:
        self.requests.append(request)
        self.ranged.append(dict(request.form))
        window = AT.get(request.form.get("end", ""), "?")
        answer = self.ranges.get((request.form["query"], window), matrix())
        if callable(answer):
            return answer()
        return Response(json.dumps(answer), content_type="application/json")

    def _answer(self, request: Request) -> Response:
        self.requests.append(request)
        query, window = request.form["query"], AT.get(request.form.get("time", ""), "?")
        self.asked.append((query, window))
        answer = self.answers.get((query, window)) or self.answers.get(
            (query, request.form["time"])
        )
        if answer is None:
            found = next(((m, a) for p, a in DEFAULTS if (m := p.match(query))), None)
            if found is None:
                answer = failure("bad_data", f"unexpected query {query!r} at {window}")
                return Response(json.dumps(answer), status=400, content_type="application/json")
            answer = found[1](found[0])
        if callable(answer):
            return answer()
        return Response(json.dumps(answer), content_type="application/json")
