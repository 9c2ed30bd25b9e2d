"""ApiClient prepares its requests itself instead of through `Session.request`: the bytes on the
wire must stay requests' own, and so must redirects, cookies and netrc credentials. The expected
bytes come from a plain `requests.Session` sending the same request to the same loopback server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cxe_gate import __version__
from cxe_gate.providers.base import ProviderContext
from cxe_gate.providers.prepared import encoded_query
from cxe_gate.providers.transport import ApiClient, HttpSettings

HEADERS = {"Authorization": "Bearer t0ken", "X-Team": "gate"}


class RawServer:
    """A loopback HTTP/1.1 server that keeps every request's raw bytes (request line, headers,
    body) and answers by path: a redirect, a cookie, or a JSON body; connections kept alive."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += connection.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                self.seen.append(head + b"\r\n\r\n" + body)
                connection.sendall(self._answer(head.split(b" ")[1].decode()))

    @staticmethod
    def _answer(target: str) -> bytes:
        extra = b""
        status = b"200 OK"
        if target.startswith("/moved"):  # 302: a GET to the new place, as browsers do
            status, extra = b"302 Found", b"Location: /landed?hop=1\r\n"
        elif target.startswith("/kept"):  # 307: the same method and body to the new place
            status, extra = b"307 Temporary Redirect", b"Location: /landed?hop=2\r\n"
        elif target.startswith("/login"):
            extra = b"Set-Cookie: session=abc123; Path=/\r\n"
        body = json.dumps({"target": target}).encode()
        return (
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n" + extra
            + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )  # fmt: skip

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))  # this machine's ~/.netrc stays out


def api_client(url: str) -> ApiClient:
    context = ProviderContext(name="svc", base_dir=Path("."))
    settings = HttpSettings.model_validate({"timeout": "2s", "retries": 0})
    return ApiClient(context, settings, base_url=url, headers=HEADERS)


def plain_session() -> requests.Session:
    """What ApiClient sent before it prepared requests itself: a Session with the same headers."""
    session = requests.Session()
    session.headers["User-Agent"] = f"cxe-gate/{__version__}"
    session.headers.update(HEADERS)
    return session


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/errors", {"params": {"from": "2026-11-23T10:00:00Z", "to": "2026-11-23T11:00:00Z"}}),
    ("GET", "/q", {"params": {"ids": ["a", "b c"], "skip": None, "flag": True, "é": "ü/?&="}}),
    ("GET", "/q", {"params": [("k", 1), ("k", 2.5), ("empty", "")]}),
    ("GET", "/q", {"params": {"nested": [("x", "y")], "bytes": b"r w"}}),
    ("GET", "/already?x=1", {"params": {"y": "2"}}),
    ("GET", "/space here/ü", {"params": {"a": "b"}}),
    ("GET", "/pct%41/%zz", {"params": {"a": "b"}}),
    ("GET", "/frag#part", {"params": {"a": "b"}}),
    ("GET", "/no-params", {}),
    ("POST", "/v1/query", {"json_body": {"query": "sum:errors{*}", "from": 1, "nan": None}}),
    ("POST", "/token", {"form": {"grant_type": "client_credentials", "scope": "a b"}}),
    ("POST", "/empty", {}),
    ("GET", "/h", {"headers": {"X-Team": "other", "X-Extra": "1"}}),
]


@pytest.mark.parametrize(("method", "path", "options"), CASES)
def test_the_bytes_on_the_wire_are_what_session_request_sends(
    raw_server: RawServer, method: str, path: str, options: dict[str, Any]
):
    api_client(raw_server.url).request(method, path, **options)
    plain_session().request(
        method,
        f"{raw_server.url}{path}",
        params=options.get("params"),
        json=options.get("json_body"),
        data=options.get("form"),
        headers=options.get("headers"),
        timeout=2,
    )
    ours, theirs = raw_server.seen
    assert ours == theirs


def test_the_query_string_is_encoded_once_as_worked_out_by_hand(raw_server: RawServer):
    params = {"from": "2026-11-23T10:00:00Z", "q": "a b/é", "n": [1, 2.5], "none": None}
    api_client(raw_server.url).get("/e", params=params)
    # ':' is %3A, a space +, '/' %2F, é the UTF-8 bytes C3 A9; a list repeats its key; None is
    # left out; numbers are written as str() writes them.
    expected = "from=2026-11-23T10%3A00%3A00Z&q=a+b%2F%C3%A9&n=1&n=2.5"
    assert raw_server.seen[0].split(b"\r\n")[0] == f"GET /e?{expected} HTTP/1.1".encode()
    assert encoded_query(params) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"a": "plain", "b": "with space", "c": "ünïcödé", "d": "~_.-", "e": "!*'();:@&=+$,/?#[]"},
        {"n": 0, "f": -1.25e-07, "t": True, "x": float("inf"), "list": [1, "2", None, b"\xff"]},
        [("k", "v"), (b"bk", b"bv"), ("tuple", ("x", "y"))],
        {"control": "\x00\x1f\x7f", "tab": "a\tb", "percent": "100%"},
        {},
    ],
)
def test_the_encoding_is_requests_own(params: Any):
    # requests' own encoder of parameters is the reference.
    expected = requests.models.RequestEncodingMixin._encode_params(params)
    assert encoded_query(params) == expected


def test_a_redirect_is_followed_as_requests_follows_it(raw_server: RawServer):
    client = api_client(raw_server.url)
    reply = client.get("/moved", params={"a": "1"})
    # 302: the client asks the new place with a GET, without the old query string.
    assert reply.body == {"target": "/landed?hop=1"}
    kept = client.post("/kept", json_body={"q": 1})
    # 307: the same method and body go to the new place.
    assert kept.body == {"target": "/landed?hop=2"}
    lines = [raw.split(b"\r\n")[0] for raw in raw_server.seen]
    assert lines == [
        b"GET /moved?a=1 HTTP/1.1",
        b"GET /landed?hop=1 HTTP/1.1",
        b"POST /kept HTTP/1.1",
        b"POST /landed?hop=2 HTTP/1.1",
    ]
    assert raw_server.seen[-1].endswith(b'{"q": 1}')
    # The Authorization header is kept: the redirect stays on the same host.
    assert all(b"Authorization: Bearer t0ken" in raw for raw in raw_server.seen)


def test_a_cookie_the_service_sets_is_sent_back_as_by_a_session(raw_server: RawServer):
    client = api_client(raw_server.url)
    client.get("/login")
    client.get("/after")
    first, second = raw_server.seen
    assert b"Cookie:" not in first
    assert b"\r\nCookie: session=abc123" in second


def test_netrc_credentials_are_sent_as_requests_sends_them(
    raw_server: RawServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login robot password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    context = ProviderContext(name="svc", base_dir=Path("."))
    settings = HttpSettings.model_validate({"timeout": "2s", "retries": 0})
    ApiClient(context, settings, base_url=raw_server.url).get("/n")
    session = requests.Session()
    session.headers["User-Agent"] = f"cxe-gate/{__version__}"
    session.get(f"{raw_server.url}/n", timeout=2)
    ours, theirs = raw_server.seen
    # base64("robot:hunter2") = cm9ib3Q6aHVudGVyMg==
    assert b"Authorization: Basic cm9ib3Q6aHVudGVyMg==" in ours
    assert ours == theirs


def test_a_client_keeps_serving_an_origin_past_the_managers_ten_pools(raw_server: RawServer):
    # urllib3's PoolManager keeps ten pools and drops the least recently used beyond that; the
    # adapter remembers each origin's pool itself.
    others = [RawServer() for _ in range(10)]
    try:
        client = api_client(raw_server.url)
        assert client.get("/first").body == {"target": "/first"}
        for other in others:
            client.get(f"{other.url}/other")
        assert client.get("/again").body == {"target": "/again"}
        assert [raw.split(b" ")[1] for raw in raw_server.seen] == [b"/first", b"/again"]
    finally:
        for other in others:
            other.close()
