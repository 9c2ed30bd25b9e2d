"""The k6 script keeps each call's host as the Playwright suite does: the main host follows BASE_URL,
every other recorded host goes where CXE_SEEDED_HOST_MAP (the suite's --host-map) sends it, and a
host nobody mapped is never called: one message names every such host before any request. Run
under node with the stand-in k6 modules (test_k6.py) against two real servers on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cxe_gate.har.journey_map import load_journey_map
from cxe_gate.seed.k6 import generate_k6
from tests.seed.test_k6 import _journey, _request, _under_node, _write_map


@dataclass
class Server:
    url: str = ""
    seen: list[str] = field(default_factory=list)
    redirect_to: str = ""  # POST /go answers 303 to this


class _Handler(BaseHTTPRequestHandler):
    server_state: Server

    def _answer(self, status: int, **headers: str) -> None:
        self.server_state.seen.append(f"{self.command} {self.path}")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self) -> None:
        self._answer(200, **{"Content-Type": "application/json"})

    def do_POST(self) -> None:
        self._answer(303, Location=self.server_state.redirect_to)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    """The shop and its API, each on its own port."""
    started = []
    for _ in range(2):
        state = Server()
        handler = type("H", (_Handler,), {"server_state": state})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((server, state))
    try:
        yield started[0][1], started[1][1]
    finally:
        for server, _ in started:
            server.shutdown()
            server.server_close()


def _script(tmp_path: Path) -> str:
    """Home on shop.test calling api.shop.test's cart; a POST to the API that redirects (as the
    recording did) to the API's /welcome page."""
    cart = {**_request("GET", "/v1/cart", "/v1/cart"), "host": "api.shop.test"}
    post = {**_request("POST", "/go", "/go", 303), "host": "api.shop.test"}
    welcome = {**_request("GET", "/welcome", "/welcome", via="redirect"), "host": "api.shop.test"}
    steps = [
        {"page": _request("GET", "/", "/"), "calls": [cart]},
        {"page": post, "calls": []},
        {"page": welcome, "calls": []},
    ]
    path = _write_map(tmp_path / "j.json", [_journey(steps, name="home → api")])
    return generate_k6(load_journey_map(path))


def _env(shop: Server, **more: str) -> dict[str, str]:
    return {"BASE_URL": shop.url, "ITERATIONS": "1", "THINK_SCALE": "0", **more}


def test_each_host_goes_where_the_host_map_sends_it(tmp_path, servers) -> None:
    shop, api = servers
    api.redirect_to = f"{api.url}/welcome"  # the mapped host's own, live URL
    script = _script(tmp_path)
    # The journey's name, by hand: pages /, POST /go (`post_go`), /welcome.
    assert '"api.shop.test": "journey_home_post_go_welcome step 1 GET /v1/cart"' in script
    # A target without a scheme takes BASE_URL's (http here).
    ran = _under_node(
        script, tmp_path, _env(shop, CXE_SEEDED_HOST_MAP="api.shop.test=" + api.url.split("//")[1])
    )
    assert ran.ok, ran.output
    assert shop.seen == ["GET /"]
    assert api.seen == ["GET /v1/cart", "POST /go", "GET /welcome"]


def test_a_redirect_to_a_recorded_host_follows_its_mapping(tmp_path, servers) -> None:
    shop, api = servers
    api.redirect_to = "https://api.shop.test/welcome"  # the production host, as recorded
    ran = _under_node(
        _script(tmp_path), tmp_path, _env(shop, CXE_SEEDED_HOST_MAP=f"api.shop.test={api.url}")
    )
    assert ran.ok, ran.output
    assert api.seen == ["GET /v1/cart", "POST /go", "GET /welcome"]


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("", "not mapped: api.shop.test (journey_home_post_go_welcome step 1 GET /v1/cart)"),
        ("other.test=x.test", "not mapped: api.shop.test"),
        ("api.shop.test", "not HOST=TARGET: api.shop.test"),
    ],
)
def test_an_unmapped_host_is_never_called(tmp_path, servers, spec: str, said: str) -> None:
    shop, api = servers
    env: dict[str, Any] = _env(shop, CXE_SEEDED_HOST_MAP=spec) if spec else _env(shop)
    ran = _under_node(_script(tmp_path), tmp_path, env)
    assert not ran.ok
    assert "1 variable(s) this script reads are not set" in ran.output
    assert "CXE_SEEDED_HOST_MAP: a recorded host is never called as it is" in ran.output
    assert said in ran.output
    assert shop.seen == [] and api.seen == []


def test_a_script_of_one_host_needs_no_map(tmp_path, servers) -> None:
    shop, _ = servers
    path = _write_map(
        tmp_path / "j.json", [_journey([{"page": _request("GET", "/", "/"), "calls": []}])]
    )
    script = generate_k6(load_journey_map(path))
    assert "const HOSTS = {};" in script and "CXE_SEEDED_HOST_MAP=HOST" not in script.split("\n")[2]
    ran = _under_node(script, tmp_path, _env(shop))
    assert ran.ok, ran.output
    assert shop.seen == ["GET /"]
