"""A radio or checkbox group is named by its fieldset's legend: a seeded browser test finds the
group by the legend it was recorded with when the page renames its controls, and falls back to the
name when the legend changed. Checked in real Chromium on a loopback app serving the recorded form
and two new versions of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, redirect, request
from playwright.sync_api import sync_playwright

from cxe_gate.browser import chromium_launch_args
from cxe_gate.har.form_labels import BUTTON, form_labels
from cxe_gate.seed.browser_driver import BrowserDriver
from cxe_gate.seed.journey import SeededJourney
from examples.shop.server import running

pytestmark = [pytest.mark.server, pytest.mark.browser]


def _form(delivery: str, extras: str, names: tuple[str, str]) -> str:
    speed, addons = names
    return f"""<!doctype html><title>Order</title>
<form method="post" action="/order">
  <fieldset><legend>{delivery}</legend>
    <label><input type="radio" name="{speed}" value="slow" checked> Slow</label>
    <label><input type="radio" name="{speed}" value="fast"> Fast</label>
  </fieldset>
  <fieldset><legend>{extras}</legend>
    <label><input type="checkbox" name="{addons}" value="gift"> Gift wrap</label>
    <label><input type="checkbox" name="{addons}" value="insured"> Insurance</label>
  </fieldset>
  <button>Order</button>
</form>"""


PAGES = {
    "recorded": _form("Delivery", "Extras", ("speed", "extras")),
    "renamed": _form("Delivery", "Extras", ("shipping", "addons")),
    "relegended": _form("Shipping", "Add-ons", ("speed", "extras")),
}
SENT = {"speed": "fast", "extras": ["gift", "insured"]}


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[str, dict[str, Any]]]:
    seen: dict[str, Any] = {}
    site = Flask(__name__)

    @site.get("/form/<version>")
    def form(version: str) -> str:
        return PAGES[version]

    @site.post("/order")
    def order() -> Any:
        seen["form"] = {k: request.form.getlist(k) for k in request.form}
        return redirect("/done", 303)

    @site.get("/done")
    def done() -> str:
        return "<p>thanks</p>"

    with running(site) as base:
        yield base, seen


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with sync_playwright() as started:
        launched = started.chromium.launch(**chromium_launch_args())
        yield launched
        launched.close()


def _order(chromium: Any, base: str, version: str, labels: dict[str, str]) -> None:
    page = chromium.new_page()
    try:
        replay = SeededJourney(BrowserDriver(page, base))
        replay.page("GET", f"/form/{version}", route="/form/{version}", status=200)
        replay.page("POST", "/order", route="/order", status=303, form=SENT, labels=labels)
        replay.page("GET", "/done", route="/done", status=200, via="redirect")
    finally:
        page.close()


def test_the_recorded_page_gives_each_group_its_legend():
    sent = [("speed", "fast"), ("extras", "gift"), ("extras", "insured")]
    url = "http://shop.test/order"
    assert form_labels(PAGES["recorded"], url, url, sent) == {
        "speed": "Delivery",
        "extras": "Extras",
        BUTTON: "Order",  # the form's only submit button, unnamed, was the one pressed
    }


@pytest.mark.parametrize(
    ("version", "received"),
    [
        # Every name changed, the legends kept: the groups are found by their legends.
        ("renamed", {"shipping": ["fast"], "addons": ["gift", "insured"]}),
        # The legends changed, the names kept: found by name, as before.
        ("relegended", {"speed": ["fast"], "extras": ["gift", "insured"]}),
    ],
)
def test_a_group_is_found_by_its_legend_else_by_its_name(chromium, app, version, received):
    base, seen = app
    seen.clear()
    _order(chromium, base, version, {"speed": "Delivery", "extras": "Extras"})
    assert seen["form"] == received
