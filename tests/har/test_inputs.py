"""Inputs real producers write that the seeder must take: IE11's cookie objects, paths spelt
percent-encoded or raw, absurd durations; and journeys of different sites kept apart."""

from __future__ import annotations

import json

from har_dicts import entry, har, write_har

from cxe_gate.har.load import read_entries
from cxe_gate.har.parse import parse_entry
from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.har.routes import template_path
from cxe_gate.seed.codegen import SeedOptions, generate

ACCEPT = {"Accept": "text/html"}


def test_ie11_cookies_given_as_an_object_are_read():
    raw = entry("https://shop.test/", headers=ACCEPT)
    raw["request"]["cookies"] = {"name": "previewCols", "value": "url status"}
    raw["response"]["cookies"] = {"theme": "dark", "lang": "en"}  # a name → value object
    parsed = parse_entry(raw, "ie.har", 0)
    assert parsed.request_cookies == (("previewCols", "url status"),)
    assert parsed.response_cookies == (("theme", "dark"), ("lang", "en"))


def test_paths_spelt_encoded_or_raw_are_one_route_and_one_journey(tmp_path):
    encoded = write_har(
        tmp_path / "a.har", har([entry("https://shop.test/caf%C3%A9", headers=ACCEPT)])
    )
    raw = write_har(tmp_path / "b.har", har([entry("https://shop.test/café", headers=ACCEPT)]))
    journey_map = build_journey_map([encoded, raw])
    [journey] = journey_map.journeys
    assert journey.weight == 2
    assert journey.steps[0].page.route == "/café"
    # What would change the path's meaning stays encoded; a non-UTF-8 escape stays as recorded.
    assert template_path("/a%2Fb/x%20y/100%25") == "/a%2Fb/x%20y/100%25"
    assert template_path("/%E9t%E9") == "/%E9t%E9"
    assert template_path("/%7Euser") == "/~user"


def test_an_absurd_duration_is_unknown_and_the_suite_still_generates(tmp_path):
    path = tmp_path / "huge.har"
    # Written by hand: json.dumps cannot write the Infinity some producers do.
    document = json.dumps(har([
        entry("https://shop.test/", headers=ACCEPT, time=1e308),
        entry("https://shop.test/api/x", mime="application/json", at_s=1, time=40,
              headers={"Accept": "application/json"}),
    ]))  # fmt: skip
    path.write_text(document.replace('"time": 40,', '"time": Infinity,'), encoding="utf-8")
    first, second = read_entries(path)
    assert first.time_ms is None and second.time_ms is None
    journey_map = build_journey_map([path])
    [journey] = journey_map.journeys
    assert journey.steps[0].page.time.count == 0
    files = generate(journey_map, SeedOptions())
    assert files and all(isinstance(text, str) for text in files.values())


def test_a_duration_of_a_day_or_less_is_kept():
    assert (
        parse_entry(entry("https://shop.test/", time=86_400_000), "t.har", 0).time_ms == 86_400_000
    )
    assert parse_entry(entry("https://shop.test/", time=86_400_001), "t.har", 0).time_ms is None


def test_journeys_of_different_sites_never_merge(tmp_path):
    paths = [
        write_har(tmp_path / f"{name}.har", har([entry(f"https://{name}.test/", headers=ACCEPT)]))
        for name in ("shop-a", "shop-b")
    ]
    journey_map = build_journey_map(paths)
    assert sorted(j.steps[0].page.host for j in journey_map.journeys) == [
        "shop-a.test",
        "shop-b.test",
    ]
    assert [j.weight for j in journey_map.journeys] == [1, 1]
