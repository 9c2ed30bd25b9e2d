"""The provider contract, outages: every provider with a service (the table in contract_table.py,
which says why the others have none) through the whole gate when its service misbehaves: refused
credentials, rate limits with Retry-After or the service's own reset header, server errors,
answers slower than the timeout and bodies cut short. Each must end as verdict `error` (never
pass), say what happened, and never show a credential; a rate limit waited out ends in the
service's answer."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from itertools import pairwise

import pytest
from contract_stand import Gap, Stage, Stand, gate_report, never_shown
from contract_table import STANDS, stands
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.report.markdown import render_markdown
from cxe_gate.results import CriterionResult, Verdict

# Every provider with a service: the table says why the others have none.
OUTAGES = pytest.mark.parametrize("stand", stands(lambda stand: not isinstance(stand.api, Gap)))


def misbehave(stand: Stand, stage: Stage, handler: Callable[[Request], Response]) -> HTTPServer:
    """The service's API answers with `handler`; its sign-in keeps working."""
    assert stage.server is not None and isinstance(stand.api, str)
    stand.sign_in(stage)
    stage.server.expect_request(re.compile(stand.api)).respond_with_handler(handler)
    return stage.server


# Headers every request carries; the others a careless proxy's error page quotes.
PLAIN = {"host", "user-agent", "accept", "accept-encoding", "connection", "content-length"}


def echoed(request: Request) -> str:
    """The request's own headers (its credentials among them), as such a page quotes them."""
    return "; ".join(
        f"{name}: {value}"
        for name, value in request.headers.items()
        if name.lower() not in PLAIN | {"content-type"}
    )


def run(stand: Stand, stage: Stage, gate: str = "") -> CriterionResult:
    report = gate_report(stand, stage, stand.main.criterion, gate)
    shown = report.model_dump_json() + render_markdown(report)
    for form in never_shown(stand, stage):  # not in messages, queries or details
        assert form not in shown
    assert report.verdict is Verdict.ERROR, report.summary
    (criterion,) = report.criteria
    assert criterion.verdict is Verdict.ERROR
    return criterion


def api_requests(stand: Stand, server: HTTPServer) -> int:
    assert isinstance(stand.api, str)
    return sum(1 for request, _ in server.log if re.search(stand.api, request.path))


@OUTAGES
def test_refused_credentials_name_the_variables(stand: Stand, stage: Stage):
    # The error page echoes the credentials, as some services' do.
    def refuse(request: Request) -> Response:
        return Response(
            f'{{"error": "invalid key {echoed(request)}"}}',
            status=401,
            content_type="application/json",
        )

    server = misbehave(stand, stage, refuse)
    criterion = run(stand, stage)
    assert "401" in criterion.message
    assert not isinstance(stand.credentials, Gap)
    variables = stand.credentials(stage)
    assert all(variable in criterion.message for variable in variables), criterion.message
    assert api_requests(stand, server) == stand.refusals  # a refused credential is not retried


@OUTAGES
def test_rate_limits_are_waited_out_as_asked(stand: Stand, stage: Stage):
    times: list[float] = []

    def throttle(request: Request) -> Response:
        times.append(time.monotonic())
        return Response('{"error": "rate limited"}', status=429, headers={"Retry-After": "0.4"})

    misbehave(stand, stage, throttle)
    criterion = run(stand, stage)
    assert "429" in criterion.message and "after 4 attempts" in criterion.message, criterion.message
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert min(gaps) >= 0.38, gaps  # Retry-After: 0.4, not the 10 ms backoff


@OUTAGES
def test_a_rate_limit_waited_out_ends_in_the_services_answer(stand: Stand, stage: Stage):
    assert stage.server is not None and isinstance(stand.api, str)
    throttled: list[float] = []

    def throttle_once(request: Request) -> Response:
        throttled.append(time.monotonic())
        return Response('{"error": "rate limited"}', status=429, headers={"Retry-After": "0.3"})

    stage.server.expect_oneshot_request(re.compile(stand.api)).respond_with_handler(throttle_once)
    stand.main.serve(stage)
    started = time.monotonic()
    (criterion,) = gate_report(stand, stage, stand.main.criterion).criteria
    assert criterion.verdict is not Verdict.ERROR, criterion.message
    assert criterion.value is not None
    assert throttled and time.monotonic() - started >= 0.3  # as asked, not the 10 ms backoff


@OUTAGES
def test_server_errors_are_retried_then_reported(stand: Stand, stage: Stage):
    # A broken proxy echoes the request's credentials in its error page: redacted, not dropped.
    misbehave(
        stand, stage, lambda request: Response(f"upstream unavailable ({echoed(request)})", 503)
    )
    criterion = run(stand, stage)
    assert "503" in criterion.message and "after 4 attempts" in criterion.message, criterion.message
    assert "upstream unavailable" in criterion.message and "***" in criterion.message


@OUTAGES
def test_an_answer_slower_than_the_timeout_is_an_error(stand: Stand, stage: Stage):
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response("{}", content_type="application/json")

    misbehave(stand, stage, slow)
    criterion = run(stand, stage)
    assert re.search(r"no answer within 0\.7 s \(timeout\) after 4 attempts", criterion.message), (
        criterion.message
    )


@OUTAGES
def test_a_body_cut_short_is_an_error(stand: Stand, stage: Stage):
    misbehave(
        stand,
        stage,
        lambda request: Response(
            '{"data": {"result": [{"value": [1, "0.0', content_type="application/json"
        ),
    )
    criterion = run(stand, stage)
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
# The services whose rate limit says when it lifts only in a header of their own.
THROTTLED = pytest.mark.parametrize("stand", [STANDS[name] for name in sorted(RESETS)], ids=str)


@THROTTLED
def test_a_services_own_reset_header_is_waited_out(stand: Stand, stage: Stage):
    reset = RESETS[stand.type]
    asked: list[float] = []
    resets: list[float] = []

    def throttle_once(request: Request) -> Response:
        asked.append(time.time())
        if resets:  # then an outage, so the criterion still ends in error
            return Response("upstream unavailable", status=503)
        headers, when = reset(1)
        resets.append(when)
        return Response('{"error": "rate limited"}', status=429, headers=headers)

    misbehave(stand, stage, throttle_once)
    criterion = run(stand, stage)
    assert "503" in criterion.message and "after 4 attempts" in criterion.message, criterion.message
    assert asked[1] >= resets[0] - 0.01, (asked, resets)  # the reset, not the 10 ms backoff


@THROTTLED
def test_a_reset_header_waited_out_ends_in_the_services_answer(stand: Stand, stage: Stage):
    assert stage.server is not None and isinstance(stand.api, str)
    resets: list[float] = []

    def throttle_once(request: Request) -> Response:
        headers, when = RESETS[stand.type](1)
        resets.append(when)
        return Response('{"error": "rate limited"}', status=429, headers=headers)

    stage.server.expect_oneshot_request(re.compile(stand.api)).respond_with_handler(throttle_once)
    stand.main.serve(stage)
    (criterion,) = gate_report(stand, stage, stand.main.criterion).criteria
    assert criterion.verdict is not Verdict.ERROR and criterion.value is not None, criterion.message
    assert time.time() >= resets[0] - 0.01  # the answer came after the reset, not the backoff


@THROTTLED
def test_a_reset_past_the_deadline_is_an_error_now(stand: Stand, stage: Stage):
    reset = RESETS[stand.type]
    server = misbehave(
        stand,
        stage,
        lambda request: Response('{"error": "rate limited"}', status=429, headers=reset(600)[0]),
    )
    started = time.monotonic()
    criterion = run(stand, stage, gate="deadline: 20s")
    assert time.monotonic() - started < 5  # neither 600 s nor the whole 20 s deadline
    assert len(server.log) == 1
    assert re.search(
        r"429 .*; the rate limit resets at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (599|600|601) s, "
        r"per X-(Sentry-Rate-Limit|RateLimit)-Reset\), 5\d\d s after the evaluation's deadline "
        r"\(gate\.deadline\): not waited",
        criterion.message,
    ), criterion.message
