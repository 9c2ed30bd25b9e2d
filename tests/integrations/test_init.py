"""`cxe-gate init` the whole way: HAR files recorded from the running example shop by a real Chromium,
plus the shop's production logs, give a criteria file that validates as written, says where each
number came from, passes the good release (shop-1.4.0) and fails the regressed one (shop-1.5.0).
A journey map with hostile route names gives a file where they stay quoted strings."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import shop_sessions
import yaml
from click.testing import CliRunner

from cxe_gate.cli.init_command import init
from cxe_gate.config import ConversionCriterion, ErrorRateCriterion, LatencyCriterion
from cxe_gate.gate import evaluate
from cxe_gate.har.journey_map import (
    JourneyMap,
    MappedJourney,
    Request,
    Step,
    Summary,
)
from cxe_gate.har.timing import timing
from cxe_gate.loader import load
from cxe_gate.results import Verdict
from examples.shop import pages

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]

DATA = Path(__file__).resolve().parents[2] / "examples" / "shop" / "data"
GOOD = ("shop-1.4.0", "2026-11-10T14:00:00Z")
REGRESSED = ("shop-1.5.0", "2026-11-17T14:00:00Z")
# What the shop's handlers emit (examples/shop/pages.py, api.py): GET /products/<id> sends
# view_product, POST /api/cart add_to_cart, GET /checkout begin_checkout, POST /checkout purchase.
BUY_EVENTS = ["view_product", "add_to_cart", "begin_checkout", "purchase"]


@pytest.fixture(scope="module")
def hars(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # A declined card (1% in any shop) would record a different buy journey than the one told here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "BASE_DECLINE_RATE", 0.0)
        root = tmp_path_factory.mktemp("init")
        with shop_sessions.shop_with_sessions(root, 5, password=False) as (_, directory, _):
            yield directory


def run_init(inputs: list[str], output: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(init, [*inputs, "-o", str(output), *args])
    return result.exit_code, result.output


def verdicts(path: Path, release: tuple[str, str]) -> tuple[Verdict, dict[str, Verdict]]:
    report = evaluate(load(path, release=release[0], deployed_at=release[1]))
    return report.verdict, {c.name: c.verdict for c in report.criteria}


def logged_p95(method: str, route: str, until: str | None) -> float:
    """The p95 of a route's logged durations, computed here with DuckDB directly."""
    end = "" if until is None else f"AND timestamp < TIMESTAMPTZ '{until}'"
    return duckdb.execute(
        f"SELECT quantile_cont(duration_ms, 0.95) FROM '{DATA / 'requests.parquet'}' "
        f"WHERE method = '{method}' AND route = '{route}' {end}"
    ).fetchall()[0][0]


@pytest.mark.parametrize("with_events", [True, False], ids=["events", "routes"])
def test_init_writes_criteria_that_pass_the_good_release_and_fail_the_regressed(
    hars: Path, tmp_path: Path, with_events: bool
) -> None:
    output = tmp_path / "cxe.yml"
    args = ["--requests", str(DATA / "requests.parquet")]
    # The events run reads only the logs before shop-1.5.0's deploy, the other all of them.
    until = REGRESSED[1] if with_events else None
    if with_events:
        args += ["--events", str(DATA / "events.parquet"), "--until", REGRESSED[1]]
    code, output_text = run_init([str(hars)], output, *args)
    assert code == 0, output_text

    loaded = load(output)  # validates as written
    config = loaded.config
    text = output.read_text()
    # The three sessions make two journeys (browse twice, buy once): a funnel each.
    funnels = [c for c in config.criteria if isinstance(c, ConversionCriterion)]
    assert len(funnels) == 2
    steps = [config.journeys[c.journey].steps for c in funnels]
    if with_events:
        # Browsing sends only view_product: no two-event funnel, so its routes are the steps.
        assert steps[1] == BUY_EVENTS
        assert steps[0] == ["GET /", "GET /products/{id}", "GET /api/products/{id}"]
        assert "← POST /api/cart: " in text and "add_to_cart events are nearest to one" in text
    else:
        assert steps[1] == [
            "GET /",
            "GET /products/{id}",
            "GET /api/products/{id}",
            "POST /api/cart",
            "GET /checkout",
            "POST /checkout",
            "GET /orders/{id}",  # the HAR's /orders/{hash}, as the log names it
            "GET /api/orders/{id}",
        ]
        assert "no analytics events given with --events" in text

    # Each route the journeys call has an error-rate and a latency criterion, limits commented.
    by_name = {c.name: c for c in config.criteria}
    latency = by_name["POST /checkout latency p95"]
    assert isinstance(latency, LatencyCriterion)
    p95 = logged_p95("POST", "/checkout", until)
    assert latency.max == math.ceil(p95 * 1.5 / 10) * 10
    line = next(x for x in text.splitlines() if f'max: "{latency.max:g}ms"' in x)
    assert f"# p95 of {p95:,.0f} ms over " in line and "logged calls ×1.5, rounded up" in line
    errors = by_name["POST /api/cart error rate"]
    assert isinstance(errors, ErrorRateCriterion)
    assert errors.filter == "method = 'POST' AND route = '/api/cart'"
    assert "logged calls, status >= 500) +1pp, rounded up to 0.1pp" in text
    assert sum(isinstance(c, LatencyCriterion) for c in config.criteria) == 8

    verdict, _ = verdicts(output, GOOD)
    assert verdict == Verdict.PASS
    verdict, each = verdicts(output, REGRESSED)
    assert verdict == Verdict.FAIL
    # slow_checkout, cart_errors and broken_payment (examples/shop/regressions.py), each caught.
    assert each["POST /checkout latency p95"] == Verdict.FAIL
    assert each["POST /api/cart error rate"] == Verdict.FAIL
    assert each[funnels[1].name] == Verdict.FAIL
    assert each["GET / latency p95"] == Verdict.PASS


def test_init_from_the_event_log_alone_maps_pages_by_their_paths(
    hars: Path, tmp_path: Path
) -> None:
    output = tmp_path / "cxe.yml"
    code, text = run_init(
        [str(hars)], output, "--events", str(DATA / "events.parquet"), "--until", REGRESSED[1]
    )
    assert code == 0, text
    config = load(output).config
    # page_view carries the page's path: the products page sends view_product with it, the
    # checkout page begin_checkout, and purchase comes with the order page the POST redirects to.
    # POST /api/cart has no page view to match: add_to_cart is not found this way.
    assert config.journeys["journey_2"].steps == ["view_product", "begin_checkout", "purchase"]
    assert "page views of /orders/{hash} (the event log's own paths)" in output.read_text()
    assert "no request log (--requests): no per-route criteria" in text
    assert verdicts(output, GOOD)[0] == Verdict.PASS
    assert verdicts(output, REGRESSED)[0] == Verdict.FAIL


HOSTILE = "/x\"\n- name: injected\n  metric: custom' OR 1=1 --\u2028# {id}"
SECRET = "/account/${CXE_SECRET_TOKEN_1}"


def _request(route: str) -> Request:
    return Request(
        method="GET", host="shop.test", route=route, status=200, body="none", time=timing([12.0])
    )


def test_hostile_route_names_stay_quoted_strings(tmp_path: Path) -> None:
    journey = MappedJourney(
        id="j1",
        name="hostile\n- name: also injected",
        weight=1,
        share=1.0,
        occurrences=1,
        sessions=["s1"],
        duration=timing([100.0]),
        steps=[Step(page=_request(r), calls=[]) for r in (HOSTILE, "/ok", SECRET)],
    )
    journey_map = JourneyMap(
        first_party=["shop.test"],
        summary=Summary(
            files=1,
            files_failed=0,
            sessions=1,
            entries_read=3,
            entries_kept=3,
            entries_dropped=0,
            journeys=1,
        ),
        journeys=[journey],
        scrubbed=[],
        dropped={},
        placeholders=["${CXE_SECRET_TOKEN_1}"],
        failures=[],
    )
    map_path = tmp_path / "journeys.json"
    map_path.write_text(journey_map.model_dump_json())
    # 60 sessions an hour for 4 hours, each calling the three routes: 120 calls per 2 h window.
    rows = [
        {
            "timestamp": f"2026-11-10T{10 + hour:02d}:{minute:02d}:{second:02d}Z",
            "method": "GET",
            "path": route,
            "route": route,
            "status": 200,
            "duration_ms": 40.0,
            "user_id": f"u{hour}-{minute}",
            "session_id": f"s{hour}-{minute}",
        }
        for hour in range(4)
        for minute in range(60)
        for second, route in enumerate((HOSTILE, "/ok", SECRET))
    ]
    log = tmp_path / "requests.ndjson"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    output = tmp_path / "cxe.yml"
    code, text = run_init([str(map_path)], output, "--requests", str(log))
    assert code == 0, text

    written = output.read_text()
    assert "${" not in written  # the secret placeholder's route is left out, even in comments
    raw = yaml.safe_load(written)
    assert [c["name"] for c in raw["criteria"]] == [
        "journey_1 conversion",
        f"GET {HOSTILE} error rate",
        f"GET {HOSTILE} latency p95",
        "GET /ok error rate",
        "GET /ok latency p95",
    ]
    config = load(output).config
    assert config.journeys["journey_1"].steps == [f"GET {HOSTILE}", "GET /ok"]
    hostile = config.criteria[1]
    # The route as one SQL string literal, its quote doubled.
    assert hostile.filter == "method = 'GET' AND route = '" + HOSTILE.replace("'", "''") + "'"
    # Every line is a key, a list item or a comment: nothing the names carried started a line.
    for line in written.splitlines():
        assert line.lstrip().startswith(("#", "-")) or line.lstrip().split(":")[0].isidentifier()


def test_init_without_any_log_is_a_usage_error(hars: Path, tmp_path: Path) -> None:
    code, text = run_init([str(hars)], tmp_path / "cxe.yml")
    assert code == 2
    assert "give --requests or --events (or both): criteria need data" in text
    assert not (tmp_path / "cxe.yml").exists()
