"""Criteria → the seeded tests that exercise their routes: a suite seeded from a hand-built map, and
criteria naming routes by SQL filter (route, path, method; LIKE, IN, other columns), by funnel
steps (routes, or events mapped to routes under `seeded.events`), or not at all. The manifest is
the truth for names: a journey the suite lacks or a test deleted by hand is said, never guessed."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from seed_maps import journey, journey_map

from cxe_gate.config import GateConfig
from cxe_gate.errors import CxeGateError
from cxe_gate.har.journey_map import JourneyMap
from cxe_gate.reproduce import Suite, load_suite, reproduction
from cxe_gate.seed.codegen import SeedOptions, generate, seeded_tests
from cxe_gate.seed.write import MANIFEST, reseed

# By hand (names.py: each page's last two route segments, placeholders left out, POST prefixed):
BROWSE = "test_home_products"  # GET / → GET /products/{id}, calling GET /api/products/{id}
BUY = "test_home_products_checkout_post_checkout_orders"
ACCOUNT = "test_account_account_orders"  # GET /account → GET /account/orders
JOURNEYS = (
    journey("GET /", "GET /products/{id}", calls=("GET /api/products/{id}",), weight=3),
    journey("GET /", "GET /products/{id}", "GET /checkout", "POST /checkout", "GET /orders/{id}",
            weight=2),
    journey("GET /account", "GET /account/orders"),
)  # fmt: skip


def _suite(root: Path, journeys: JourneyMap | None = None) -> Path:
    """journeys.json and the suite seeded from it (api mode) in `root`."""
    seeded = journeys or journey_map(*JOURNEYS)
    (root / "journeys.json").write_text(seeded.model_dump_json(), "utf-8")
    options = SeedOptions(mode="api")
    reseed(root / "seeded", generate(seeded, options), seeded_tests(seeded, options))
    return root


def _config(*criteria: dict, journeys: dict | None = None, events: dict | None = None):
    return GateConfig.model_validate(
        {
            "providers": {"logs": {"type": "file", "requests": "r.parquet"}},
            "journeys": journeys or {},
            "seeded": {"map": "journeys.json", "suite": "seeded", "events": events or {}},
            "criteria": list(criteria) or [_latency(None)],
        }
    )


def _latency(filter_: str | None) -> dict:
    found = {"name": "latency", "metric": "latency", "percentile": 95, "max": "800ms"}
    return found if filter_ is None else {**found, "filter": filter_}


def _found(root: Path, config: GateConfig) -> tuple[list[str], str | None, str | None]:
    suite = load_suite(config.seeded, root)  # type: ignore[arg-type]
    made = reproduction(config.criteria[0], config, suite)
    return made.tests, made.command, made.note


def test_the_manifest_ties_each_test_to_its_journey_and_keeps_it_when_weights_change(tmp_path):
    _suite(tmp_path)
    first = json.loads((tmp_path / "seeded" / MANIFEST).read_text())["tests"]
    assert set(first) == {BROWSE, BUY, ACCOUNT}
    # More sessions, new weights and one more journey: the same tests keep their names and keys.
    heavier = (journey("GET /account", "GET /account/orders", weight=9), *JOURNEYS[:2])
    _suite(tmp_path, journey_map(*heavier, journey("GET /search", "GET /products")))
    again = json.loads((tmp_path / "seeded" / MANIFEST).read_text())["tests"]
    assert {k: v for k, v in again.items() if k in first} == first
    assert set(again) - set(first) == {"test_search_products"}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # GET and POST /checkout: only the buying journey.
        ("route = '/checkout'", [BUY]),
        ("method = 'POST' AND route = '/checkout'", [BUY]),
        # The log names the placeholder differently; both journeys open a product page.
        ("method = 'GET' AND route = '/products/{product}'", [BROWSE, BUY]),
        # A concrete path matches the template; status may be anything: both may be measured.
        ("path = '/products/7' AND status >= 500", [BROWSE, BUY]),
        ("path LIKE '/account%'", [ACCOUNT]),
        ("route IN ('/orders/{id}', '/account/orders')", [BUY, ACCOUNT]),
        # Not /, not /a..., not the order page, a GET: /products/{id} and /checkout remain.
        (
            "route <> '/' AND method = 'GET' AND route NOT LIKE '/a%' AND route <> '/orders/{id}'",
            [BROWSE, BUY],
        ),
        ("(route = '/account' OR route = '/checkout') AND NOT method = 'POST'", [BUY, ACCOUNT]),
    ],
)
def test_a_filter_finds_the_tests_whose_journeys_touch_its_routes(tmp_path, filter_, expected):
    root = _suite(tmp_path)
    tests, command, note = _found(root, _config(_latency(filter_)))
    assert tests == expected
    assert note is None
    assert command is not None and command.startswith(f"pytest {root / 'seeded'}")


def test_the_command_runs_exactly_the_named_tests_even_when_one_name_contains_another(tmp_path):
    root = _suite(tmp_path)
    # Only the browsing journey calls the product API; its name is the start of the buying one's,
    # which `-k test_home_products` would also select: the command names node ids instead.
    tests, command, _ = _found(root, _config(_latency("route = '/api/products/{id}'")))
    assert tests == [BROWSE]
    assert command == f"pytest {root / 'seeded' / 'test_journeys.py'}::{BROWSE}"
    _, both, _ = _found(root, _config(_latency("route = '/products/{id}'")))
    assert both == f"pytest {root / 'seeded'} -k '{BROWSE} or {BUY}'"
    for line, names in ((command, [BROWSE]), (both, [BROWSE, BUY])):
        done = subprocess.run(
            [sys.executable, "-m", *shlex.split(line), "--collect-only", "-q", "-p", "no:xdist",
             "-p", "no:cacheprovider", "--rootdir", str(root / "seeded")],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        collected = [x.rsplit("::", 1)[1] for x in done.stdout.splitlines() if "::" in x]
        assert collected == names, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("filter_", "why"),
    [
        (None, "'latency' has no route filter or funnel steps"),
        ("status >= 500", "its filter names no route, path or method"),
        ("service:web env:prod", "its filter is not an SQL condition"),  # Datadog tags
        ("route = '/nowhere'", "no seeded journey touches its routes"),
    ],
)
def test_a_criterion_without_routes_names_no_test_and_says_why(tmp_path, filter_, why):
    tests, command, note = _found(_suite(tmp_path), _config(_latency(filter_)))
    assert tests == [] and command is None
    assert note is not None and why in note


def test_a_funnel_finds_the_tests_that_go_furthest_into_it(tmp_path):
    root = _suite(tmp_path)
    conversion = {"name": "buy", "metric": "conversion", "journey": "buy", "max_drop": "10%"}
    # Steps as routes: browsing takes two of the four, buying all four.
    routes = ["GET /", "GET /products/{id}", "POST /checkout", "GET /orders/{id}"]
    found = _found(root, _config(conversion, journeys={"buy": routes}))
    assert found[0] == [BUY] and found[2] is None
    # Events mapped to requests; one unmapped event is said, the others still find the test.
    events = {"view_product": ["GET /products/{id}"], "purchase": ["POST /checkout"]}
    steps = ["view_product", "add_to_cart", "purchase"]
    tests, _, note = _found(root, _config(conversion, journeys={"buy": steps}, events=events))
    assert tests == [BUY]
    assert note == "funnel steps without a request (add them under seeded.events): add_to_cart"
    # Only the first two steps: both journeys take both.
    found = _found(root, _config(conversion, journeys={"buy": routes[:2]}))
    assert found[0] == [BROWSE, BUY]


def test_the_manifest_is_the_truth_for_names_after_a_map_moves_on(tmp_path):
    root = _suite(tmp_path)
    # A newer map with one more journey, not seeded yet; and a test a person deleted.
    newer = journey_map(*JOURNEYS, journey("GET /search", "GET /checkout"))
    (root / "journeys.json").write_text(newer.model_dump_json(), "utf-8")
    tests_file = root / "seeded" / "test_journeys.py"
    source = tests_file.read_text("utf-8")
    start = source.index("# Weight 1: taken in 1 of the recorded sessions")
    tests_file.write_text(source[:start].rstrip() + "\n", "utf-8")  # ACCOUNT was the last test
    suite = load_suite(_config().seeded, root)  # type: ignore[arg-type]
    assert isinstance(suite, Suite)
    assert [t.name for t in suite.tests] == [BROWSE, BUY]
    assert suite.note == (
        "1 journey(s) of journeys.json are not in the suite (re-seed it); "
        f"deleted from the suite by hand: {ACCOUNT}"
    )
    # GET /checkout: the unseeded /search journey touches it too, but has no test to name.
    made = reproduction(_config(_latency("route = '/checkout'")).criteria[0], _config(), suite)
    assert made.tests == [BUY] and made.note == suite.note


def test_a_manifest_from_an_older_seeder_is_refused_with_what_to_do(tmp_path):
    root = _suite(tmp_path)
    manifest = root / "seeded" / MANIFEST
    data = json.loads(manifest.read_text())
    del data["tests"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(CxeGateError, match="re-seed the suite") as caught:
        load_suite(_config().seeded, root)  # type: ignore[arg-type]
    assert str(manifest) in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "filter_", "expected"),
    [
        # PromQL label matchers: POST /checkout is only in the buying journey.
        ("prometheus", 'job="shop", method="post", route="/checkout"', [BUY]),
        ("prometheus", 'handler=~"/account.*"', [ACCOUNT]),
        # Datadog tags: the order page (its id written `?`) is only in the buying journey.
        ("datadog", "service:shop,resource_name:get_/orders/?", [BUY]),
        # New Relic's NRQL: a condition on request.uri, the account pages.
        ("newrelic", "request.uri LIKE '/account%'", [ACCOUNT]),
    ],
)
def test_each_provider_s_filter_language_names_its_tests(tmp_path, provider, filter_, expected):
    root = _suite(tmp_path)
    config = GateConfig.model_validate(
        {
            "providers": {"apm": {"type": provider}},
            "seeded": {"map": "journeys.json", "suite": "seeded"},
            "criteria": [_latency(filter_)],
        }
    )
    tests, command, note = _found(root, config)
    assert tests == expected
    assert note is None and command is not None
