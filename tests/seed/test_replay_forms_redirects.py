"""A seeded journey's replay against a real loopback app, in a real Chromium and through a bare
request context: redirect chains checked hop by hop (and a redirect the recording did not have
caught), every kind of form control filled from the recording, the Referer and Origin a browser
sends, and recorded auth headers sent from their variables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, jsonify, redirect, request
from playwright.sync_api import Playwright, sync_playwright

from cxe_gate.browser import chromium_launch_args
from cxe_gate.seed.api_driver import ApiDriver
from cxe_gate.seed.browser_driver import BrowserDriver
from cxe_gate.seed.journey import JourneyFailed, SeededJourney
from cxe_gate.seed.runtime import env
from examples.shop.server import running

pytestmark = [pytest.mark.server, pytest.mark.browser]

TOKEN = "Bearer test-token-1"
FORM_PAGE = """<!doctype html><title>Order</title>
<form method="post" action="/order" enctype="multipart/form-data">
  <input name="csrf" type="hidden" value="live-token">
  <input name="title" value="">
  <label><input type="radio" name="size" value="S">S</label>
  <label><input type="radio" name="size" value="M" checked>M</label>
  <label><input type="radio" name="size" value="L">L</label>
  <label><input type="checkbox" name="extras" value="wrap">wrap</label>
  <label><input type="checkbox" name="extras" value="card">card</label>
  <label><input type="checkbox" name="news" value="yes" checked>news</label>
  <select name="colour"><option value="red">red</option><option value="blue">blue</option></select>
  <select name="tags" multiple>
    <option value="a">a</option><option value="b">b</option><option value="c">c</option>
  </select>
  <input type="file" name="receipt">
  <button type="submit" name="go" value="later">Later</button>
  <button type="submit" name="go" value="now">Now</button>
</form>"""
# What the recorded customer sent (a journey map's fields: repeated fields as lists).
RECORDED = {
    "csrf": "recorded-token",
    "title": "Gift",
    "size": "L",
    "extras": ["wrap", "card"],
    "colour": "blue",
    "tags": ["a", "c"],
    "receipt": "receipt.pdf",
    "go": "now",
}


def make_app(seen: dict[str, Any]) -> Flask:
    app = Flask(__name__)

    @app.get("/start")
    def start() -> Any:
        return redirect("/middle", 302)

    @app.get("/middle")
    def middle() -> Any:
        return redirect("/form?from=middle", 301)

    @app.get("/form")
    def form() -> str:
        return FORM_PAGE

    @app.post("/order")
    def order() -> Any:
        seen["form"] = {k: request.form.getlist(k) for k in request.form}
        seen["files"] = [f.filename for f in request.files.getlist("receipt")]
        return redirect("/placed", 303)

    @app.get("/placed")
    def placed() -> str:
        return "<p>placed</p>"

    @app.get("/basket")
    def basket() -> Any:  # a login wall: the recording had the basket itself
        return redirect("/login?next=/basket", 302)

    @app.get("/login")
    def login() -> str:
        return "<form method=post><input name=user></form>"

    @app.post("/add")
    def add() -> Any:
        # As shops do: back to the page the customer added from, else to the basket.
        seen["headers"] = {k: request.headers.get(k) for k in ("Referer", "Origin")}
        return redirect(request.headers.get("Referer") or "/basket", 302)

    @app.get("/me")
    def me() -> Any:
        if request.headers.get("Authorization") != TOKEN:
            return jsonify(error="unauthorized"), 401
        return jsonify(name="qa")

    return app


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@contextmanager
def journey_on(playwright: Playwright, base: str, mode: str) -> Iterator[SeededJourney]:
    if mode == "api":
        context = playwright.request.new_context()
        try:
            yield SeededJourney(ApiDriver(context, base))
        finally:
            context.dispose()
        return
    browser = playwright.chromium.launch(**chromium_launch_args())
    try:
        yield SeededJourney(BrowserDriver(browser.new_page(), base))
    finally:
        browser.close()


@pytest.fixture
def app() -> Iterator[tuple[str, dict[str, Any]]]:
    seen: dict[str, Any] = {}
    with running(make_app(seen)) as base:
        yield base, seen


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_a_redirect_chain_is_replayed_hop_by_hop(playwright, app, mode):
    base, _ = app
    with journey_on(playwright, base, mode) as journey:
        journey.page("GET", "/start", route="/start", status=302)
        journey.page("GET", "/middle", route="/middle", status=301, via="redirect")
        journey.page("GET", "/form?from=middle", route="/form?from", status=200, via="redirect")
    with journey_on(playwright, base, mode) as journey:
        journey.page("GET", "/start", route="/start", status=302)
        with pytest.raises(JourneyFailed) as failed:  # the hop went to /middle
            journey.page("GET", "/form", route="/form", status=200, via="redirect")
    assert "GET /form: the redirect went to /middle, recorded /form" in str(failed.value)


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_a_redirect_the_recording_did_not_have_fails(playwright, app, mode):
    """Where a page load ends up is checked: a login wall fails the step, in the browser too."""
    base, _ = app
    with journey_on(playwright, base, mode) as journey, pytest.raises(JourneyFailed) as failed:
        journey.page("GET", "/basket", route="/basket", status=200)
    assert (
        "GET /basket: /basket answered 302 (a redirect to /login?next=/basket), recorded 200"
        in str(failed.value)
    )


def test_every_kind_of_control_is_filled_from_the_recording(playwright, app):
    base, seen = app
    with journey_on(playwright, base, "browser") as journey:
        journey.page("GET", "/form", route="/form", status=200)
        journey.page("POST", "/order", route="/order", status=303, form=RECORDED)
        journey.page("GET", "/placed", route="/placed", status=200, via="redirect")
    # By hand: the live token (not the recorded one), the text, the chosen radio (not the
    # default M), both checkboxes, the unsent `news` cleared, the select, both chosen tags, and
    # the button pressed; the file under its recorded name.
    assert seen["form"] == {
        "csrf": ["live-token"],
        "title": ["Gift"],
        "size": ["L"],
        "extras": ["wrap", "card"],
        "colour": ["blue"],
        "tags": ["a", "c"],
        "go": ["now"],
    }
    assert seen["files"] == ["receipt.pdf"]


def test_an_option_the_form_lost_is_named(playwright, app):
    base, _ = app
    with journey_on(playwright, base, "browser") as journey:
        journey.page("GET", "/form", route="/form", status=200)
        with pytest.raises(JourneyFailed) as failed:
            journey.page(
                "POST", "/order", route="/order", status=303, form={**RECORDED, "size": "XL"}
            )
    assert "POST /order: the form's `size` has no option 'XL'" in str(failed.value)


def test_api_mode_sends_referer_and_origin(playwright, app):
    base, seen = app
    with journey_on(playwright, base, "api") as journey:
        journey.page("GET", "/form", route="/form", status=200)
        journey.page("POST", "/add", route="/add", status=302, form={"item": "3"})
        # Back to the page it was added from, as in the recording (not to the basket).
        journey.page("GET", "/form", route="/form", status=200, via="redirect")
    assert seen["headers"] == {"Referer": f"{base}/form", "Origin": base}


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_recorded_auth_headers_are_sent_from_their_variables(playwright, app, mode, monkeypatch):
    base, _ = app
    headers = {"Authorization": env("CXE_SECRET_AUTHORIZATION_1")}
    monkeypatch.setenv("CXE_SECRET_AUTHORIZATION_1", TOKEN)
    with journey_on(playwright, base, mode) as journey:
        journey.page("GET", "/me", route="/me", status=200, headers=headers)
    monkeypatch.setenv("CXE_SECRET_AUTHORIZATION_1", "Bearer wrong")
    with journey_on(playwright, base, mode) as journey, pytest.raises(JourneyFailed) as failed:
        journey.page("GET", "/me", route="/me", status=200, headers=headers)
    assert "GET /me: /me answered 401, recorded 200" in str(failed.value)
