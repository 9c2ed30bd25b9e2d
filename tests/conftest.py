from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from tiny_logs import shop_files

__all__ = ["api_server", "shop_files"]


@pytest.fixture(scope="session")
def _api_server_process() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.stop()  # ~0.5 s, so once per worker rather than per test


@pytest.fixture
def api_server(_api_server_process: HTTPServer) -> Iterator[HTTPServer]:
    """A real HTTP server on 127.0.0.1 that answers the way a service's API does. Threaded, so a
    slow answer does not hold up the next request (what a real service does, and what concurrent
    criteria need). Every request it got is in `.log`; anything unexpected fails the test."""
    server = _api_server_process
    server.clear()
    yield server
    try:
        server.check_assertions()
    finally:
        server.clear()
