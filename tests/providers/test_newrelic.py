"""The newrelic provider against a loopback NerdGraph: NRQL per metric kind, both windows in one
GraphQL request, counts that land exactly, seconds turned into milliseconds, GraphQL errors that
arrive with HTTP 200, journeys funnel() cannot measure (ordered ones among them) refused when the
file loads, and funnel counts NRQL estimates judged as estimates. Its outages, secrets, "no data" in
its disguises and units are the provider contract's (test_contract_*.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from loopback_newrelic import (
    KEY,
    NOW,
    RELEASE,
    WINDOWS,
    apdex_rows,
    healthy,
    ms,
    nerdgraph,
    rows,
)
from pytest_httpserver import HTTPServer

from cxe_gate import metrics, stats
from cxe_gate.config import (
    ApdexCriterion,
    ConversionCriterion,
    CustomCriterion,
    ErrorRateCriterion,
    JourneySpec,
    LatencyCriterion,
)
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.newrelic import ENDPOINTS, NewRelicProvider, NewRelicSettings
from cxe_gate.results import Verdict


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
    # NerdGraph takes 5 to 120 s: the 500 ms request timeout asks the least it may
    assert "w0: nrql(query: $w0, timeout: 5)" in body["query"]


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
        if "uniqueCount(" in nrql:
            return [{"values": 120}]
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
    journey = JourneySpec(steps=["view", "buy"])
    funnel = ConversionCriterion(name="f", metric="conversion", journey="buy", min=0.1, order="any")
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


CHECKOUT = JourneySpec(steps=["view product", "add to cart", "O'Brien checkout"])
STEPS_ONLY = "actionName IN ('view product', 'add to cart', 'O\\'Brien checkout')"


def funnel_of(criterion_name: str = "checkout", **fields: Any) -> ConversionCriterion:
    """A conversion criterion New Relic can serve: one that accepts a count ignoring step order."""
    fields = {"journey": "checkout", "max_drop": "5%", "order": "any", **fields}
    return ConversionCriterion(name=criterion_name, metric="conversion", **fields)


def funnels(
    steps: dict[str, list[int]], values: dict[str, int]
) -> Callable[[str, str], list[dict]]:
    """NerdGraph's answers to the funnel and to the count of its attribute's values, per window."""

    def answer(window: str, nrql: str) -> list[dict]:
        if "uniqueCount(" in nrql:
            return [{"values": values[window]}]
        return [{"steps": steps[window]}]

    return answer


def test_conversion_from_a_funnel_of_the_journeys_steps(api_server):
    seen: list[dict] = []

    def answer(window: str, nrql: str) -> list[dict]:
        if "uniqueCount(" in nrql:
            assert nrql.startswith(
                f"SELECT uniqueCount(session) AS 'values' FROM PageAction WHERE {STEPS_ONLY} SINCE"
            )
            return [{"values": 230 if window == "baseline" else 110}]
        assert nrql.startswith(
            "SELECT funnel(session, WHERE actionName = 'view product' AS 'view product', "
            "WHERE actionName = 'add to cart' AS 'add to cart', "
            "WHERE actionName = 'O\\'Brien checkout' AS 'O\\'Brien checkout') "
            f"FROM PageAction WHERE {STEPS_ONLY} SINCE"
        )
        # Both shapes seen: the steps at the row's top (New Relic's own funnel component reads
        # them there) and one level down under the function's name.
        if window == "release":
            return [{"steps": [100, 40, 12]}]
        return [{"funnel": {"steps": [200, 84, 26]}}]

    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(answer, seen))
    result = provider(api_server).measure(MetricRequest(funnel_of(), CHECKOUT), WINDOWS)
    release, baseline = result["release"], result["baseline"]
    assert (release.value, release.samples, release.successes) == (0.12, 100, 12)
    assert release.details["step 2"] == 40
    assert release.details["funnel attribute values"] == 110
    assert (baseline.successes, baseline.samples) == (26, 200)
    # under 256 values funnel() counts exactly: nothing to say, nothing widened
    assert release.notes == () and baseline.notes == ()
    # both windows' funnels and counts in one GraphQL request
    assert len(api_server.log) == 1 and len(seen[0]["variables"]) == 5
    assert release.query.count("SINCE") == 2 and "uniqueCount(session)" in release.query


def test_estimated_funnel_counts_are_judged_as_estimates(api_server):
    """From 256 values of its attribute on, funnel() estimates with MinHash: the conversion stays as
    read, but is judged as a proportion of n*256/(n+256) sessions, not n, and the report says so."""
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(
            funnels(
                {"baseline": [5000, 2100, 1000], "release": [100, 40, 12]},
                {"baseline": 6100, "release": 300},
            )
        )
    )
    result = provider(api_server).measure(MetricRequest(funnel_of(), CHECKOUT), WINDOWS)
    baseline, release = result["baseline"], result["release"]

    # 5000 * 256 / 5256 = 243.5 -> 243 sessions; 0.2 of them are 48.6 -> 49
    assert (baseline.value, baseline.samples, baseline.successes) == (0.2, 243, 49)
    assert baseline.details["step 1"] == 5000  # the counts as New Relic gave them
    assert baseline.details["effective samples"] == 243
    (note,) = baseline.notes
    assert note.startswith("estimated: NRQL funnel() dealt with 6,100 values of its attribute")
    assert "judged as a proportion of 243" in note and "of the 5,000 counted" in note
    # 100 sessions started, but the funnel dealt with 300 values: estimated too.
    # 100 * 256 / 356 = 71.9 -> 71; 0.12 of them are 8.52 -> 9
    assert (release.value, release.samples, release.successes) == (0.12, 71, 9)
    assert release.notes[0].startswith("estimated: NRQL funnel() dealt with 300 values")


def test_an_estimated_funnel_is_a_note_in_the_report_and_widens_the_test(
    api_server, tmp_path, monkeypatch
):
    """The same drop from 20% to 15%: significant on 5000 and 2000 exact sessions, not on the
    243 and 226 sessions a 256-value sketch is worth."""
    monkeypatch.setenv("NEW_RELIC_API_KEY", KEY)
    steps = {"baseline": [5000, 2000, 1000], "release": [2000, 800, 300]}
    criteria = (
        "  - {name: checkout, metric: conversion, journey: checkout, max_drop: 10%, order: any}\n"
    )
    path = write(tmp_path, api_server.url_for("/graphql"), criteria)
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(funnels(steps, {"baseline": 6000, "release": 2400}))
    )
    (result,) = evaluate(load(path), now=NOW).criteria
    assert result.value == 0.15 and result.samples == 226  # 2000 * 256 / 2256 = 226.9, rounded down
    assert result.verdict == Verdict.INCONCLUSIVE, result.message
    assert result.notes[0].startswith("baseline: estimated: NRQL funnel() dealt with 6,000 values")
    assert result.notes[1].startswith("release: estimated: NRQL funnel() dealt with 2,400 values")
    assert result.p_value is not None and result.p_value > 0.05
    # had the counts been exact, the drop would have been beyond doubt
    assert stats.two_proportion(300, 2000, 1000, 5000, "less") < 0.001


def test_a_raw_funnel_query_says_its_exactness_is_not_known(api_server):
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(lambda window, nrql: [{"steps": [100, 25]}])
    )
    criterion = funnel_of(query="SELECT funnel(session, WHERE a AS 'a', WHERE b AS 'b') FROM X")
    release = provider(api_server).measure(MetricRequest(criterion, CHECKOUT), WINDOWS)["release"]
    assert (release.value, release.samples) == (0.25, 100)
    assert release.notes == (
        "whether NRQL funnel() estimated these counts (it does from 256 values of its attribute "
        "on) is not known: the gate cannot count the values of a raw query's funnel attribute",
    )


def test_conversion_by_user_uses_the_user_attribute(api_server):
    def answer(window: str, nrql: str) -> list[dict]:
        if "uniqueCount(" in nrql:
            assert nrql.startswith("SELECT uniqueCount(`enduser.id`) AS 'values' FROM `My Events`")
            return [{"values": 12}]
        assert nrql.startswith("SELECT funnel(`enduser.id`, WHERE `custom.step` = 'a'")
        assert "FROM `My Events` WHERE `custom.step` IN ('a', 'b')" in nrql
        return [{"steps": [10, 4]}]

    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(answer))
    nr = provider(api_server, step_attribute="custom.step", journey_event_type="My Events")
    criterion = funnel_of("ab", journey="ab", unit="user", min=0.1)
    result = nr.measure(MetricRequest(criterion, JourneySpec(steps=["a", "b"])), WINDOWS)
    assert result["release"].value == 0.4


def test_a_time_bound_journey_asked_in_code_is_refused_before_any_query(api_server):
    journey = JourneySpec(steps=["a", "b"], within="30m")
    with pytest.raises(ProviderError, match="funnel\\(\\) cannot bound the time"):
        provider(api_server).measure(MetricRequest(funnel_of(), journey), WINDOWS)
    assert api_server.log == []


def test_an_ordered_conversion_asked_in_code_is_refused_before_any_query(api_server):
    criterion = ConversionCriterion(name="c", metric="conversion", journey="checkout", min=0.1)
    assert criterion.order == "strict"  # the default
    with pytest.raises(ProviderError, match="funnel\\(\\) does not enforce the order of steps"):
        provider(api_server).measure(MetricRequest(criterion, CHECKOUT), WINDOWS)
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


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [
        ("us", "https://api.newrelic.com/graphql"),
        ("eu", "https://api.eu.newrelic.com/graphql"),
        ("jp", "https://api.jp.newrelic.com/graphql"),
        ("gov", "https://gov-api.newrelic.com/graphql"),  # FedRAMP
    ],
)
def test_the_region_picks_the_endpoint(region, endpoint):
    context = ProviderContext(name="nr", base_dir=Path("."), environ={"NEW_RELIC_API_KEY": KEY})
    settings = NewRelicSettings.model_validate(
        {"api_key": "${NEW_RELIC_API_KEY}", "account_id": 1, "region": region}
    )
    assert NewRelicProvider(settings, context).client.base_url == ENDPOINTS[region] == endpoint


@pytest.mark.parametrize(
    ("timeouts", "sent"),
    [
        ({}, 30),  # the request timeout's default
        ({"timeout": "300s"}, 120),  # held to the most NerdGraph takes
        ({"timeout": "2s"}, 5),  # and to the least
        ({"timeout": "90s", "nrql_timeout": "60s"}, 60),
    ],
)
def test_the_nrql_timeout_sent_is_one_nerdgraph_takes(api_server, timeouts, sent):
    seen: list[dict] = []
    api_server.expect_request("/graphql").respond_with_handler(
        nerdgraph(lambda window, nrql: [{"errors": 0, "requests": 1}], seen)
    )
    provider(api_server, **{"timeout": "30s", **timeouts}).measure(MetricRequest(ERRORS), WINDOWS)
    assert f"w0: nrql(query: $w0, timeout: {sent})" in seen[0]["query"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nrql_timeout": "4s"}, "expected 5 to 120 whole seconds"),
        ({"nrql_timeout": "121s", "timeout": "200s"}, "expected 5 to 120 whole seconds"),
        ({"nrql_timeout": "7500ms"}, "expected 5 to 120 whole seconds"),
        ({"nrql_timeout": "60s"}, "nrql_timeout (60 s) is longer than timeout (30 s)"),
        ({"region": "ap"}, "'us', 'eu', 'jp' or 'gov'"),
    ],
)
def test_settings_nerdgraph_would_refuse_are_refused_when_the_file_loads(
    tmp_path, options, message
):
    path = write(tmp_path, "http://127.0.0.1:9/graphql", GOOD)
    text = path.read_text().replace("    timeout: 500ms\n", "")
    extra = "".join(f"    {key}: {value}\n" for key, value in options.items())
    path.write_text(text.replace("    retries: 1\n", f"    retries: 1\n{extra}"))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert message in str(caught.value)


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
  - {name: checkout, metric: conversion, journey: checkout, max_drop: 10%, order: any}
"""


def test_good_data_passes_through_the_gate(api_server, tmp_path, monkeypatch):
    monkeypatch.setenv("NEW_RELIC_API_KEY", KEY)
    api_server.expect_request("/graphql").respond_with_handler(nerdgraph(healthy))
    report = evaluate(load(write(tmp_path, api_server.url_for("/graphql"), GOOD)), now=NOW)
    by_name = {r.name: r for r in report.criteria}
    assert report.verdict == Verdict.PASS, [r.message for r in report.criteria]
    assert by_name["p95"].value == pytest.approx(287.0) and by_name["p95"].unit == "ms"
    assert by_name["errors"].value == 0.005 and by_name["errors"].samples == 2000
    assert by_name["apdex"].value == pytest.approx(0.94)
    assert by_name["checkout"].value == 0.205
    assert "appName = 'shop'" in by_name["errors"].queries["release"]
    assert len(api_server.log) == 4  # one request per criterion, both windows in it


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        (
            "{name: e, metric: engagement, measure: active_users, min: 1}",
            "criteria[0].metric: a newrelic provider serves error_rate, latency, apdex, conversion "
            "and custom, not engagement",
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


def test_an_ordered_conversion_is_refused_when_the_file_loads_unless_it_says_order_any(tmp_path):
    ordered = "  - {name: checkout, metric: conversion, journey: checkout, max_drop: 5%}\n"
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, "http://127.0.0.1:9/graphql", ordered))
    assert "cxe.yml:16: criteria[0].order: NRQL funnel() does not enforce the order of steps" in (
        str(caught.value)
    )
    assert "set order: any on this criterion" in str(caught.value)
    # a raw funnel query counts no other way
    raw = ordered.replace("5%}", "5%, query: 'SELECT funnel(session, WHERE a, WHERE b) FROM X'}")
    with pytest.raises(ConfigError, match=r"criteria\[0\]\.order"):
        load(write(tmp_path, "http://127.0.0.1:9/graphql", raw))
    load(write(tmp_path, "http://127.0.0.1:9/graphql", ordered.replace("5%}", "5%, order: any}")))


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
    criteria = (
        "  - {name: checkout, metric: conversion, journey: checkout, max_drop: 5%, order: any}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, "http://127.0.0.1:9/graphql", criteria, checkout=checkout))
    assert message in str(caught.value)
    # Ten steps is what one funnel() takes.
    load(write(tmp_path, "http://127.0.0.1:9/graphql", criteria, f"[{', '.join(STEPS[:10])}]"))
