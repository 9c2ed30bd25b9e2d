"""Scrubbing by evidence: the hand-labelled cases' precision and recall, secrets chased where they
reappear (through the whole pipeline into journeys.json and the seeded suite), look-alikes kept,
personal data found by what it is, user-named fields, and bodies nested too deep to walk."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from har_producers import Req, chrome, write

from benchmarks import scrub_quality
from cxe_gate.har import facts
from cxe_gate.har.correlate import find_links
from cxe_gate.har.parse import parse_entry
from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.har.scrub import Scrubber, ScrubRules
from cxe_gate.seed.codegen import generate

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SITE = "https://shop.example.com"
S_FID = "3D0D8E6A3B2C1F0E-0A1B2C3D4E5F6A7B"  # Adobe's visitor id cookie: hex-hex
# Luhn-valid with a Visa prefix: from the right, the digits kept (6,4,2,3,7,7,9,5) sum to 43 and
# the doubled ones (8,1,6,6,8,5,3,4 → 7,2,3,3,7,1,6,8) to 37; 80 ends in 0. Yet a cache-buster.
CACHE_BUSTER = "4539578763621486"


def test_labelled_cases_recall_is_total_and_precision_high():
    quality = scrub_quality.measure()
    # The cases file holds 120 labelled secrets and 181 look-alikes (counted by hand per sample).
    assert (quality.secrets, quality.kept + quality.changed) == (120, 181)
    assert quality.misses == []
    assert quality.recall == 1.0
    assert quality.precision >= 0.95, quality.changes


def test_luhn_of_the_cache_buster_holds():
    from cxe_gate.har.scrub import luhn_ok

    assert luhn_ok(CACHE_BUSTER)


# --- a secret reappearing ----------------------------------------------------------------------


def _session() -> list[Req]:
    cookie = {"Cookie": f"s_fid={S_FID}; s_cc=true"}
    return [
        Req("GET", f"{SITE}/", mime="text/html", kind="document", at_ms=0, headers=cookie),
        Req(
            "GET",
            f"{SITE}/b/ss/acmeprod/1/JS-2.25.0/s41234567891234?AQB=1&fid={S_FID}"
            f"&cc=USD&t=1714557600123&server=prd-10-60-12-34",
            kind="fetch",
            at_ms=200,
            headers=cookie,
        ),
        Req(
            "GET",
            f"{SITE}/api/recommendations?visitor={S_FID}&_={CACHE_BUSTER}&cc=USD",
            at_ms=300,
            headers={**cookie, "X-Visitor": S_FID},
        ),
        Req("GET", f"{SITE}/api/config/{CACHE_BUSTER}/flags", at_ms=350, headers=cookie),
        Req(
            "POST",
            f"{SITE}/api/events",
            body={"events": [{"name": "view", "visitor": {"fid": S_FID}, "at": 1714557600123}]},
            at_ms=400,
            headers=cookie,
        ),
        Req("GET", f"{SITE}/visitors/{S_FID}/history", at_ms=500, headers=cookie),
    ]


def test_a_cookie_value_is_scrubbed_wherever_it_reappears_end_to_end(tmp_path):
    write(tmp_path / "beacon.har", chrome(_session(), START))
    journey_map = build_journey_map([tmp_path], first_party=["shop.example.com"])
    dumped = journey_map.model_dump_json()
    files = generate(journey_map)
    suite = "\n".join(files.values())
    for text in (dumped, suite):
        assert S_FID not in text
        assert quote(S_FID, safe="") not in text
        assert "CXE_SECRET_CARD" not in text  # the Luhn-valid cache-buster is no card
    # The cookie s_fid is the run's first value labelled COOKIE_S_FID: number 1; the same
    # placeholder stands for it in the query strings, the header, the JSON body and the path.
    token = "${CXE_SECRET_COOKIE_S_FID_1}"
    recorded = json.loads(dumped)
    paths = [
        request["path"]
        for journey in recorded["journeys"]
        for step in journey["steps"]
        for request in (step["page"], *step["calls"])
    ]
    assert f"/api/recommendations?visitor={token}&_={CACHE_BUSTER}&cc=USD" in paths
    assert f"/visitors/{token}/history" in paths
    assert f"/api/config/{CACHE_BUSTER}/flags" in paths
    assert "${CXE_SECRET_COOKIE_S_FID_2}" not in dumped
    # A route is made of the path, never of a scrubbed value: the secret segment is {secret}.
    routes = [r["route"] for j in recorded["journeys"] for s in j["steps"] for r in s["calls"]]
    assert "/visitors/{secret}/history" in routes
    assert "/api/config/{id}/flags" in routes
    assert "CXE_SECRET_COOKIE_S_FID_1" in suite  # read from the environment when the test runs


def _entry(url: str, *, cookie: str | None = None, index: int = 0, file: str = "a.har"):
    headers = [{"name": "Cookie", "value": cookie}] if cookie else []
    raw = {
        "startedDateTime": "2024-05-01T10:00:00Z",
        "time": 10,
        "request": {"method": "GET", "url": url, "headers": headers, "cookies": []},
        "response": {"status": 200, "headers": [], "content": {"mimeType": "text/html"}},
    }
    return parse_entry(raw, file, index)


def test_a_secret_seen_later_in_the_session_is_scrubbed_where_it_came_first():
    early = _entry(f"{SITE}/b/ss?fid_value={S_FID}", index=0)
    late = _entry(f"{SITE}/", cookie=f"s_fid={S_FID}", index=1)
    scrubber = Scrubber()
    scrubber.learn([early, late])
    clean, found = scrubber.scrub(early)
    assert clean.url == f"{SITE}/b/ss?fid_value=${{CXE_SECRET_COOKIE_S_FID_1}}"
    assert [(f.kind, f.where) for f in found] == [("cookie", "request.url.query.fid_value")]


def test_secrets_of_one_session_are_not_chased_into_the_next():
    scrubber = Scrubber()
    scrubber.scrub(_entry(f"{SITE}/", cookie=f"s_fid={S_FID}", file="one.har"))
    clean, _ = scrubber.scrub(_entry(f"{SITE}/p?ref={S_FID}", file="two.har"))
    # In two.har nothing says the value is secret: no cookie, no secret-sounding name.
    assert clean.url == f"{SITE}/p?ref={S_FID}"


def test_preference_cookies_are_not_chased_and_numbers_match_whole():
    scrubber = Scrubber()
    scrubber.scrub(_entry(f"{SITE}/", cookie="lang=en-GB; ship=standard-uk; sid=1714557600"))
    clean, _ = scrubber.scrub(
        _entry(f"{SITE}/p?l=en-GB&m=standard-uk&_p=1714557600123&s=1714557600")
    )
    # `en-GB` is short and `standard-uk` a word with no digit: chance values, not secrets.
    assert clean.url == (
        f"{SITE}/p?l=en-GB&m=standard-uk&_p=1714557600123&s=${{CXE_SECRET_COOKIE_SID_1}}"
    )


def test_an_authorization_credential_reappearing_in_a_query_is_scrubbed():
    scrubber, found = Scrubber(), []
    jwtless = "Token 9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    scrubber.headers((("Authorization", jwtless),), "request", found)
    url = scrubber.url(
        f"{SITE}/export?auth={quote(jwtless)}&x=9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "request.url",
        found,
    )
    assert url == (
        f"{SITE}/export?auth=${{CXE_SECRET_AUTHORIZATION_1}}"
        "&x=${CXE_SECRET_AUTHORIZATION_CREDENTIAL_1}"
    )


# --- look-alikes and context ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("_", "1714557600123"),  # a millisecond timestamp: 13 digits
        ("t", CACHE_BUSTER),  # Luhn-valid, Visa prefix, but a cache-buster's name
        ("cc", "USD"),  # Adobe's currency code
        ("server", "prd-10-60-12-34"),  # a host name, not a phone
        ("v", "2024.05.01-1234"),
    ],
)
def test_look_alikes_in_query_strings_are_kept(name, value):
    found: list = []
    assert Scrubber().named(name, value, "w", found) == value
    assert found == []


def test_a_bare_card_number_is_a_card_only_in_a_payment_form():
    form = [("number", "4111111111111111"), ("cvc", "123"), ("order_id", CACHE_BUSTER)]
    found: list = []
    out = dict(Scrubber().pairs(form, "request.form", found, form=True))
    assert out == {
        "number": "${CXE_SECRET_CARD_1}",
        "cvc": "${CXE_SECRET_CVC_1}",
        "order_id": CACHE_BUSTER,  # an id, even next to a cvc
    }
    assert Scrubber().pairs([("number", "4111111111111111")], "q", [], form=False) == [
        ("number", "4111111111111111")
    ]


def test_personal_data_by_what_it_is_in_a_form_post():
    form = [
        ("line1", "12 Baker Street"),
        ("where", "Marylebone"),  # a place name next to an address field
        ("zip", "NW1 6XE"),
        ("country", "GB"),
        ("comments_box", "please ring the bell twice"),  # several words a person wrote
        ("submit", "Continue to payment now"),  # a button's label: kept
        ("street_view", "12 Baker Street"),
    ]
    out = dict(Scrubber().pairs(form, "request.form", [], form=True))
    assert out == {
        "line1": "${CXE_SECRET_LINE1_1}",
        "where": "${CXE_SECRET_WHERE_1}",
        "zip": "${CXE_SECRET_ZIP_1}",
        "country": "GB",
        "comments_box": "${CXE_SECRET_COMMENTS_BOX_1}",
        "submit": "Continue to payment now",
        # The same street met again: the placeholder it got first.
        "street_view": "${CXE_SECRET_LINE1_1}",
    }


def test_a_user_named_field_is_always_scrubbed_and_keep_wins():
    rules = ScrubRules(keep=frozenset({"nickname"}), fields={"loyalty_no": "field"})
    scrubber, found = Scrubber(rules), []
    out = scrubber.pairs(
        [("loyalty_no", "1"), ("nickname", "Ada"), ("q", "mug")], "f", found, form=True
    )
    assert out == [("loyalty_no", "${CXE_SECRET_LOYALTY_NO_1}"), ("nickname", "Ada"), ("q", "mug")]
    assert [f.kind for f in found] == ["field"]


# --- deep bodies -------------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return '{"a":' * depth + '"x"' + "}" * depth


@pytest.mark.parametrize("depth", [65, 500, 100_000])
def test_a_body_too_deep_to_walk_is_one_scrubbed_value(depth):
    found: list = []
    text = _nested(depth)
    assert Scrubber().body("application/json", text, found) == "${CXE_SECRET_DEEP_JSON_BODY_1}"
    assert [(f.kind, f.where) for f in found] == [("too_deep", "request.json")]
    arrays = "[" * depth + "]" * depth
    assert Scrubber().body("application/json", arrays, []) == "${CXE_SECRET_DEEP_JSON_BODY_1}"


def test_a_body_64_deep_is_walked_and_scrubbed_by_structure():
    text = '{"a":' * 63 + '{"password":"pw-1"}' + "}" * 63
    out = Scrubber().body("application/json", text, [])
    assert out == '{"a":' * 63 + '{"password":"${CXE_SECRET_PASSWORD_1}"}' + "}" * 63


@pytest.mark.parametrize("depth", [500, 100_000])
def test_deep_response_and_request_bodies_give_no_facts_and_no_links(depth):
    assert facts._json_facts(_nested(depth), [], True) is None
    raw = {
        "startedDateTime": "2024-05-01T10:00:00Z",
        "time": 10,
        "request": {
            "method": "POST",
            "url": f"{SITE}/api/x",
            "headers": [],
            "cookies": [],
            "postData": {"mimeType": "application/json", "text": _nested(depth)},
        },
        "response": {"status": 200, "headers": [], "content": {"mimeType": "text/html"}},
    }
    assert find_links([parse_entry(raw, "a.har", 0)]) == {}


@pytest.mark.parametrize("depth", [500, 100_000])
def test_the_pipeline_reads_a_har_with_deep_bodies(tmp_path, depth):
    reqs = [
        Req("GET", f"{SITE}/", mime="text/html", kind="document", at_ms=0),
        Req("POST", f"{SITE}/api/deep", body={"placeholder": 1}, at_ms=100),
    ]
    har = chrome(reqs, START)
    deep = _nested(depth)
    har["log"]["entries"][1]["request"]["postData"]["text"] = deep
    har["log"]["entries"][1]["response"]["content"]["text"] = deep
    write(tmp_path / "deep.har", har)
    journey_map = build_journey_map([tmp_path], first_party=["shop.example.com"])
    assert journey_map.summary.files_failed == 0
    assert ("too_deep", "request.json") in {(s.kind, s.where) for s in journey_map.scrubbed}
    generate(journey_map)  # the deep body travels as one placeholder
