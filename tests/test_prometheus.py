"""The `prometheus` provider against a loopback server answering in the shape of the Prometheus HTTP
API (/api/v1/query, /api/v1/query_range): the queries it builds, the counts it reads, no data in its
disguises, the API's errors, and the gate end to end. How far the data reaches (`data_end`) is also
checked against a real Prometheus, backfilled and scraping; tests/test_prometheus_server.py runs a
real Prometheus scraping the example shop."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from prometheus_server import backfill, running_prometheus
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.config import (
    ApdexCriterion,
    CustomCriterion,
    ErrorRateCriterion,
    LatencyCriterion,
)
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.prometheus import (
    PrometheusProvider,
    PrometheusSettings,
    le_text,
    parse_matchers,
)
from cxe_gate.results import Verdict

TOKEN = "prom-t0ken-5ecret-value"
DEPLOY = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
BASELINE = TimeWindow("baseline", DEPLOY - timedelta(hours=1), DEPLOY)
RELEASE = TimeWindow("release", DEPLOY, DEPLOY + timedelta(minutes=30))
AT = {"1795417200.000": "baseline", "1795419000.000": "release"}  # `time` → window

REQUESTS = 'sum(increase(http_requests_total{job="shop"}[%s]))'
ERRORS = 'sum(increase(http_requests_total{job="shop", code=~"5.."}[%s]))'
COUNT = 'sum(increase(http_request_duration_seconds_count{job="shop"}[%s]))'
BUCKET = 'sum(increase(http_request_duration_seconds_bucket{job="shop", le="%s"}[%s]))'
NEWEST = 'max(timestamp(http_requests_total{job="shop"}))'


# --- a loopback Prometheus ----------------------------------------------------------------------


def vector(*values: str, labels: dict | None = None) -> dict:
    """A success with one sample per value, as Prometheus sends them: numbers as strings."""
    result = [{"metric": labels or {}, "value": [1795419000, v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def matrix(*values: list[list]) -> dict:
    """A range query's success: one series per list of [time, "value"] points."""
    result = [{"metric": {}, "values": v} for v in values]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def failure(error_type: str, error: str) -> dict:
    return {"status": "error", "errorType": error_type, "error": error}


Answer = dict | Callable[[], Response]


class FakePrometheus:
    """Answers POST /api/v1/query from a table of (query, window) → JSON body; a query it does not
    know is a 400 bad_data, as a real server's answer to a query it cannot parse would be. Range
    queries (POST /api/v1/query_range) find no series unless `on_range` says otherwise."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.answers: dict[tuple[str, str], Answer] = {}
        self.ranges: dict[tuple[str, str], Answer] = {}
        self.asked: list[tuple[str, str]] = []  # (query, window)
        self.ranged: list[dict[str, str]] = []  # each range query's form
        self.requests: list[Request] = []
        server.expect_request("/api/v1/query", method="POST").respond_with_handler(self._answer)
        server.expect_request("/api/v1/query_range", method="POST").respond_with_handler(
            self._answer_range
        )

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def on(self, query: str, baseline: Answer, release: Answer | None = None) -> None:
        self.answers[(query, "baseline")] = baseline
        self.answers[(query, "release")] = baseline if release is None else release

    def on_range(self, query: str, baseline: Answer, release: Answer | None = None) -> None:
        self.ranges[(query, "baseline")] = baseline
        self.ranges[(query, "release")] = baseline if release is None else release

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
        answer = self.answers.get((query, window))
        if answer is None:
            answer = failure("bad_data", f"unexpected query {query!r} at {window}")
            return Response(json.dumps(answer), status=400, content_type="application/json")
        if callable(answer):
            return answer()
        return Response(json.dumps(answer), content_type="application/json")


@pytest.fixture
def prom(api_server: HTTPServer) -> FakePrometheus:
    return FakePrometheus(api_server)


def provider(url: str, environ: dict | None = None, **options) -> PrometheusProvider:
    settings = PrometheusSettings.model_validate(
        {"url": url, "selector": 'job="shop"', "timeout": "500ms", "backoff": "10ms", **options}
    )
    context = ProviderContext(name="prom", base_dir=Path("."), environ=environ or {})
    return PrometheusProvider(settings, context)


def measure(prom: FakePrometheus, criterion, **options):
    return provider(prom.url, **options).measure(
        MetricRequest(criterion=criterion), [BASELINE, RELEASE]
    )


def error_rate(**fields) -> ErrorRateCriterion:
    return ErrorRateCriterion(name="errors", metric="error_rate", max=0.01, **fields)


# --- what it asks and what it makes of the answers ------------------------------------------------


def test_error_rate_counts_requests_and_errors_at_each_window_end(prom):
    prom.on(REQUESTS % "3600s", vector("1200.4"))
    prom.on(ERRORS % "3600s", vector("6"))
    prom.on(ERRORS % "1800s", vector("12.2"))
    prom.on(REQUESTS % "1800s", vector("611.5"))
    measured = measure(prom, error_rate())

    baseline, release = measured["baseline"], measured["release"]
    assert (baseline.successes, baseline.samples, baseline.value) == (6, 1200, 6 / 1200)
    # increase() extrapolates; counts are rounded to whole requests
    assert (release.successes, release.samples, release.value) == (12, 612, 12 / 612)
    assert release.details == {"successes": 12, "trials": 612, "requests": 612, "errors": 12}
    assert release.query == (
        f"{REQUESTS % '1800s'}\n{ERRORS % '1800s'}\n"
        "# instant queries at 2026-11-23T07:30:00.000+00:00 (time=1795419000.000)\n"
        f"{NEWEST}\n"
        "# range query from 1795417200.000 to 1795419000.000 step 1.800s: the time of the "
        "newest sample (data end)"
    )
    # form-encoded POSTs, evaluated at each window's end
    assert all(
        r.method == "POST" and r.mimetype == "application/x-www-form-urlencoded"
        for r in prom.requests
    )
    instant = [r for r in prom.requests if r.path == "/api/v1/query"]
    assert {r.form["time"] for r in instant} == {"1795417200.000", "1795419000.000"}


def test_no_error_series_is_zero_errors_but_no_requests_is_no_data(prom):
    prom.on(REQUESTS % "3600s", vector())
    prom.on(REQUESTS % "1800s", vector("500"))
    prom.on(ERRORS % "1800s", vector())  # no 5xx series at all: an empty vector
    measured = measure(prom, error_rate())
    assert (measured["baseline"].value, measured["baseline"].samples) == (None, 0)
    assert not measured["baseline"].has_data
    assert (measured["release"].value, measured["release"].successes) == (0.0, 0)
    # no data in the baseline: its errors were never asked for
    assert (ERRORS % "3600s", "baseline") not in prom.asked


def test_a_null_result_is_empty_like_an_empty_vector(prom):
    null = {"status": "success", "data": {"resultType": "vector", "result": None}}
    prom.on(REQUESTS % "3600s", null)
    prom.on(REQUESTS % "1800s", null)
    measured = measure(prom, error_rate())
    assert [m.value for m in measured.values()] == [None, None]


def test_filter_and_errors_become_label_matchers(prom):
    scope = 'job="shop", path=~"/api/.*"'
    prom.on(f"sum(increase(http_requests_total{{{scope}}}[3600s]))", vector("100"))
    prom.on(f"sum(increase(http_requests_total{{{scope}}}[1800s]))", vector("100"))
    prom.on(f'sum(increase(http_requests_total{{{scope}, code=~"5..|429"}}[3600s]))', vector("1"))
    prom.on(f'sum(increase(http_requests_total{{{scope}, code=~"5..|429"}}[1800s]))', vector("3"))
    measured = measure(prom, error_rate(filter='path=~"/api/.*"', errors='code=~"5..|429"'))
    assert [m.successes for m in measured.values()] == [1, 3]


def test_apdex_from_buckets_at_t_and_4t(prom):
    prom.on(COUNT % "3600s", vector("1000"))
    prom.on(BUCKET % ("0.5", "3600s"), vector("900"))
    prom.on(BUCKET % ("2.0", "3600s"), vector("980"))
    prom.on(BUCKET % ("0.5", "1800s"), vector("300.4"))
    prom.on(BUCKET % ("2.0", "1800s"), vector("360"))
    prom.on(COUNT % "1800s", vector("400"))
    criterion = ApdexCriterion(name="apdex", metric="apdex", t="500ms", min=0.8)
    measured = measure(prom, criterion)

    baseline, release = measured["baseline"], measured["release"]
    assert baseline.value == pytest.approx((900 + 80 / 2) / 1000)
    assert release.details == {"satisfied": 300, "tolerating": 60, "frustrated": 40}
    assert release.value == pytest.approx((300 + 30) / 400)
    # variance of the per-request scores 1, 0.5, 0 (sample variance)
    mean = 330 / 400
    expected = (300 * (1 - mean) ** 2 + 60 * (0.5 - mean) ** 2 + 40 * mean**2) / 399
    assert release.variance == pytest.approx(expected)
    assert release.successes is None and release.samples == 400


def test_apdex_finds_a_bound_written_the_go_way(prom):
    # client_golang writes le="2", not "2.0": the provider looks the spelling up once
    prom.on(COUNT % "3600s", vector("100"))
    prom.on(COUNT % "1800s", vector("100"))
    prom.on(BUCKET % ("0.5", "3600s"), vector("90"))
    prom.on(BUCKET % ("0.5", "1800s"), vector("80"))
    for window in ("3600s", "1800s"):
        prom.on(BUCKET % ("2.0", window), vector())
        prom.on(BUCKET % ("2", window), vector("95"))
    bounds = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"le": le}, "value": [0, "3"]} for le in ("0.5", "1", "2", "+Inf")
            ],
        },
    }
    prom.on('count by (le) (http_request_duration_seconds_bucket{job="shop"})', bounds)
    measured = measure(prom, ApdexCriterion(name="a", metric="apdex", t="0.5s", min=0.8))
    assert measured["release"].details == {"satisfied": 80, "tolerating": 15, "frustrated": 5}
    assert 'le="2"}[1800s]' in (measured["release"].query or "")


def test_apdex_with_t_off_the_buckets_says_which_bounds_exist(prom):
    prom.on(COUNT % "3600s", vector("100"))
    prom.on(BUCKET % ("0.3", "3600s"), vector())
    bounds = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"le": le}, "value": [0, "3"]} for le in ("0.5", "2.0", "+Inf")],
        },
    }
    prom.on('count by (le) (http_request_duration_seconds_bucket{job="shop"})', bounds)
    with pytest.raises(ProviderError) as caught:
        measure(prom, ApdexCriterion(name="a", metric="apdex", t="300ms", min=0.8))
    assert "bucket bound at 0.3 s" in str(caught.value)
    assert "its bounds are: 0.5, 2.0, +Inf" in str(caught.value)


def test_apdex_counts_failures_as_frustrated_when_the_histogram_has_the_status(prom):
    prom.on(COUNT % "3600s", vector("100"))
    prom.on(COUNT % "1800s", vector("100"))
    ok = 'job="shop", code!~"5.."'
    for window in ("3600s", "1800s"):
        prom.on(
            f'sum(increase(http_request_duration_seconds_bucket{{{ok}, le="0.5"}}[{window}]))',
            vector("70"),
        )
        prom.on(
            f'sum(increase(http_request_duration_seconds_bucket{{{ok}, le="2.0"}}[{window}]))',
            vector("80"),
        )
    criterion = ApdexCriterion(name="a", metric="apdex", t="500ms", min=0.8)
    measured = measure(prom, criterion, status_on_histogram=True)
    assert measured["release"].details == {"satisfied": 70, "tolerating": 10, "frustrated": 20}


def test_latency_percentile_in_milliseconds(prom):
    quantile = (
        "histogram_quantile(0.95, sum by (le) (increase(http_request_duration_seconds_bucket"
        '{job="shop"}[%s])))'
    )
    prom.on(COUNT % "3600s", vector("2000"))
    prom.on(COUNT % "1800s", vector("1000"))
    prom.on(quantile % "3600s", vector("0.4125"))
    prom.on(quantile % "1800s", vector("NaN"))  # no observations: 0/0
    measured = measure(prom, LatencyCriterion(name="p95", metric="latency", max="800ms"))
    assert measured["baseline"].value == pytest.approx(412.5)
    assert measured["baseline"].samples == 2000
    assert measured["baseline"].details == {"requests": 2000, "seconds": 0.4125}
    assert (measured["release"].value, measured["release"].samples) == (None, 0)


def test_a_fine_percentile_is_written_as_people_write_it(prom):
    query = (
        "histogram_quantile(0.999, sum by (le) (increase(http_request_duration_seconds_bucket"
        '{job="shop"}[%s])))'
    )
    for window in ("3600s", "1800s"):
        prom.on(COUNT % window, vector("100"))
        prom.on(query % window, vector("1.5"))
    measured = measure(
        prom, LatencyCriterion(name="p", metric="latency", percentile=99.9, max="2s")
    )
    assert measured["release"].value == 1500.0


def test_a_release_window_not_yet_begun_asks_nothing(prom):
    later = TimeWindow("release", DEPLOY + timedelta(minutes=10), DEPLOY + timedelta(minutes=5))
    measured = provider(prom.url).measure(MetricRequest(criterion=error_rate()), [later])
    assert (measured["release"].value, measured["release"].samples) == (None, 0)
    assert prom.requests == []


def test_a_raw_query_gets_its_window_and_times(prom):
    text = "sum(increase(orders_total[$window])) / ${window} @ $end"
    prom.on("sum(increase(orders_total[3600s])) / 3600s @ 1795417200.000", vector("4"))
    release = {"status": "success", "data": {"resultType": "scalar", "result": [0, "7.5"]}}
    prom.on("sum(increase(orders_total[1800s])) / 1800s @ 1795419000.000", release)
    criterion = CustomCriterion(name="orders", metric="custom", query=text, min=1)
    measured = measure(prom, criterion)
    assert [(m.value, m.samples) for m in measured.values()] == [(4.0, 1), (7.5, 1)]


def test_a_raw_query_mapping_gives_counts(prom):
    parts = {
        "errors": "sum(increase(failed_total[$window]))",
        "requests": "sum(increase(all_total[$window]))",
    }
    for window, (failed, total) in (("3600s", ("2", "400")), ("1800s", ("9", "300.3"))):
        prom.on(f"sum(increase(failed_total[{window}]))", vector(failed))
        prom.on(f"sum(increase(all_total[{window}]))", vector(total))
    measured = measure(prom, error_rate(query=parts))
    assert [(m.successes, m.samples) for m in measured.values()] == [(2, 400), (9, 300)]

    latency = {"latency": "my_p95_seconds", "requests": "sum(my_requests)"}
    prom.on("my_p95_seconds", vector("0.25"))
    prom.on("sum(my_requests)", vector("50"))
    criterion = LatencyCriterion(name="p95", metric="latency", max="1s", query=latency)
    measured = measure(prom, criterion)
    assert (measured["release"].value, measured["release"].samples) == (250.0, 50)
    assert measured["release"].details == {"requests": 50, "seconds": 0.25}


def test_a_raw_apdex_score_gets_the_widest_variance_it_allows(prom):
    prom.on("job:apdex:ratio", vector("0.9"))
    prom.on("sum(job:requests:count)", vector("11"))
    query = {"apdex": "job:apdex:ratio", "requests": "sum(job:requests:count)"}
    measured = measure(prom, ApdexCriterion(name="a", metric="apdex", t="1s", min=0.5, query=query))
    release = measured["release"]
    assert (release.value, release.samples) == (0.9, 11)
    assert release.variance == pytest.approx(0.9 * 0.1 * 11 / 10)

    prom.on("job:apdex:ratio:bad", vector("1.5"))
    bad = ApdexCriterion(name="a", metric="apdex", t="1s", min=0.5, query="job:apdex:ratio:bad")
    with pytest.raises(ProviderError, match=r"expected an Apdex score from 0 to 1, got 1\.5"):
        measure(prom, bad)


def test_raw_counts_that_disagree_are_an_error(prom):
    prom.on("sum(a)", vector("10"))
    prom.on("sum(b)", vector("4"))
    with pytest.raises(ProviderError, match="got 10 errors of 4 requests"):
        measure(prom, error_rate(query={"errors": "sum(a)", "requests": "sum(b)"}))


def test_warnings_are_partial_data_noted_in_the_details(prom):
    warned = vector("100") | {"warnings": ["some series were dropped"]}
    prom.on(REQUESTS % "3600s", warned)
    prom.on(REQUESTS % "1800s", vector("100"))
    prom.on(ERRORS % "3600s", vector("1"))
    prom.on(ERRORS % "1800s", vector("1"))
    measured = measure(prom, error_rate())
    baseline, release = measured["baseline"], measured["release"]
    assert baseline.value == 0.01  # still data, but said to be partial
    assert baseline.details["warnings (partial data)"] == 1
    assert baseline.notes == ("Prometheus warned (partial data): some series were dropped",)
    assert "warnings (partial data)" not in release.details and release.notes == ()


# --- how far the data reaches (data_end) --------------------------------------------------------


def test_data_end_is_the_time_of_the_newest_sample_the_counts_were_read_from(prom):
    prom.on(REQUESTS % "3600s", vector("1200"))
    prom.on(ERRORS % "3600s", vector("6"))
    prom.on(REQUESTS % "1800s", vector("600"))
    prom.on(ERRORS % "1800s", vector("3"))
    # What Prometheus answers for max(timestamp(…)) at each step: the time of the sample the
    # lookback picked, not the step's. The baseline's series was scraped up to its very end; the
    # release's went stale after its sample at 1795417923.5 (the steps after it find nothing).
    prom.on_range(
        NEWEST,
        matrix([[1795417198.2, "1795417185.25"], [1795417200, "1795417200"]]),
        matrix([[1795417922.4, "1795417908.5"], [1795417924.2, "1795417923.5"]]),
    )
    measured = measure(prom, error_rate())
    # 1795417200 s is DEPLOY (07:00:00); 1795417923.5 - 1795417200 = 723.5 s = 12 min 3.5 s
    assert measured["baseline"].data_end == DEPLOY
    assert measured["release"].data_end == DEPLOY + timedelta(minutes=12, seconds=3.5)
    # One range query per window over its requests counter, its steps counted back from the end:
    # the baseline's 3,600,000 ms in 1,000 steps of 3,600 ms starts at 1795417200 - 3600 s; the
    # release's 1,800,000 ms in steps of 1,800 ms starts at the deploy.
    assert prom.ranged == [
        {"query": NEWEST, "start": "1795413600.000", "end": "1795417200.000", "step": "3.600"},
        {"query": NEWEST, "start": "1795417200.000", "end": "1795419000.000", "step": "1.800"},
    ]
    assert measured["release"].query.endswith(
        f"{NEWEST}\n# range query from 1795417200.000 to 1795419000.000 step 1.800s: the time "
        "of the newest sample (data end)"
    )


def test_latency_reads_the_data_end_of_the_histogram_count(prom):
    quantile = (
        "histogram_quantile(0.95, sum by (le) (increase(http_request_duration_seconds_bucket"
        '{job="shop", path=~"/api/.*"}[1800s])))'
    )
    prom.on(COUNT.replace('"shop"', '"shop", path=~"/api/.*"') % "1800s", vector("100"))
    prom.on(quantile, vector("0.25"))
    newest = 'max(timestamp(http_request_duration_seconds_count{job="shop", path=~"/api/.*"}))'
    prom.on_range(newest, matrix([[1795418999.0, "1795418995.125"]]))
    criterion = LatencyCriterion(name="p95", metric="latency", max="1s", filter='path=~"/api/.*"')
    release = provider(prom.url).measure(MetricRequest(criterion), [RELEASE])["release"]
    # 1795418995.125 - 1795417200 = 1795.125 s = 29 min 55.125 s after the deploy
    assert release.data_end == DEPLOY + timedelta(minutes=29, seconds=55.125)


def test_no_data_end_without_data_or_a_series_to_ask_about(prom):
    prom.on(REQUESTS % "3600s", vector())  # no requests at all: no data, nothing to date
    prom.on(REQUESTS % "1800s", vector("500"))
    prom.on(ERRORS % "1800s", vector("5"))
    measured = measure(prom, error_rate())  # the range answer finds no series: does not say
    assert [m.data_end for m in measured.values()] == [None, None]
    assert [r["end"] for r in prom.ranged] == ["1795419000.000"]

    prom.ranged.clear()
    prom.on("sum(rate(orders_total[1800s]))", vector("3"))
    prom.on("sum(rate(orders_total[3600s]))", vector("4"))
    raw = CustomCriterion(
        name="c", metric="custom", query="sum(rate(orders_total[$window]))", min=1
    )
    measured = measure(prom, raw)  # a raw query's series are its author's to know
    assert [m.data_end for m in measured.values()] == [None, None]
    assert prom.ranged == []


@pytest.mark.parametrize(
    ("days", "step", "start"),
    [
        # 604,800,000 ms / 1,000 steps = 604,800 ms, more than the 5-minute lookback: 300,000 ms
        # steps, 2,016 of them, from exactly the window's start (1795417200 - 604800 s)
        (7, "300.000", "1794812400.000"),
        # 5,184,000,000 ms in at most 10,999 steps (11,000 points): ceil(…/10,999) = 471,316 ms;
        # 10,998 whole steps = 5,183,533,368 ms back from the end: 1795417200 - 5183533.368 s
        (60, "471.316", "1790233666.632"),
    ],
)
def test_long_windows_keep_within_the_lookback_and_the_points_limit(prom, days, step, start):
    window = f"{days * 86400}s"
    prom.on(REQUESTS % window, vector("1000"))
    prom.on(ERRORS % window, vector("1"))
    long = TimeWindow("baseline", DEPLOY - timedelta(days=days), DEPLOY)
    provider(prom.url).measure(MetricRequest(error_rate()), [long])
    assert prom.ranged == [{"query": NEWEST, "start": start, "end": "1795417200.000", "step": step}]


def test_a_range_answer_that_is_no_matrix_is_an_error(prom):
    prom.on(REQUESTS % "1800s", vector("10"))
    prom.on(ERRORS % "1800s", vector("0"))
    prom.on_range(NEWEST, vector("1795418990"))
    with pytest.raises(ProviderError, match="expected a matrix from a range query, got a vector"):
        provider(prom.url).measure(MetricRequest(error_rate()), [RELEASE])


# --- data_end against a real Prometheus ---------------------------------------------------------


def _openmetrics(first: datetime, samples: int) -> str:
    """Requests of a shop every 15 s from `first`, each sample 250 ms after a whole second: one in
    eleven failed."""
    lines = ["# TYPE http_requests counter"]
    for k in range(samples):
        at = f"{first.timestamp() + 15 * k:.3f}"
        lines.append(f'http_requests_total{{job="shop",code="200"}} {10 * k} {at}')
        lines.append(f'http_requests_total{{job="shop",code="500"}} {k} {at}')
    return "\n".join([*lines, "# EOF", ""])


@pytest.mark.server
def test_data_end_on_a_real_prometheus_is_the_last_backfilled_sample(tmp_path):
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    first = hour + timedelta(milliseconds=250)
    # samples k = 0..160 at hour + 15k s + 250 ms: the last at 2,400.25 s = 40 min 0.25 s
    backfill(tmp_path, _openmetrics(first, 161))
    baseline = TimeWindow("baseline", hour, hour + timedelta(minutes=20))
    # the release ends 10 minutes after the data: far past the 5-minute lookback
    release = TimeWindow("release", hour + timedelta(minutes=20), hour + timedelta(minutes=50))
    with running_prometheus(tmp_path, []) as url:
        measured = provider(url).measure(MetricRequest(error_rate()), [baseline, release])
    # baseline: the last sample at or before 20 min (1,200 s) is k = 79 at 1,185.25 s
    assert measured["baseline"].data_end == hour + timedelta(minutes=19, seconds=45.25)
    # release: the last sample of all, k = 160 at 2,400.25 s
    assert measured["release"].data_end == hour + timedelta(minutes=40, seconds=0.25)
    assert measured["release"].has_data  # increase() still reads the 20 min the data covers


def _last_sample(url: str, selector_text: str, at: datetime) -> datetime:
    """The time of the newest raw sample, read as a range selector: what Prometheus stored."""
    answer = requests.post(
        f"{url}/api/v1/query",
        data={"query": f"{selector_text}[5m]", "time": at.timestamp()},
        timeout=5,
    ).json()
    newest = max(float(t) for series in answer["data"]["result"] for t, _ in series["values"])
    return datetime.fromtimestamp(round(newest * 1000) / 1000, UTC)


def _until(check, what: str, within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {within_s:g} s")
        time.sleep(0.2)


@pytest.mark.server
@pytest.mark.slow
def test_data_end_on_a_real_prometheus_is_the_last_scrape_of_a_stopped_exporter(
    tmp_path, api_server: HTTPServer
):
    scrapes = {"served": 0, "stopped": False}

    def exporter(request: Request) -> Response:
        if scrapes["stopped"]:
            return Response("exporter stopped", status=503)
        scrapes["served"] += 1
        n = scrapes["served"]
        text = (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{code="200"}} {10 * n}\n'
            f'http_requests_total{{code="500"}} {n}\n'
        )
        return Response(text, content_type="text/plain; version=0.0.4")

    api_server.expect_request("/metrics").respond_with_handler(exporter)
    target = api_server.url_for("/").split("//", 1)[1].rstrip("/")
    scrape = {"job_name": "shop", "static_configs": [{"targets": [target]}]}
    # A 2 s scrape against 1 s steps (a 60 s window): some step falls between the last sample and
    # the staleness marker the first failed scrape writes, so the last sample is found exactly.
    with running_prometheus(tmp_path, [scrape], scrape_interval="2s") as url:

        def up(value: str) -> bool:
            found = requests.post(f"{url}/api/v1/query", data={"query": "up"}, timeout=5).json()
            return [s["value"][1] for s in found["data"]["result"]] == [value]

        _until(lambda: scrapes["served"] >= 3 and up("1"), "3 scrapes")
        scrapes["stopped"] = True
        _until(lambda: up("0"), "a failed scrape")
        end = datetime.now(UTC)
        truth = _last_sample(url, 'http_requests_total{code="200"}', end)
        window = TimeWindow("release", end - timedelta(seconds=60), end)
        measured = provider(url).measure(MetricRequest(error_rate()), [window])["release"]
    assert measured.has_data
    assert measured.data_end == truth
    assert end - truth > timedelta(seconds=1.5)  # the window reaches past the data


# --- what goes wrong ----------------------------------------------------------------------------


def test_several_series_must_be_aggregated(prom):
    two = vector("1", "2", labels={"instance": "a:9090"})
    prom.on("up", two)
    with pytest.raises(ProviderError, match=r"expected one series, got 2 .*sum\(\.\.\.\)"):
        measure(prom, CustomCriterion(name="c", metric="custom", query="up", min=1))


def test_a_matrix_is_not_one_number(prom):
    matrix = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "2"]]}]},
    }
    prom.on("up[5m]", matrix)
    with pytest.raises(ProviderError, match=r"got a matrix: .*sum\(increase\(x\[\$window\]\)\)"):
        measure(prom, CustomCriterion(name="c", metric="custom", query="up[5m]", min=1))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            failure("bad_data", '1:14: parse error: unexpected ")"'),
            "bad_data\\): 1:14: parse error",
        ),
        (
            422,
            failure("execution", "many-to-many matching not allowed"),
            "execution\\): many-to-many",
        ),
        (200, failure("internal", "odd"), "internal\\): odd"),
    ],
)
def test_prometheus_errors_say_what_it_refused(prom, status, body, expected):
    prom.on(
        "rate(x[5m]",
        lambda: Response(json.dumps(body), status=status, content_type="application/json"),
    )
    with pytest.raises(
        ProviderError, match=f"Prometheus refused the query \\({expected}"
    ) as caught:
        measure(prom, CustomCriterion(name="c", metric="custom", query="rate(x[5m]", min=1))
    assert "rate(x[5m]" in (caught.value.query or "")
    assert len(prom.requests) == 1  # a refused query is not retried


def test_503_is_retried_then_reported(prom):
    timeout = failure("timeout", "query timed out in expression evaluation")
    prom.on(
        REQUESTS % "3600s",
        lambda: Response(json.dumps(timeout), status=503, content_type="application/json"),
    )
    with pytest.raises(ProviderError) as caught:
        measure(prom, error_rate(), retries=2)
    assert "503 SERVICE UNAVAILABLE" in str(caught.value)
    assert "query timed out" in str(caught.value) and "after 3 attempts" in str(caught.value)
    assert len(prom.requests) == 3


def test_429_waits_as_asked_then_succeeds(prom):
    calls = []

    def limited() -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response(json.dumps(vector("40")), content_type="application/json")

    prom.on(REQUESTS % "3600s", limited)
    prom.on(REQUESTS % "1800s", vector("10"))
    prom.on(ERRORS % "3600s", vector("2"))
    prom.on(ERRORS % "1800s", vector("1"))
    measured = measure(prom, error_rate())
    assert calls[1] - calls[0] >= 1.0
    assert (measured["baseline"].successes, measured["baseline"].samples) == (2, 40)


def test_401_names_the_variable_and_never_the_token(prom):
    prom.on(REQUESTS % "3600s", lambda: Response(f"bad token {TOKEN}", status=401))
    with pytest.raises(ProviderError) as caught:
        measure(prom, error_rate(), environ={"PROM_TOKEN": TOKEN}, token="${PROM_TOKEN}")
    message = str(caught.value)
    assert "401" in message and "check PROM_TOKEN" in message
    assert TOKEN not in message and TOKEN not in (caught.value.query or "")
    assert prom.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_basic_auth_and_extra_headers_from_variables(prom):
    prom.on(REQUESTS % "3600s", vector("1"))
    prom.on(REQUESTS % "1800s", vector("1"))
    prom.on(ERRORS % "3600s", vector("0"))
    prom.on(ERRORS % "1800s", vector("0"))
    measure(
        prom,
        error_rate(),
        environ={"PROM_PASSWORD": "pa55", "TENANT": "team-a"},
        username="gate",
        password="${PROM_PASSWORD}",
        headers={"X-Scope-OrgID": "${TENANT}", "X-Plain": "yes"},
    )
    sent = prom.requests[0]
    assert sent.authorization.type == "basic"
    assert (sent.authorization.username, sent.authorization.password) == ("gate", "pa55")
    assert (sent.headers["X-Scope-OrgID"], sent.headers["X-Plain"]) == ("team-a", "yes")


def test_a_slow_answer_times_out(prom):
    def slow() -> Response:
        time.sleep(1.0)
        return Response(json.dumps(vector("1")), content_type="application/json")

    prom.on(REQUESTS % "3600s", slow)
    with pytest.raises(ProviderError, match=r"no answer within 0.2 s \(timeout\) after 2 attempts"):
        measure(prom, error_rate(), timeout="200ms", retries=1)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"status":"success","data":{"resultType":"vec', r"not valid JSON \(cut short\?\)"),
        ('{"status":"success"}', "expected data with resultType and result"),
        (
            '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}',
            r'expected a sample \[time, "number"\]',
        ),
        (
            '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}',
            "finite, non-negative",
        ),
        (
            '{"status":"success","data":{"resultType":"vector","result":{"oops":1}}}',
            "expected a vector",
        ),
        ("[1, 2]", r'expected \{"status": "success"'),
    ],
)
def test_malformed_answers_are_errors_not_values(prom, body, expected):
    prom.on(REQUESTS % "3600s", lambda: Response(body, content_type="application/json"))
    with pytest.raises(ProviderError, match=expected):
        measure(prom, error_rate())


# --- what is refused at load time ---------------------------------------------------------------


def write(directory: Path, criteria: str, provider: str = "") -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: {DEPLOY.isoformat()}}}\n"
        "windows: {baseline: 1h, release: 30m}\n"
        "gate: {deadline: 20s}\n"
        "providers:\n"
        f"  prom: {{type: prometheus, url: 'http://127.0.0.1:9', selector: 'job=\"shop\"', {provider}}}\n"
        "journeys: {buy: [a, b]}\n"
        f"criteria:\n{criteria}"
    )
    return path


@pytest.mark.parametrize(
    ("criterion", "expected"),
    [
        (
            "{name: c, metric: conversion, journey: buy, min: 0.1}",
            "a prometheus provider serves error_rate, latency, apdex and custom, not conversion",
        ),
        ("{name: c, metric: engagement, measure: active_users, min: 1}", "not engagement"),
        ("{name: c, metric: feedback, scale: nps, min: 1}", "not feedback"),
        (
            "{name: c, metric: error_rate, query: 'job:errors:ratio', max: 1%}",
            "expected a mapping {errors: …, requests: …}: the gate needs both counts",
        ),
        ("{name: c, metric: custom, query: 'sum(rate(x[5m])', min: 1}", "')' is missing"),
        ("{name: c, metric: custom, query: 'x[$range]', min: 1}", "unknown placeholder $range"),
        (
            "{name: c, metric: custom, query: {value: x, trials: y}, min: 1}",
            "unknown part trials; expected {value: …} (optional: samples)",
        ),
        (
            "{name: c, metric: latency, query: {requests: x}, max: 1s}",
            "missing latency; expected {latency: …} (optional: requests)",
        ),
        (
            "{name: c, metric: error_rate, filter: 'status >= 500', max: 1%}",
            "expected PromQL label matchers",
        ),
        (
            "{name: c, metric: error_rate, errors: 'status >= 400', max: 1%}",
            "errors is a PromQL label matcher",
        ),
        (
            "{name: c, metric: custom, query: up, filter: 'a=\"b\"', min: 1}",
            "filter narrows the default queries only",
        ),
    ],
)
def test_what_prometheus_cannot_serve_is_refused_when_loading(tmp_path, criterion, expected):
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, f"  - {criterion}\n"))
    assert expected in str(caught.value)
    assert "cxe.yml:" in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("token: '${T}', username: u, password: '${P}'", "either token (bearer) or username"),
        ("username: u", "needs both username and password"),
        ("token: abc123", "environment variable reference"),
        ("selector: 'job=shop'", "expected PromQL label matchers"),
        ("requests_counter: 'http requests'", "expected a Prometheus metric name"),
    ],
)
def test_settings_are_checked_when_loading(tmp_path, provider, expected):
    path = write(tmp_path, "  - {name: c, metric: error_rate, max: 1%}\n", provider)
    path.write_text(path.read_text().replace("selector: 'job=\"shop\"', selector", "selector"))
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load(path)


def test_matchers_and_bucket_bounds_are_spelled_as_prometheus_does():
    assert parse_matchers('{job="shop",  path=~"/api/.*", }') == ['job="shop"', 'path=~"/api/.*"']
    assert parse_matchers("code!~'5..'") == ["code!~'5..'"]
    assert [le_text(x) for x in (0.5, 2.0, 0.025, 1e7, float("inf"))] == [
        "0.5",
        "2.0",
        "0.025",
        "1e+07",
        "+Inf",
    ]


# --- the gate, end to end -----------------------------------------------------------------------


def gate_file(directory: Path, url: str) -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"""
release: {{name: v2, deployed_at: "{DEPLOY.isoformat()}"}}
windows: {{baseline: 1h, release: 30m}}
gate: {{deadline: 20s}}
providers:
  prom:
    type: prometheus
    url: {url}
    token: ${{PROM_TOKEN}}
    selector: 'job="shop"'
    timeout: 500ms
    backoff: 10ms
    retries: 1
criteria:
  - {{name: errors, metric: error_rate, max_rise: 0.5pp}}
  - {{name: apdex, metric: apdex, t: 500ms, max_drop: 5%}}
"""
    )
    return path


def good_data(prom: FakePrometheus) -> None:
    prom.on(REQUESTS % "3600s", vector("10000"))
    prom.on(REQUESTS % "1800s", vector("5000"))
    prom.on(ERRORS % "3600s", vector("50"))
    prom.on(ERRORS % "1800s", vector("24"))
    prom.on(COUNT % "3600s", vector("10000"))
    prom.on(COUNT % "1800s", vector("5000"))
    prom.on(BUCKET % ("0.5", "3600s"), vector("9000"))
    prom.on(BUCKET % ("2.0", "3600s"), vector("9800"))
    prom.on(BUCKET % ("0.5", "1800s"), vector("4520"))
    prom.on(BUCKET % ("2.0", "1800s"), vector("4910"))


def test_the_gate_passes_a_good_release(tmp_path, prom, monkeypatch):
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    good_data(prom)
    report = evaluate(load(gate_file(tmp_path, prom.url)), now=DEPLOY + timedelta(hours=1))
    assert report.verdict == Verdict.PASS, report.summary
    errors, apdex = report.criteria
    assert (errors.value, errors.baseline) == (24 / 5000, 50 / 10000)
    assert (errors.samples, errors.baseline_samples) == (5000, 10000)
    assert apdex.value == pytest.approx((4520 + 390 / 2) / 5000)
    assert apdex.details["baseline"] == {"satisfied": 9000, "tolerating": 800, "frustrated": 200}
    assert 'le="0.5"' in apdex.queries["release"]
    assert TOKEN not in report.model_dump_json()


def test_an_outage_is_an_error_never_a_pass(tmp_path, prom, monkeypatch):
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    down = {"status": "error", "errorType": "unavailable", "error": f"no store (token {TOKEN})"}
    for query in (REQUESTS % "3600s", COUNT % "3600s"):
        prom.on(
            query, lambda: Response(json.dumps(down), status=503, content_type="application/json")
        )
    report = evaluate(load(gate_file(tmp_path, prom.url)), now=DEPLOY + timedelta(hours=1))
    assert report.verdict == Verdict.ERROR
    assert [c.verdict for c in report.criteria] == [Verdict.ERROR, Verdict.ERROR]
    assert "503" in report.criteria[0].message and "after 2 attempts" in report.criteria[0].message
    assert TOKEN not in report.model_dump_json()
    assert "no store (token ***)" in report.criteria[0].message


def test_a_missing_token_variable_is_an_error_naming_it(tmp_path, prom, monkeypatch):
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    report = evaluate(load(gate_file(tmp_path, prom.url)), now=DEPLOY + timedelta(hours=1))
    assert report.verdict == Verdict.ERROR
    assert "PROM_TOKEN is not set" in report.criteria[0].message
    assert prom.requests == []
