"""The `prometheus` provider against a loopback server answering in the shape of the Prometheus HTTP
API (/api/v1/query, /api/v1/query_range, /api/v1/labels): the queries it builds, the counts it
reads, the API's errors, TLS and credentials, and the gate end to end (its outages, secrets, no-data
disguises and units are the provider contract's, test_contract_*.py).
How far the data reaches (`data_end`) is also checked against a real Prometheus, backfilled and
scraping; tests/providers/test_prometheus_counts.py checks the counts against a real Prometheus and an app's
own request log, tests/providers/test_prometheus_server.py against a real Prometheus scraping the example
shop."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from loopback_prometheus import (
    BASELINE,
    BUCKETS,
    COUNT,
    COUNT_SERIES,
    DEPLOY,
    ERR,
    ERRORS,
    NEWEST,
    RELEASE,
    REQ,
    REQUESTS,
    FakePrometheus,
    before,
    born,
    by_le,
    exact,
    failure,
    has_label,
    kept,
    matrix,
    restarted,
    scrapes,
    series,
    vector,
)
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
from cxe_gate.providers import prometheus_counts
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.buckets import bucket_quantile
from cxe_gate.providers.prometheus import PrometheusProvider, PrometheusSettings
from cxe_gate.providers.promql import parse_matchers, re2_escape
from cxe_gate.results import Verdict

TOKEN = "prom-t0ken-5ecret-value"


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


def requests_and_errors(prom: FakePrometheus, baseline: tuple[str, str], release: tuple[str, str]):
    prom.on(REQUESTS("3600s"), vector(baseline[0]))
    prom.on(ERRORS("3600s"), vector(baseline[1]))
    prom.on(REQUESTS("1800s"), vector(release[0]))
    prom.on(ERRORS("1800s"), vector(release[1]))


# --- what it asks and what it makes of the answers ------------------------------------------------


def test_error_rate_counts_requests_and_errors_at_each_window_end(prom):
    requests_and_errors(prom, ("1200", "6"), ("612", "12"))
    measured = measure(prom, error_rate())

    baseline, release = measured["baseline"], measured["release"]
    assert (baseline.successes, baseline.samples, baseline.value) == (6, 1200, 6 / 1200)
    assert (release.successes, release.samples, release.value) == (12, 612, 12 / 612)
    assert release.details == {"successes": 12, "trials": 612, "requests": 612, "errors": 12}
    assert release.notes == ()  # nothing born or restarted in the window, and plenty of scrapes
    assert release.query == "\n".join(
        [
            REQUESTS("1800s"),
            restarted(REQ, "1800s"),
            born(REQ, "1800s"),
            scrapes(REQ, "1800s"),
            has_label("code", REQ, "1800s"),
            ERRORS("1800s"),
            restarted(ERR, "1800s"),
            "# instant queries at 2026-11-23T07:30:00.000+00:00 (time=1795419000.000)",
            NEWEST,
            "# range query from 1795417200.000 to 1795419000.000 step 1.800s: the time of the "
            "newest sample (data end)",
        ]
    )
    # form-encoded POSTs, evaluated at each window's end
    assert all(
        r.method == "POST" and r.mimetype == "application/x-www-form-urlencoded"
        for r in prom.requests
    )
    instant = [r for r in prom.requests if r.path == "/api/v1/query"]
    assert {r.form["time"] for r in instant} == {"1795417200.000", "1795419000.000"}


def test_no_error_series_is_zero_errors_but_no_requests_is_no_data(prom):
    prom.on(REQUESTS("3600s"), vector())
    prom.on(REQUESTS("1800s"), vector("500"))
    prom.on(ERRORS("1800s"), vector())  # no 5xx series at all: an empty vector
    measured = measure(prom, error_rate())
    assert (measured["baseline"].value, measured["baseline"].samples) == (None, 0)
    assert not measured["baseline"].has_data
    # the counter exists (/api/v1/labels knows it): the window simply has no samples
    assert measured["baseline"].notes == (
        "no samples of http_requests_total in the window (the metric exists)",
    )
    # the status label exists on the counter, so no error series is 0 errors
    assert (measured["release"].value, measured["release"].successes) == (0.0, 0)
    assert (has_label("code", REQ, "1800s"), "release") in prom.asked
    # no data in the baseline: its errors were never asked for
    assert (ERRORS("3600s"), "baseline") not in prom.asked


def test_filter_and_errors_become_label_matchers(prom):
    scope = 'http_requests_total{job="shop", path=~"/api/.*"}'
    errors = 'http_requests_total{job="shop", path=~"/api/.*", code=~"5..|429"}'
    prom.on(exact(scope, "3600s"), vector("100"))
    prom.on(exact(scope, "1800s"), vector("100"))
    prom.on(exact(errors, "3600s"), vector("1"))
    prom.on(exact(errors, "1800s"), vector("3"))
    measured = measure(prom, error_rate(filter='path=~"/api/.*"', errors='code=~"5..|429"'))
    assert [m.successes for m in measured.values()] == [1, 3]


# --- the status label ----------------------------------------------------------------------------


def test_errors_read_from_a_label_the_counter_lacks_are_an_error_not_a_pass(prom):
    # The app labels the status `status`; the default matcher reads `code`, which no series has:
    # code=~"5.." matches nothing, and 0 errors of 2,000 would have passed any threshold.
    requests_and_errors(prom, ("2000", "0"), ("2000", "0"))
    for window in ("3600s", "1800s"):
        prom.on(has_label("code", REQ, window), vector("9"))  # one group: without `code`
    prom.labels[REQ] = ["__name__", "instance", "job", "method", "route", "status"]
    with pytest.raises(ProviderError) as caught:
        measure(prom, error_rate())
    message = str(caught.value)
    assert "errors are read from the label 'code' (code=~\"5..\")" in message
    assert "its labels are: instance, job, method, route, status" in message
    assert (
        "Set status_label to the label that holds the status, e.g. status_label: status" in message
    )
    # the label names are those of the window's series (both windows are read at once: the
    # message is the first window's, the baseline's)
    (labels,) = [
        r
        for r in prom.requests
        if r.path == "/api/v1/labels" and r.form["start"] == "1795413600.000"
    ]
    assert (labels.form["match[]"], labels.form["start"], labels.form["end"]) == (
        REQ,
        "1795413600.000",
        "1795417200.000",
    )
    assert (ERRORS("3600s"), "baseline") not in prom.asked


def test_a_criterion_s_own_errors_label_is_checked_too(prom):
    requests_and_errors(prom, ("100", "0"), ("100", "0"))
    outcome = 'http_requests_total{job="shop", outcome="failure"}'
    for window in ("3600s", "1800s"):
        prom.on(has_label("outcome", REQ, window), vector("3"))  # no series in the window has it
    # ...nor any in the month before: a misspelled label
    with pytest.raises(ProviderError, match=r"label 'outcome'.*Set the criterion's errors to"):
        measure(prom, error_rate(errors='outcome="failure"'))
    # A label only failed requests carry (seen in the month before): no failure in the window
    prom.labels[REQ] = ["__name__", "code", "job", "outcome"]
    prom.on(exact(outcome, "3600s"), vector())
    prom.on(exact(outcome, "1800s"), vector())
    measured = measure(prom, error_rate(errors='outcome="failure"'))
    assert [m.successes for m in measured.values()] == [0, 0]


def test_series_without_the_status_label_are_noted(prom):
    requests_and_errors(prom, ("100", "1"), ("100", "2"))
    with_and_without = series(({"code": "200"}, "10"), ({"code": "500"}, "2"), ({}, "4"))
    prom.on(has_label("code", REQ, "1800s"), with_and_without)
    measured = measure(prom, error_rate())
    assert measured["release"].notes == (
        "4 of 16 series of http_requests_total{job=\"shop\"} have no 'code' label: their "
        "requests are counted, their errors cannot be",
    )
    assert measured["baseline"].notes == ()


# --- exact counts ---------------------------------------------------------------------------------


def test_a_restarted_counter_is_read_sample_by_sample(prom, monkeypatch):
    # Pod a restarted in place during the release window: its series counts 900 before the window,
    # 930 and 960, then 15 (a reset), 40 and 70. It added 30 + 30 + 15 + 25 + 30 = 130; the series
    # that did not restart added 500, summed by Prometheus.
    pod = {"__name__": "http_requests_total", "job": "shop", "pod": "a", "code": "200"}
    narrowed = 'http_requests_total{job="shop", code="200", pod="a"}'
    requests_and_errors(prom, ("1000", "0"), ("500", "0"))
    prom.on(restarted(REQ, "1800s"), series((pod, "5")))
    # At most 3 raw samples per answer, and a window too big for that is cut in 2: each half is
    # counted like a window, per series; the first holds the reset (3 samples, read raw), the
    # second rose from 15 to 70 (55, as Prometheus subtracts it).
    monkeypatch.setattr(prometheus_counts, "_RAW_SAMPLES", 3)
    monkeypatch.setattr(prometheus_counts, "_SPLIT", 2)
    t = 1795417200  # the release window's start
    first, second = f"{t + 900}.000", f"{t + 1800}.000"
    prom.on_at(kept(narrowed, "900s"), first, series())
    prom.on_at(restarted(narrowed, "900s"), first, series((pod, "3")))
    prom.on_at(before(narrowed, "900s"), first, series((pod, "900")))
    prom.on_at(
        f"{narrowed}[900s]",
        first,
        matrix([[t + 100, "930"], [t + 600, "960"], [t + 700, "15"]], labels=[pod]),
    )
    prom.on_at(kept(narrowed, "900s"), second, series((pod, "55")))
    measured = measure(prom, error_rate())

    assert measured["release"].samples == 500 + 130
    assert measured["baseline"].samples == 1000
    assert measured["release"].notes == (
        "series of http_requests_total: 1 restarted its counter (a reset: read sample by "
        "sample). The counts are exact differences between samples, where increase() would "
        "extrapolate and drop each new series' first count",
    )
    shown = measured["release"].query or ""
    assert f"{narrowed}[900s]  # at time={first}" in shown


def test_a_series_caught_by_the_narrowing_but_not_restarted_is_left_to_prometheus(prom):
    # Pods a and b both list code 200 and 500: the narrowing (code=~"200|500", pod=~"a|b") also
    # selects a's 500 series and b's 200 series, which Prometheus already summed.
    a200 = {"job": "shop", "pod": "a", "code": "200"}
    b500 = {"job": "shop", "pod": "b", "code": "500"}
    narrowed = 'http_requests_total{job="shop", code=~"200|500", pod=~"a|b"}'
    requests_and_errors(prom, ("10", "0"), ("0", "0"))
    prom.on(restarted(REQ, "1800s"), series((a200, "2"), (b500, "2")))
    prom.on(before(narrowed, "1800s"), series((a200, "50"), (b500, "7")))
    others = [
        {"job": "shop", "pod": "a", "code": "500"},
        {"job": "shop", "pod": "b", "code": "200"},
    ]
    prom.on(
        f"{narrowed}[1800s]",
        matrix(
            [[1795417300, "4"], [1795417900, "6"]],
            [[1795417300, "3"], [1795417900, "9"]],
            [[1795417300, "1000"], [1795417900, "1100"]],
            [[1795417300, "1000"], [1795417900, "1100"]],
            labels=[a200, b500, *others],
        ),
    )
    release = measure(prom, error_rate())["release"]
    # a's 200: reset to 4, then +2 → 6; b's 500: reset to 3, then +6 → 9
    assert release.samples == 6 + 9


def test_new_series_and_a_short_window_are_noted(prom):
    requests_and_errors(prom, ("3000", "3"), ("40", "2"))
    prom.on(born(REQ, "1800s"), vector("2"))
    prom.on(scrapes(REQ, "1800s"), vector("2"))
    release = measure(prom, error_rate())["release"]
    assert release.notes == (
        "series of http_requests_total: 2 began inside the window (counted from 0). The counts "
        "are exact differences between samples, where increase() would extrapolate and drop "
        "each new series' first count",
        "the window holds only 2 scrape(s) of http_requests_total (about one every 900 s): its "
        "counts run from the last scrape at or before its start to its last scrape, so up to a "
        "scrape interval of requests at each edge may belong to the neighbouring window. Make "
        "the window longer",
    )


# --- a metric that is not there ------------------------------------------------------------------


def test_a_metric_prometheus_has_never_seen_is_an_error_naming_it(prom):
    prom.on(REQUESTS("3600s"), vector())
    prom.labels["http_requests_total"] = []  # no series at any time
    prom.names = ["shop_http_requests_total", "shop_http_request_duration_seconds_bucket", "up"]
    with pytest.raises(ProviderError) as caught:
        measure(prom, error_rate())
    message = str(caught.value)
    assert "metric http_requests_total not found" in message
    assert "check requests_counter" in message and "/api/v1/label/__name__/values" in message
    assert "did you mean requests_counter: shop_http_requests_total?" in message
    assert "no series of it in the 31 days up to the window's end" in message
    # asked over those 31 days: 1795417200 - 31 × 86,400 s
    (labels,) = [r for r in prom.requests if r.path == "/api/v1/labels"]
    assert dict(labels.form) == {
        "match[]": "http_requests_total",
        "start": "1792735200.000",
        "end": "1795417200.000",
    }


def test_a_selector_that_never_matches_is_an_error(prom):
    prom.on(REQUESTS("3600s"), vector())
    prom.labels[REQ] = []
    with pytest.raises(
        ProviderError, match='no series of http_requests_total match the selector job="shop"'
    ):
        measure(prom, error_rate())


# --- histograms: Apdex and percentiles ------------------------------------------------------------


def test_apdex_from_buckets_at_t_and_4t(prom):
    prom.on(COUNT("3600s"), vector("1000"))
    prom.on(COUNT("1800s"), vector("400"))
    prom.on(BUCKETS("3600s"), by_le({"0.1": "500", "0.5": "900", "2.0": "980", "+Inf": "1000"}))
    prom.on(BUCKETS("1800s"), by_le({"0.1": "100", "0.5": "300", "2.0": "360", "+Inf": "400"}))
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


def test_apdex_reads_bounds_as_numbers_however_they_are_written(prom):
    # client_golang writes le="2", prometheus_client "2.0"; two such apps under one selector are
    # one bucket of 60 + 35
    prom.on(COUNT("3600s"), vector("100"))
    prom.on(COUNT("1800s"), vector("100"))
    buckets = by_le({"0.5": "80", "2": "60", "2.0": "35", "+Inf": "100"})
    prom.on(BUCKETS("3600s"), buckets)
    prom.on(BUCKETS("1800s"), buckets)
    measured = measure(prom, ApdexCriterion(name="a", metric="apdex", t="0.5s", min=0.8))
    assert measured["release"].details == {"satisfied": 80, "tolerating": 15, "frustrated": 5}


def test_apdex_with_t_off_the_buckets_says_which_bounds_exist(prom):
    prom.on(COUNT("3600s"), vector("100"))
    prom.on(BUCKETS("3600s"), by_le({"0.5": "90", "2.0": "99", "+Inf": "100"}))
    with pytest.raises(ProviderError) as caught:
        measure(prom, ApdexCriterion(name="a", metric="apdex", t="300ms", min=0.8))
    assert "bucket bound at 0.3 s" in str(caught.value)
    assert "its bounds are: 0.5, 2, +Inf (s)" in str(caught.value)


def test_apdex_counts_failures_as_frustrated_when_the_histogram_has_the_status(prom):
    prom.on(COUNT("3600s"), vector("100"))
    prom.on(COUNT("1800s"), vector("100"))
    ok = 'http_request_duration_seconds_bucket{job="shop", code!~"5.."}'
    for window in ("3600s", "1800s"):
        prom.on(BUCKETS(window, ok), by_le({"0.5": "70", "2.0": "80", "+Inf": "82"}))
    criterion = ApdexCriterion(name="a", metric="apdex", t="500ms", min=0.8)
    measured = measure(prom, criterion, status_on_histogram=True)
    assert measured["release"].details == {"satisfied": 70, "tolerating": 10, "frustrated": 20}
    assert (has_label("code", COUNT_SERIES, "1800s"), "release") in prom.asked


def test_apdex_on_a_histogram_in_milliseconds_reads_t_in_milliseconds(prom):
    count = 'http_request_duration_milliseconds_count{job="shop"}'
    buckets = 'http_request_duration_milliseconds_bucket{job="shop"}'
    for window in ("3600s", "1800s"):
        prom.on(exact(count, window), vector("100"))
        prom.on(BUCKETS(window, buckets), by_le({"500.0": "70", "2000.0": "90", "+Inf": "100"}))
    criterion = ApdexCriterion(name="a", metric="apdex", t="500ms", min=0.8)
    measured = measure(prom, criterion, duration_histogram="http_request_duration_milliseconds")
    assert measured["release"].details == {"satisfied": 70, "tolerating": 20, "frustrated": 10}


LATENCY_BUCKETS = {"0.1": "500", "0.25": "1500", "0.5": "1950", "1.0": "2000", "+Inf": "2000"}
# p95 of 2,000: rank 1,900, in the bucket 0.25-0.5 s holding 1,950 - 1,500 = 450, 400 into it
P95_S = 0.25 + 0.25 * 400 / 450


def test_latency_percentile_from_exact_bucket_counts_in_milliseconds(prom):
    prom.on(COUNT("3600s"), vector("2000"))
    prom.on(BUCKETS("3600s"), by_le(LATENCY_BUCKETS))
    prom.on(COUNT("1800s"), vector("0"))  # no requests: no data
    measured = measure(prom, LatencyCriterion(name="p95", metric="latency", max="800ms"))
    baseline = measured["baseline"]
    assert baseline.value == pytest.approx(P95_S * 1000)  # 472.2 ms
    assert baseline.samples == 2000
    assert baseline.details == {"requests": 2000, "seconds": pytest.approx(P95_S)}
    # a bucket-based percentile is an interpolation, and the report says so
    assert baseline.notes == (
        "p95 is interpolated from bucket counts (as histogram_quantile() does): linearly inside "
        "the bucket 250–500 ms that holds it, so the exact p95 can lie anywhere in that bucket",
    )
    assert (measured["release"].value, measured["release"].samples) == (None, 0)


@pytest.mark.parametrize(
    ("histogram", "options", "note"),
    [
        ("http_request_duration_milliseconds", {}, None),
        ("http_request_duration_ms", {}, None),
        ("http_request_latency", {"duration_unit": "ms"}, None),
        (
            "http_request_latency",
            {},
            "http_request_latency is read in milliseconds: its name does not say (_seconds, "
            "_milliseconds) and its bucket bounds (100, 250, 500, 1000) look like milliseconds; "
            "set duration_unit to be sure",
        ),
    ],
)
def test_a_histogram_in_milliseconds_is_not_read_as_seconds(prom, histogram, options, note):
    # The same observations as LATENCY_BUCKETS, in milliseconds: p95 = 472.2 ms, not 472,222 ms.
    in_ms = {"100": "500", "250": "1500", "500": "1950", "1000": "2000", "+Inf": "2000"}
    for window in ("3600s", "1800s"):
        prom.on(exact(f'{histogram}_count{{job="shop"}}', window), vector("2000"))
        prom.on(BUCKETS(window, f'{histogram}_bucket{{job="shop"}}'), by_le(in_ms))
    criterion = LatencyCriterion(name="p95", metric="latency", max="800ms")
    release = measure(prom, criterion, duration_histogram=histogram, **options)["release"]
    assert release.value == pytest.approx(P95_S * 1000)
    assert release.details["seconds"] == pytest.approx(P95_S)
    assert (note in release.notes) if note else len(release.notes) == 1


def test_a_percentile_above_every_bucket_is_the_highest_bound_and_said_so(prom):
    for window in ("3600s", "1800s"):
        prom.on(COUNT(window), vector("100"))
        prom.on(BUCKETS(window), by_le({"0.5": "80", "1.0": "90", "+Inf": "100"}))
    criterion = LatencyCriterion(name="p", metric="latency", percentile=99.9, max="2s")
    release = measure(prom, criterion)["release"]
    assert release.value == 1000.0
    assert release.notes == (
        "p99.9 lies above the highest bucket bound (1000 ms): reported as that bound, so the "
        "true value is higher",
    )


def test_a_histogram_without_an_inf_bucket_is_an_error(prom):
    prom.on(COUNT("3600s"), vector("100"))
    prom.on(BUCKETS("3600s"), by_le({"0.5": "80", "1.0": "90"}))
    with pytest.raises(ProviderError, match=r"has no \+Inf bucket"):
        measure(prom, LatencyCriterion(name="p", metric="latency", max="2s"))


def test_bucket_quantiles_as_histogram_quantile_computes_them():
    buckets = {0.1: 500.0, 0.25: 1500.0, 0.5: 1950.0, 1.0: 2000.0, float("inf"): 2000.0}
    found = bucket_quantile(0.95, buckets)
    assert found is not None
    assert (found.value, found.lower, found.upper) == (pytest.approx(P95_S), 0.25, 0.5)
    # the first bucket starts at 0: the median, rank 1,000 of 500 at 0.1 s... is in 0.1-0.25
    assert bucket_quantile(0.5, buckets).value == pytest.approx(0.1 + 0.15 * 500 / 1000)
    assert bucket_quantile(0.1, buckets).value == pytest.approx(0.1 * 200 / 500)
    # counts read at slightly different moments may dip: kept monotonic, as Prometheus does
    dipped = {0.1: 500.0, 0.25: 490.0, float("inf"): 1000.0}
    assert bucket_quantile(0.5, dipped).value == pytest.approx(0.1)
    assert bucket_quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None  # no observations
    assert bucket_quantile(0.5, {0.1: 5.0, 0.2: 9.0}) is None  # no +Inf bucket


# --- raw queries ----------------------------------------------------------------------------------


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


def test_a_raw_query_mapping_gives_counts_said_to_be_extrapolated(prom):
    parts = {
        "errors": "sum(increase(failed_total[$window]))",
        "requests": "sum(increase(all_total[$window]))",
    }
    for window, (failed, total) in (("3600s", ("2", "400")), ("1800s", ("9", "300.3"))):
        prom.on(f"sum(increase(failed_total[{window}]))", vector(failed))
        prom.on(f"sum(increase(all_total[{window}]))", vector(total))
    measured = measure(prom, error_rate(query=parts))
    # increase() extrapolates: its counts are rounded to whole requests, and the report says so
    assert [(m.successes, m.samples) for m in measured.values()] == [(2, 400), (9, 300)]
    assert measured["release"].notes == (
        "read with the query's own increase()/rate(): Prometheus extrapolates them to the "
        "window's edges and drops the first count of each series that begins inside the window, "
        "so counts are estimates (the default queries count exactly)",
    )

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
    requests_and_errors(prom, ("100", "1"), ("100", "1"))
    prom.on(REQUESTS("3600s"), vector("100") | {"warnings": ["some series were dropped"]})
    measured = measure(prom, error_rate())
    baseline, release = measured["baseline"], measured["release"]
    assert baseline.value == 0.01  # still data, but said to be partial
    assert baseline.details["warnings (partial data)"] == 1
    assert baseline.notes == ("Prometheus warned (partial data): some series were dropped",)
    assert "warnings (partial data)" not in release.details and release.notes == ()


# --- how far the data reaches (data_end) --------------------------------------------------------


def test_data_end_is_the_time_of_the_newest_sample_the_counts_were_read_from(prom):
    requests_and_errors(prom, ("1200", "6"), ("600", "3"))
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
    # release's 1,800,000 ms in steps of 1,800 ms starts at the deploy. (The windows are read at
    # once, in either order.)
    assert sorted(prom.ranged, key=lambda form: form["start"]) == [
        {"query": NEWEST, "start": "1795413600.000", "end": "1795417200.000", "step": "3.600"},
        {"query": NEWEST, "start": "1795417200.000", "end": "1795419000.000", "step": "1.800"},
    ]
    assert measured["release"].query.endswith(
        f"{NEWEST}\n# range query from 1795417200.000 to 1795419000.000 step 1.800s: the time "
        "of the newest sample (data end)"
    )


def test_latency_reads_the_data_end_of_the_histogram_count(prom):
    api = '{job="shop", path=~"/api/.*"}'
    prom.on(exact(f"http_request_duration_seconds_count{api}", "1800s"), vector("100"))
    prom.on(
        BUCKETS("1800s", f"http_request_duration_seconds_bucket{api}"),
        by_le({"0.25": "97", "+Inf": "100"}),
    )
    newest = f"max(timestamp(http_request_duration_seconds_count{api}))"
    prom.on_range(newest, matrix([[1795418999.0, "1795418995.125"]]))
    criterion = LatencyCriterion(name="p95", metric="latency", max="1s", filter='path=~"/api/.*"')
    release = provider(prom.url).measure(MetricRequest(criterion), [RELEASE])["release"]
    # 1795418995.125 - 1795417200 = 1795.125 s = 29 min 55.125 s after the deploy
    assert release.data_end == DEPLOY + timedelta(minutes=29, seconds=55.125)


def test_no_data_end_without_data_or_a_series_to_ask_about(prom):
    prom.on(REQUESTS("3600s"), vector())  # no requests at all: no data, nothing to date
    prom.on(REQUESTS("1800s"), vector("500"))
    prom.on(ERRORS("1800s"), vector("5"))
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
    prom.on(REQUESTS(window), vector("1000"))
    prom.on(ERRORS(window), vector("1"))
    long = TimeWindow("baseline", DEPLOY - timedelta(days=days), DEPLOY)
    provider(prom.url).measure(MetricRequest(error_rate()), [long])
    assert prom.ranged == [{"query": NEWEST, "start": start, "end": "1795417200.000", "step": step}]


def test_a_range_answer_that_is_no_matrix_is_an_error(prom):
    prom.on(REQUESTS("1800s"), vector("10"))
    prom.on(ERRORS("1800s"), vector("0"))
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
        "rate(x[5m])",
        lambda: Response(json.dumps(body), status=status, content_type="application/json"),
    )
    with pytest.raises(
        ProviderError, match=f"Prometheus refused the query \\({expected}"
    ) as caught:
        measure(prom, CustomCriterion(name="c", metric="custom", query="rate(x[5m])", min=1))
    assert "rate(x[5m])" in (caught.value.query or "")
    # A refused query is not retried: one request for each window, the two read at once.
    assert len(prom.requests) == 2


def test_503_is_retried_then_reported(prom):
    timeout = failure("timeout", "query timed out in expression evaluation")
    prom.on(
        REQUESTS("3600s"),
        lambda: Response(json.dumps(timeout), status=503, content_type="application/json"),
    )
    with pytest.raises(ProviderError) as caught:
        measure(prom, error_rate(), retries=2)
    assert "503 SERVICE UNAVAILABLE" in str(caught.value)
    assert "query timed out" in str(caught.value) and "after 3 attempts" in str(caught.value)
    assert prom.asked.count((REQUESTS("3600s"), "baseline")) == 3


def test_401_names_the_variable_and_never_the_token(prom):
    prom.on(REQUESTS("3600s"), lambda: Response(f"bad token {TOKEN}", status=401))
    with pytest.raises(ProviderError) as caught:
        measure(prom, error_rate(), environ={"PROM_TOKEN": TOKEN}, token="${PROM_TOKEN}")
    message = str(caught.value)
    assert "401" in message and "check PROM_TOKEN" in message
    assert TOKEN not in message and TOKEN not in (caught.value.query or "")
    assert prom.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_basic_auth_and_extra_headers_from_variables(prom):
    prom.on(REQUESTS("3600s"), vector("1"))
    prom.on(REQUESTS("1800s"), vector("1"))
    prom.on(ERRORS("3600s"), vector("0"))
    prom.on(ERRORS("1800s"), vector("0"))
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
    prom.on(REQUESTS("3600s"), lambda: Response(body, content_type="application/json"))
    with pytest.raises(ProviderError, match=expected):
        measure(prom, error_rate())


def test_a_basic_credential_echoed_by_a_proxy_is_redacted(prom):
    # A proxy in front of Prometheus quotes the request's headers in its error page: the base64
    # user:password pair must not reach a message or a report, only the password itself did.
    pair = "Z2F0ZTpwYTU1"  # base64 of gate:pa55
    echoed = []

    def echo() -> Response:
        echoed.append(prom.requests[-1].headers["Authorization"])
        return Response(f"bad gateway (Authorization: {echoed[-1]})", 502)

    prom.on(REQUESTS("3600s"), echo)
    with pytest.raises(ProviderError) as caught:
        measure(
            prom,
            error_rate(),
            environ={"PROM_PASSWORD": "pa55"},
            username="gate",
            password="${PROM_PASSWORD}",
            retries=0,
        )
    assert echoed == [f"Basic {pair}"]
    message = str(caught.value)
    assert "502" in message and "Authorization: Basic ***" in message
    assert pair not in message and pair not in (caught.value.query or "")


@contextmanager
def tcp_server(tls: ssl.SSLContext | None = None) -> Iterator[tuple[int, list[int]]]:
    """A server on 127.0.0.1 that counts the connections it gets. Without `tls` it answers each
    with a plain-HTTP 400, as an HTTP server answers a TLS hello; with `tls` it offers that
    context's certificate."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    connections: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(1)
            with conn:
                conn.settimeout(2)
                try:
                    if tls is None:
                        conn.recv(4096)
                        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    else:
                        with tls.wrap_socket(conn, server_side=True) as secure:
                            secure.recv(4096)
                except (OSError, ssl.SSLError):
                    pass  # the client gave up on the handshake

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], connections
    finally:
        stop.set()
        thread.join()
        listener.close()


def self_signed(directory: Path, host: x509.GeneralName) -> ssl.SSLContext:
    """A server context whose certificate for `host` nobody signed (written to cert.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cxe-gate test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([host]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


def test_https_to_a_plain_http_server_fails_at_once_saying_so(monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with tcp_server() as (port, connections):
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            provider(f"https://127.0.0.1:{port}", retries=3, backoff="200ms").measure(
                MetricRequest(error_rate()), [RELEASE]
            )
        took = time.monotonic() - started
    message = str(caught.value)
    assert len(connections) == 1 and took < 1.0  # not retried: it fails the same way each time
    assert f"POST https://127.0.0.1:{port}/api/v1/query: TLS failed" in message
    assert "speaks plain HTTP on that port; use url: http://127.0.0.1:" in message
    assert "_ssl.c" not in message and ")))" not in message
    assert REQUESTS("1800s") in (caught.value.query or "")


@pytest.mark.parametrize(
    ("host", "trusted", "expected", "advice"),
    [
        # nobody vouches for it
        (
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            False,
            "self-signed certificate",
            "point the REQUESTS_CA_BUNDLE environment variable at that CA's PEM file",
        ),
        # trusted through REQUESTS_CA_BUNDLE, but issued for another name
        (
            x509.DNSName("prometheus.example.com"),
            True,
            "IP address mismatch",
            "write in url the host name the certificate was issued for",
        ),
    ],
)
def test_a_refused_certificate_fails_at_once_saying_so(
    tmp_path, monkeypatch, host, trusted, expected, advice
):
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    context = self_signed(tmp_path, host)
    if trusted:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
    with (
        tcp_server(context) as (port, connections),
        pytest.raises(ProviderError) as caught,
    ):
        provider(f"https://127.0.0.1:{port}", retries=3, backoff="200ms").measure(
            MetricRequest(error_rate()), [RELEASE]
        )
    message = str(caught.value)
    assert len(connections) == 1
    assert f"TLS failed: the server's certificate was refused ({expected}" in message
    assert advice in message
    assert "_ssl.c" not in message


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
        ("duration_unit: minutes", "Input should be 's' or 'ms'"),
    ],
)
def test_settings_are_checked_when_loading(tmp_path, provider, expected):
    path = write(tmp_path, "  - {name: c, metric: error_rate, max: 1%}\n", provider)
    path.write_text(path.read_text().replace("selector: 'job=\"shop\"', selector", "selector"))
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load(path)


def test_matchers_are_spelled_as_prometheus_does():
    assert parse_matchers('{job="shop",  path=~"/api/.*", }') == ['job="shop"', 'path=~"/api/.*"']
    assert parse_matchers("code!~'5..'") == ["code!~'5..'"]
    # a label value as an RE2 pattern: RE2 refuses an escaped space or slash
    assert re2_escape("/api/cart (v2)+x") == r"/api/cart \(v2\)\+x"


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
    requests_and_errors(prom, ("10000", "50"), ("5000", "24"))
    prom.on(COUNT("3600s"), vector("10000"))
    prom.on(COUNT("1800s"), vector("5000"))
    prom.on(BUCKETS("3600s"), by_le({"0.5": "9000", "2.0": "9800", "+Inf": "10000"}))
    prom.on(BUCKETS("1800s"), by_le({"0.5": "4520", "2.0": "4910", "+Inf": "5000"}))


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
    assert BUCKETS("1800s") in apdex.queries["release"]
    assert TOKEN not in report.model_dump_json()


def test_a_missing_token_variable_is_an_error_naming_it(tmp_path, prom, monkeypatch):
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    report = evaluate(load(gate_file(tmp_path, prom.url)), now=DEPLOY + timedelta(hours=1))
    assert report.verdict == Verdict.ERROR
    assert "PROM_TOKEN is not set" in report.criteria[0].message
    assert prom.requests == []
