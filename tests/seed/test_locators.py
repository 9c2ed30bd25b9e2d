"""Forms replayed in the browser the way a reader would describe them: a field by its label
(`get_by_label`), the recorded submit button by its role and name (`get_by_role`), and by its
`name` attribute only where the page gives no label; a radio or checkbox group alone in a fieldset
by its legend. Checked on a loopback app serving the recorded form and two new versions of it
(names changed, labels kept; labels changed, names kept); and the seeded test says, a comment line
per field, what the customer filled in, never a value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, redirect, request
from playwright.sync_api import Playwright, sync_playwright
from seed_maps import journey, journey_map

from cxe_gate.browser import chromium_launch_args
from cxe_gate.har.form_labels import BUTTON, form_labels
from cxe_gate.har.journey_map import Link, Step
from cxe_gate.seed.browser_driver import BrowserDriver
from cxe_gate.seed.codegen import SeedOptions, generate
from cxe_gate.seed.forms import fill_form
from cxe_gate.seed.journey import JourneyFailed, SeededJourney
from examples.shop.server import running

pytestmark = [pytest.mark.server, pytest.mark.browser]


def _form(email: str, full_name: str, button: str, names: tuple[str, str, str]) -> str:
    """An order form; a first submit button ("Save for later") is the form's default, so only
    pressing the recorded one sends `...=order`."""
    email_name, name_name, button_name = names
    return f"""<!doctype html><title>Order</title>
<form method="post" action="/order">
  <label for="e">{email}</label><input id="e" name="{email_name}">
  <label>{full_name} <input name="{name_name}"></label>
  <input name="note">
  <button type="submit" name="{button_name}" value="later">Save for later</button>
  <button type="submit" name="{button_name}" value="order">{button}</button>
</form>"""


def _groups(delivery: str, extras: str, names: tuple[str, str]) -> str:
    """A radio group and a checkbox group, each alone in a fieldset named by its legend."""
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
    "recorded": _form("Email", "Full name", "Place order", ("email", "fullname", "action")),
    "renamed": _form("Email", "Full name", "Place order", ("contact", "name", "do")),
    "relabelled": _form("E-mail address", "Your name", "Buy now", ("email", "fullname", "action")),
    "both": _form("E-mail address", "Your name", "Buy now", ("contact", "name", "do")),
    "groups": _groups("Delivery", "Extras", ("speed", "extras")),
    "groups-renamed": _groups("Delivery", "Extras", ("shipping", "addons")),
    "groups-relegended": _groups("Shipping", "Add-ons", ("speed", "extras")),
}
# What the recorded customer sent, and the labels (button text) its fields had then.
RECORDED = {
    "email": "ann@shop.test",
    "fullname": "Ann Lee",
    "note": "ring twice",
    "action": "order",
}
LABELS = {"email": "Email", "fullname": "Full name", "action": "Place order"}
GROUPS_SENT = {"speed": "fast", "extras": ["gift", "insured"]}
GROUP_LABELS = {"speed": "Delivery", "extras": "Extras"}


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
def chromium(playwright_started: Playwright) -> Iterator[Any]:
    launched = playwright_started.chromium.launch(**chromium_launch_args())
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def playwright_started() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


def _order(
    chromium: Any,
    base: str,
    version: str,
    form: dict[str, Any] = RECORDED,
    labels: dict[str, str] = LABELS,
) -> None:
    page = chromium.new_page()
    try:
        replay = SeededJourney(BrowserDriver(page, base))
        replay.page("GET", f"/form/{version}", route="/form/{version}", status=200)
        replay.page("POST", "/order", route="/order", status=303, form=form, labels=labels)
        replay.page("GET", "/done", route="/done", status=200, via="redirect")
    finally:
        page.close()


def test_on_the_recorded_form_fields_are_found_by_label_and_the_button_by_role(chromium, app):
    base, _ = app
    page = chromium.new_page()
    try:
        page.goto(f"{base}/form/recorded")
        filled = fill_form(page.locator("form"), RECORDED, "POST", "/order", LABELS)
    finally:
        page.close()
    assert filled.problems == []
    # Names would have worked too; only how each control was found tells the locators apart. The
    # unlabelled `note` is found by name.
    assert filled.located == [
        "get_by_label('Email')",
        "get_by_label('Full name')",
        "name 'note'",
        "get_by_role('button', name='Place order')",
    ]


def test_renamed_fields_are_still_filled_through_their_labels(chromium, app):
    """Proves the replay drives the form by labels: every `name` changed, so a name selector finds
    nothing; the server gets the customer's values under the new names, and the recorded button
    (found by its text, not the form's default) was the one pressed."""
    base, seen = app
    _order(chromium, base, "renamed")
    assert seen["form"] == {
        "contact": ["ann@shop.test"],
        "name": ["Ann Lee"],
        "note": ["ring twice"],
        "do": ["order"],
    }


def test_relabelled_fields_fall_back_to_their_names(chromium, app):
    """Proves the name selector is the fallback: the recorded labels are gone, the names are
    not, and the form is filled and sent as recorded (the button found by its name and value,
    then pressed by its new text)."""
    base, seen = app
    _order(chromium, base, "relabelled")
    assert seen["form"] == {
        "email": ["ann@shop.test"],
        "fullname": ["Ann Lee"],
        "note": ["ring twice"],
        "action": ["order"],
    }


def test_a_field_that_lost_both_name_and_label_fails_the_step(chromium, app):
    base, seen = app
    seen.clear()
    with pytest.raises(JourneyFailed) as failed:
        _order(chromium, base, "both")
    assert "POST /order: the form has no field `email`" in str(failed.value)
    assert "form" not in seen  # nothing was submitted


def test_the_recorded_page_gives_each_group_its_legend():
    sent = [("speed", "fast"), ("extras", "gift"), ("extras", "insured")]
    url = "http://shop.test/order"
    assert form_labels(PAGES["groups"], url, url, sent) == {
        "speed": "Delivery",
        "extras": "Extras",
        BUTTON: "Order",  # the form's only submit button, unnamed, was the one pressed
    }


@pytest.mark.parametrize(
    ("version", "received"),
    [
        # Every name changed, the legends kept: the groups are found by their legends.
        ("groups-renamed", {"shipping": ["fast"], "addons": ["gift", "insured"]}),
        # The legends changed, the names kept: found by name, as before.
        ("groups-relegended", {"speed": ["fast"], "extras": ["gift", "insured"]}),
    ],
)
def test_a_group_is_found_by_its_legend_else_by_its_name(chromium, app, version, received):
    base, seen = app
    seen.clear()
    _order(chromium, base, version, GROUPS_SENT, GROUP_LABELS)
    assert seen["form"] == received


def test_the_seeded_test_says_what_the_customer_filled_in_never_a_value():
    checkout = journey(
        "GET /checkout",
        "POST /checkout",
        forms={"POST /checkout": {"csrf": "x7", "email": "${CXE_SECRET_EMAIL_1}", "qty": "2"}},
    )
    # The csrf token is captured from the form page (a link), the email read from its variable.
    page = checkout.steps[1].page.model_copy(
        update={"links": [Link(target="form", at=["csrf"], step=0, call=None,
                               source="html_input", key=["csrf"])]},
    )  # fmt: skip
    # The journey map carries no labels yet (the HAR side's part): a request that has them.
    object.__setattr__(page, "labels", {"email": "Your e-mail", "qty": "Quantity"})
    steps = [checkout.steps[0], Step(page=page, calls=[])]
    mapped = journey_map(checkout.model_copy(update={"steps": steps}))
    code = generate(mapped, SeedOptions())["test_journeys.py"]
    compile(code, "test_journeys.py", "exec")
    comments = [line.strip() for line in code.splitlines() if line.strip().startswith("#")]
    assert comments[-4:] == [
        "# The customer fills in the form and sends it:",
        "#   'csrf': the value an earlier answer handed out",
        "#   'email', labelled 'Your e-mail': from CXE_SECRET_EMAIL_1",
        "#   'qty', labelled 'Quantity'",
    ]
    assert "labels={'email': 'Your e-mail', 'qty': 'Quantity'}" in code
    # No recorded value in a comment: "x7" and "2" are only in the form literal.
    assert not any(re.search(r"x7|'2'", line) for line in comments)


def test_a_field_name_cannot_break_out_of_its_comment():
    hostile = "a\nimport os\r\u2028#"
    mapped = journey_map(
        journey("GET /f", "POST /f", forms={"POST /f": {hostile: "v"}}),
    )
    code = generate(mapped, SeedOptions())["test_journeys.py"]
    compile(code, "test_journeys.py", "exec")
    # The name shows as printable ASCII, its line breaks as "?", on one comment line.
    assert "#   'a?import os??#'" in code
    assert "\nimport os" not in code
