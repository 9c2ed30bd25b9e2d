"""What is dropped as noise on the site's own hosts: analytics and ad beacons by the shape of their
path, host or answer; Flash files; iframe documents, however the producer marks them."""

from __future__ import annotations

import pytest
from har_dicts import entry, har, page

from cxe_gate.har.frames import FrameTracker, Page, is_navigation, pages_of
from cxe_gate.har.noise import drop_reason
from cxe_gate.har.parse import parse_entry, timestamp_or_none

JSON = {"Accept": "application/json"}


def _one(raw: dict) -> object:
    return parse_entry(raw, "t.har", 0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # Adobe Analytics on a first-party CNAME, answered by a redirect with no content type.
        (entry("https://metrics.shop.test/b/ss/shopprod/1/JS-2.0/s123", status=302, mime=""),
         "beacon"),
        # Google Analytics hits through a first-party proxy, each endpoint.
        (entry("https://shop.test/collect?v=1&tid=UA-1", method="POST", mime=""), "beacon"),
        (entry("https://shop.test/g/collect?v=2&tid=G-1", method="POST", mime=""), "beacon"),
        (entry("https://shop.test/j/collect?v=1", method="POST", mime=""), "beacon"),
        (entry("https://sgtm.shop.test/r/collect?v=1", mime=""), "beacon"),
        (entry("https://shop.test/__utm.gif?utmwv=5", mime=""), "beacon"),
        # Yahoo's beacon hosts, whatever the site.
        (entry("https://udc.yahoo.com/v2/public/yql", mime="application/json"), "beacon"),
        (entry("https://beap.gemini.yahoo.com/mbcsc?x=1", mime=""), "beacon"),
        # A 1x1 GIF answering what the page fetched (a pixel), by its size: 43 bytes.
        (entry("https://shop.test/px?e=view", mime="image/gif", size=43, _resourceType="fetch"),
         "beacon"),
        # Flash, by extension and by content type.
        (entry("https://shop.test/player.swf", mime=""), "asset"),
        (entry("https://shop.test/player", mime="application/x-shockwave-flash"), "asset"),
        # What stays: an API call named collect deeper in a path, a real image fetched by XHR.
        (entry("https://shop.test/api/collections", mime="application/json", headers=JSON), None),
        (entry("https://shop.test/api/avatar", mime="image/png", size=20_000,
               _resourceType="fetch"), None),
    ],
)  # fmt: skip
def test_beacons_and_flash_are_noise(raw, reason):
    assert drop_reason(_one(raw)) == reason


def test_an_iframe_by_sec_fetch_dest_is_not_a_navigation():
    headers = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}
    frame = _one(entry("https://shop.test/widget", headers=headers))
    assert frame.subframe and not is_navigation(frame)
    assert drop_reason(frame) == "subframe"
    top = _one(entry("https://shop.test/", headers={**headers, "Sec-Fetch-Dest": "document"}))
    assert not top.subframe and is_navigation(top)


def test_a_parser_initiated_document_is_an_iframe():
    frame = _one(entry("https://shop.test/frame", _resourceType="document",
                       _initiator={"type": "parser", "url": "https://shop.test/"}))  # fmt: skip
    assert frame.subframe


def _read(raws: list[dict], pages: list[dict] | None = None) -> list:
    log = har(raws, pages)["log"]
    frames = FrameTracker(pages_of(log, timestamp_or_none))
    return [parse_entry(raw, "t.har", i, frames) for i, raw in enumerate(log["entries"])]


def test_playwright_frames_are_told_by_frameref():
    doc = {"_resourceType": "document", "pageref": "page@1"}
    entries = _read([
        entry("https://shop.test/", _frameref="frame@main", **doc),
        entry("https://shop.test/embed", at_s=1, _frameref="frame@2", **doc),
        entry("https://shop.test/next", at_s=5, _frameref="frame@main", **doc),
    ])  # fmt: skip
    assert [e.subframe for e in entries] == [False, True, False]


def test_safari_iframes_load_before_the_page_has_loaded():
    # WebKit writes no frame ids: the second document of page_0 started before its onLoad (at
    # 0 s + 3000 ms), so it is an iframe; the one after, at 10 s, is a navigation in that page.
    accept = {"Accept": "text/html"}
    entries = _read(
        [
            entry("https://shop.test/", pageref="page_0", headers=accept),
            entry("https://shop.test/github-btn.html", pageref="page_0", at_s=1, headers=accept),
            entry("https://shop.test/about", pageref="page_0", at_s=10, headers=accept),
        ],
        [page("page_0", "https://shop.test/", on_load=3000)],
    )
    assert [e.subframe for e in entries] == [False, True, False]
    assert entries[0].page_title == "https://shop.test/"


def test_chromium_redirects_stay_one_navigation_and_later_documents_are_frames():
    chromium = {"_initiator": {"type": "other"}, "pageref": "page_1", "_resourceType": "document"}
    entries = _read([
        entry("https://cnn.test/", status=301, **chromium),
        entry("https://www.cnn.test/", at_s=1, **chromium),
        entry("https://www.cnn.test/widget", at_s=2, **{**chromium, "_initiator": {"type": "script"}}),
    ])  # fmt: skip
    assert [e.subframe for e in entries] == [False, False, True]


def test_a_single_page_producer_keeps_every_navigation():
    # browsermob writes one page for the whole session and no load time: no rule can say frame.
    accept = {"Accept": "text/html"}
    entries = _read(
        [entry(f"https://shop.test/{p}", pageref="Page 0", at_s=i, headers=accept)
         for i, p in enumerate(("", "products/1", "checkout"))],
        [{"id": "Page 0", "startedDateTime": "2024-05-01T10:00:00.000Z", "title": "",
          "pageTimings": {}}],
    )  # fmt: skip
    assert [e.subframe for e in entries] == [False, False, False]


def test_pages_of_skips_what_it_cannot_read():
    log = {"pages": [{"id": 3}, "x", {"id": "p", "title": "", "startedDateTime": "nope"}]}
    assert pages_of(log, timestamp_or_none) == {"p": Page(None, None)}
