"""The contract's stands for the APM and error-tracking providers (prometheus, datadog, dynatrace,
newrelic, sentry), each on its loopback API answering as the service documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import loopback_datadog as dd
import loopback_dynatrace as dt
import loopback_newrelic as nr
import loopback_prometheus as prom
import loopback_sentry as sentry
from contract_stand import (
    Case,
    Serve,
    Stage,
    Stand,
    credentials_in,
    released,
    served,
    with_filter,
)
from werkzeug import Request, Response

from cxe_gate.measurement import Unit
from cxe_gate.providers.dynatrace import APDEX_CATEGORIES, ERRORS

TIMING = "timeout: 700ms, backoff: 10ms"  # short, so outages are quick; the behaviour is the same
ERROR_RATE = "{name: errors, metric: error_rate, max: 1%}"


# --- prometheus -----------------------------------------------------------------------------------

BASELINE_BUCKETS = {"0.1": "500", "0.5": "900", "2.0": "980", "+Inf": "1000"}
RELEASE_BUCKETS = {"0.1": "100", "0.5": "300", "2.0": "360", "+Inf": "400"}


def prometheus_answers(stage: Stage) -> prom.FakePrometheus:
    assert stage.server is not None
    return prom.FakePrometheus(stage.server)


def healthy_prometheus(stage: Stage) -> None:
    fake = prometheus_answers(stage)
    for window, requests, errors, buckets in (
        ("3600s", "10000", "50", BASELINE_BUCKETS),
        ("1800s", "5000", "24", RELEASE_BUCKETS),
    ):
        fake.on(prom.REQUESTS(window), prom.vector(requests))
        fake.on(prom.ERRORS(window), prom.vector(errors))
        fake.on(prom.COUNT(window), prom.vector(buckets["+Inf"]))
        fake.on(prom.BUCKETS(window), prom.by_le(buckets))
    fake.on("sum(up)", prom.vector("3"))


NULL_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": None}}


def on_every_window(*queries: str, answer: dict) -> Serve:
    def serve(stage: Stage) -> None:
        fake = prometheus_answers(stage)
        for query in queries:
            fake.on(query, answer)

    return serve


PROMETHEUS = Stand(
    type="prometheus",
    settings=f"{{type: prometheus, url: '@url', token: '${{PROM_TOKEN}}', selector: "
    f"'job=\"shop\"', {TIMING}}}",
    release=released(prom.DEPLOY, "v2"),
    windows="{baseline: 1h, release: 30m}",
    now=prom.DEPLOY + timedelta(hours=1),
    served=served(
        healthy_prometheus,
        error_rate=ERROR_RATE,
        latency="{name: p95, metric: latency, max: 800ms}",
        apdex="{name: apdex, metric: apdex, t: 500ms, min: 0.8}",
        custom="{name: up, metric: custom, min: 1, query: 'sum(up)'}",
    ),
    no_data={
        "empty vector": Case(
            ERROR_RATE,
            on_every_window(prom.REQUESTS("3600s"), prom.REQUESTS("1800s"), answer=prom.vector()),
        ),
        "null result": Case(
            ERROR_RATE,
            on_every_window(prom.REQUESTS("3600s"), prom.REQUESTS("1800s"), answer=NULL_VECTOR),
        ),
        "no request counted": Case(
            "{name: p95, metric: latency, max: 800ms}",
            on_every_window(prom.COUNT("3600s"), prom.COUNT("1800s"), answer=prom.vector("0")),
        ),
        "empty custom result": Case(
            "{name: up, metric: custom, min: 1, query: 'sum(up)'}",
            on_every_window("sum(up)", answer=prom.vector()),
        ),
    },
    credentials=credentials_in("PROM_TOKEN"),
    api=".*",
    filtered=with_filter(ERROR_RATE, 'path="/checkout"'),
    cohorts=("{release: 'version=\"2.0\"', baseline: 'version=\"1.9\"'}", ERROR_RATE),
)

# --- datadog --------------------------------------------------------------------------------------

DATADOG_POINTS = {
    (dd.B0, "errors"): [20.0],
    (dd.B0, "requests"): [10_000.0],
    (dd.B0, "latency"): [0.21],
    (dd.B0, "apdex"): [0.91],
    (dd.B0, "value"): [2.0],
    (dd.R0, "errors"): [9.0],
    (dd.R0, "requests"): [5_000.0],
    (dd.R0, "latency"): [0.205],
    (dd.R0, "apdex"): [0.9],
    (dd.R0, "value"): [3.0],
}


def datadog_answers(answer: Callable[[Request], Response]) -> Serve:
    def serve(stage: Stage) -> None:
        assert stage.server is not None
        stage.server.expect_request(dd.PATH, method="POST").respond_with_handler(answer)

    return serve


def datadog_json(body: object) -> Serve:
    return datadog_answers(
        lambda request: Response(
            body if isinstance(body, str) else json.dumps(body), content_type="application/json"
        )
    )


DATADOG_NAN = (
    '{"data": {"attributes": {"series": [{"query_index": 0, "unit": null}], '
    '"times": [1.0], "values": [[NaN]]}}}'
)

DATADOG = Stand(
    type="datadog",
    settings="{type: datadog, api_url: '@url', api_key: '${DD_API_KEY}', "
    f"app_key: '${{DD_APP_KEY}}', service: checkout, env: prod, apdex_t: 500ms, {TIMING}}}",
    release=released(dd.DEPLOY, "r42"),
    windows="{baseline: 2h, release: 1h}",
    now=dd.NOW,
    served=served(
        datadog_answers(dd.FakeDatadog(DATADOG_POINTS, units={"latency": dd.SECOND})),
        error_rate=ERROR_RATE,
        latency="{name: p95, metric: latency, max: 400ms}",
        apdex="{name: apdex, metric: apdex, t: 500ms, min: 0.8}",
        custom="{name: queue, metric: custom, max: 5, query: 'avg:checkout.queue{*}'}",
    ),
    no_data={
        "empty series": Case(
            ERROR_RATE,
            datadog_json(
                {"data": {"type": "timeseries_response", "attributes": {"series": [], "times": []}}}
            ),
        ),
        "null points": Case(
            ERROR_RATE,
            datadog_answers(
                dd.FakeDatadog(
                    {
                        (start, name): [None, None]
                        for start in (dd.B0, dd.R0)
                        for name in ("errors", "requests")
                    }
                )
            ),
        ),
        "NaN": Case("{name: p95, metric: latency, max: 400ms}", datadog_json(DATADOG_NAN)),
    },
    credentials=credentials_in("DD_API_KEY", "DD_APP_KEY"),
    api=".*",
    filtered=with_filter(ERROR_RATE, "resource_name:post_/checkout"),
)

# --- dynatrace ------------------------------------------------------------------------------------

CUSTOM_PERCENT = "builtin:service.errors.total.rate:splitBy():avg"


def healthy_dynatrace(request: Request) -> Response:
    """A healthy service's and application's numbers for each selector the provider sends."""
    selector = request.args["metricSelector"]
    if selector.startswith(ERRORS):
        body = dt.answer([dt.series(12.0)], [dt.series(4000.0)])
    elif "percentile" in selector:
        body = dt.answer([dt.series(236_500.0)], [dt.series(6000.0)])
    elif selector == APDEX_CATEGORIES:
        key = "Apdex category"
        body = dt.answer(
            [
                dt.series(900.0, dimensions={key: "SATISFIED"}),
                dt.series(80.0, dimensions={key: "TOLERATING"}),
                dt.series(20.0, dimensions={key: "FRUSTRATED"}),
            ]
        )
    else:
        body = dt.answer([dt.series(0.42)])
    return Response(json.dumps(body), content_type=dt.JSON)


def dynatrace_answers(stage: Stage) -> None:
    assert stage.server is not None
    stage.server.expect_request(dt.PATH).respond_with_handler(healthy_dynatrace)


def dynatrace_says(body: object) -> Serve:
    def serve(stage: Stage) -> None:
        assert stage.server is not None
        text = body if isinstance(body, str) else json.dumps(body)
        stage.server.expect_request(dt.PATH).respond_with_data(text, content_type=dt.JSON)

    return serve


DYNATRACE_NAN = (
    '{"nextPageKey": null, "result": [{"metricId": "a", "data": [{"values": [NaN]}]},'
    ' {"metricId": "b", "data": [{"values": [10]}]}]}'
)
DYNATRACE_APDEX = "{name: apdex, metric: apdex, t: 3s, min: 0.85}"

DYNATRACE = Stand(
    type="dynatrace",
    settings="{type: dynatrace, url: '@url', token: '${DT_API_TOKEN}', "
    f"entity_selector: '{dt.SERVICE}', application_selector: '{dt.APP}', apdex_t: 3s, {TIMING}}}",
    release=released(dt.DEPLOY, "r42"),
    windows="{baseline: 2h, release: 1h}",
    now=dt.NOW,
    served={
        **served(
            dynatrace_answers,
            error_rate=ERROR_RATE,
            latency="{name: p95, metric: latency, max: 400ms}",
            apdex=DYNATRACE_APDEX,
            custom=f"{{name: rate, metric: custom, max: 1, query: '{CUSTOM_PERCENT}'}}",
        ),
        "custom in percent": Case(
            f"{{name: rate, metric: custom, max: 0.01, query: {{metricSelector: '{CUSTOM_PERCENT}', "
            "unit: percent}}",
            dynatrace_answers,
            declared_unit=(Unit.RATIO, "a metric Dynatrace sends in percent is read as a ratio"),
        ),
    },
    no_data={
        "null values": Case(
            ERROR_RATE, dynatrace_says(dt.answer([dt.series(None)], [dt.series(None)]))
        ),
        "empty data": Case(ERROR_RATE, dynatrace_says(dt.answer([], []))),
        "NaN": Case("{name: p95, metric: latency, max: 400ms}", dynatrace_says(DYNATRACE_NAN)),
        "no user actions": Case(DYNATRACE_APDEX, dynatrace_says(dt.answer([]))),
    },
    credentials=credentials_in("DT_API_TOKEN"),
    api=".*",
)

# --- newrelic -------------------------------------------------------------------------------------


def newrelic_answers(answer: nr.Answer) -> Serve:
    def serve(stage: Stage) -> None:
        assert stage.server is not None
        handler = nr.nerdgraph(answer, key=NEWRELIC_KEYS(stage)["NEW_RELIC_API_KEY"])
        stage.server.expect_request("/graphql").respond_with_handler(handler)

    return serve


def healthy_newrelic(window: str, nrql: str) -> list[dict]:
    if "AS 'value'" in nrql:
        return [{"value": 3.5 if window == "release" else 3.2, "samples": 420}]
    return nr.healthy(window, nrql)


NEWRELIC_KEYS = credentials_in("NEW_RELIC_API_KEY")
NEWRELIC_LATENCY = "{name: p95, metric: latency, max: 800ms}"
NEWRELIC_CUSTOM = (
    "{name: cart, metric: custom, max: 5, "
    "query: \"SELECT average(cartSize) AS 'value', count(*) AS 'samples' FROM PageAction\"}"
)
NEWRELIC_NAN = (
    '{"data": {"actor": {"account": {'
    '"w0": {"results": [{"percentile.duration": {"95": NaN}, "requests": 3}]}, '
    '"w1": {"results": [{"percentile.duration": {"95": NaN}, "requests": 3}]}}}}}'
)


def nerdgraph_text(text: str) -> Serve:
    def serve(stage: Stage) -> None:
        assert stage.server is not None
        stage.server.expect_request("/graphql").respond_with_data(
            text, content_type="application/json"
        )

    return serve


NEWRELIC = Stand(
    type="newrelic",
    settings="{type: newrelic, url: '@url/graphql', api_key: '${NEW_RELIC_API_KEY}', "
    f"account_id: 1234567, {TIMING}}}",
    release=released(nr.RELEASE.start, "2.3.0"),
    windows="{baseline: 24h, release: 2h}",
    now=nr.NOW,
    journeys="{checkout: [view, cart, pay]}",
    served=served(
        newrelic_answers(healthy_newrelic),
        error_rate=ERROR_RATE,
        latency=NEWRELIC_LATENCY,
        apdex="{name: apdex, metric: apdex, t: 500ms, min: 0.8}",
        conversion="{name: checkout, metric: conversion, journey: checkout, max_drop: 10%, "
        "order: any}",
        custom=NEWRELIC_CUSTOM,
    ),
    no_data={
        "empty": Case(ERROR_RATE, newrelic_answers(nr.rows(baseline=[], release=[]))),
        "null": Case(ERROR_RATE, newrelic_answers(nr.rows(baseline=None, release=None))),
        "zero requests": Case(
            ERROR_RATE,
            newrelic_answers(lambda window, nrql: [{"errors": 0, "requests": 0}]),
        ),
        "null percentile": Case(
            NEWRELIC_LATENCY,
            newrelic_answers(
                lambda window, nrql: [{"percentile.duration": {"95": None}, "requests": 5}]
            ),
        ),
        "no requests": Case(
            NEWRELIC_LATENCY,
            newrelic_answers(
                lambda window, nrql: [{"percentile.duration": {"95": 0.2}, "requests": 0}]
            ),
        ),
        "null value": Case(
            NEWRELIC_CUSTOM, newrelic_answers(lambda window, nrql: [{"value": None}])
        ),
        "NaN": Case(NEWRELIC_LATENCY, nerdgraph_text(NEWRELIC_NAN)),
    },
    credentials=NEWRELIC_KEYS,
    api=".*",
    filtered=with_filter(ERROR_RATE, "appName = 'shop'"),
)

# --- sentry ---------------------------------------------------------------------------------------

SENTRY_EVENTS = (
    "{name: errors, metric: custom, max: 100, "
    "query: {endpoint: events, field: count(), query: 'level:error'}}"
)


def error_counts(request: Request) -> Response:
    count = 42 if sentry.window_of(request) == "release" else 40
    body = {"data": [{"count()": count}], "meta": {"fields": {"count()": "integer"}}}
    return Response(json.dumps(body), content_type="application/json")


def healthy_sentry(stage: Stage) -> None:
    assert stage.server is not None
    stage.server.expect_request(sentry.SESSIONS).respond_with_handler(sentry.healthy)
    stage.server.expect_request(sentry.EVENTS).respond_with_handler(error_counts)


def sentry_groups(groups: list[dict]) -> Serve:
    def serve(stage: Stage) -> None:
        assert stage.server is not None
        token = SENTRY_KEYS(stage)["SENTRY_AUTH_TOKEN"]
        handler = sentry.sessions({"release": groups, "baseline": groups}, token=token)
        stage.server.expect_request(sentry.SESSIONS).respond_with_handler(handler)

    return serve


def empty_discover_table(stage: Stage) -> None:
    assert stage.server is not None
    stage.server.expect_request(sentry.EVENTS).respond_with_json({"data": [], "meta": {}})


SENTRY_KEYS = credentials_in("SENTRY_AUTH_TOKEN")

SENTRY = Stand(
    type="sentry",
    settings="{type: sentry, url: '@url', token: '${SENTRY_AUTH_TOKEN}', organization: acme, "
    f"project: [42], {TIMING}}}",
    release=released(sentry.RELEASE.start, sentry.RELEASE_NAME),
    windows="{baseline: 24h, release: 2h}",
    now=sentry.NOW,
    served=served(
        healthy_sentry,
        error_rate=ERROR_RATE,
        **{
            "error_rate of users": "{name: users, metric: error_rate, max: 2%, query: {unit: user}}"
        },
        custom=SENTRY_EVENTS,
    ),
    no_data={
        "no groups": Case(ERROR_RATE, sentry_groups([])),
        "nulls": Case(ERROR_RATE, sentry_groups([sentry.totals(None, None)])),
        "zero and null": Case(ERROR_RATE, sentry_groups([sentry.totals(0, None)])),
        "zero sessions": Case(ERROR_RATE, sentry_groups([sentry.totals(0, 1.0)])),
        "empty discover table": Case(SENTRY_EVENTS, empty_discover_table),
    },
    credentials=SENTRY_KEYS,
    api=".*",
    filtered=with_filter(ERROR_RATE, "os.name:Android"),
)
