"""The example shop, served for real on 127.0.0.1: a customer's journey leaves the right events,
request lines and feedback; the CSRF check, sessions, /metrics and each regression switch work."""

from __future__ import annotations

import json
import random
import re
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from examples.shop.server import running
from examples.shop.shop import create_app

pytestmark = pytest.mark.server

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SURVEY = re.compile(r'name="survey" value="(\w+)"')
CUSTOMER = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "address": "12 Analytical St",
    "card_number": "4242 4242 4242 4242",
    "expiry": "12/39",
}


class Shop:
    """A running shop: its URL and the lines its logs hold so far."""

    def __init__(self, url: str, log_dir: Path) -> None:
        self.url = url
        self.log_dir = log_dir

    def lines(self, stream: str) -> list[dict]:
        path = self.log_dir / f"{stream}.ndjson"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def events(self, name: str | None = None) -> list[dict]:
        return [e for e in self.lines("events") if name is None or e["event"] == name]


@pytest.fixture
def start_shop(tmp_path) -> Iterator[Callable[..., Shop]]:
    """Starts shops (seeded, with short real sleeps) and stops them after the test."""
    stack = []

    def start(**options) -> Shop:
        options.setdefault("rng", random.Random(7))
        options.setdefault("latency_scale", 0.01)
        log_dir = tmp_path / f"logs-{len(stack)}"
        app = create_app(log_dir, **options)
        server = running(app)
        stack.append((server, app))
        return Shop(server.__enter__(), log_dir)

    yield start
    for server, app in reversed(stack):
        server.__exit__(None, None, None)
        app.extensions["shop"].close()


@pytest.fixture
def shop(start_shop) -> Shop:
    return start_shop()


def add_to_cart(
    browser: requests.Session, shop: Shop, product_id: int = 3, quantity: int = 1
) -> requests.Response:
    return browser.post(
        f"{shop.url}/api/cart", json={"product_id": product_id, "quantity": quantity}
    )


def checkout(browser: requests.Session, shop: Shop) -> requests.Response:
    """Opens the checkout form and submits it as a browser would, token included."""
    form = browser.get(f"{shop.url}/checkout")
    token = CSRF.search(form.text)[1]
    return browser.post(
        f"{shop.url}/checkout", data={**CUSTOMER, "csrf_token": token}, allow_redirects=False
    )


def test_a_customer_journey_leaves_events_requests_and_feedback(shop):
    browser = requests.Session()
    home = browser.get(f"{shop.url}/")
    assert home.status_code == 200
    assert {"shop_uid", "shop_sid"} <= set(browser.cookies.keys())
    assert re.search(r"app;dur=[\d.]+", home.headers["Server-Timing"])

    assert browser.get(f"{shop.url}/products/3").status_code == 200
    product = browser.get(f"{shop.url}/api/products/3").json()
    assert product["name"] == "Merino Beanie"
    assert add_to_cart(browser, shop, 3, 2).json()["count"] == 2
    assert browser.get(f"{shop.url}/cart").status_code == 200
    assert browser.get(f"{shop.url}/api/cart").json()["total_cents"] == 2 * product["price_cents"]

    placed = checkout(browser, shop)
    assert placed.status_code == 303
    order_path = placed.headers["Location"]
    order_id = order_path.rsplit("/", 1)[1]
    confirmation = browser.get(f"{shop.url}{order_path}")
    assert order_id in confirmation.text
    assert browser.get(f"{shop.url}/api/orders/{order_id}").json()["order_id"] == order_id
    assert browser.get(f"{shop.url}/api/cart").json()["count"] == 0

    survey = SURVEY.search(confirmation.text)[1]
    answer = browser.post(
        f"{shop.url}/feedback",
        allow_redirects=False,
        data={
            "csrf_token": CSRF.search(confirmation.text)[1],
            "survey": survey,
            "score": "4",
            "comment": "Nice mugs",
            "order_id": order_id,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/thanks"

    events = shop.events()
    uid, sid = browser.cookies["shop_uid"], browser.cookies["shop_sid"]
    assert {(e["user_id"], e["session_id"]) for e in events} == {(uid, sid)}
    assert all(TIMESTAMP.match(e["timestamp"]) for e in events)
    names = [e["event"] for e in events if e["event"] != "page_view"]
    assert names == [
        "view_product",
        "add_to_cart",
        "begin_checkout",
        "purchase",
        "feedback_submitted",
    ]
    assert len(shop.events("page_view")) == 5  # home, product, cart, checkout, confirmation
    (purchase,) = shop.events("purchase")
    assert purchase["properties"] == {
        "order_id": order_id,
        "items": 2,
        "value_cents": 2 * product["price_cents"],
    }
    assert shop.events("add_to_cart")[0]["properties"]["quantity"] == 2

    logged = shop.lines("requests")
    assert [(r["method"], r["route"], r["status"]) for r in logged] == [
        ("GET", "/", 200),
        ("GET", "/products/{id}", 200),
        ("GET", "/api/products/{id}", 200),
        ("POST", "/api/cart", 200),
        ("GET", "/cart", 200),
        ("GET", "/api/cart", 200),
        ("GET", "/checkout", 200),
        ("POST", "/checkout", 303),
        ("GET", "/orders/{id}", 200),
        ("GET", "/api/orders/{id}", 200),
        ("GET", "/api/cart", 200),
        ("POST", "/feedback", 303),
    ]
    assert logged[8]["path"] == order_path
    assert all(isinstance(r["duration_ms"], float) and r["duration_ms"] > 0 for r in logged)
    assert all(r["user_id"] == uid and r["session_id"] == sid for r in logged)

    (feedback,) = shop.lines("feedback")
    assert feedback | {"timestamp": None} == {
        "timestamp": None,
        "survey": survey,
        "score": 4,
        "user_id": uid,
        "session_id": sid,
        "comment": "Nice mugs",
    }


def test_search_is_an_event_with_its_query(shop):
    page = requests.get(f"{shop.url}/products", params={"q": "wool"})
    assert "Wool Socks" in page.text
    (search,) = shop.events("search")
    assert search["properties"] == {"query": "wool", "results": 1}


@pytest.mark.parametrize("token", [None, "forged"])
def test_checkout_without_the_session_csrf_token_is_refused(shop, token):
    browser = requests.Session()
    add_to_cart(browser, shop)
    browser.get(f"{shop.url}/checkout")
    form = CUSTOMER if token is None else {**CUSTOMER, "csrf_token": token}
    refused = browser.post(f"{shop.url}/checkout", data=form, allow_redirects=False)
    assert refused.status_code in (400, 403)
    assert shop.events("purchase") == []


def test_the_csrf_token_of_another_session_is_refused(shop):
    mallory, alice = requests.Session(), requests.Session()
    add_to_cart(mallory, shop)
    token = CSRF.search(mallory.get(f"{shop.url}/checkout").text)[1]
    add_to_cart(alice, shop)
    refused = alice.post(f"{shop.url}/checkout", data={**CUSTOMER, "csrf_token": token})
    assert refused.status_code == 400


def test_orders_are_private_to_their_customer(shop):
    alice = requests.Session()
    add_to_cart(alice, shop)
    order_path = checkout(alice, shop).headers["Location"]
    order_id = order_path.rsplit("/", 1)[1]
    assert len(order_id) >= 16
    stranger = requests.Session()
    assert stranger.get(f"{shop.url}{order_path}").status_code == 404
    assert stranger.get(f"{shop.url}/api/orders/{order_id}").status_code == 404


def test_a_mistyped_card_rerenders_the_form_with_its_error(shop):
    browser = requests.Session()
    add_to_cart(browser, shop)
    token = CSRF.search(browser.get(f"{shop.url}/checkout").text)[1]
    answer = browser.post(
        f"{shop.url}/checkout",
        data={**CUSTOMER, "card_number": "4242 4242 4242 4241", "csrf_token": token},
    )
    assert answer.status_code == 422
    assert "card number doesn" in answer.text
    assert shop.events("purchase") == []


def test_metrics_count_requests_in_apdex_ready_buckets(shop):
    for _ in range(3):
        requests.get(f"{shop.url}/api/products/1")
    requests.get(f"{shop.url}/")
    requests.get(f"{shop.url}/static/shop.js")
    text = requests.get(f"{shop.url}/metrics").text
    assert (
        'shop_http_requests_total{method="GET",route="/api/products/{id}",status="200"} 3.0' in text
    )
    assert 'shop_http_requests_total{method="GET",route="/",status="200"} 1.0' in text
    assert "/static" not in text and "/metrics" not in text
    buckets = re.findall(
        r'shop_http_request_duration_seconds_bucket\{le="([^"]+)",'
        r'method="GET",route="/api/products/\{id\}"\} (\S+)',
        text,
    )
    assert {"0.5", "2.0"} <= {le for le, _ in buckets}
    assert dict(buckets)["+Inf"] == "3.0"
    assert "shop_orders_total 0.0" in text


def test_each_app_keeps_its_own_metrics(start_shop):
    first, second = start_shop(), start_shop()
    requests.get(f"{first.url}/")
    assert 'route="/"' in requests.get(f"{first.url}/metrics").text
    assert 'route="/"' not in requests.get(f"{second.url}/metrics").text


def test_a_session_lapses_after_30_idle_minutes_but_the_user_stays(start_shop):
    shop = start_shop(simulated_clock=True)
    browser = requests.Session()
    for minute in (0, 10, 41, 45):
        browser.get(f"{shop.url}/", headers={"X-Sim-Time": f"2026-11-10T14:{minute:02d}:00Z"})
    new_browser = requests.Session()
    new_browser.cookies.set("shop_uid", browser.cookies["shop_uid"])
    new_browser.get(f"{shop.url}/", headers={"X-Sim-Time": "2026-11-10T14:46:00Z"})
    logged = shop.lines("requests")
    sessions = [r["session_id"] for r in logged]
    # 14:10 → 14:41 is 31 idle minutes: a new session; a new browser starts one too
    assert sessions[0] == sessions[1] != sessions[2] == sessions[3] != sessions[4]
    assert len({r["user_id"] for r in logged}) == 1


def test_the_simulated_clock_stamps_the_header_time_and_models_latency(start_shop):
    simulated = start_shop(simulated_clock=True, latency_scale=10.0)
    answer = requests.get(
        f"{simulated.url}/checkout", headers={"X-Sim-Time": "2026-11-10T14:03:12.345Z"}
    )
    modelled = float(re.search(r"backend;dur=([\d.]+)", answer.headers["Server-Timing"])[1])
    # about a second of modelled checkout time, none of it slept (a busy runner answers in ~50 ms)
    assert modelled > 500
    assert answer.elapsed.total_seconds() * 1000 < modelled / 2
    total = float(re.search(r"app;dur=([\d.]+)", answer.headers["Server-Timing"])[1])
    (line,) = simulated.lines("requests")
    assert line["timestamp"] == "2026-11-10T14:03:12.345Z"
    assert modelled > 20
    assert line["duration_ms"] == pytest.approx(total, abs=0.1)
    assert total >= modelled

    live = start_shop()
    requests.get(f"{live.url}/", headers={"X-Sim-Time": "2026-11-10T14:03:12.345Z"})
    assert not live.lines("requests")[0]["timestamp"].startswith("2026-11-10T14:03")


def test_cart_errors_fail_some_cart_calls_with_a_json_500(start_shop):
    good, regressed = start_shop(), start_shop(regressions={"cart_errors"})
    statuses = {}
    for shop in (good, regressed):
        browser = requests.Session()
        answers = [add_to_cart(browser, shop, 1 + i % 12) for i in range(100)]
        statuses[shop] = [a.status_code for a in answers]
        failed = [a for a in answers if a.status_code == 500]
        assert all("error" in a.json() for a in failed)
        assert len(shop.events("add_to_cart")) == statuses[shop].count(200)
    assert set(statuses[good]) == {200}
    assert 2 <= statuses[regressed].count(500) <= 20


def test_broken_payment_declines_some_valid_orders_without_an_error(start_shop):
    good, regressed = start_shop(), start_shop(regressions={"broken_payment"})
    outcomes = {}
    for shop in (good, regressed):
        answers = []
        for _ in range(40):
            browser = requests.Session()
            add_to_cart(browser, shop)
            answers.append(checkout(browser, shop))
        assert all(a.status_code in (200, 303) for a in answers)
        declined = [a for a in answers if a.status_code == 200]
        assert all("payment was declined" in a.text for a in declined)
        assert len(shop.events("purchase")) == 40 - len(declined)
        outcomes[shop] = len(declined)
    assert outcomes[good] <= 3
    assert outcomes[regressed] >= 8


def test_slow_checkout_makes_the_live_checkout_measurably_slower(start_shop):
    # latency_scale 0.05: the checkout page's ~110 ms becomes ~5 ms, the regression's +900 ms ~45 ms
    good = start_shop(latency_scale=0.05)
    slow = start_shop(latency_scale=0.05, regressions={"slow_checkout"})
    medians = {}
    for shop in (good, slow):
        browser = requests.Session()
        for _ in range(8):
            browser.get(f"{shop.url}/checkout")
            browser.get(f"{shop.url}/cart")
        durations = [r["duration_ms"] for r in shop.lines("requests") if r["route"] == "/checkout"]
        medians[shop] = statistics.median(durations)
        assert (
            statistics.median(
                r["duration_ms"] for r in shop.lines("requests") if r["route"] == "/cart"
            )
            < 20
        )
    assert medians[slow] - medians[good] > 30


def test_an_unknown_regression_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown regression"):
        create_app(tmp_path, regressions={"slow_homepage"})
