"""A seeded journey that calls another first-party host (an `api.` host) besides its main one: each
call keeps its recorded host, `--host-map` (or CXE_SEEDED_HOST_MAP) points every recorded host at
the server to test, and a host nobody mapped fails the test before any request is sent, naming it.
Two loopback servers on different ports stand in for the two hosts; browser and api mode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify
from seed_maps import TIMING

from cxe_gate.har.journey_map import (
    JourneyMap,
    MappedJourney,
    Request,
    Response,
    Step,
    Summary,
)
from cxe_gate.seed.codegen import SeedOptions, generate
from examples.shop.server import running

pytestmark = [pytest.mark.server, pytest.mark.browser]

MAIN = "www.shop.test"
API = "api.shop.test"
CART_SHAPE = {"type": "object", "properties": {"items": {"type": "integer"}}, "required": ["items"]}


def _request(method: str, host: str, route: str, *, json: bool = False) -> Request:
    response = Response(mime="application/json", shape=CART_SHAPE) if json else None
    return Request(method=method, host=host, route=route, path=route, status=200, body="none",
                   response=response, time=TIMING)  # fmt: skip


def _map() -> JourneyMap:
    """Home on the main host, whose page reads the cart from the api host; then the account."""
    steps = [
        Step(page=_request("GET", MAIN, "/home"), calls=[_request("GET", API, "/v1/cart", json=True)]),
        Step(page=_request("GET", MAIN, "/account"), calls=[]),
    ]  # fmt: skip
    journey = MappedJourney(
        id="j", name="home → account", weight=3, share=1.0, occurrences=3, sessions=["s.har"],
        recorded=["2026-11-23"], duration=TIMING, steps=steps,
    )  # fmt: skip
    summary = Summary(files=1, files_failed=0, sessions=3, entries_read=3, entries_kept=3,
                      entries_dropped=0, journeys=1)  # fmt: skip
    return JourneyMap(first_party=[MAIN, API], summary=summary, journeys=[journey], scrubbed=[],
                      dropped={}, placeholders=[], failures=[])  # fmt: skip


def _main_app(seen: list[str], api: dict[str, str]) -> Flask:
    app = Flask("main")

    @app.get("/home")
    def home() -> str:
        seen.append("GET /home")
        # As a staging page does: its script calls the staging API (the host it is built for).
        return f'<title>home</title><script>fetch("{api["url"]}/v1/cart")</script>'

    @app.get("/account")
    def account() -> str:
        seen.append("GET /account")
        return "<title>account</title>"

    return app


def _api_app(seen: list[str]) -> Flask:
    app = Flask("api")

    @app.get("/v1/cart")
    def cart() -> Any:
        seen.append("GET /v1/cart")
        answer = jsonify(items=2)
        answer.headers["Access-Control-Allow-Origin"] = "*"  # the page's origin is another port
        return answer

    return app


@pytest.fixture
def servers() -> Iterator[dict[str, Any]]:
    seen: dict[str, list[str]] = {"main": [], "api": []}
    api: dict[str, str] = {}
    with running(_api_app(seen["api"])) as api_url, running(_main_app(seen["main"], api)) as base:
        api["url"] = api_url
        yield {"base": base, "api": api_url, "seen": seen}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hosts-suite")
    for name, text in generate(_map(), SeedOptions(mode="browser")).items():
        (out / name).write_text(text, encoding="utf-8")
    return out


def _run(suite: Path, base: str, mode: str, *options: str, env: dict[str, str] | None = None):
    environ = {**os.environ, "CXE_SEEDED_MODE": mode}
    environ.pop("CXE_SEEDED_HOST_MAP", None)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "--base-url", base, "-p", "no:cacheprovider",
         "-p", "no:xdist", "-q", "--rootdir", str(suite), *options],
        env=environ, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_the_suite_keeps_each_calls_host_and_lists_the_hosts_to_map(suite):
    code = re.sub(r"\s+", "", (suite / "test_journeys.py").read_text())  # layout aside
    # The call to the api host says so; the main host's pages carry no host (they follow
    # --base-url, as path-only suites always did).
    assert "Call('GET','/v1/cart',host='api.shop.test',route='/v1/cart'" in code
    assert "journey.page('GET','/home',route='/home'" in code
    assert code.count("host=") == 1
    conftest = (suite / "conftest.py").read_text()
    assert "MAIN_HOST = 'www.shop.test'" in conftest
    assert "HOSTS = {'test_home_account': {'api.shop.test': 'step 1 GET /v1/cart'}}" in conftest
    example = (suite / ".env.example").read_text()
    assert "#   api.shop.test: test_home_account, step 1 GET /v1/cart" in example
    assert "# CXE_SEEDED_HOST_MAP=api.shop.test=" in example


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_each_recorded_host_goes_where_host_map_points_it(suite, servers, mode):
    done = _run(suite, servers["base"], mode, "--host-map", f"{API}={servers['api']}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    # Pages went to --base-url; the cart call to the api server, once: in the browser the page's
    # own call is the one checked (no second request), in api mode the journey sends it.
    assert servers["seen"]["main"] == ["GET /home", "GET /account"]
    assert servers["seen"]["api"] == ["GET /v1/cart"]


def test_the_host_map_can_come_from_the_environment(suite, servers):
    mapping = f"other.shop.test=staging.example.com, {API}={servers['api']}"
    done = _run(suite, servers["base"], "api", env={"CXE_SEEDED_HOST_MAP": mapping})
    assert done.returncode == 0, done.stdout + done.stderr
    assert servers["seen"]["api"] == ["GET /v1/cart"]


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_an_unmapped_host_fails_before_the_first_request_naming_it(suite, servers, mode):
    done = _run(suite, servers["base"], mode)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 recorded host(s) the selected journeys call are not mapped" in done.stdout
    assert "'api.shop.test': test_home_account, step 1 GET /v1/cart" in done.stdout
    assert "--host-map HOST=TARGET" in done.stdout
    # Nothing was sent anywhere: not even the main host's first page.
    assert servers["seen"] == {"main": [], "api": []}


def test_a_bad_host_map_is_a_usage_error(suite, servers):
    done = _run(suite, servers["base"], "api", "--host-map", "api.shop.test")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "--host-map: expected RECORDED_HOST=TARGET" in done.stderr
    assert servers["seen"] == {"main": [], "api": []}


# A suite seeded before hosts were kept: bare paths, and a conftest that knows no --host-map.
OLD_CONFTEST = """
import pytest
from cxe_gate.browser import chromium_launch_args
from cxe_gate.seed.runtime import open_journey

SEEDED_MODE = "browser"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, **chromium_launch_args()}


def fail_plainly(message):
    pytest.fail(message, pytrace=False)


@pytest.fixture
def journey(request, base_url):
    with open_journey(request, base_url, SEEDED_MODE, fail=fail_plainly) as journey:
        yield journey
"""
OLD_TESTS = """
from cxe_gate.seed.runtime import Call, SeededJourney, capture, env, ref, text, url  # noqa: F401


def test_home_account(journey: SeededJourney) -> None:
    journey.page('GET', '/home', route='/home', status=200, budget_ms=1005)
    journey.page('GET', '/account', route='/account', status=200, budget_ms=1005)
"""


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_a_path_only_suite_seeded_before_keeps_working(tmp_path, servers, mode):
    (tmp_path / "conftest.py").write_text(OLD_CONFTEST)
    (tmp_path / "test_journeys.py").write_text(OLD_TESTS)
    done = _run(tmp_path, servers["base"], mode)
    assert done.returncode == 0, done.stdout + done.stderr
    assert servers["seen"]["main"] == ["GET /home", "GET /account"]


def test_a_hostile_recorded_host_stays_a_literal():
    hostile = 'api"""\nimport hostile\r.test'
    mapped = _map()
    call = mapped.journeys[0].steps[0].calls[0].model_copy(update={"host": hostile})
    step = mapped.journeys[0].steps[0].model_copy(update={"calls": [call]})
    journey = mapped.journeys[0].model_copy(update={"steps": [step, *mapped.journeys[0].steps[1:]]})
    files = generate(mapped.model_copy(update={"journeys": [journey]}), SeedOptions())
    for name in ("conftest.py", "test_journeys.py"):
        compile(files[name], name, "exec")
        assert "\nimport hostile" not in files[name]
    # .env.example names it without its characters, and holds comments and NAME= lines only.
    assert "(a host with unusual characters; see HOSTS)" in files[".env.example"]
    for line in files[".env.example"].splitlines():
        assert line == "" or line.startswith("#") or re.fullmatch(r"[A-Z0-9_]+=", line), line
