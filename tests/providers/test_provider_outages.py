"""Every SaaS provider through the whole gate when its service misbehaves: refused credentials, rate
limits with Retry-After or the service's own reset header, server errors, answers slower than the
timeout and bodies cut short. Each must end as verdict `error` (never pass), say what happened, and
never show the credential.

The services' good answers, empty results and odd shapes are in each provider's own test file."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict

SECRET = "k-7Hq2Zp9Lx4Vb8Nc3"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
EVERYTHING = re.compile(".*")


@dataclass(frozen=True)
class Service:
    provider: str  # the provider's settings, `URL` where the loopback server goes
    criterion: str
    variables: tuple[str, ...]  # the environment variables the credentials come from


ERROR_RATE = "{name: errors, metric: error_rate, max: 1%}"
CONVERSION = "{name: checkout, metric: conversion, journey: checkout, unit: user, max_drop: 10%}"

SERVICES = {
    "prometheus": Service(
        "{type: prometheus, url: URL, token: '${PROM_TOKEN}'}", ERROR_RATE, ("PROM_TOKEN",)
    ),
    "datadog": Service(
        "{type: datadog, api_url: URL, api_key: '${DD_API_KEY}', app_key: '${DD_APP_KEY}', service: shop}",
        ERROR_RATE,
        ("DD_API_KEY", "DD_APP_KEY"),
    ),
    "newrelic": Service(
        "{type: newrelic, url: URL, api_key: '${NEW_RELIC_API_KEY}', account_id: 1}",
        ERROR_RATE,
        ("NEW_RELIC_API_KEY",),
    ),
    "dynatrace": Service(
        "{type: dynatrace, url: URL, token: '${DT_API_TOKEN}'}", ERROR_RATE, ("DT_API_TOKEN",)
    ),
    "sentry": Service(
        "{type: sentry, url: URL, token: '${SENTRY_AUTH_TOKEN}', organization: shop}",
        ERROR_RATE,
        ("SENTRY_AUTH_TOKEN",),
    ),
    "amplitude": Service(
        "{type: amplitude, url: URL, api_key: '${AMPLITUDE_API_KEY}', secret_key: '${AMPLITUDE_SECRET_KEY}'}",
        CONVERSION,
        ("AMPLITUDE_API_KEY", "AMPLITUDE_SECRET_KEY"),
    ),
    "mixpanel": Service(
        "{type: mixpanel, url: URL, project_id: 7, username: '${MIXPANEL_USER}', secret: '${MIXPANEL_SECRET}',"
        " funnels: {checkout: 42}}",
        CONVERSION,
        ("MIXPANEL_USER", "MIXPANEL_SECRET"),
    ),
    "http": Service(
        "{type: http, base_url: URL, headers: {Authorization: 'Bearer ${METRICS_TOKEN}'}}",
        "{name: errors, metric: error_rate, max: 1%, query: {path: /errors, value: rate, samples: n}}",
        ("METRICS_TOKEN",),
    ),
}


def criteria_file(tmp_path: Path, service: Service, url: str, gate: str = "") -> Path:
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: shop-2.0, deployed_at: 2026-11-23T10:00:00Z}\n"
        f"gate: {{{gate}}}\n"
        "windows: {baseline: {start: -26h, end: -2h}, release: 2h}\n"
        "providers:\n"
        f"  svc: {service.provider.replace('URL', repr(url))}\n"
        "journeys: {checkout: {steps: [view, buy], unit: user}}\n"
        f"criteria:\n  - {service.criterion}\n"
    )
    # Short timeouts keep the suite fast; the behaviour is the same at 30 s.
    text = path.read_text().replace("type: ", "timeout: 700ms, backoff: 10ms, type: ", 1)
    path.write_text(text)
    return path


@pytest.fixture(params=sorted(SERVICES))
def service(request, monkeypatch) -> Service:
    chosen = SERVICES[request.param]
    for variable in chosen.variables:
        monkeypatch.setenv(variable, f"{SECRET}-{variable}")
    return chosen


def run(tmp_path: Path, service: Service, server: HTTPServer, gate: str = ""):
    report = evaluate(
        load(criteria_file(tmp_path, service, server.url_for("").rstrip("/"), gate)), now=NOW
    )
    text = report.model_dump_json()
    assert SECRET not in text  # not in messages, queries or details, whatever the service said
    assert report.verdict is Verdict.ERROR, report.summary
    (criterion,) = report.criteria
    assert criterion.verdict is Verdict.ERROR
    return criterion


def test_refused_credentials_name_the_variables(tmp_path, service, api_server: HTTPServer):
    # The error page echoes the credential, as some services' do.
    def refuse(request: Request) -> Response:
        echoed = " ".join(request.headers.values())
        return Response(
            f'{{"error": "invalid key {echoed}"}}', status=401, content_type="application/json"
        )

    api_server.expect_request(EVERYTHING).respond_with_handler(refuse)
    criterion = run(tmp_path, service, api_server)
    assert "401" in criterion.message
    assert all(variable in criterion.message for variable in service.variables), criterion.message
    assert len(api_server.log) == 1  # a refused credential is not retried


def test_rate_limits_are_waited_out_as_asked(tmp_path, service, api_server: HTTPServer):
    times: list[float] = []

    def throttle(request: Request) -> Response:
        times.append(time.monotonic())
        return Response('{"error": "rate limited"}', status=429, headers={"Retry-After": "0.4"})

    api_server.expect_request(EVERYTHING).respond_with_handler(throttle)
    criterion = run(tmp_path, service, api_server)
    assert "429" in criterion.message and "after 4 attempts" in criterion.message, criterion.message
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert min(gaps) >= 0.38, gaps  # Retry-After: 0.4, not the 10 ms backoff


def test_server_errors_are_retried_then_reported(tmp_path, service, api_server: HTTPServer):
    api_server.expect_request(EVERYTHING).respond_with_data("upstream unavailable", status=503)
    criterion = run(tmp_path, service, api_server)
    assert "503" in criterion.message and "after 4 attempts" in criterion.message, criterion.message


def test_an_answer_slower_than_the_timeout_is_an_error(tmp_path, service, api_server: HTTPServer):
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response("{}", content_type="application/json")

    api_server.expect_request(EVERYTHING).respond_with_handler(slow)
    criterion = run(tmp_path, service, api_server)
    assert "timeout" in criterion.message, criterion.message


def test_a_body_cut_short_is_an_error(tmp_path, service, api_server: HTTPServer):
    api_server.expect_request(EVERYTHING).respond_with_data(
        '{"data": {"result": [{"value": [1, "0.0', content_type="application/json"
    )
    criterion = run(tmp_path, service, api_server)
    assert "not valid JSON" in criterion.message, criterion.message


# A service's own header saying when its rate limit lifts (no Retry-After), as it writes the time
# `seconds` from now; and the UNIX time that is, rounded as the header rounds it.
RESETS: dict[str, Callable[[float], tuple[dict[str, str], float]]] = {
    # seconds until the reset (docs.datadoghq.com/api/latest/rate-limits)
    "datadog": lambda seconds: ({"X-RateLimit-Reset": f"{seconds:g}"}, time.time() + seconds),
    # UTC epoch seconds of the next window (docs.sentry.io/api/ratelimits)
    "sentry": lambda seconds: (
        {"X-Sentry-Rate-Limit-Reset": str(math.ceil(time.time() + seconds))},
        math.ceil(time.time() + seconds),
    ),
    # a UNIX time in microseconds (Dynatrace Managed Cluster API, "Access limit")
    "dynatrace": lambda seconds: (
        {"X-RateLimit-Reset": str(int((time.time() + seconds) * 1e6))},
        time.time() + seconds,
    ),
}


@pytest.fixture(params=sorted(RESETS))
def throttled(request, monkeypatch) -> tuple[Service, Callable[[float], tuple[dict, float]]]:
    chosen = SERVICES[request.param]
    for variable in chosen.variables:
        monkeypatch.setenv(variable, f"{SECRET}-{variable}")
    return chosen, RESETS[request.param]


def test_a_services_own_reset_header_is_waited_out(tmp_path, throttled, api_server: HTTPServer):
    service, reset = throttled
    asked: list[float] = []
    resets: list[float] = []

    def throttle_once(request: Request) -> Response:
        asked.append(time.time())
        if resets:  # then an outage, so the criterion still ends in error
            return Response("upstream unavailable", status=503)
        headers, when = reset(1)
        resets.append(when)
        return Response('{"error": "rate limited"}', status=429, headers=headers)

    api_server.expect_request(EVERYTHING).respond_with_handler(throttle_once)
    criterion = run(tmp_path, service, api_server)
    assert "503" in criterion.message and "after 4 attempts" in criterion.message, criterion.message
    assert asked[1] >= resets[0] - 0.01, (asked, resets)  # the reset, not the 10 ms backoff


def test_a_reset_past_the_deadline_is_an_error_now(tmp_path, throttled, api_server: HTTPServer):
    service, reset = throttled

    def throttle(request: Request) -> Response:
        return Response('{"error": "rate limited"}', status=429, headers=reset(600)[0])

    api_server.expect_request(EVERYTHING).respond_with_handler(throttle)
    started = time.monotonic()
    criterion = run(tmp_path, service, api_server, gate="deadline: 20s")
    assert time.monotonic() - started < 5  # neither 600 s nor the whole 20 s deadline
    assert len(api_server.log) == 1
    assert re.search(
        r"429 .*; the rate limit resets at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (599|600|601) s, "
        r"per X-(Sentry-Rate-Limit|RateLimit)-Reset\), 5\d\d s after the evaluation's deadline "
        r"\(gate\.deadline\): not waited",
        criterion.message,
    ), criterion.message
