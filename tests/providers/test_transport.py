"""The HTTP layer every SaaS provider shares, against real loopback servers: retries, Retry-After,
timeouts, the deadline, malformed and cut-short bodies, and credentials kept out of every error."""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.config import SecretRef
from cxe_gate.errors import ProviderError
from cxe_gate.providers.base import ProviderContext
from cxe_gate.providers.transport import (
    ApiClient,
    HttpSettings,
    Reply,
    seconds_from_now,
    unix_time,
)

TOKEN = "s3cr3t-token-value-123"


def client(
    url: str, *, deadline: float | None = None, reset_headers=None, retryable=None, **settings
) -> ApiClient:
    context = ProviderContext(
        name="svc", base_dir=Path("."), environ={"SVC_TOKEN": TOKEN}, deadline=deadline
    )
    token = context.secret(SecretRef("${SVC_TOKEN}"), "token")
    options = {"backoff": "10ms", "timeout": "2s", **settings}
    return ApiClient(
        context,
        HttpSettings.model_validate(options),
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        reset_headers=reset_headers,
        retryable=retryable,
    )


def test_answer_is_parsed_and_credentials_are_sent(api_server: HTTPServer):
    api_server.expect_request(
        "/v1/q", query_string={"m": "x"}, headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json({"value": 1.5})
    reply = client(api_server.url_for("/")).get("/v1/q", params={"m": "x"})
    assert reply.status == 200
    assert reply.body == {"value": 1.5}


@pytest.mark.parametrize(
    "params",
    [
        {"m": "x"},
        {"q": "sum:errors{env:prod} by {host}", "from": 1732356000, "to": 1.5},
        {"ids": ["a", "b c"], "skip": None, "flag": True, "é": "ü/?&="},
        [("k", "1"), ("k", "2"), ("empty", "")],
        {"tuple": ("x", None, "y"), "bytes": b"raw"},
        {},
    ],
)
def test_parameters_are_sent_exactly_as_requests_encodes_them(api_server: HTTPServer, params):
    # The expected query string is requests' own encoding of the same parameters.
    expected = urlsplit(requests.Request("GET", "http://h/q", params=params).prepare().url).query
    api_server.expect_request("/q").respond_with_json({})
    client(api_server.url_for("/")).get("/q", params=params)
    (request, _), *_ = api_server.log
    assert request.query_string.decode() == expected


def test_429_is_retried_after_the_time_the_server_asks(api_server: HTTPServer):
    api_server.expect_ordered_request("/q").respond_with_json(
        {"error": "slow down"}, status=429, headers={"Retry-After": "1"}
    )
    api_server.expect_ordered_request("/q").respond_with_json({"ok": True})
    started = time.monotonic()
    reply = client(api_server.url_for("/")).get("/q")
    waited = time.monotonic() - started
    assert reply.body == {"ok": True}
    assert 1.0 <= waited < 1.8, waited  # Retry-After: 1, not the 10 ms backoff
    assert len(api_server.log) == 2


def test_5xx_is_retried_then_reported_with_what_came_back(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_data("upstream down", status=503)
    with pytest.raises(ProviderError) as caught:
        client(api_server.url_for("/"), retries=2).get("/q", query="rate(x[5m])")
    assert len(api_server.log) == 3
    message = str(caught.value)
    assert "503 SERVICE UNAVAILABLE: upstream down after 3 attempts" in message
    assert caught.value.query == "rate(x[5m])"
    assert caught.value.provider == "svc"


def test_401_names_the_variable_to_check_and_never_the_token(api_server: HTTPServer):
    # A hostile or careless server echoes the credential back in its error page.
    api_server.expect_request("/q").respond_with_data(
        f"<html>bad token {TOKEN}</html>", status=401, content_type="text/html"
    )
    with pytest.raises(ProviderError) as caught:
        client(api_server.url_for("/")).get("/q", params={"api_key": TOKEN})
    message = str(caught.value)
    assert "401" in message and "check SVC_TOKEN" in message
    assert TOKEN not in message and TOKEN not in (caught.value.query or "")
    assert len(api_server.log) == 1  # a refused credential is not retried


def test_a_server_error_echoing_the_token_is_redacted(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_data(f"bad request for key={TOKEN}", status=400)
    with pytest.raises(ProviderError) as caught:
        client(api_server.url_for("/")).get("/q")
    assert "key=***" in str(caught.value) and TOKEN not in str(caught.value)


def test_malformed_json_is_an_error_not_a_value(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_data(
        '{"data": {"result": [1, 2', content_type="application/json"
    )
    with pytest.raises(ProviderError, match=r"not valid JSON \(cut short\?\)"):
        client(api_server.url_for("/")).get("/q")


def test_accepted_statuses_come_back_to_the_caller(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_json({"error": "bad PromQL"}, status=400)
    reply = client(api_server.url_for("/")).get("/q", accept={400})
    assert (reply.status, reply.body) == (400, {"error": "bad PromQL"})


def test_slow_answer_times_out_then_retries(api_server: HTTPServer):
    calls = []

    def slow_then_fast(request: Request) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(1.0)
        return Response('{"v": 2}', content_type="application/json")

    api_server.expect_request("/q").respond_with_handler(slow_then_fast)
    reply = client(api_server.url_for("/"), timeout="300ms").get("/q")
    assert reply.body == {"v": 2}
    assert len(calls) == 2


def test_the_deadline_cuts_retries_short(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_json({}, status=429, headers={"Retry-After": "30"})
    started = time.monotonic()
    with pytest.raises(ProviderError, match="deadline"):
        client(api_server.url_for("/"), deadline=time.monotonic() + 2).get("/q")
    assert time.monotonic() - started < 1.5  # did not sleep 30 s hoping to beat a 2 s deadline


# --- a service's own rate-limit headers ----------------------------------------------------------

RESET = {"X-RateLimit-Reset": seconds_from_now}


def test_a_services_reset_header_is_waited_out_when_there_is_no_retry_after(
    api_server: HTTPServer,
):
    api_server.expect_ordered_request("/q").respond_with_json(
        {"errors": ["Too many requests"]}, status=429, headers={"X-RateLimit-Reset": "1"}
    )
    api_server.expect_ordered_request("/q").respond_with_json({"ok": True})
    started = time.monotonic()
    reply = client(api_server.url_for("/"), reset_headers=RESET).get("/q")
    assert reply.body == {"ok": True}
    assert 1.0 <= time.monotonic() - started < 1.8  # the reset, not the 10 ms backoff


def test_retry_after_wins_over_the_services_reset_header(api_server: HTTPServer):
    api_server.expect_ordered_request("/q").respond_with_json(
        {}, status=429, headers={"Retry-After": "0.2", "X-RateLimit-Reset": "30"}
    )
    api_server.expect_ordered_request("/q").respond_with_json({"ok": True})
    started = time.monotonic()
    assert client(api_server.url_for("/"), reset_headers=RESET).get("/q").body == {"ok": True}
    assert 0.2 <= time.monotonic() - started < 1.0


def test_a_reset_header_is_read_only_on_a_429(api_server: HTTPServer):
    # Datadog sends X-RateLimit-Reset on every answer of a limited endpoint, 5xx included.
    api_server.expect_ordered_request("/q").respond_with_json(
        {}, status=503, headers={"X-RateLimit-Reset": "30"}
    )
    api_server.expect_ordered_request("/q").respond_with_json({"ok": True})
    started = time.monotonic()
    assert client(api_server.url_for("/"), reset_headers=RESET).get("/q").body == {"ok": True}
    assert time.monotonic() - started < 1.0  # the backoff, not 30 s


def test_a_reset_past_the_deadline_is_not_waited_and_the_error_says_when(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_json(
        {}, status=429, headers={"X-RateLimit-Reset": "60"}
    )
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        client(api_server.url_for("/"), deadline=started + 2, reset_headers=RESET).get("/q")
    assert time.monotonic() - started < 1.0  # errors now rather than sleep into the deadline
    assert len(api_server.log) == 1
    assert re.search(
        r"429 TOO MANY REQUESTS: \{\}; the rate limit resets at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
        r"\(in 60 s, per X-RateLimit-Reset\), 5\d s after the evaluation's deadline "
        r"\(gate\.deadline\): not waited",
        str(caught.value),
    ), str(caught.value)


def test_a_reset_already_past_falls_back_to_the_backoff(api_server: HTTPServer):
    past = str(int(time.time()) - 5)
    api_server.expect_ordered_request("/q").respond_with_json(
        {}, status=429, headers={"X-Sentry-Rate-Limit-Reset": past}
    )
    api_server.expect_ordered_request("/q").respond_with_json({"ok": True})
    svc = client(api_server.url_for("/"), reset_headers={"X-Sentry-Rate-Limit-Reset": unix_time})
    assert svc.get("/q").body == {"ok": True}


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000], ids=["seconds", "ms", "microseconds"])
def test_a_unix_reset_reads_the_same_in_any_unit(scale: int):
    in_ten_seconds = int((time.time() + 10) * scale)  # seconds: 9 to 10 s away
    assert unix_time(str(in_ten_seconds)) == pytest.approx(
        in_ten_seconds / scale - time.time(), abs=0.05
    )
    reset = unix_time(str(in_ten_seconds))
    assert reset is not None and 9 <= reset <= 10


@pytest.mark.parametrize("value", ["", "soon", "-3", "1e3", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_an_unreadable_reset_is_ignored(value: str):
    assert seconds_from_now(value) is None and unix_time(value) is None


# --- answers no retry can help ------------------------------------------------------------------

SPENT = {
    "error": {
        "code": 429,
        "message": "Exhausted property tokens per day",
        "status": "RESOURCE_EXHAUSTED",
    }
}


def not_spent(reply: Reply) -> bool:
    """GA4's way: a 429 RESOURCE_EXHAUSTED is an hourly or daily quota, not seconds of waiting."""
    error = reply.body.get("error") if isinstance(reply.body, dict) else None
    return not (isinstance(error, dict) and error.get("status") == "RESOURCE_EXHAUSTED")


def test_an_answer_the_provider_reads_as_final_is_not_retried(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_json(
        SPENT, status=429, headers={"Retry-After": "1"}
    )
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        client(api_server.url_for("/"), retryable=not_spent).get("/q")
    assert time.monotonic() - started < 0.5 and len(api_server.log) == 1
    message = str(caught.value)
    assert "429 TOO MANY REQUESTS" in message and "RESOURCE_EXHAUSTED" in message
    assert message.endswith("not retried: waiting would not help")


def test_other_answers_are_still_retried_under_the_providers_rule(api_server: HTTPServer):
    api_server.expect_ordered_request("/q").respond_with_json(
        {"error": {"code": 429, "status": "TOO_MANY_CONCURRENT"}}, status=429
    )
    api_server.expect_ordered_request("/q").respond_with_data("busy", status=503)
    api_server.expect_ordered_request("/q").respond_with_json({"ok": True})
    assert client(api_server.url_for("/"), retryable=not_spent).get("/q").body == {"ok": True}


def test_a_rule_may_end_the_request_with_its_own_error(api_server: HTTPServer):
    def spent(reply: Reply) -> bool:
        raise ProviderError(
            "the property's daily token quota is spent; it resets at midnight", provider="svc"
        )

    api_server.expect_request("/q").respond_with_json(SPENT, status=429)
    with pytest.raises(ProviderError, match="daily token quota is spent"):
        client(api_server.url_for("/")).get("/q", retryable=spent)  # for this request only
    assert len(api_server.log) == 1


def test_nothing_is_sent_after_the_deadline(api_server: HTTPServer):
    with pytest.raises(ProviderError, match="deadline"):
        client(api_server.url_for("/"), deadline=time.monotonic() - 1).get("/q")
    assert api_server.log == []


def test_connection_refused_is_an_error_naming_the_host():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderError, match=f"cannot read from http://127.0.0.1:{port}"):
        client(f"http://127.0.0.1:{port}", retries=1).get("/q")


@pytest.fixture
def cut_short_server():
    """Promises 100 bytes of JSON, sends 20, and hangs up: a body cut short in transit."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 100\r\n\r\n{"data": {"result": '
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


def test_a_body_cut_short_in_transit_is_an_error(cut_short_server: str):
    with pytest.raises(ProviderError) as caught:
        client(cut_short_server, retries=1).get("/q")
    assert "after 2 attempts" in str(caught.value)


def test_settings_are_validated_with_units():
    settings = HttpSettings.model_validate({"timeout": "5s", "retries": 0})
    assert settings.timeout == timedelta(seconds=5)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        HttpSettings.model_validate({"retries": -1})
