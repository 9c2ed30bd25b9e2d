"""Proxies and CA bundles from the environment, read once per origin (EnvironmentOnce): the same
settings requests itself resolves, and requests really routed through a loopback proxy or not."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from cxe_gate.providers.base import ProviderContext
from cxe_gate.providers.proxies import EnvironmentOnce
from cxe_gate.providers.transport import ApiClient, HttpSettings

PROXY_VARIABLES = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets exactly the variables it is about (this machine sets the CA bundles)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _server(name: str) -> Iterator[tuple[str, list[str]]]:
    """A loopback server answering every GET with who it is and the request line's target; as a
    forward proxy it receives the absolute URL of the API it stands in front of."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = json.dumps({"from": name, "target": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def api() -> Iterator[tuple[str, list[str]]]:
    yield from _server("api")


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    yield from _server("proxy")


def client(url: str) -> ApiClient:
    context = ProviderContext(name="svc", base_dir=Path("."))
    settings = HttpSettings.model_validate({"timeout": "2s", "retries": 0})
    return ApiClient(context, settings, base_url=url)


def test_http_proxy_from_the_environment_carries_the_request(monkeypatch, api, proxy):
    (api_url, api_seen), (proxy_url, proxy_seen) = api, proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    reply = client(api_url).get("/errors", params={"from": "a b", "to": ["1", "2"]})
    # A forward proxy is sent the absolute URL; the API itself sees nothing.
    target = f"{api_url}/errors?from=a+b&to=1&to=2"
    assert reply.body == {"from": "proxy", "target": target}
    assert proxy_seen == [target]
    assert api_seen == []


def test_no_proxy_sends_the_api_s_host_direct(monkeypatch, api, proxy):
    (api_url, api_seen), (proxy_url, proxy_seen) = api, proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.1")
    reply = client(api_url).get("/errors")
    assert reply.body == {"from": "api", "target": "/errors"}
    assert api_seen == ["/errors"]
    assert proxy_seen == []


def test_the_environment_is_read_once_per_client_and_origin(monkeypatch, api, proxy):
    (api_url, api_seen), (proxy_url, proxy_seen) = api, proxy
    first = client(api_url)
    assert first.get("/one").body == {"from": "api", "target": "/one"}
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    # The client settled the origin's route at its first request: the proxy set since is not used
    # by it, as ProviderContext.environ is read when the evaluation starts; a new client sees it.
    assert first.get("/two").body == {"from": "api", "target": "/two"}
    assert client(api_url).get("/three").body["from"] == "proxy"
    assert api_seen == ["/one", "/two"]
    assert proxy_seen == [f"{api_url}/three"]


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"HTTP_PROXY": "http://127.0.0.1:3128"},
        {"HTTPS_PROXY": "http://user:pw@127.0.0.1:3129", "NO_PROXY": "api.example.com"},
        {"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": "example.com:8443"},
        {"https_proxy": "http://127.0.0.1:3131", "no_proxy": "*"},
        {"REQUESTS_CA_BUNDLE": "/etc/ssl/own-ca.pem"},
        {"CURL_CA_BUNDLE": "/etc/ssl/curl-ca.pem", "HTTP_PROXY": "http://127.0.0.1:3128"},
    ],
)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x?q=1",
        "https://api.example.com/v1/query?from=0",
        "https://example.com:8443/v2",
        "https://sub.example.com/v3",
    ],
)
def test_settled_settings_are_the_ones_requests_resolves(monkeypatch, environment, url):
    # The expected answer is requests' own reading of the environment, per request.
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    expected = requests.Session().merge_environment_settings(url, {}, None, None, None)
    session = EnvironmentOnce()
    for _ in range(2):  # settled at the first call, answered from it at the second
        assert session.merge_environment_settings(url, {}, None, None, None) == expected


def test_a_request_with_settings_of_its_own_is_resolved_as_requests_does(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/own-ca.pem")
    own = {"http": "http://127.0.0.1:3999"}
    settled = EnvironmentOnce().merge_environment_settings(
        "http://127.0.0.1:9/x", dict(own), None, False, None
    )
    # Its own proxy and verify=False win over the environment's, as in requests.
    assert settled["proxies"]["http"] == "http://127.0.0.1:3999"
    assert settled["verify"] is False
