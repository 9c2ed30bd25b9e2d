"""The datadog provider against a real loopback server answering like Datadog's metrics API: trace-metric
counts become rates with their counts, seconds become milliseconds, and refusals and broken answers
become errors that never show a key. Its outages, secrets, no-data disguises and units are the
provider contract's (test_contract_*.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from loopback_datadog import B0, BASELINE, DEPLOY, NOW, PATH, R0, RELEASE, SECOND, FakeDatadog
from pytest_httpserver import HTTPServer

from cxe_gate.config import ApdexCriterion, CustomCriterion, ErrorRateCriterion, LatencyCriterion
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.datadog import DatadogProvider, DatadogSettings
from cxe_gate.results import Verdict

API_KEY = "dd-api-0f1e2d3c4b5a69788796a5b4"
APP_KEY = "dd-app-9a8b7c6d5e4f30211203f4e5d6c7b8a9"
SCOPE = "{service:checkout,env:prod}"


def provider(url: str, **settings) -> DatadogProvider:
    context = ProviderContext(
        name="dd", base_dir=Path("."), environ={"DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY}
    )
    options = {
        "api_url": url,
        "api_key": "${DD_API_KEY}",
        "app_key": "${DD_APP_KEY}",
        "service": "checkout",
        "env": "prod",
        "timeout": "500ms",
        "backoff": "10ms",
        **settings,
    }
    return DatadogProvider(DatadogSettings.model_validate(options), context)


def error_rate(**fields) -> MetricRequest:
    return MetricRequest(ErrorRateCriterion(name="errors", metric="error_rate", max=0.01, **fields))


def latency(**fields) -> MetricRequest:
    fields = {"percentile": 95, **fields}
    return MetricRequest(LatencyCriterion(name="p95", metric="latency", max=300, **fields))


# --- numbers land exactly -----------------------------------------------------------------------


def test_error_rate_is_errors_of_requests_summed_over_each_window(api_server: HTTPServer):
    fake = FakeDatadog(
        {
            (R0, "errors"): [3.0, None, 4.0],
            (R0, "requests"): [1000.0, 500.0, 1000.0],
            (B0, "requests"): [6000.0, 4000.0, None],  # no error points: nothing failed
        }
    )
    api_server.expect_request(PATH, method="POST").respond_with_handler(fake)
    measured = provider(api_server.url_for("")).measure(error_rate(), [BASELINE, RELEASE])

    release, baseline = measured["release"], measured["baseline"]
    assert (release.value, release.samples, release.successes) == (7 / 2500, 2500, 7)
    assert (baseline.value, baseline.samples, baseline.successes) == (0.0, 10_000, 0)
    assert release.details["requests"] == 2500 and release.details["errors"] == 7

    # The two windows are read at once: find the release window's request by its start.
    (sent,) = [b["data"] for b in fake.bodies if b["data"]["attributes"]["from"] == R0]
    assert sent["type"] == "timeseries_request"
    assert sent["attributes"]["from"] == R0
    assert sent["attributes"]["to"] == R0 + 3_600_000
    assert sent["attributes"]["queries"] == [
        {
            "data_source": "metrics",
            "name": "errors",
            "query": f"sum:trace.http.request.errors{SCOPE}.as_count().rollup(sum, 3600)",
        },
        {
            "data_source": "metrics",
            "name": "requests",
            "query": f"sum:trace.http.request.hits{SCOPE}.as_count().rollup(sum, 3600)",
        },
    ]
    assert fake.headers[0]["Dd-Api-Key"] == API_KEY
    assert fake.headers[0]["Dd-Application-Key"] == APP_KEY
    assert release.query == (
        f"errors: sum:trace.http.request.errors{SCOPE}.as_count().rollup(sum, 3600); "
        f"requests: sum:trace.http.request.hits{SCOPE}.as_count().rollup(sum, 3600) "
        f"(POST /api/v2/query/timeseries, from={R0}&to={R0 + 3_600_000} ms)"
    )


def test_a_filter_narrows_the_scope_and_the_operation_names_the_span(api_server: HTTPServer):
    fake = FakeDatadog({(R0, "requests"): [100.0], (R0, "errors"): [1.0]})
    api_server.expect_request(PATH).respond_with_handler(fake)
    dd = provider(api_server.url_for(""), operation="rack.request", env=None)
    dd.measure(error_rate(filter="resource_name:post_/checkout"), [RELEASE])
    queries = [q["query"] for q in fake.bodies[0]["data"]["attributes"]["queries"]]
    assert queries[0] == (
        "sum:trace.rack.request.errors{service:checkout,resource_name:post_/checkout}"
        ".as_count().rollup(sum, 3600)"
    )


@pytest.mark.parametrize(
    ("unit", "sent", "expected_ms"),
    [
        (SECOND, 0.182, 182.0),
        (None, 0.182, 182.0),  # trace distributions are in seconds when Datadog does not say
        ({"family": "time", "name": "millisecond"}, 182.0, 182.0),
        ({"family": "time", "name": "nanosecond"}, 182_000_000.0, 182.0),
    ],
)
def test_latency_percentile_becomes_milliseconds(api_server: HTTPServer, unit, sent, expected_ms):
    fake = FakeDatadog(
        {(R0, "latency"): [sent], (R0, "requests"): [1234.0]}, units={"latency": unit}
    )
    api_server.expect_request(PATH).respond_with_handler(fake)
    release = provider(api_server.url_for("")).measure(latency(percentile=99.9), [RELEASE])[
        "release"
    ]
    assert release.value == pytest.approx(expected_ms)
    assert release.samples == 1234
    name = unit["name"] if unit else "second"
    assert release.details[f"p99.9 as sent ({name}s)"] == sent
    query = fake.bodies[0]["data"]["attributes"]["queries"][0]["query"]
    assert query == f"p99.9:trace.http.request{SCOPE}.rollup(3600)"


def test_a_window_split_into_rollup_buckets_is_weighted_by_requests(api_server: HTTPServer):
    fake = FakeDatadog(
        {(R0, "latency"): [0.1, 0.3], (R0, "requests"): [300.0, 100.0]},
        units={"latency": SECOND},
    )
    api_server.expect_request(PATH).respond_with_handler(fake)
    release = provider(api_server.url_for("")).measure(latency(), [RELEASE])["release"]
    assert release.value == pytest.approx(150.0)  # (300 x 100 ms + 100 x 300 ms) / 400
    assert release.samples == 400
    assert release.details["rollup buckets (request-weighted mean)"] == 2


def test_apdex_uses_the_service_score_and_the_widest_variance_it_allows(api_server: HTTPServer):
    fake = FakeDatadog({(R0, "apdex"): [0.9], (R0, "requests"): [1000.0]})
    api_server.expect_request(PATH).respond_with_handler(fake)
    criterion = ApdexCriterion(name="apdex", metric="apdex", t="500ms", min=0.8)
    dd = provider(api_server.url_for(""), apdex_t="500ms")
    release = dd.measure(MetricRequest(criterion), [RELEASE])["release"]
    assert (release.value, release.samples) == (0.9, 1000)
    assert release.variance == pytest.approx(0.9 * 0.1 * 1000 / 999)
    query = fake.bodies[0]["data"]["attributes"]["queries"][0]["query"]
    assert query == f"avg:trace.http.request.apdex{SCOPE}.rollup(avg, 3600)"


def test_custom_query_is_aggregated_over_the_window(api_server: HTTPServer):
    fake = FakeDatadog({(R0, "value"): [1.0, None, 2.0, 6.0], (R0, "samples"): [10, 20, 0, 5]})
    api_server.expect_request(PATH).respond_with_handler(fake)
    dd = provider(api_server.url_for(""))
    mean = CustomCriterion(name="q", metric="custom", query="avg:checkout.queue{*}", max=5)
    assert dd.measure(MetricRequest(mean), [RELEASE])["release"].value == 3.0
    peak = CustomCriterion(
        name="q",
        metric="custom",
        query={"query": "max:checkout.queue{*}", "aggregate": "max", "samples": "sum:x{*}"},
        max=5,
    )
    measured = dd.measure(MetricRequest(peak), [RELEASE])["release"]
    assert (measured.value, measured.samples) == (6.0, 35)
    assert fake.bodies[0]["data"]["attributes"]["queries"] == [
        {"data_source": "metrics", "name": "value", "query": "avg:checkout.queue{*}"}
    ]


def test_v1_sends_seconds_and_reads_pointlists(api_server: HTTPServer):
    start, end = R0 // 1000, R0 // 1000 + 3600
    errors = f"sum:trace.http.request.errors{SCOPE}.as_count().rollup(sum, 3600)"
    hits = f"sum:trace.http.request.hits{SCOPE}.as_count().rollup(sum, 3600)"

    def series(query: str, points: list) -> dict:
        return {
            "status": "ok",
            "res_type": "time_series",
            "query": query,
            "series": [
                {
                    "metric": "trace.http.request.hits",
                    "scope": "env:prod,service:checkout",
                    "pointlist": points,
                    "unit": [None, None],
                    "query_index": 0,
                }
            ],
        }

    api_server.expect_request(
        "/api/v1/query",
        method="GET",
        query_string={"from": str(start), "to": str(end), "query": errors},
    ).respond_with_json(series(errors, [[R0 * 1.0, 5.0], [R0 + 60_000.0, None]]))
    api_server.expect_request(
        "/api/v1/query",
        method="GET",
        query_string={"from": str(start), "to": str(end), "query": hits},
    ).respond_with_json(series(hits, [[R0 * 1.0, 2000.0], [R0 + 60_000.0, 500.0]]))
    release = provider(api_server.url_for(""), api="v1").measure(error_rate(), [RELEASE])["release"]
    assert (release.value, release.samples, release.successes) == (5 / 2500, 2500, 5)
    assert release.query.endswith(f"(GET /api/v1/query, from={start}&to={end} s)")


# --- how far the data reaches (data_end) --------------------------------------------------------


def test_data_end_is_the_newest_bucket_holding_a_value(api_server: HTTPServer):
    fake = FakeDatadog(
        {
            (R0, "errors"): [3.0, None, 4.0, None],
            (R0, "requests"): [1000.0, 500.0, 1000.0, None],  # nothing after the third minute
            (B0, "requests"): [6000.0, 4000.0, 5000.0, 2000.0],
        }
    )
    api_server.expect_request(PATH).respond_with_handler(fake)
    measured = provider(api_server.url_for("")).measure(error_rate(), [BASELINE, RELEASE])
    # times R0 + k x 60 s; the newest bucket with a value is k = 2 (of either query): R0 + 120 s
    assert measured["release"].data_end == DEPLOY + timedelta(minutes=2)
    # the baseline's last bucket, k = 3, starts at B0 + 180 s
    assert measured["baseline"].data_end == BASELINE.start + timedelta(minutes=3)


def test_data_end_of_a_custom_query_with_datadogs_own_rollup(api_server: HTTPServer):
    fake = FakeDatadog({(R0, "value"): [4.0, 5.0, None, 6.0, None, None]}, step_ms=20_000)
    api_server.expect_request(PATH).respond_with_handler(fake)
    custom = CustomCriterion(name="q", metric="custom", query="avg:checkout.queue{*}", max=9)
    release = provider(api_server.url_for("")).measure(MetricRequest(custom), [RELEASE])["release"]
    # 20 s buckets: the last value is at k = 3, R0 + 3 x 20 s = R0 + 60 s
    assert release.data_end == DEPLOY + timedelta(seconds=60)


@pytest.mark.parametrize(
    "times",
    [
        [R0],  # one bucket: its interval is not known
        [R0 - 1_800_000, R0 + 1_800_000],  # hour buckets, the window across two of them
    ],
)
def test_a_bucket_as_long_as_the_window_does_not_say_where_the_data_ends(
    api_server: HTTPServer, times
):
    # What the default queries' .rollup(sum, 3600) gives for an hour: one or two hour buckets.
    values = [[2.0] * len(times), [1000.0] * len(times)]  # errors, requests
    series = [{"group_tags": [], "query_index": i, "unit": None} for i in range(2)]
    answer = {
        "data": {
            "type": "timeseries_response",
            "attributes": {"series": series, "times": times, "values": values},
        }
    }
    api_server.expect_request(PATH).respond_with_json(answer)
    release = provider(api_server.url_for("")).measure(error_rate(), [RELEASE])["release"]
    assert release.samples == 1000 * len(times)
    assert release.data_end is None


def test_v1_data_end_reads_the_series_interval(api_server: HTTPServer):
    # v1 series say their rollup interval in seconds; a point stamps the start of its bucket
    api_server.expect_request("/api/v1/query").respond_with_json(
        {
            "status": "ok",
            "res_type": "time_series",
            "series": [
                {
                    "metric": "checkout.queue",
                    "interval": 20,
                    "length": 3,
                    "start": R0,
                    "end": R0 + 59_999,
                    "query_index": 0,
                    "pointlist": [[R0 * 1.0, 3.0], [R0 + 20_000.0, 4.0], [R0 + 40_000.0, None]],
                    "unit": [None, None],
                }
            ],
        }
    )
    custom = CustomCriterion(name="q", metric="custom", query="avg:checkout.queue{*}", max=9)
    dd = provider(api_server.url_for(""), api="v1")
    release = dd.measure(MetricRequest(custom), [RELEASE])["release"]
    # the last point with a value: R0 + 20,000 ms
    assert release.data_end == DEPLOY + timedelta(seconds=20)


# --- no data: the v2 disguises are in the provider contract (test_contract_no_data.py) ---------


def test_v1_null_pointlist_is_no_data(api_server: HTTPServer):
    api_server.expect_request("/api/v1/query").respond_with_json(
        {"status": "ok", "series": [{"metric": "x", "pointlist": None, "query_index": 0}]}
    )
    custom = CustomCriterion(name="q", metric="custom", query="avg:x{*}", max=1)
    release = provider(api_server.url_for(""), api="v1").measure(MetricRequest(custom), [RELEASE])
    assert (release["release"].value, release["release"].samples) == (None, 0)


# --- failures are errors, never values ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (401, f'{{"errors": ["Unauthorized: {API_KEY}"]}}', "application/json"),
        (403, f"<html>Forbidden {APP_KEY}</html>", "text/html"),  # a WAF page, not JSON
    ],
)
def test_a_refusal_names_both_key_variables_and_never_a_key(
    api_server: HTTPServer, status: int, body: str, content_type: str
):
    api_server.expect_request(PATH).respond_with_data(
        body, status=status, content_type=content_type
    )
    with pytest.raises(ProviderError) as caught:
        provider(api_server.url_for("")).measure(error_rate(), [RELEASE])
    message = str(caught.value)
    assert str(status) in message and "check DD_API_KEY, DD_APP_KEY" in message
    assert "site (datadoghq.com)" in message
    for key in (API_KEY, APP_KEY):
        assert key not in message and key not in (caught.value.query or "")
    assert len(api_server.log) == 1


def test_500_is_retried_then_reported(api_server: HTTPServer):
    api_server.expect_request(PATH).respond_with_json({"errors": ["Internal error"]}, status=500)
    with pytest.raises(ProviderError) as caught:
        provider(api_server.url_for(""), retries=2).measure(error_rate(), [RELEASE])
    assert len(api_server.log) == 3
    assert "500 INTERNAL SERVER ERROR" in str(caught.value)
    assert "after 3 attempts" in str(caught.value)
    assert "sum:trace.http.request.hits" in (caught.value.query or "")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"data": None}, "expected data.attributes"),
        (
            {"data": {"attributes": {"series": [{"query_index": 0}], "times": [1], "values": []}}},
            "expected a values list for each of the 1 series, got 0",
        ),
        (
            {
                "data": {
                    "attributes": {"series": [{"query_index": 7}], "times": [1], "values": [[1]]}
                }
            },
            "query_index between 0 and 1, got 7",
        ),
        (
            {
                "data": {
                    "attributes": {"series": [{"query_index": 1}], "times": [1], "values": [["12"]]}
                }
            },
            "expected a value as a number or null, got '12'",
        ),
        ({"data": {"attributes": {}}, "errors": "metric not found"}, "metric not found"),
    ],
)
def test_a_malformed_answer_says_what_was_expected(api_server: HTTPServer, answer, expected):
    api_server.expect_request(PATH).respond_with_json(answer)
    with pytest.raises(ProviderError, match=expected):
        provider(api_server.url_for("")).measure(error_rate(), [RELEASE])


def test_more_errors_than_requests_is_an_error(api_server: HTTPServer):
    api_server.expect_request(PATH).respond_with_handler(
        FakeDatadog({(R0, "errors"): [50.0], (R0, "requests"): [10.0]})
    )
    with pytest.raises(ProviderError, match="got 50 errors of 10 requests"):
        provider(api_server.url_for("")).measure(error_rate(), [RELEASE])


def test_a_rejected_query_shows_datadogs_reason(api_server: HTTPServer):
    api_server.expect_request(PATH).respond_with_json(
        {"errors": ["Error parsing query: unexpected '}'"]}, status=400
    )
    custom = CustomCriterion(name="q", metric="custom", query="avg:x{a}}", max=1)
    with pytest.raises(ProviderError, match="rejected the query: Error parsing query"):
        provider(api_server.url_for("")).measure(MetricRequest(custom), [RELEASE])


def test_a_grouped_latency_query_is_refused_rather_than_guessed(api_server: HTTPServer):
    answer = {
        "data": {
            "attributes": {
                "series": [{"query_index": 0}, {"query_index": 0}, {"query_index": 1}],
                "times": [R0],
                "values": [[0.1], [0.2], [100]],
            }
        }
    }
    api_server.expect_request(PATH).respond_with_json(answer)
    with pytest.raises(ProviderError, match="expected one latency series for the window, got 2"):
        provider(api_server.url_for("")).measure(latency(query="p95:x{*} by {host}"), [RELEASE])


# --- settings and what a criterion may ask ------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "url"),
    [
        ("datadoghq.com", "https://api.datadoghq.com"),
        ("US3", "https://api.us3.datadoghq.com"),
        ("us5.datadoghq.com", "https://api.us5.datadoghq.com"),
        ("EU", "https://api.datadoghq.eu"),
        ("https://app.datadoghq.eu/", "https://api.datadoghq.eu"),
        ("ap1", "https://api.ap1.datadoghq.com"),
        ("US1-FED", "https://api.ddog-gov.com"),
    ],
)
def test_site_picks_the_api_host(site: str, url: str):
    settings = DatadogSettings.model_validate(
        {"site": site, "api_key": "${DD_API_KEY}", "app_key": "${DD_APP_KEY}"}
    )
    assert settings.base_url == url


def test_an_unknown_site_or_an_inline_key_is_refused():
    with pytest.raises(ValueError, match=r"unknown Datadog site 'datadoghq.org'; expected one of"):
        DatadogSettings.model_validate(
            {"site": "datadoghq.org", "api_key": "${A}", "app_key": "${B}"}
        )


def write(tmp_path: Path, url: str, criteria: str, provider_extra: str = "") -> Path:
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: r42, deployed_at: 2026-11-23T10:00:00Z}\n"
        "windows: {baseline: 2h, release: 1h}\n"
        "providers:\n"
        "  apm:\n"
        "    type: datadog\n"
        f"    api_url: '{url}'\n"
        "    api_key: ${DD_API_KEY}\n"
        "    app_key: ${DD_APP_KEY}\n"
        "    service: checkout\n"
        "    env: prod\n"
        "    timeout: 500ms\n"
        "    backoff: 10ms\n"
        "    retries: 1\n"
        f"{provider_extra}"
        f"criteria:\n{criteria}"
    )
    return path


def test_criteria_datadog_cannot_serve_are_refused_when_loading(tmp_path: Path):
    path = write(
        tmp_path,
        "http://127.0.0.1:9",
        """\
  - {name: conv, metric: conversion, journey: checkout, max_drop: 5%}
  - {name: apdex, metric: apdex, t: 300ms, min: 0.8}
  - {name: ratio, metric: error_rate, max: 1%, query: "sum:a{*}/sum:b{*}"}
  - {name: parts, metric: error_rate, max: 1%, query: {errors: "sum:a{*}", total: "sum:b{*}"}}
  - {name: tagged, metric: latency, max: 300ms, filter: "env:prod", query: "p95:x{*}"}
  - {name: sql, metric: error_rate, max: 1%, errors: "status >= 400"}
journeys: {checkout: [a, b]}
""",
        provider_extra="    apdex_t: 500ms\n",
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    text = str(caught.value)
    assert "criteria[0].metric: a datadog provider serves error_rate, latency, apdex" in text
    assert "criteria[1].t: t = 300ms, but Datadog computes this service's Apdex with T = 500ms" in (
        text
    )
    assert "criteria[2].query: expected a mapping {errors: …, requests: …}" in text
    assert "criteria[3].query: unknown part total" in text
    assert "criteria[3].query: missing requests" in text
    assert "criteria[4].filter: a raw query replaces the default one" in text
    assert "criteria[5].errors: Datadog counts an error where the tracer flagged" in text


def test_apdex_without_the_services_t_is_refused(tmp_path: Path):
    path = write(
        tmp_path, "http://127.0.0.1:9", "  - {name: a, metric: apdex, t: 300ms, min: 0.8}\n"
    )
    with pytest.raises(
        ConfigError, match=r"cannot apply t = 300ms at query time; set the provider"
    ):
        load(path)


# --- end to end ---------------------------------------------------------------------------------


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("DD_API_KEY", API_KEY)
    monkeypatch.setenv("DD_APP_KEY", APP_KEY)


CRITERIA = """\
  - {name: checkout errors, metric: error_rate, max: 1%, max_rise: 50%}
  - {name: checkout p95, metric: latency, percentile: 95, max: 400ms}
"""


@pytest.mark.usefixtures("keys")
def test_gate_passes_a_healthy_release(tmp_path: Path, api_server: HTTPServer):
    fake = FakeDatadog(
        {
            (B0, "errors"): [20.0],
            (B0, "requests"): [10_000.0],
            (B0, "latency"): [0.21],
            (R0, "errors"): [9.0],
            (R0, "requests"): [5_000.0],
            (R0, "latency"): [0.205],
        },
        units={"latency": SECOND},
    )
    api_server.expect_request(PATH).respond_with_handler(fake)
    report = evaluate(load(write(tmp_path, api_server.url_for(""), CRITERIA)), now=NOW)
    errors, p95 = report.criteria
    assert report.verdict is Verdict.PASS, report.summary
    assert (errors.value, errors.baseline) == (0.0018, 0.002)
    assert (errors.samples, errors.baseline_samples) == (5000, 10_000)
    assert p95.value == pytest.approx(205.0) and p95.unit == "ms"
    assert "p95:trace.http.request{service:checkout,env:prod}" in p95.queries["release"]
    assert len(api_server.log) == 4  # two criteria, two windows, one request each
