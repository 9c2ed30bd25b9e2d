"""HAR ingestion without a browser: every producer's shape, bad input, streaming, scrubbing, noise,
route templates and clustering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from har_producers import PRODUCERS, SECRETS, Req, chrome, visit, write, write_all

from cxe_gate.cli import main
from cxe_gate.errors import HarError
from cxe_gate.har.cluster import cluster
from cxe_gate.har.journey_map import JourneyMap
from cxe_gate.har.journeys import split_journeys
from cxe_gate.har.load import read_entries
from cxe_gate.har.noise import detect_first_party, drop_reason, is_navigation
from cxe_gate.har.parse import parse_entry
from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.har.routes import template_path, template_url
from cxe_gate.har.scrub import Scrubber, ScrubRules, luhn_ok
from cxe_gate.har.timing import timing

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
BUY = "GET / → GET /products/{id} → GET /checkout → POST /checkout → GET /orders/{id}"


@pytest.mark.parametrize("large_file_bytes", [1 << 30, 1], ids=["whole", "streamed"])
def test_every_producer_yields_the_same_journey(tmp_path, large_file_bytes):
    write_all(tmp_path)
    journey_map = build_journey_map([tmp_path], large_file_bytes=large_file_bytes)
    assert journey_map.summary.files == len(PRODUCERS)
    assert journey_map.summary.files_failed == 0
    [journey] = journey_map.journeys
    assert journey.name == BUY
    assert journey.weight == len(PRODUCERS)
    assert journey_map.first_party == ["example.com"]
    assert journey_map.dropped == {
        "script": 5, "image": 5, "font": 5, "source-map": 5, "third-party analytics/ads": 5,
    }  # fmt: skip
    dumped = journey_map.model_dump_json()
    for secret in SECRETS:
        assert secret not in dumped
    assert "sk_live_abcdef123456" not in dumped


def test_the_cli_prints_journeys_scrubs_and_drops(tmp_path):
    write_all(tmp_path)
    out = tmp_path / "map.json"
    result = CliRunner().invoke(main, ["journeys", str(tmp_path / "*.har"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "weight 5 (100%)" in result.output
    assert "request.header.authorization" in result.output
    assert "dropped: " in result.output
    for secret in SECRETS:
        assert secret not in result.output
    data = json.loads(out.read_text("utf-8"))
    assert data["schema_version"] == "1.1"
    JourneyMap.model_validate(data)  # the file matches its documented schema


@pytest.mark.parametrize(
    ("content", "location", "message"),
    [
        (b'{"log": {"entries": [{"request": ', "line 1 column 34", "not valid JSON"),
        (b"<html>not a har</html>", "line 1 column 1", "not valid JSON"),
        (b'{"log": {"entries": []}}', "log.entries", "no entries"),
        (b'{"log": {"entries": {}}}', "log.entries", "expected an array"),
        (b'{"nolog": 1}', "log", "expected an object"),
        (
            b'{"log": {"entries": [{"startedDateTime": "2024-05-01T10:00:00Z", '
            b'"request": {"method": "GET", "url": 5}, "response": {"status": 200}}]}}',
            "log.entries[0].request.url",
            "expected a string, got a number",
        ),
        (b"", None, "empty"),
    ],
)
def test_bad_input_names_the_file_and_the_json_path(tmp_path, content, location, message):
    path = tmp_path / "bad.har"
    path.write_bytes(content)
    with pytest.raises(HarError, match=message) as raised:
        list(read_entries(path))
    assert raised.value.file == str(path)
    assert raised.value.location == location


def test_a_truncated_big_file_is_reported_at_the_entry_it_broke_in(tmp_path):
    path = write(tmp_path / "big.har", chrome(visit(), START))
    path.write_bytes(path.read_bytes()[:-400])
    with pytest.raises(HarError, match="truncated") as raised:
        list(read_entries(path, large_file_bytes=1))
    assert raised.value.location.startswith("log.entries[")


def test_a_bad_file_fails_alone_and_the_summary_counts_it(tmp_path):
    write_all(tmp_path)
    (tmp_path / "broken.har").write_text('{"log": {"entries": [', encoding="utf-8")
    result = CliRunner().invoke(main, ["journeys", str(tmp_path), str(tmp_path / "missing.har")])
    assert result.exit_code == 4
    assert "7 HAR file(s), 2 failed" in result.output
    assert "weight 5" in result.output
    assert "broken.har:line 1 column" in result.output
    assert "missing.har: cannot read" in result.output


def test_non_utf8_files_are_read_whole_and_streamed(tmp_path):
    har = chrome(visit(), START)
    har["log"]["comment"] = "Größe: été"
    path = write(tmp_path / "latin.har", har, encoding="latin-1")
    assert len(list(read_entries(path))) == len(list(read_entries(path, large_file_bytes=1)))


def _entry(req: Req, **extra) -> object:
    har = chrome([req], START)
    raw = har["log"]["entries"][0]
    raw.update(extra)
    return parse_entry(raw, "t.har", 0)


def test_minus_one_timings_mean_unknown_and_extensions_are_tolerated():
    entry = _entry(Req("GET", "https://a.test/"), time=-1, _webSocketMessages=[], comment="x")
    assert entry.time_ms == 38 + 2  # from the known timings
    entry = _entry(Req("GET", "https://a.test/"), time=-1, timings={"send": -1, "wait": -1})
    assert entry.time_ms is None


# --- scrub -----------------------------------------------------------------------------------


def test_luhn():
    assert luhn_ok("4242424242424242")
    assert luhn_ok("5555555555554444")
    assert not luhn_ok("4242424242424241")


def test_patterns_catch_jwts_keys_cards_emails_phones_but_not_ids_and_dates():
    scrubber, found = Scrubber(), []
    text = (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature key AKIAABCDEFGHIJKLMNOP "
        "card 4242-4242-4242-4242 bad 4242 4242 4242 4241 mail a.b@c.io tel +1 (415) 555-0100 "
        "order 1714557600123 at 2024-05-01 10:00:00 from 192.168.100.200"
    )
    out = scrubber.text(text, "body", found)
    assert [f.kind for f in found] == ["jwt", "api_key", "email", "card", "phone"]
    assert "4242 4242 4242 4241" in out  # not Luhn-valid: not a card
    assert "1714557600123" in out
    assert "2024-05-01 10:00:00" in out
    assert "192.168.100.200" in out


def test_placeholders_are_named_and_stable_for_the_run():
    scrubber = Scrubber()
    one = scrubber.headers((("Authorization", "Bearer a"),), "request", [])
    two = scrubber.headers((("Authorization", "Bearer b"),), "request", [])
    again = scrubber.headers((("Authorization", "Bearer a"),), "request", [])
    assert one == (("Authorization", "${CXE_SECRET_AUTHORIZATION_1}"),)
    assert two == (("Authorization", "${CXE_SECRET_AUTHORIZATION_2}"),)
    assert again == one


def test_bodies_are_scrubbed_by_structure_not_by_regex_over_json():
    scrubber, found = Scrubber(), []
    body = '{ "user" : {"password": "pw1", "email": "x@y.io", "pin": 1234},\n "q": "ok"}'
    out = json.loads(scrubber.body("application/json", body, found))
    assert out == {
        "user": {
            "password": "${CXE_SECRET_PASSWORD_1}",
            "email": "${CXE_SECRET_EMAIL_1}",
            "pin": "${CXE_SECRET_PIN_1}",
        },
        "q": "ok",
    }
    assert {f.where for f in found} == {
        "request.json.user.password", "request.json.user.email", "request.json.user.pin",
    }  # fmt: skip
    form = scrubber.body("application/x-www-form-urlencoded", "token=abc&q=mug", [])
    assert form == "token=${CXE_SECRET_TOKEN_1}&q=mug"


def test_rules_keep_fields_and_add_patterns():
    scrubber = Scrubber(ScrubRules(keep=frozenset({"session_hint"}), patterns={"ticket": r"T-\d+"}))
    found: list = []
    assert scrubber.named("session_hint", "v", "w", found) == "v"
    assert scrubber.text("see T-1234", "w", found) == "see ${CXE_SECRET_TICKET_1}"
    assert [f.kind for f in found] == ["ticket"]


def test_findings_never_carry_the_value():
    found: list = []
    Scrubber().named("email", "secret@example.com", "w", found)
    assert "secret@example.com" not in repr(found)


# --- noise -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("req", "reason"),
    [
        (Req("GET", "https://a.test/app.js?v=3", kind="other", mime=""), "script"),
        (Req("GET", "https://a.test/api/file?name=x.js", kind="other", mime="application/json"), None),
        (Req("GET", "https://a.test/img?id=1", kind="other", mime="image/webp"), "image"),
        (Req("GET", "https://a.test/f.woff2?x", kind="other", mime=""), "font"),
        (Req("GET", "https://a.test/app.js.map", kind="other", mime=""), "source-map"),
        (Req("GET", "https://a.test/v.mp4", kind="other", mime=""), "media"),
        (Req("GET", "chrome-extension://abc/x.html", kind="other"), "browser-internal"),
        (Req("GET", "https://www.googletagmanager.com/gtm.js?id=1", kind="script"), "third-party analytics/ads"),
        (Req("POST", "https://a.test/collect", kind="ping"), "beacon"),
        (Req("GET", "https://a.test/api/x", status=-1), "aborted"),
        (Req("GET", "https://a.test/api/products/1", kind="fetch"), None),
    ],
)  # fmt: skip
def test_noise(req, reason):
    assert drop_reason(_entry(req)) == reason


def test_first_party_is_the_site_navigated_to():
    entries = [
        _entry(Req("GET", "https://www.shop.test/", mime="text/html", kind="document")),
        _entry(Req("GET", "https://cdn.other.test/api", kind="fetch")),
        _entry(Req("GET", "https://cdn.other.test/api2", kind="fetch")),
    ]
    assert detect_first_party(entries) == {"shop.test"}
    assert is_navigation(entries[0]) and not is_navigation(entries[1])


def test_first_party_override_keeps_only_that_host(tmp_path):
    write_all(tmp_path)
    journey_map = build_journey_map([tmp_path], first_party=["elsewhere.test"])
    assert journey_map.journeys == []
    assert journey_map.dropped["third-party"] == journey_map.summary.entries_read - 25


# --- routes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/products/123", "/products/{id}"),
        ("/orders/550e8400-e29b-41d4-a716-446655440000/items/7", "/orders/{uuid}/items/{id}"),
        ("/orders/9c1f0e8a7b6d5c4b3a21", "/orders/{hash}"),
        ("/reports/2024-05-01", "/reports/{date}"),
        ("/share/aB3dE5fG7hJ9kL1mN3pQ5r", "/share/{token}"),
        ("/reset/${CXE_SECRET_JWT_1}", "/reset/{secret}"),
        ("/products/mugs", "/products/mugs"),
        ("/", "/"),
    ],
)
def test_route_templates(path, template):
    assert template_path(path) == template


def test_query_values_are_dropped_and_names_sorted():
    assert template_url("https://a.test/products?q=mug&page=2") == "/products?page&q"


# --- journeys and clusters -------------------------------------------------------------------


def test_an_idle_gap_starts_a_new_journey_and_clusters_weigh_sessions():
    def session(name: str, gap_s: float) -> list:
        reqs = [
            Req("GET", "https://a.test/", mime="text/html", kind="document", at_ms=0),
            Req("GET", "https://a.test/products/1", mime="text/html", kind="document", at_ms=1000),
            Req("GET", "https://a.test/", mime="text/html", kind="document", at_ms=gap_s * 1000),
            Req("GET", "https://a.test/products/2", mime="text/html", kind="document",
                at_ms=gap_s * 1000 + 500, time_ms=60),
        ]  # fmt: skip
        har = chrome(reqs, START + timedelta(hours=1))
        return [parse_entry(e, name, i) for i, e in enumerate(har["log"]["entries"])]

    journeys = split_journeys(session("a", 3600), session="a") + split_journeys(
        session("b", 10), session="b"
    )
    assert [len(j.steps) for j in journeys] == [2, 2, 4]
    clusters = cluster(journeys)
    assert [c.weight for c in clusters] == [1, 1]  # session a twice, session b once
    assert len(clusters[0].journeys) == 2
    assert clusters[0].duration.count == 2


def test_timing_distribution_uses_nearest_rank():
    t = timing([10, 20, 30, 40, None, 50, 60, 70, 80, 90, 100])
    assert (t.count, t.min_ms, t.p50_ms, t.p90_ms, t.max_ms, t.mean_ms) == (10, 10, 50, 90, 100, 55)
    assert timing([None]).count == 0


# --- the commands' rules -----------------------------------------------------------------------


def test_scrub_field_scrubs_a_field_by_name_in_both_commands(tmp_path):
    # The cart's `quantity` is an ordinary field: only --scrub-field makes it a variable.
    write(tmp_path / "visit.har", chrome(visit(), START))
    out = tmp_path / "map.json"
    plain = CliRunner().invoke(main, ["journeys", str(tmp_path / "visit.har"), "-o", str(out)])
    assert plain.exit_code == 0, plain.output
    assert '"quantity": 1' in out.read_text("utf-8")
    scrubbed = CliRunner().invoke(
        main,
        ["journeys", str(tmp_path / "visit.har"), "--scrub-field", "quantity", "-o", str(out)],
    )
    assert scrubbed.exit_code == 0, scrubbed.output
    assert '"quantity": "${CXE_SECRET_' in out.read_text("utf-8")
    suite = tmp_path / "suite"
    seeded = CliRunner().invoke(
        main, ["seed", str(tmp_path / "visit.har"), "--scrub-field", "quantity", "-o", str(suite)]
    )
    assert seeded.exit_code == 0, seeded.output
    assert "'quantity': 1" not in "".join(p.read_text() for p in suite.glob("*.py"))


def test_no_journey_left_exits_4_in_both_commands(tmp_path):
    # Every entry of this recording is noise: an image and an analytics beacon.
    noise = [r for r in visit() if r.kind in ("image", "ping")]
    write(tmp_path / "noise.har", chrome(noise, START))
    for command in (["journeys"], ["seed", "-o", str(tmp_path / "suite")]):
        result = CliRunner().invoke(main, [*command, str(tmp_path / "noise.har")])
        assert result.exit_code == 4, (command, result.output)
        assert "no journey found in 1 file(s)" in result.output
    partial = CliRunner().invoke(
        main, ["journeys", "--partial", str(tmp_path / "noise.har"), "-o", str(tmp_path / "p.json")]
    )
    assert partial.exit_code == 0, partial.output  # a shard may hold no journey
