"""How the gate drives providers: criteria queried at once (within each provider's limit), results in
the file's order, a deadline that turns a hung provider into `error`, and credentials that never
reach the report, all over a real loopback HTTP server."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.config import Secret
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import Measurement, TimeWindow
from cxe_gate.providers import MetricRequest, Provider, register
from cxe_gate.providers.api_provider import ApiProvider
from cxe_gate.providers.transport import ApiClient, HttpSettings
from cxe_gate.results import Verdict

TOKEN = "tok-9f8e7d6c5b4a"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


class CountingSettings(HttpSettings):
    url: str
    token: Secret


class CountingProvider(Provider):
    """Asks the server for each window's error count of 1,000 requests."""

    settings_model = CountingSettings
    settings: CountingSettings

    def __init__(self, settings, context):
        super().__init__(settings, context)
        token = context.secret(settings.token, "token")
        self.client = ApiClient(
            context, settings, base_url=settings.url, headers={"Authorization": token}
        )

    def measure(self, request: MetricRequest, windows: list[TimeWindow]):
        result = {}
        for window in windows:
            name = request.criterion.name
            body = self.client.get("/errors", params={"c": name, "w": window.label}).body
            result[window.label] = Measurement(
                value=body["errors"] / 1000, samples=1000, successes=body["errors"], query=name
            )
        return result

    def close(self) -> None:
        self.client.close()


register("counting", CountingProvider)


class WindowsAtOnceProvider(ApiProvider):
    """The same questions, each window in its own request and the two read at once; its client
    holds one of the provider's slots for each request (so `max_concurrency` counts requests)."""

    settings_model = CountingSettings
    settings: CountingSettings

    def __init__(self, settings, context):
        super().__init__(settings, context)
        token = context.secret(settings.token, "token")
        self.client = self._api_client(
            base_url=settings.url, headers={"Authorization": token}, auth_hint=""
        )

    def measure(self, request: MetricRequest, windows: list[TimeWindow]):
        def read(window: TimeWindow) -> Measurement:
            name = request.criterion.name
            body = self.client.get("/errors", params={"c": name, "w": window.label}).body
            return Measurement(
                value=body["errors"] / 1000, samples=1000, successes=body["errors"], query=name
            )

        return self.each_window(windows, read)


register("windows-at-once", WindowsAtOnceProvider)


class InFlight:
    """A handler that answers after `delay` and remembers the most requests it held at once."""

    def __init__(self, delay: float, errors: int = 5):
        self.delay, self.errors = delay, errors
        self.current = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        time.sleep(self.delay)
        with self.lock:
            self.current -= 1
        return Response(f'{{"errors": {self.errors}}}', content_type="application/json")


def criteria_file(
    tmp_path: Path,
    url: str,
    count: int,
    gate: str = "",
    extra: str = "",
    provider: str = "counting",
) -> Path:
    criteria = "".join(
        f"  - {{name: c{i:02d}, metric: error_rate, max: 1%, test: none}}\n" for i in range(count)
    )
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: r2, deployed_at: 2026-11-23T10:00:00Z}\n"
        "windows: {baseline: 2h, release: 1h}\n"
        f"gate: {{{gate}}}\n"
        "providers:\n"
        f"  api: {{type: {provider}, url: '{url}', token: '${{API_TOKEN}}', timeout: 5s,"
        f" backoff: 10ms{extra}}}\n"
        f"criteria:\n{criteria}"
    )
    return path


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("API_TOKEN", TOKEN)


@pytest.mark.usefixtures("token")
def test_criteria_are_queried_at_once_and_reported_in_order(tmp_path, api_server: HTTPServer):
    handler = InFlight(delay=0.2)
    api_server.expect_request("/errors").respond_with_handler(handler)
    report = evaluate(load(criteria_file(tmp_path, api_server.url_for(""), 12)), now=NOW)
    assert [c.name for c in report.criteria] == [f"c{i:02d}" for i in range(12)]
    assert all(c.verdict is Verdict.PASS for c in report.criteria)
    assert report.criteria[0].value == 0.005
    assert len(api_server.log) == 24  # two windows each
    assert handler.peak >= 8  # twelve criteria at once: far from one at a time


@pytest.mark.usefixtures("token")
def test_a_provider_limit_caps_requests_in_flight(tmp_path, api_server: HTTPServer):
    handler = InFlight(delay=0.05)
    api_server.expect_request("/errors").respond_with_handler(handler)
    path = criteria_file(tmp_path, api_server.url_for(""), 10, extra=", max_concurrency: 2")
    report = evaluate(load(path), now=NOW)
    assert report.verdict is Verdict.PASS
    assert handler.peak == 2


@pytest.mark.usefixtures("token")
def test_a_criterion_s_windows_are_read_at_once(tmp_path, api_server: HTTPServer):
    handler = InFlight(delay=0.3)
    api_server.expect_request("/errors").respond_with_handler(handler)
    path = criteria_file(tmp_path, api_server.url_for(""), 1, provider="windows-at-once")
    report = evaluate(load(path), now=NOW)
    assert report.verdict is Verdict.PASS and len(api_server.log) == 2
    assert handler.peak == 2  # baseline and release side by side: one round trip, not two


@pytest.mark.usefixtures("token")
def test_a_limit_counts_requests_when_windows_are_read_at_once(tmp_path, api_server: HTTPServer):
    handler = InFlight(delay=0.05)
    api_server.expect_request("/errors").respond_with_handler(handler)
    path = criteria_file(
        tmp_path,
        api_server.url_for(""),
        10,
        extra=", max_concurrency: 3",
        provider="windows-at-once",
    )
    report = evaluate(load(path), now=NOW)
    assert report.verdict is Verdict.PASS and len(api_server.log) == 20
    # Never more requests in flight than the limit, though each criterion reads two windows at
    # once and the gate runs up to 50 criteria at once; and the limit is used, not halved.
    assert handler.peak == 3


@pytest.mark.usefixtures("token")
def test_gate_concurrency_one_is_sequential(tmp_path, api_server: HTTPServer):
    handler = InFlight(delay=0.02)
    api_server.expect_request("/errors").respond_with_handler(handler)
    evaluate(
        load(criteria_file(tmp_path, api_server.url_for(""), 6, gate="concurrency: 1")), now=NOW
    )
    assert handler.peak == 1


@pytest.mark.usefixtures("token")
def test_a_hung_provider_is_an_error_at_the_deadline(tmp_path, api_server: HTTPServer):
    api_server.expect_request("/errors").respond_with_handler(InFlight(delay=3))
    path = criteria_file(tmp_path, api_server.url_for(""), 3, gate="deadline: 1s")
    started = time.monotonic()
    report = evaluate(load(path), now=NOW)
    assert time.monotonic() - started < 2.5  # the evaluation ends at its deadline, not at 3+ s
    assert report.verdict is Verdict.ERROR
    assert {c.verdict for c in report.criteria} == {Verdict.ERROR}
    assert all("deadline" in c.message for c in report.criteria), [
        c.message for c in report.criteria
    ]


@pytest.mark.usefixtures("token")
def test_credentials_echoed_by_a_failing_service_never_reach_the_report(
    tmp_path, api_server: HTTPServer
):
    api_server.expect_request("/errors").respond_with_data(
        f"internal error while checking token {TOKEN}", status=500
    )
    report = evaluate(
        load(criteria_file(tmp_path, api_server.url_for(""), 2, extra=", retries: 1")), now=NOW
    )
    assert report.verdict is Verdict.ERROR
    text = report.model_dump_json()
    assert "500 INTERNAL SERVER ERROR" in text and "token ***" in text
    assert TOKEN not in text


def test_a_missing_credential_is_an_error_naming_the_variable(tmp_path, api_server, monkeypatch):
    monkeypatch.delenv("API_TOKEN", raising=False)
    report = evaluate(load(criteria_file(tmp_path, api_server.url_for(""), 1)), now=NOW)
    assert report.verdict is Verdict.ERROR
    assert "environment variable API_TOKEN is not set" in report.criteria[0].message
    assert api_server.log == []
