"""Labels of form fields read from the recorded form page: every way HTML labels a control, the
button pressed, only the form the post went to, and nothing personal; then carried through the
journey map (one run, and partial maps merged) into a seeded test that says what was done."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from har_dicts import entry, har, write_har

from cxe_gate.har.form_labels import BUTTON, MAX_LABEL, form_labels
from cxe_gate.har.merge import combine, finish
from cxe_gate.har.pipeline import build_journey_map, build_partial_map
from cxe_gate.seed.codegen import SeedOptions, generate

PAGE = "https://shop.test/checkout/"
# Every kind of label, worked out by hand for each control below.
CHECKOUT = """<!doctype html><title>Checkout</title>
<p><label for="coupon">Coupon, outside the form</label></p>
<p data-id="ship">not a label</p><h2 id="ship">Shipping</h2>
<form method="get" action="/checkout/"><input name="email" aria-label="Search box"></form>
<form method="POST" action="/checkout/place/">
  <input type="hidden" name="csrf" value="t0k3n">
  <label for="e">E-mail <b>address</b></label> <input id="e" name="email">
  <label>  Full
     name <input name="fullname"> </label>
  <input name="phone" aria-label="Phone number">
  <span id="when">delivery day</span>
  <input name="day" aria-labelledby="ship when">
  <input id="coupon" name="coupon">
  <label>Country <select name="country"><option>France</option><option>Spain</option></select>
  </label>
  <label><input type="radio" name="speed" value="slow"> Slow</label>
  <label><input type="radio" name="speed" value="fast"> Fast</label>
  <label><input type="checkbox" name="gift" value="on"> Gift wrap</label>
  <textarea name="notes"></textarea>
  <button type="submit" name="go" value="later">Save for later</button>
  <button name="go" value="order">Place <i>order</i></button>
</form>"""
SENT = [
    ("csrf", "t0k3n"), ("email", "ann@shop.test"), ("fullname", "Ann Lee"), ("phone", "0612"),
    ("day", "mon"), ("coupon", "SPRING"), ("country", "France"), ("speed", "fast"),
    ("gift", "on"), ("notes", "ring twice"), ("go", "order"),
]  # fmt: skip


def test_each_way_html_labels_a_control():
    labels = form_labels(CHECKOUT, PAGE, "https://shop.test/checkout/place/?step=2", SENT)
    assert labels == {
        "email": "E-mail address",  # <label for>, its inner tags' text joined
        "fullname": "Full name",  # a wrapping <label>, whitespace collapsed
        "phone": "Phone number",  # aria-label
        "day": "Shipping delivery day",  # aria-labelledby: an id outside the form, one inside
        "coupon": "Coupon, outside the form",  # <label for> found outside the form
        "country": "Country",  # a wrapping label: its words, not the select's options
        "gift": "Gift wrap",  # one checkbox: its own label
        # csrf (hidden), speed (a radio group: a label per option) and notes (no label): none.
        "go": "Place order",  # the named button whose value was sent ...
        BUTTON: "Place order",  # ... is the button pressed
    }


# Radio and checkbox groups in fieldsets, each case worked out by hand below.
GROUPS = """<form method="post" action="/order">
  <fieldset><legend>Delivery <i>speed</i></legend>
    <label><input type="radio" name="speed" value="slow"> Slow</label>
    <label><input type="radio" name="speed" value="fast"> Fast</label>
  </fieldset>
  <fieldset><legend>Extras</legend><legend>not this one</legend>
    <label><input type="checkbox" name="extras" value="gift"> Gift wrap</label>
    <label><input type="checkbox" name="extras" value="insured"> Insurance</label>
  </fieldset>
  <fieldset><legend>Address</legend>
    <input name="street" aria-label="Street">
    <label><input type="radio" name="floor" value="0"> Ground</label>
    <label><input type="radio" name="floor" value="1"> Upstairs</label>
  </fieldset>
  <label><input type="radio" name="pay" value="card"> Card</label>
  <label><input type="radio" name="pay" value="cash"> Cash</label>
</form>"""


def test_a_group_in_a_fieldset_of_its_own_takes_its_legend():
    sent = [("speed", "fast"), ("extras", "gift"), ("extras", "insured"), ("street", "Main St"),
            ("floor", "1"), ("pay", "card")]  # fmt: skip
    labels = form_labels(GROUPS, "https://shop.test/order", "https://shop.test/order", sent)
    assert labels == {
        "speed": "Delivery speed",  # the legend's words, its inner tags' text joined
        "extras": "Extras",  # the first legend names the fieldset
        "street": "Street",
        # floor shares its fieldset with street: "Address" names the fieldset, not the group;
        # pay is in no fieldset. Neither has a label.
    }


def test_the_only_unnamed_submit_button_is_the_one_pressed():
    login = """<form method="post"><label for="u">Username:</label><input id="u" name="user">
    <input type="submit" value="Log in"></form>"""
    # No action: the form posts to the page's own URL.
    labels = form_labels(login, "http://a.test/login/", "http://a.test/login/", [("user", "x")])
    assert labels == {"user": "Username:", BUTTON: "Log in"}
    two = login.replace("</form>", '<button aria-label="Log in with a key"></button></form>')
    # Two unnamed buttons: which was pressed is not in the post.
    labels = form_labels(two, "http://a.test/login/", "http://a.test/login/", [("user", "x")])
    assert labels == {"user": "Username:"}
    image = login.replace('type="submit" value="Log in"', 'type="image" alt="Sign in" src="b.png"')
    labels = form_labels(image, "http://a.test/login/", "http://a.test/login/", [("user", "x")])
    assert labels[BUTTON] == "Sign in"


def test_only_the_form_the_post_went_to_is_read():
    page = """<form method="post" action="/a"><label>First <input name="q"></label></form>
    <form method="post" action="/b"><label>Other <input name="x"></label></form>
    <form method="post" action="/b"><label>Second <input name="q"></label></form>"""
    # Two forms post to /b: the one naming the sent field `q`.
    assert form_labels(page, "http://s.test/", "http://s.test/b", [("q", "1")]) == {"q": "Second"}
    assert form_labels(page, "http://s.test/", "http://s.test/c", [("q", "1")]) == {}
    assert form_labels("<p>no form</p>", "http://s.test/", "http://s.test/b", [("q", "1")]) == {}


def test_long_and_personal_labels_are_left_out():
    long = "x" * (MAX_LABEL + 1)
    page = f"""<form method="post" action="/p"><label>{long} <input name="a"></label>
    <label>Hello Ann <input name="b"></label><label>Street <input name="c"></label></form>"""
    sent = [("a", "1"), ("b", "2"), ("c", "3")]
    labels = form_labels(page, "http://s.test/", "http://s.test/p", sent, lambda t: "Ann" in t)
    assert labels == {"c": "Street"}


def _checkout_har(tmp_path: Path, greeting: str) -> Path:
    form_page = entry(PAGE, at_s=0)
    form_page["response"]["content"]["text"] = CHECKOUT.replace(
        "<h2", f"<label for='fullname-note'>{greeting}</label><h2"
    ).replace('<textarea name="notes">', '<textarea id="fullname-note" name="notes">')
    post = entry("https://shop.test/checkout/place/", method="POST", status=303, at_s=20)
    post["request"]["postData"] = {
        "mimeType": "application/x-www-form-urlencoded",
        "text": urlencode(SENT),
        "params": [{"name": k, "value": v} for k, v in SENT],
    }
    post["response"]["headers"].append({"name": "Location", "value": "/thanks/"})
    done = entry("https://shop.test/thanks/", at_s=21)
    return write_har(tmp_path / "checkout.har", har([form_page, post, done]))


def _posted_labels(journey_map: Any) -> dict[str, str]:
    [journey] = journey_map.journeys
    return journey.steps[1].page.labels


def test_labels_reach_the_journey_map_and_the_seeded_test_without_personal_data(tmp_path):
    # The notes field's label greets the customer by the name the form sent: personal, dropped.
    path = _checkout_har(tmp_path, "Notes for Ann Lee")
    journey_map = build_journey_map([path])
    labels = _posted_labels(journey_map)
    assert "notes" not in labels
    assert labels["email"] == "E-mail address" and labels[BUTTON] == "Place order"
    # Partial maps merged give the same labels as one run.
    merged = finish(combine([("one.json", build_partial_map([path], key=b"k" * 32))]))
    assert _posted_labels(merged) == labels
    code = generate(journey_map, SeedOptions())["test_journeys.py"]
    compile(code, "test_journeys.py", "exec")
    assert "#   'email', labelled 'E-mail address'" in code
    assert "#   click button 'Place order'" in code
    comments = [line for line in code.splitlines() if line.strip().startswith("#")]
    assert not any("Ann" in line for line in comments)


def test_a_label_holding_an_email_address_is_dropped(tmp_path):
    path = _checkout_har(tmp_path, "Copy to boss@corp.test")
    assert "notes" not in _posted_labels(build_journey_map([path]))
    # A plain label is kept: the check is on the text, not the field.
    plain = _checkout_har(tmp_path, "Notes")
    assert _posted_labels(build_journey_map([plain]))["notes"] == "Notes"
