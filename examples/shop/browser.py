"""A simulated customer's browser: cookies, redirects, the page's own API calls and a clock, over one
of two transports: the Flask app in-process (simulated clock) or a real server over HTTP."""

from __future__ import annotations

import http.cookiejar
import io
import json
import random
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import requests

from .clock import format_timestamp

WsgiApp = Callable[..., Iterable[bytes]]
_SERVER_TIMING = re.compile(r"(?:^|,)\s*([\w-]+)[^,]*?;dur=([\d.]+)")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# After a page loads, its script needs a moment before its first fetch() goes out.
SCRIPT_START_S = 0.15


class WindowClosed(Exception):
    """The simulated window ended: the customer's next request would fall outside it."""


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange as the transport saw it."""

    status: int
    location: str | None
    cookies: dict[str, str]
    server_timing: dict[str, float]
    body: bytes


class Transport(Protocol):
    # Which Server-Timing entry the customer "feels": see each transport.
    felt_timing: str

    def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None, at: float
    ) -> Exchange: ...


def parse_server_timing(value: str) -> dict[str, float]:
    return {name: float(ms) for name, ms in _SERVER_TIMING.findall(value)}


class WsgiTransport:
    """Calls the shop's WSGI app directly, with the request's simulated time in X-Sim-Time.

    `releases` is [(from_time, app), ...] in time order: a request goes to the release deployed
    at its time, the way a deploy switches traffic. Building the WSGI environ here rather than
    with Flask's test client runs the same app code at about 40% less cost per request."""

    # The modelled backend time, not the measured total: the real part varies from run to run,
    # and a customer's choices must not, or a seeded simulation would not repeat itself.
    felt_timing = "backend"

    def __init__(self, releases: list[tuple[float, WsgiApp]]) -> None:
        if not releases:
            raise ValueError("at least one release is needed")
        self._releases = releases

    def _app_at(self, at: float) -> WsgiApp:
        chosen = self._releases[0][1]
        for since, app in self._releases:
            if at >= since:
                chosen = app
        return chosen

    def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None, at: float
    ) -> Exchange:
        path, _, query = target.partition("?")
        payload = body or b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path).encode().decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": "shop.test",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "shop.test",
            "HTTP_X_SIM_TIME": format_timestamp(datetime.fromtimestamp(at, UTC)),
            "CONTENT_LENGTH": str(len(payload)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        answer: list[Any] = []

        def start_response(
            status: str, response_headers: list[tuple[str, str]], exc_info: object = None
        ) -> None:
            answer[:] = [int(status[:3]), response_headers]

        result = self._app_at(at)(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, response_headers = answer
        location, cookies, timing = None, {}, {}
        for name, value in response_headers:
            lower = name.lower()
            if lower == "set-cookie":
                key, _, rest = value.partition("=")
                cookies[key] = rest.split(";", 1)[0]
            elif lower == "location":
                location = value
            elif lower == "server-timing":
                timing = parse_server_timing(value)
        return Exchange(status, location, cookies, timing, content)


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False


class HttpTransport:
    """Talks to a running shop over HTTP. Its clock is the server's own: timestamps are real."""

    felt_timing = "app"

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self._http = requests.Session()
        # Each simulated browser keeps its own cookies; the shared connection pool must not.
        self._http.cookies.set_policy(_NoCookies())

    def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None, at: float
    ) -> Exchange:
        response = self._http.request(
            method,
            urljoin(self.base_url, target.lstrip("/")),
            headers=headers,
            data=body,
            allow_redirects=False,
            timeout=self.timeout,
        )
        location = response.headers.get("Location")
        return Exchange(
            response.status_code,
            location,
            response.cookies.get_dict(),
            parse_server_timing(response.headers.get("Server-Timing", "")),
            response.content,
        )

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True)
class Page:
    """What the customer got for one click: the final page after redirects."""

    status: int
    path: str
    text: str
    waited_ms: float  # as the customer felt it: the server's time plus the network's

    def json(self) -> Any:
        return json.loads(self.text)


class Browser:
    """One customer's browser: a cookie jar and a clock (POSIX seconds) that moves on with every
    exchange; it refuses to send once the clock passes `end`."""

    def __init__(
        self,
        transport: Transport,
        rng: random.Random,
        *,
        clock: float,
        end: float,
        cookies: dict[str, str] | None = None,
    ) -> None:
        self.transport = transport
        self.rng = rng
        self.clock = clock
        self.end = end
        self.cookies = dict(cookies or {})
        self.requests = 0
        self._rtt_ms = 40 * rng.lognormvariate(0, 0.5)  # this customer's connection

    def get(self, target: str) -> Page:
        """Load a page, as following a link does."""
        return self._navigate("GET", target, None, {})

    def submit(self, target: str, form: dict[str, str]) -> Page:
        """Submit an HTML form (POST, urlencoded), following the redirect after it."""
        return self._navigate(
            "POST",
            target,
            urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )

    def fetch(self, method: str, target: str, body: object = None) -> Page:
        """A fetch() from the current page's script: JSON in and out, no redirects."""
        self.clock += SCRIPT_START_S
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        exchange, waited = self._send(method, target, payload, headers)
        return Page(exchange.status, target, exchange.body.decode(), waited)

    def _navigate(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Page:
        waited = 0.0
        headers = {"Accept": "text/html", **headers}
        for _ in range(5):
            exchange, ms = self._send(method, target, body, headers)
            waited += ms
            if exchange.status not in _REDIRECTS or not exchange.location:
                return Page(exchange.status, target, exchange.body.decode(), waited)
            # 303 See Other (and, in practice, 301/302): the browser follows with a GET.
            target = urlsplit(exchange.location)._replace(scheme="", netloc="").geturl()
            method, body, headers = "GET", None, {"Accept": "text/html"}
        raise RuntimeError(f"too many redirects at {target}")

    def _send(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[Exchange, float]:
        if self.clock >= self.end:
            raise WindowClosed
        if self.cookies:
            headers = {**headers, "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        started = time.perf_counter()
        exchange = self.transport.send(method, target, headers, body, self.clock)
        self.requests += 1
        self.cookies.update(exchange.cookies)
        server_ms = exchange.server_timing.get(self.transport.felt_timing)
        if server_ms is None:  # a server without Server-Timing: what the wall clock says
            server_ms = (time.perf_counter() - started) * 1000
        waited = server_ms + self._rtt_ms * self.rng.lognormvariate(0, 0.3)
        self.clock += waited / 1000
        return exchange, waited
