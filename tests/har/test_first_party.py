"""Which site a recording is of: registrable domains by the Public Suffix List, the first top-level
navigation and the page title, never an iframe's navigations."""

from __future__ import annotations

import pytest
from har_dicts import entry, har, page, write_har

from cxe_gate.har.load import read_entries
from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.har.sites import detect_first_party, site


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.cnn.com", "cnn.com"),
        ("shop.example.co.uk", "example.co.uk"),
        ("me.github.io", "me.github.io"),  # github.io is a public suffix (PSL private section)
        ("someone-else.github.io", "someone-else.github.io"),
        ("a.b.c.example.com.au", "example.com.au"),
        ("bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("WWW.Example.COM.", "example.com"),
    ],
)
def test_site_is_the_registrable_domain(host, expected):
    assert site(host) == expected


def test_someone_elses_github_pages_are_another_site(tmp_path):
    path = write_har(
        tmp_path / "gh.har",
        har([
            entry("https://me.github.io/", headers={"Accept": "text/html"}),
            entry("https://me.github.io/api/items", mime="application/json", at_s=1,
                  headers={"Accept": "application/json"}),
            entry("https://someone-else.github.io/api/items", mime="application/json", at_s=2,
                  headers={"Accept": "application/json"}),
        ]),
    )  # fmt: skip
    journey_map = build_journey_map([path])
    assert journey_map.first_party == ["me.github.io"]
    [journey] = journey_map.journeys
    assert [c.host for s in journey.steps for c in s.calls] == ["me.github.io"]
    assert journey_map.dropped["third-party"] == 1


def _ad_heavy(tmp_path, *, title: str | None):
    """A news page (one page, Chrome's `_initiator`) whose ad iframes navigate five times."""
    pages = [page("page_1", title)] if title is not None else None
    ref = {"pageref": "page_1"} if title is not None else {}
    entries = [entry("https://www.news.test/", _initiator={"type": "other"}, **ref)]
    for i in range(5):
        entries.append(
            entry(f"https://ads.adsystem.test/frame/{i}", at_s=1 + i,
                  _initiator={"type": "parser"}, **ref)
        )  # fmt: skip
    entries.append(
        entry("https://www.news.test/api/stories", mime="application/json", at_s=8,
              headers={"Accept": "application/json"}, **ref)
    )  # fmt: skip
    return write_har(tmp_path / "news.har", har(entries, pages))


@pytest.mark.parametrize("title", ["Breaking news - News.test", "https://www.news.test/", None])
def test_ad_iframes_navigating_often_do_not_make_the_first_party(tmp_path, title):
    journey_map = build_journey_map([_ad_heavy(tmp_path, title=title)])
    assert journey_map.first_party == ["news.test"]
    [journey] = journey_map.journeys
    assert [s.page.route for s in journey.steps] == ["/"]  # the frames are no steps
    assert [c.route for c in journey.steps[0].calls] == ["/api/stories"]


def test_the_page_title_names_the_site_when_a_login_comes_first(tmp_path):
    # The customer landed on the identity provider's page first, but the page they recorded is
    # the shop's (its title is its URL, as Chrome writes it).
    path = write_har(
        tmp_path / "sso.har",
        har(
            [
                entry("https://login.idp.test/authorize", pageref="page_1",
                      headers={"Accept": "text/html"}),
                entry("https://shop.test/", pageref="page_1", at_s=2, status=200,
                      headers={"Accept": "text/html"}),
            ],
            [page("page_1", "https://shop.test/")],
        ),
    )  # fmt: skip
    assert detect_first_party(read_entries(path)) == {"shop.test"}


def test_an_api_client_recording_is_of_the_site_it_talked_to_most(tmp_path):
    json_call = {"Accept": "application/json"}
    path = write_har(
        tmp_path / "api.har",
        har([
            entry("https://auth.other.test/token", method="POST", mime="application/json",
                  headers=json_call),
            entry("https://api.shop.test/a", mime="application/json", at_s=1, headers=json_call),
            entry("https://api.shop.test/b", mime="application/json", at_s=2, headers=json_call),
        ]),
    )  # fmt: skip
    assert detect_first_party(read_entries(path)) == {"shop.test"}


def test_a_file_of_noise_alone_still_names_its_site(tmp_path):
    path = write_har(
        tmp_path / "ws.har",
        har([entry("https://demo.sock.test/v3/channel", _resourceType="websocket", status=101)]),
    )
    journey_map = build_journey_map([path])
    assert journey_map.first_party == ["sock.test"]
    assert journey_map.journeys == []
