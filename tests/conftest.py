import threading
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from tiny_logs import shop_files

__all__ = ["api_server", "shop_files"]


class _CountingServer(HTTPServer):
    """Knows how many requests it is still answering: a slow answer a test gave up on must not
    land in the next test's log."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.in_flight = 0
        self._lock = threading.Lock()

    def dispatch(self, request):  # type: ignore[no-untyped-def]
        with self._lock:
            self.in_flight += 1
        try:
            return super().dispatch(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def settle(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)


@pytest.fixture(scope="session")
def _api_server_process() -> Iterator[_CountingServer]:
    server = _CountingServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.stop()  # ~0.5 s, so once per worker rather than per test


@pytest.fixture
def api_server(_api_server_process: _CountingServer) -> Iterator[HTTPServer]:
    """A real HTTP server on 127.0.0.1 that answers the way a service's API does. Threaded, so a
    slow answer does not hold up the next request (what a real service does, and what concurrent
    criteria need). Every request it got is in `.log`; an unexpected request or a handler that
    raised fails the test."""
    server = _api_server_process
    server.clear()
    yield server
    try:
        server.settle()  # answers still being slept on end here, not in the next test
        # check(), not check_assertions(): a handler that raised answered 500 and the code under
        # test may have taken that for the service's own answer; the test must not pass on it.
        server.check()
    finally:
        server.clear()
