"""The example shop's breakages, served for real on 127.0.0.1 at latency_scale=0 (as a seeded suite
runs it): each breaks every request it touches, and the same checks pass on an unbroken shop."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from examples.shop import catalog
from examples.shop.breakages import BREAKAGES
from examples.shop.server import running
from examples.shop.shop import create_app, main

pytestmark = pytest.mark.server

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INPUT_NAME = re.compile(r'<input [^>]*name="([^"]+)"')
LABELLED_INPUT = re.compile(r'<label for="([^"]+)">([^<]+)</label>\s*<input id="\1" name="([^"]+)"')
CUSTOMER = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "address": "12 Analytical St",
    "card_number": "4242 4242 4242 4242",
    "expiry": "12/39",
}
# What a customer types next to each label of the checkout form.
BY_LABEL = {
    "Full name": CUSTOMER["name"],
    "Email": CUSTOMER["email"],
    "Delivery address": CUSTOMER["address"],
    "Card number": CUSTOMER["card_number"],
    "Expiry (MM/YY)": CUSTOMER["expiry"],
}


class Shop:
    """A running shop: its URL and a customer's browser (cookies kept)."""

    def __init__(self, url: str, log_dir: Path) -> None:
        self.url = url
        self.log_dir = log_dir
        self.browser = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.browser.get(f"{self.url}{path}", allow_redirects=False)

    def post(self, path: str, data: dict[str, str]) -> requests.Response:
        return self.browser.post(f"{self.url}{path}", data=data, allow_redirects=False)

    def add_to_cart(self, product_id: int = 3) -> None:
        answer = self.browser.post(f"{self.url}/api/cart", json={"product_id": product_id})
        assert answer.status_code == 200

    def checkout(self) -> requests.Response:
        """Fills the checkout form the way a person does, by its labels, and submits it."""
        page = self.get("/checkout")
        data = {name: BY_LABEL[label] for _, label, name in LABELLED_INPUT.findall(page.text)}
        assert len(data) == len(BY_LABEL)
        return self.post("/checkout", {**data, "csrf_token": CSRF.search(page.text)[1]})

    def purchases(self) -> int:
        lines = (self.log_dir / "events.ndjson").read_text().splitlines()
        return sum(json.loads(line)["event"] == "purchase" for line in lines)


@pytest.fixture
def start_shop(tmp_path) -> Iterator[Callable[..., Shop]]:
    """Starts shops as a seeded suite runs them (no modelled sleeps) and stops them afterwards."""
    stack = []

    def start(*breakages: str) -> Shop:
        log_dir = tmp_path / f"logs-{len(stack)}"
        app = create_app(log_dir, rng=random.Random(7), latency_scale=0.0, breakages=breakages)
        server = running(app)
        stack.append((server, app))
        return Shop(server.__enter__(), log_dir)

    yield start
    for server, app in reversed(stack):
        server.__exit__(None, None, None)
        app.extensions["shop"].close()


def test_product_api_500_fails_every_product_call_with_a_json_error(start_shop):
    good, broken = start_shop(), start_shop("product_api_500")
    for product in catalog.PRODUCTS:
        assert good.get(f"/api/products/{product.id}").status_code == 200
        failed = broken.get(f"/api/products/{product.id}")
        assert failed.status_code == 500
        assert failed.json() == {"error": "the product service failed to answer"}
    # the page itself and the rest of the API still work; only the page's script's call fails
    assert broken.get("/products/3").status_code == 200
    broken.add_to_cart(3)


def test_product_field_removed_drops_in_stock_and_keeps_the_rest(start_shop):
    good, broken = start_shop(), start_shop("product_field_removed")
    for product in catalog.PRODUCTS:
        whole = good.get(f"/api/products/{product.id}").json()
        assert whole["in_stock"] is True
        answer = broken.get(f"/api/products/{product.id}")
        assert answer.status_code == 200
        assert answer.json() == {k: v for k, v in whole.items() if k != "in_stock"}


def test_checkout_form_broken_loses_the_email_input_and_refuses_the_order(start_shop):
    good, broken = start_shop(), start_shop("checkout_form_broken")
    for shop in (good, broken):
        shop.add_to_cart()
    good_fields = INPUT_NAME.findall(good.get("/checkout").text)
    broken_fields = INPUT_NAME.findall(broken.get("/checkout").text)
    assert "email" in good_fields and "e_mail" not in good_fields
    assert "email" not in broken_fields and "e_mail" in broken_fields

    assert good.checkout().status_code == 303
    refused = broken.checkout()  # e_mail filled in, which the server does not read
    assert refused.status_code == 422
    assert "Please enter an email address." in refused.text
    assert 'name="e_mail" type="email" value="ada@example.com"' in refused.text
    assert (good.purchases(), broken.purchases()) == (1, 0)


@pytest.mark.slow
def test_slow_checkout_page_really_sleeps_even_at_latency_scale_zero(start_shop):
    good, broken = start_shop(), start_shop("slow_checkout_page")
    for shop in (good, broken):
        shop.add_to_cart()

    def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
        started = time.perf_counter()
        answer = call()
        return answer, time.perf_counter() - started

    _, good_get = timed(lambda: good.get("/checkout"))
    assert good_get < 0.5
    _, cart = timed(lambda: broken.get("/cart"))
    assert cart < 0.5  # only the checkout is slow
    page, slow_get = timed(lambda: broken.get("/checkout"))
    assert slow_get >= 1.4
    token = CSRF.search(page.text)[1]
    placed, slow_post = timed(lambda: broken.post("/checkout", {**CUSTOMER, "csrf_token": token}))
    assert placed.status_code == 303
    assert slow_post >= 1.4
    # the shop's own measurements see it too, as the gate would
    assert float(re.search(r"backend;dur=([\d.]+)", page.headers["Server-Timing"])[1]) >= 1500


def test_order_page_missing_answers_404_though_the_order_is_placed(start_shop):
    good, broken = start_shop(), start_shop("order_page_missing")
    statuses = []
    for shop in (good, broken):
        shop.add_to_cart()
        placed = shop.checkout()
        assert placed.status_code == 303
        order_path = placed.headers["Location"]
        statuses.append(shop.get(order_path).status_code)
        # the order exists: its API still answers, and the purchase was recorded
        assert shop.get(f"/api{order_path}").status_code == 200
        assert shop.purchases() == 1
    assert statuses == [200, 404]


def test_unknown_breakages_are_refused_and_regressions_are_not_breakages(tmp_path):
    known = ", ".join(BREAKAGES)
    message = f"unknown breakage(s) slow_checkout; known: {known}"
    with pytest.raises(ValueError, match=re.escape(message)):
        create_app(tmp_path, breakages={"slow_checkout"})


def test_the_server_command_takes_repeatable_break_options(tmp_path, monkeypatch, capsys):
    served: list[Flask] = []
    monkeypatch.setattr(Flask, "run", lambda app, **_: served.append(app))
    main(
        ["--log-dir", str(tmp_path), "--break", "product_api_500", "--break", "order_page_missing"]
    )
    (app,) = served
    assert app.extensions["shop"].breakages == {"product_api_500", "order_page_missing"}
    assert app.extensions["shop"].regressions == frozenset()
    assert "breakages: order_page_missing, product_api_500" in capsys.readouterr().out
    app.extensions["shop"].close()

    with pytest.raises(SystemExit):
        main(["--log-dir", str(tmp_path), "--break", "everything"])
    assert "invalid choice: 'everything'" in capsys.readouterr().err


def test_every_breakage_is_documented_in_the_readme():
    readme = (Path(__file__).parents[2] / "examples/shop/README.md").read_text()
    assert all(f"| `{name}` |" in readme for name in BREAKAGES)
