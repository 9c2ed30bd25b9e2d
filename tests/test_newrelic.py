"""The newrelic provider against a loopback NerdGraph: NRQL per metric kind, both windows in one
GraphQL request, counts that land exactly, seconds turned into milliseconds, "no data" in its
disguises, GraphQL errors that arrive with HTTP 200, and journeys funnel() cannot measure refused
when the file loads."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate import metrics
from cxe_gate.config import (
    ApdexCriterion,
    ConversionCriterion,
    CustomCriterion,
    ErrorRateCriterion,
    Journey,
    LatencyCriterion,
)
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.newrelic import ENDPOINTS, NewRelicProvider, NewRelicSettings
from cxe_gate.results import Verdict

KEY = "NRAK-0123456789abcdefSECRET"
BASELINE = TimeWindow(
    "baseline", datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 23, 10, tzinfo=UTC)
)
RELEASE = TimeWindow(
    "release", datetime(2026, 11, 23, 10, tzinfo=UTC), datetime(2026, 11, 23, 12, tzinfo=UTC)
)
WINDOWS = [BASELINE, RELEASE]
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def provider(server: HTTPServer, **settings: Any) -> NewRelicProvider:
    options = {
        "api_key": "${NEW_RELIC_API_KEY}",
        "account_id": 1234567,
        "url": server.url_for("/graphql"),
        "timeout": "500ms",
        "backoff": "10ms",
        **settings,
    }
    context = ProviderContext(
        name="newrelic", base_dir=Path("."), environ={"NEW_RELIC_API_KEY": KEY}
    )
    return NewRelicProvider(NewRelicSettings.model_validate(options), context)


def window_of(nrql: str) -> str:
    since = int(re.search(r"SINCE (\d+) UNTIL (\d+)$", nrql)[1])
    return {ms(BASELINE.start): "baseline", ms(RELEASE.start): "release"}[since]


def nerdgraph(answer: Callable[[str, str], Any], seen: list[dict] | None = None):
    """A NerdGraph that runs each aliased NRQL variable through `answer(window, nrql)`."""

    def handle(request: Request) -> Response:
        assert request.headers["API-Key"] == KEY
        body = request.get_json()
        if seen is not None:
            seen.append(body)
        account = {}
        for name, nrql in body["variables"].items():
            if name != "account":
                account[name] = {"results": answer(window_of(nrql), nrql)}
        return Response(
            json.dumps({"data": {"actor": {"account": account}}}), content_type="application/json"
        )

    return handle


def rows(**per_window: Any) -> Callable[[str, str], Any]:
    return lambda window, nrql: per_window[window]


def apdex_rows(
    *, within_t: int, within_4t: int, failed_t: int, failed_4t: int, requests: int
) -> list[dict]:
    """The one row the gate's Apdex NRQL returns: requests by zone, under the aliases it gives."""
    row = {"within_t": within_t, "within_4t": within_4t, "requests": requests}
    return [{**row, "failed_within_t": failed_t, "failed_within_4t": failed_4t}]


ERRORS = ErrorRateCriterion(name="errors", metric="error_rate", max_rise="10%")


def test_error_rate_counts_land_exactly_and_both_windows_go_in_one_request(api_server):
    seen: list[dict] = []
    api_server.expect_request("/graphql", method="POST").respond_with_handler(
        nerdgraph(
            rows(
                baseline=[{"errors": 41, "requests": 18234}],
                release=[{"errors": 30, "requests": 2000}],
            ),
            seen,
        )
    )
    nr = provider(api_server, where="appName = 'shop'")
    criterion = ErrorRateCriterion(
        name="errors", metric="error_rate", max_rise="10%", filter="request.uri LIKE '/cart%'"
    )
    result = nr.measure(MetricRequest(criterion), WINDOWS)

    assert (result["release"].value, result["release"].samples) == (0.015, 2000)
    assert result["release"].successes == 30
    assert result["baseline"].value == 41 / 18234 and result["baseline"].successes == 41
    assert result["release"].query == (
        "SELECT filter(count(*), WHERE error IS true) AS 'errors', count(*) AS 'requests', "
        "max(timestamp) AS 'data_end' "
        "FROM Transaction WHERE (appName = 'shop') AND (request.uri LIKE '/cart%') "
        f"SINCE {ms(RELEASE.start)} UNTIL {ms(RELEASE.end)}"
    )
    assert len(api_server.log) == 1  # one GraphQL request carries both windows
    (body,) = seen
    assert body["variables"]["account"] == 1234567
    assert "account(id: $account)" in body["query"]
    assert "w0: nrql(query: $w0, timeout: 1)" in body["query"]  # 500 ms rounds up to 1 s


def test_apdex_counts_failed_requests_as_frustrated_at_the_criterions_t(api_server):
    def answer(window: str, nrql: str) -> list[dict]:
        assert "duration <= 0.5)" in nrql and "duration <= 2)" in nrql
        assert "WHERE (error IS true) AND duration <= 0.5" in nrql
        return apdex_rows(within_t=800, within_4t=950, failed_t=20, failed_4t=30, requests=1000)

    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(answer))
    criterion = ApdexCriterion(name="apdex", metric="apdex", t="500ms", min=0.8)
    release = provider(api_server).measure(MetricRequest(criterion), WINDOWS)["release"]

    # satisfied 800 - 20 = 780; tolerating (950 - 30) - 780 = 140; frustrated 1000 - 920 = 80
    expected = metrics.apdex(780, 140, 80)
    assert release.value == pytest.approx(0.85) == expected.value
    assert (release.samples, release.variance) == (1000, expected.variance)
    assert release.details == {"satisfied": 780, "tolerating": 140, "frustrated": 80}


def test_apdex_t_is_written_in_the_duration_attributes_unit(api_server):
    def answer(window: str, nrql: str) -> list[dict]:
        assert "timing <= 250)" in nrql and "timing <= 1000)" in nrql
        assert "WHERE (httpResponseCode >= 500)" in nrql
        return apdex_rows(within_t=10, within_4t=10, failed_t=0, failed_4t=0, requests=10)

    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(answer))
    nr = provider(api_server, duration_attribute="timing", duration_unit="ms")
    criterion = ApdexCriterion(
        name="apdex", metric="apdex", t="250ms", min=0.8, errors="httpResponseCode >= 500"
    )
    result = nr.measure(MetricRequest(criterion), WINDOWS)
    assert result["release"].value == 1.0  # errors written out on the criterion are NRQL


def test_latency_seconds_become_milliseconds(api_server):
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(
            rows(
                baseline=[{"percentile.duration": {"99.9": 1.5}, "requests": 9000}],
                release=[{"percentile.duration": {"99.9": 0.287}, "requests": 1200}],
            )
        )
    )
    criterion = LatencyCriterion(name="p999", metric="latency", percentile=99.9, max="800ms")
    result = provider(api_server).measure(MetricRequest(criterion), WINDOWS)
    assert result["release"].value == pytest.approx(287.0)
    assert result["release"].samples == 1200
    assert result["release"].details == {"requests": 1200, "p99.9 in s": 0.287}
    assert result["baseline"].value == pytest.approx(1500.0)
    assert result["release"].query.startswith(
        "SELECT percentile(duration, 99.9), count(duration) AS 'requests', "
        "max(timestamp) AS 'data_end' FROM Transaction SINCE"
    )


# --- how far the data reaches (data_end) -----------------------------------------------------


def test_data_end_is_the_newest_events_timestamp(api_server):
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(
            rows(
                # max(timestamp) is epoch milliseconds, as every event's timestamp
                baseline=[{"errors": 41, "requests": 18234, "data_end": 1795427999870}],
                release=[{"errors": 30, "requests": 2000, "data_end": 1.795434291123e12}],
            )
        )
    )
    result = provider(api_server).measure(MetricRequest(ERRORS), WINDOWS)
    # 1795428000000 ms is 10:00 (the deploy): 130 ms before it
    assert result["baseline"].data_end == RELEASE.start - timedelta(milliseconds=130)
    # 1795435200000 ms is 12:00; 1795435200000 - 1795434291123 = 908,877 ms = 15 min 8.877 s
    assert result["release"].data_end == RELEASE.end - timedelta(minutes=15, seconds=8.877)


def test_data_end_is_asked_with_apdex_and_not_of_raw_queries_or_funnels(api_server):
    seen: list[dict] = []

    def answer(window: str, nrql: str) -> list[dict]:
        if "funnel(" in nrql:
            return [{"funnel": {"steps": [100, 40]}}]
        if "AS 'value'" in nrql:
            return [{"value": 2.0}]
        row = apdex_rows(within_t=800, within_4t=950, failed_t=20, failed_4t=30, requests=1000)
        return [{**row[0], "data_end": None}]  # no event at all would be null

    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(answer, seen))
    nr = provider(api_server)
    apdex = ApdexCriterion(name="apdex", metric="apdex", t="500ms", min=0.8)
    assert nr.measure(MetricRequest(apdex), WINDOWS)["release"].data_end is None
    assert "max(timestamp) AS 'data_end'" in seen[0]["variables"]["w1"]

    raw = CustomCriterion(name="c", metric="custom", min=1, query="SELECT 2 AS 'value' FROM X")
    journey = Journey(steps=["view", "buy"])
    funnel = ConversionCriterion(name="f", metric="conversion", journey="buy", min=0.1)
    for request in (MetricRequest(raw), MetricRequest(funnel, journey=journey)):
        assert nr.measure(request, WINDOWS)["release"].data_end is None
        assert "max(timestamp)" not in seen[-1]["variables"]["w1"]


def test_a_data_end_that_is_no_number_is_an_error(api_server):
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(lambda window, nrql: [{"errors": 1, "requests": 10, "data_end": "yesterday"}])
    )
    with pytest.raises(ProviderError, match="expected 'data_end' \\(epoch ms\\) as a number"):
        provider(api_server).measure(MetricRequest(ERRORS), WINDOWS)


def test_an_aliased_percentile_in_a_raw_query_is_read_too(api_server):
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(lambda window, nrql: [{"latency": {"95": 0.25}, "requests": 10}])
    )
    criterion = LatencyCriterion(
        name="p95",
        metric="latency",
        max="800ms",
        query="SELECT percentile(duration, 95) AS 'latency', count(*) AS 'requests' FROM PageView",
    )
    result = provider(api_server).measure(MetricRequest(criterion), WINDOWS)
    assert result["release"].value == pytest.approx(250.0)
    assert result["release"].query == (
        "SELECT percentile(duration, 95) AS 'latency', count(*) AS 'requests' FROM PageView "
        f"SINCE {ms(RELEASE.start)} UNTIL {ms(RELEASE.end)}"
    )


CHECKOUT = Journey(steps=["view product", "add to cart", "O'Brien checkout"])


def test_conversion_from_a_funnel_of_the_journeys_steps(api_server):
    def answer(window: str, nrql: str) -> list[dict]:
        assert nrql.startswith(
            "SELECT funnel(session, WHERE actionName = 'view product' AS 'view product', "
            "WHERE actionName = 'add to cart' AS 'add to cart', "
            "WHERE actionName = 'O\\'Brien checkout' AS 'O\\'Brien checkout') FROM PageAction "
        )
        # Both shapes seen: the steps at the row's top (New Relic's own funnel component reads
        # them there) and one level down under the function's name.
        if window == "release":
            return [{"steps": [1000, 400, 120]}]
        return [{"funnel": {"steps": [5000, 2100, 650]}}]

    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(answer))
    criterion = ConversionCriterion(
        name="checkout", metric="conversion", journey="checkout", max_drop="5%"
    )
    result = provider(api_server).measure(MetricRequest(criterion, CHECKOUT), WINDOWS)
    assert (result["release"].value, result["release"].samples) == (0.12, 1000)
    assert result["release"].successes == 120
    assert result["release"].details["step 2"] == 400
    assert (result["baseline"].successes, result["baseline"].samples) == (650, 5000)


def test_conversion_by_user_uses_the_user_attribute(api_server):
    def answer(window: str, nrql: str) -> list[dict]:
        assert nrql.startswith("SELECT funnel(`enduser.id`, WHERE `custom.step` = 'a'")
        assert "FROM `My Events`" in nrql
        return [{"steps": [10, 4]}]

    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(answer))
    nr = provider(api_server, step_attribute="custom.step", journey_event_type="My Events")
    criterion = ConversionCriterion(
        name="ab", metric="conversion", journey="ab", unit="user", min=0.1
    )
    result = nr.measure(MetricRequest(criterion, Journey(steps=["a", "b"])), WINDOWS)
    assert result["release"].value == 0.4


def test_a_time_bound_journey_asked_in_code_is_refused_before_any_query(api_server):
    criterion = ConversionCriterion(name="c", metric="conversion", journey="j", min=0.1)
    journey = Journey(steps=["a", "b"], within="30m")
    with pytest.raises(ProviderError, match="funnel\\(\\) cannot bound the time"):
        provider(api_server).measure(MetricRequest(criterion, journey), WINDOWS)
    assert api_server.log == []


def test_custom_nrql_reads_value_and_samples_or_successes_and_trials(api_server):
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(
            lambda window, nrql: (
                [{"value": 3.5, "samples": 420}]
                if "average" in nrql
                else [{"successes": 7, "trials": 70}]
            )
        )
    )
    nr = provider(api_server)
    mean = CustomCriterion(
        name="m",
        metric="custom",
        max=5,
        query="SELECT average(cartSize) AS 'value', count(*) AS 'samples' FROM PageAction",
    )
    rate = CustomCriterion(
        name="r",
        metric="custom",
        max=0.2,
        query="SELECT filter(count(*), WHERE x) AS 'successes', count(*) AS 'trials' FROM Foo",
    )
    assert nr.measure(MetricRequest(mean), WINDOWS)["release"].value == 3.5
    assert nr.measure(MetricRequest(mean), WINDOWS)["release"].samples == 420
    got = nr.measure(MetricRequest(rate), WINDOWS)["release"]
    assert (got.value, got.samples, got.successes) == (0.1, 70, 7)


@pytest.mark.parametrize(
    ("criterion", "results"),
    [
        (ERRORS, []),
        (ERRORS, None),
        (ERRORS, [{"errors": 0, "requests": 0}]),
        (
            LatencyCriterion(name="p", metric="latency", max=1),
            [{"percentile.duration": {"95": None}, "requests": 5}],
        ),
        (
            LatencyCriterion(name="p", metric="latency", max=1),
            [{"percentile.duration": {"95": 0.2}, "requests": 0}],
        ),
        (
            CustomCriterion(name="c", metric="custom", max=1, query="SELECT 1 AS 'value' FROM X"),
            [{"value": None}],
        ),
    ],
    ids=["empty", "null", "zero-requests", "null-percentile", "no-requests", "null-value"],
)
def test_no_data_in_every_disguise_is_no_data_never_zero(api_server, criterion, results):
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(lambda window, nrql: results)
    )
    for measured in provider(api_server).measure(MetricRequest(criterion), WINDOWS).values():
        assert (measured.value, measured.samples, measured.has_data) == (None, 0, False)


def test_nan_is_no_data(api_server):
    # Python's json writes NaN; so may a proxy in front of the API.
    text = (
        '{"data": {"actor": {"account": {'
        '"w0": {"results": [{"percentile.duration": {"95": NaN}, "requests": 3}]}, '
        '"w1": {"results": [{"percentile.duration": {"95": NaN}, "requests": 3}]}}}}}'
    )
    api_server.expect_request("/graphql").respond_with_data(text, content_type="application/json")
    criterion = LatencyCriterion(name="p", metric="latency", max=1)
    release = provider(api_server).measure(MetricRequest(criterion), WINDOWS)["release"]
    assert (release.value, release.samples) == (None, 0)


def test_graphql_errors_with_http_200_are_errors_naming_the_window(api_server):
    api_server.expect_request("/graphql").respond_with_json(
        {
            "data": {"actor": {"account": {"w0": {"results": [{"count": 1}]}, "w1": None}}},
            "errors": [
                {
                    "message": "NRQL query timed out",
                    "path": ["actor", "account", "w1"],
                    "extensions": {"errorClass": "TIMEOUT"},
                }
            ],
        }
    )
    with pytest.raises(ProviderError) as caught:
        provider(api_server).measure(MetricRequest(ERRORS), WINDOWS)
    assert "the release window: NRQL query timed out (TIMEOUT)" in str(caught.value)
    assert "FROM Transaction SINCE" in caught.value.query
    assert len(api_server.log) == 1


def test_a_bad_key_names_the_variable_and_never_the_key(api_server):
    api_server.expect_request("/graphql").respond_with_json(
        {
            "errors": [
                {"message": f"Bad API Key {KEY}", "extensions": {"error_code": "BAD_API_KEY"}}
            ]
        },
        status=401,
    )
    with pytest.raises(ProviderError) as caught:
        provider(api_server).measure(MetricRequest(ERRORS), WINDOWS)
    message = str(caught.value)
    assert "401" in message and "NEW_RELIC_API_KEY" in message and "NRAK" in message
    assert KEY not in message and KEY not in (caught.value.query or "")
    assert len(api_server.log) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"data": {"actor": {"acc', "not valid JSON"),
        ('{"data": {"actor": null}}', "expected data.actor.account"),
        ('{"data": {"actor": {"account": {"w0": {}, "w1": {}}}}}', "expected nrql.results"),
        ("[1, 2]", "expected a GraphQL answer"),
    ],
    ids=["truncated", "no-actor", "no-results", "not-an-object"],
)
def test_malformed_answers_are_errors(api_server, body, message):
    api_server.expect_request("/graphql").respond_with_data(body, content_type="application/json")
    with pytest.raises(ProviderError, match=message):
        provider(api_server).measure(MetricRequest(ERRORS), WINDOWS)


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ([{"requests": 10}], "expected a count named 'errors'"),
        ([{"errors": "3", "requests": 10}], "expected 'errors' as a number or null"),
        ([{"errors": 30, "requests": 10}], "30 errors of only 10 requests"),
        ([{"errors": 1.5, "requests": 10}], "expected 'errors' as a whole count"),
        ([{"errors": 1, "requests": 9}, {"errors": 1, "requests": 9}], "expected one row, got 2"),
        ({"errors": 1}, "expected results as a list of rows"),
    ],
)
def test_partial_or_odd_rows_are_errors_not_values(api_server, results, message):
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(lambda window, nrql: results)
    )
    with pytest.raises(ProviderError, match=message):
        provider(api_server).measure(MetricRequest(ERRORS), WINDOWS)


def test_the_region_picks_the_endpoint():
    context = ProviderContext(name="nr", base_dir=Path("."), environ={"NEW_RELIC_API_KEY": KEY})
    eu = NewRelicSettings.model_validate(
        {"api_key": "${NEW_RELIC_API_KEY}", "account_id": 1, "region": "eu"}
    )
    assert NewRelicProvider(eu, context).client.base_url == ENDPOINTS["eu"]
    assert ENDPOINTS["eu"] == "https://api.eu.newrelic.com/graphql"


# --- through the loader and the gate ---------------------------------------------------------


def write(tmp_path: Path, url: str, criteria: str, checkout: str = "[view, cart, pay]") -> Path:
    """A criteria file for the newrelic provider with one journey, `checkout`."""
    path = tmp_path / "cxe.yml"
    path.write_text(
        f"""\
release: {{name: "2.3.0", deployed_at: "2026-11-23T10:00:00Z"}}
windows: {{baseline: 24h, release: 2h}}
providers:
  nr:
    type: newrelic
    api_key: ${{NEW_RELIC_API_KEY}}
    account_id: 1234567
    url: {url}
    where: appName = 'shop'
    timeout: 500ms
    backoff: 10ms
    retries: 1
journeys:
  checkout: {checkout}
criteria:
{criteria}
""",
        encoding="utf-8",
    )
    return path


GOOD = """\
  - {name: errors, metric: error_rate, max_rise: 20%}
  - {name: apdex, metric: apdex, t: 500ms, min: 0.8}
  - {name: p95, metric: latency, max: 800ms}
  - {name: checkout, metric: conversion, journey: checkout, max_drop: 10%}
"""


def healthy(window: str, nrql: str) -> list[dict]:
    big = window == "baseline"
    if "funnel(" in nrql:
        return [{"steps": [5000, 2000, 1000] if big else [1000, 400, 201]}]
    if "within_t" in nrql:
        n = 10000 if big else 2000
        return apdex_rows(
            within_t=int(n * 0.9), within_4t=int(n * 0.98), failed_t=0, failed_4t=0, requests=n
        )
    if "percentile" in nrql:
        return [{"percentile.duration": {"95": 0.31 if big else 0.287}, "requests": 2000}]
    return [{"errors": 50 if big else 10, "requests": 10000 if big else 2000}]


def test_good_data_passes_through_the_gate(api_server, tmp_path, monkeypatch):
    monkeypatch.setenv("NEW_RELIC_API_KEY", KEY)
    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(healthy))
    report = evaluate(load(write(tmp_path, api_server.url_for("/graphql"), GOOD)), now=NOW)
    by_name = {r.name: r for r in report.criteria}
    assert report.verdict == Verdict.PASS, [r.message for r in report.criteria]
    assert by_name["p95"].value == pytest.approx(287.0) and by_name["p95"].unit == "ms"
    assert by_name["errors"].value == 0.005 and by_name["errors"].samples == 2000
    assert by_name["apdex"].value == pytest.approx(0.94)
    assert by_name["checkout"].value == 0.201
    assert "appName = 'shop'" in by_name["errors"].queries["release"]
    assert len(api_server.log) == 4  # one request per criterion, both windows in it


def test_an_outage_is_an_error_never_a_pass_and_the_key_stays_out(
    api_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("NEW_RELIC_API_KEY", KEY)
    # A broken proxy echoes the request's key back in its error page.
    api_server.expect_request("/graphql").respond_with_data(f"down; key={KEY}", status=503)
    report = evaluate(load(write(tmp_path, api_server.url_for("/graphql"), GOOD)), now=NOW)
    assert report.verdict == Verdict.ERROR
    assert {r.verdict for r in report.criteria} == {Verdict.ERROR}
    assert "503" in report.criteria[0].message and "key=***" in report.criteria[0].message
    assert KEY not in report.model_dump_json()


def test_a_refused_key_is_an_error_and_the_report_never_holds_it(api_server, tmp_path, monkeypatch):
    monkeypatch.setenv("NEW_RELIC_API_KEY", KEY)
    api_server.expect_request("/graphql").respond_with_json(
        {"errors": [{"message": "Bad API Key or no API Key provided"}]}, status=401
    )
    report = evaluate(load(write(tmp_path, api_server.url_for("/graphql"), GOOD)), now=NOW)
    assert report.verdict == Verdict.ERROR
    assert "check NEW_RELIC_API_KEY" in report.criteria[0].message
    assert KEY not in report.model_dump_json()


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        (
            "{name: e, metric: engagement, measure: active_users, min: 1}",
            "criteria[0].metric: a newrelic provider cannot measure engagement",
        ),
        (
            "{name: e, metric: error_rate, max: 1%, query: 'SELECT count(*) FROM T SINCE 1 day ago'}",
            "criteria[0].query: leave SINCE out of the query",
        ),
        (
            "{name: e, metric: custom, max: 1, query: {nrql: x}}",
            "criteria[0].query: expected NRQL as text",
        ),
        (
            "{name: e, metric: custom, max: 1, query: 'FROM T FACET x'}",
            "criteria[0].query: expected an NRQL query",
        ),
    ],
)
def test_what_newrelic_cannot_serve_is_refused_when_the_file_loads(tmp_path, criterion, message):
    path = write(tmp_path, "http://127.0.0.1:9/graphql", f"  - {criterion}\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert message in str(caught.value)


STEPS = [f"step {n}" for n in range(1, 12)]


@pytest.mark.parametrize(
    ("checkout", "message"),
    [
        (
            "{steps: [view, cart, pay], within: 30m}",
            "criteria[0].journey: `within` is set, but NRQL funnel() cannot bound the time "
            "between steps",
        ),
        (
            f"[{', '.join(STEPS)}]",
            "criteria[0].journey: 11 steps, but NRQL funnel() takes at most 10",
        ),
    ],
    ids=["within", "eleven-steps"],
)
def test_a_journey_funnel_cannot_measure_is_refused_when_the_file_loads(
    tmp_path, checkout, message
):
    criteria = "  - {name: checkout, metric: conversion, journey: checkout, max_drop: 5%}\n"
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, "http://127.0.0.1:9/graphql", criteria, checkout=checkout))
    assert message in str(caught.value)
    # Ten steps is what one funnel() takes.
    load(write(tmp_path, "http://127.0.0.1:9/graphql", criteria, f"[{', '.join(STEPS[:10])}]"))
