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
from collections import Counter, defaultdict
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


# The providers that read a criterion's two windows at once (Provider.each_window): one request
# sequence per window, side by side. The others read one window after the other, and an outage
# ends the criterion at the first.
AT_ONCE = {"http", "datadog", "dynatrace", "prometheus", "sentry", "amplitude", "mixpanel"}


def sequences(stand: Stand) -> int:
    """How many request sequences an outage sees: one for each window the provider reads at once."""
    return 2 if stand.type in AT_ONCE else 1


def asked(request: Request) -> tuple[str, bytes, bytes]:
    """What a request asks, whoever asks: the same for each retry of one window's request, and
    different for each window, whose times it carries."""
    return request.path, request.query_string, request.get_data()


@OUTAGES
def test_refused_credentials_name_the_variables(stand: Stand, stage: Stage):
    sent: Counter[tuple[str, bytes, bytes]] = Counter()

    # The error page echoes the credentials, as some services' do.
    def refuse(request: Request) -> Response:
        sent[asked(request)] += 1
        return Response(
            f'{{"error": "invalid key {echoed(request)}"}}',
            status=401,
            content_type="application/json",
        )

    misbehave(stand, stage, refuse)
    criterion = run(stand, stage)
    assert "401" in criterion.message
    assert not isinstance(stand.credentials, Gap)
    variables = stand.credentials(stage)
    assert all(variable in criterion.message for variable in variables), criterion.message
    # A refused credential is never retried: each window's request went `refusals` times, once
    # for each window read at once (two for a provider reading both together), not one in total.
    assert len(sent) == sequences(stand), sent
    assert set(sent.values()) == {stand.refusals}, sent


@OUTAGES
def test_rate_limits_are_waited_out_as_asked(stand: Stand, stage: Stage):
    times: defaultdict[tuple[str, bytes, bytes], list[float]] = defaultdict(list)

    def throttle(request: Request) -> Response:
        times[asked(request)].append(time.monotonic())
        return Response('{"error": "rate limited"}', status=429, headers={"Retry-After": "0.4"})

    misbehave(stand, stage, throttle)
    criterion = run(stand, stage)
    assert "429" in criterion.message and "after 4 attempts" in criterion.message, criterion.message
    # Each window's requests wait out the Retry-After between them; windows read at once do not
    # wait on each other.
    assert len(times) == sequences(stand), times
    assert all(len(sent) == 4 for sent in times.values()), times
    gaps = [later - earlier for sent in times.values() for earlier, later in pairwise(sent)]
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
    sent: defaultdict[tuple[str, bytes, bytes], list[float]] = defaultdict(list)
    resets: dict[tuple[str, bytes, bytes], float] = {}

    # Each window's first request is throttled, then an outage, so the criterion ends in error.
    def throttle_once(request: Request) -> Response:
        key = asked(request)
        sent[key].append(time.time())
        if key in resets:
            return Response("upstream unavailable", status=503)
        headers, resets[key] = reset(1)
        return Response('{"error": "rate limited"}', status=429, headers=headers)

    misbehave(stand, stage, throttle_once)
    criterion = run(stand, stage)
    assert "503" in criterion.message and "after 4 attempts" in criterion.message, criterion.message
    assert len(sent) == sequences(stand), sent
    for key, times in sent.items():  # each window's retry waits for its reset, not the backoff
        assert times[1] >= resets[key] - 0.01, (times, resets[key])


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
    sent: Counter[tuple[str, bytes, bytes]] = Counter()

    def throttle(request: Request) -> Response:
        sent[asked(request)] += 1
        return Response('{"error": "rate limited"}', status=429, headers=reset(600)[0])

    server = misbehave(stand, stage, throttle)
    started = time.monotonic()
    criterion = run(stand, stage, gate="deadline: 20s")
    assert time.monotonic() - started < 5  # neither 600 s nor the whole 20 s deadline
    # No retry: one request for each window read at once, and nothing else (no sign-in either).
    assert len(server.log) == sequences(stand) == len(sent)
    assert set(sent.values()) == {1}, sent
    assert re.search(
        r"429 .*; the rate limit resets at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (599|600|601) s, "
        r"per X-(Sentry-Rate-Limit|RateLimit)-Reset\), 5\d\d s after the evaluation's deadline "
        r"\(gate\.deadline\): not waited",
        criterion.message,
    ), criterion.message
