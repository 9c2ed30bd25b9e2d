"""Zipped HARs, as Playwright writes them with `record_har_path="x.zip"`: read whole and streamed,
through `cxe-gate journeys DIR`, one session per HAR in an archive, damaged and foreign zips, and
attached bodies (`_file`), read as if embedded, only from the HAR's own directory or archive."""

from __future__ import annotations

import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from har_producers import chrome, playwright_attached, visit, write

from cxe_gate.cli import main
from cxe_gate.errors import HarError
from cxe_gate.har.load import expand, read_entries
from cxe_gate.har.parse import open_attachment
from cxe_gate.har.pipeline import build_journey_map

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _har_bytes(order: int, product: int) -> bytes:
    return json.dumps(chrome(visit(order_id=f"{order:020x}", product=product), START)).encode()


def _shape(entries) -> list[tuple[str, str, int, str]]:
    return [(e.method, e.url, e.status, e.started.isoformat()) for e in entries]


@pytest.mark.parametrize("large_file_bytes", [1 << 30, 1], ids=["whole", "streamed"])
def test_a_playwright_zip_reads_like_the_same_har(tmp_path, large_file_bytes):
    archive = playwright_attached(tmp_path / "visit.zip", visit(), START)
    plain = write(tmp_path / "visit.har", chrome(visit(), START))

    entries = list(read_entries(archive, large_file_bytes=large_file_bytes))
    embedded = list(read_entries(plain))
    assert _shape(entries) == _shape(embedded)
    assert {e.file for e in entries} == {f"{archive}/har.har"}
    # The attached bodies are read as if they had been embedded: JSON and HTML answers, and the
    # JSON post whose text Playwright leaves empty.
    assert [(e.response_text, e.post_text) for e in entries] == [
        (e.response_text, e.post_text) for e in embedded
    ]
    assert sum(e.response_text is not None for e in entries) == 8
    assert any(e.post_text and '"product_id"' in e.post_text for e in entries)

    zipped = build_journey_map([archive], large_file_bytes=large_file_bytes)
    assert zipped.summary.sessions == 1
    assert zipped.failures == []
    expected = build_journey_map([plain])
    # Shapes, posted fields and links alike: only the session's file name differs.
    assert [j.model_dump(exclude={"sessions"}) for j in zipped.journeys] == [
        j.model_dump(exclude={"sessions"}) for j in expected.journeys
    ]
    assert zipped.journeys[0].sessions == [str(archive)]


def test_the_command_takes_zips_from_a_directory_and_skips_foreign_ones(tmp_path):
    hars = tmp_path / "hars"
    (hars / "sub").mkdir(parents=True)
    playwright_attached(hars / "pw.zip", visit(order_id=f"{1:020x}"), START)
    write(hars / "sub" / "devtools.har", chrome(visit(order_id=f"{2:020x}"), START))
    _zip(hars / "photos.zip", {"cat.jpg": b"\xff\xd8\xff", "notes.txt": b"not a HAR"})
    _zip(  # support zipped two customers' files on a Mac
        hars / "support.zip",
        {
            "customer-1/session.har": _har_bytes(3, 12),
            "customer-2/session.HAR": _har_bytes(4, 12),
            "__MACOSX/customer-1/._session.har": b"\x00\x05\x16\x07 AppleDouble",
        },
    )
    assert expand([hars]) == [
        hars / "pw.zip",
        hars / "sub" / "devtools.har",
        hars / "support.zip" / "customer-1" / "session.har",
        hars / "support.zip" / "customer-2" / "session.HAR",
    ]

    out = tmp_path / "map.json"
    result = CliRunner().invoke(main, ["journeys", str(hars), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 HAR file(s), 0 failed" in result.output
    assert "weight 4 (100%)" in result.output
    [journey] = json.loads(out.read_text("utf-8"))["journeys"]
    assert journey["sessions"] == [str(p) for p in expand([hars])]


def test_a_member_can_be_named_and_globs_find_zips(tmp_path):
    archive = _zip(tmp_path / "two.zip", {"a.har": _har_bytes(1, 10), "b/c.har": _har_bytes(2, 11)})
    member = archive / "b" / "c.har"
    assert expand([tmp_path / "*.zip"]) == [archive / "a.har", member]
    entries = list(read_entries(member))
    assert {e.file for e in entries} == {str(member)}
    assert any(e.url.endswith("/products/11") for e in entries)
    # The archive itself, read directly, yields every HAR in it.
    assert len(list(read_entries(archive))) == 2 * len(entries)
    with pytest.raises(HarError, match=r"no member 'b/missing\.har'") as raised:
        list(read_entries(archive / "b" / "missing.har"))
    assert raised.value.file == str(archive)


def test_a_latin1_har_in_a_zip_is_streamed_from_the_start_again(tmp_path):
    har = chrome(visit(), START)
    har["log"]["comment"] = "Größe: été"
    document = json.dumps(har, ensure_ascii=False).encode("latin-1")
    archive = _zip(tmp_path / "latin.zip", {"har.har": document})
    whole = list(read_entries(archive))
    assert _shape(read_entries(archive, large_file_bytes=1)) == _shape(whole)
    assert len(whole) == len(har["log"]["entries"])


def test_a_zip_named_without_a_har_is_an_error_naming_it(tmp_path):
    archive = _zip(tmp_path / "photos.zip", {"cat.jpg": b"\xff\xd8\xff"})
    with pytest.raises(HarError, match=r"holds no \.har file") as raised:
        list(read_entries(archive))
    assert raised.value.file == str(archive)
    result = CliRunner().invoke(main, ["journeys", str(archive)])
    assert result.exit_code == 4
    assert f"{archive}: the zip archive holds no .har file" in result.output


def _truncated(path: Path) -> Path:
    playwright_attached(path, visit(), START)
    path.write_bytes(path.read_bytes()[:-60])  # the central directory's end is gone
    return path


def _not_a_zip(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 this was never finished")
    return path


@pytest.mark.parametrize("damage", [_truncated, _not_a_zip])
def test_a_damaged_zip_is_an_error_naming_the_file_even_in_a_directory(tmp_path, damage):
    archive = damage(tmp_path / "broken.zip")
    with pytest.raises(HarError, match="not a readable zip archive") as raised:
        list(read_entries(archive))
    assert raised.value.file == str(archive)
    write(tmp_path / "good.har", chrome(visit(), START))
    result = CliRunner().invoke(main, ["journeys", str(tmp_path)])
    assert result.exit_code == 4
    assert "2 HAR file(s), 1 failed" in result.output
    assert f"{archive}: not a readable zip archive" in result.output


@pytest.mark.parametrize("large_file_bytes", [1 << 30, 1], ids=["whole", "streamed"])
def test_a_corrupted_member_fails_its_checksum(tmp_path, large_file_bytes):
    document = _har_bytes(1, 10)
    archive = tmp_path / "flipped.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        out.writestr("har.har", document)
    data = bytearray(archive.read_bytes())
    at = data.index(b"Mozilla/5.0")  # still valid JSON afterwards: only the CRC can tell
    data[at : at + 7] = b"Mozilla"[::-1]
    archive.write_bytes(bytes(data))
    with pytest.raises(HarError, match=r"not a readable zip archive \(Bad CRC-32") as raised:
        list(read_entries(archive, large_file_bytes=large_file_bytes))
    assert raised.value.file == f"{archive}/har.har"


# --- attached bodies -------------------------------------------------------------------------


def _attachment(har: dict, url_end: str, where: str = "response") -> str:
    entry = next(e for e in har["log"]["entries"] if e["request"]["url"].endswith(url_end))
    holder = entry["response"]["content"] if where == "response" else entry["request"]["postData"]
    return holder["_file"]


@pytest.mark.parametrize("suffix", [".zip", ".har"])
def test_attached_bodies_are_read_from_the_zip_or_beside_the_har(tmp_path, suffix):
    path = playwright_attached(tmp_path / f"visit{suffix}", visit(), START)
    if suffix == ".zip":
        har = json.loads(zipfile.ZipFile(path).read("har.har"))
        names = [path, f"{path}/har.har"]  # the archive, or the name its entries carry
    else:
        har = json.loads(path.read_text("utf-8"))
        names = [path, str(path)]
    cart = _attachment(har, "/api/cart?api_key=sk_live_abcdef123456", "request")
    for name in names:
        assert open_attachment(name, _attachment(har, "/api/products/12")) == b"{}"
        assert json.loads(open_attachment(name, cart))["product_id"] == 12
        assert open_attachment(name, "0" * 40 + ".json") is None  # not recorded
        assert open_attachment(name, cart, max_bytes=10) is None  # too big to be worth reading


@pytest.mark.parametrize(
    "name",
    ["../outside.json", "bodies/../../outside.json", "..\\outside.json", "/etc/hostname",
     "\\\\server\\share\\x.json", "C:\\Users\\x.json", "C:x.json", "", "./", "a\0b.json"],
)  # fmt: skip
@pytest.mark.parametrize("suffix", [".zip", ".har"])
def test_attachment_names_that_leave_the_har_are_refused(tmp_path, suffix, name):
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    path = playwright_attached(recorded / f"visit{suffix}", visit(), START)
    (tmp_path / "outside.json").write_text('{"private": true}', encoding="utf-8")
    with pytest.raises(HarError, match="refusing the attachment") as raised:
        open_attachment(path, name, location="log.entries[7].response.content._file")
    assert raised.value.file == str(path)
    assert raised.value.location == "log.entries[7].response.content._file"


def test_an_entry_whose_attachment_leaves_the_har_fails_its_file_at_that_entry(tmp_path):
    (tmp_path / "secret.json").write_text('{"token": "s3cr3t"}', "utf-8")
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    path = playwright_attached(recorded / "visit.har", visit(), START)
    har = json.loads(path.read_text("utf-8"))
    index = next(
        i
        for i, e in enumerate(har["log"]["entries"])
        if "json" in e["response"]["content"]["mimeType"]
    )
    har["log"]["entries"][index]["response"]["content"]["_file"] = "../secret.json"
    path.write_text(json.dumps(har), "utf-8")

    with pytest.raises(HarError, match="refusing the attachment") as raised:
        list(read_entries(path))
    assert raised.value.location == f"log.entries[{index}].response.content._file"
    assert "s3cr3t" not in str(raised.value)


def test_a_link_beside_the_har_pointing_elsewhere_is_refused(tmp_path):
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    path = playwright_attached(recorded / "visit.har", visit(), START)
    (tmp_path / "outside.json").write_text('{"private": true}', encoding="utf-8")
    os.symlink(tmp_path / "outside.json", recorded / "body.json")
    with pytest.raises(HarError, match="links outside"):
        open_attachment(path, "body.json")


# --- recorded by a real Chromium -------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>Tiny shop</title></head><body>
<form method="post" action="/checkout"><input type="hidden" name="csrf_token" value="k3y-f0r-th1s">
<input name="email" value="ada@example.org"><button id="buy">Buy</button></form>
<p id="item"></p><script src="/static/app.js"></script></body></html>"""
APP_JS = """fetch("/api/items/7").then(r => r.json()).then(item => {
  document.getElementById("item").textContent = item.name;
  return fetch("/api/cart", {method: "POST", headers: {"Content-Type": "application/json"},
                             body: JSON.stringify({item: item.id, quantity: 2})});
}).then(() => document.body.dataset.ready = "yes");"""
ITEM = {"id": 7, "name": "Blue mug", "price": 12.5}
ORDER = "/orders/9c1f0e8a7b6d5c4b3a21"


@pytest.fixture
def recorded_zip(api_server, tmp_path) -> Path:
    """One visit to a loopback shop recorded by Playwright into a zip, bodies attached."""
    from playwright.sync_api import sync_playwright

    from cxe_gate.browser import chromium_launch_args

    api_server.expect_request("/").respond_with_data(PAGE, content_type="text/html")
    api_server.expect_request("/static/app.js").respond_with_data(
        APP_JS, content_type="text/javascript"
    )
    api_server.expect_request("/api/items/7").respond_with_json(ITEM)
    api_server.expect_request("/api/cart", method="POST").respond_with_json({"items": 1})
    api_server.expect_request("/checkout", method="POST").respond_with_data(
        "", status=303, headers={"Location": ORDER}
    )
    api_server.expect_request(ORDER).respond_with_data("<h1>Thanks</h1>", content_type="text/html")
    api_server.expect_request("/favicon.ico").respond_with_data("", status=404)
    base = api_server.url_for("/").rstrip("/")
    archive = tmp_path / "hars" / "visit.zip"
    archive.parent.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_args())
        try:
            context = browser.new_context(record_har_path=str(archive), record_har_content="attach")
            page = context.new_page()
            page.goto(f"{base}/")
            page.wait_for_selector("body[data-ready=yes]")
            with page.expect_navigation(url=f"**{ORDER}"):
                page.click("#buy")
            context.close()
        finally:
            browser.close()
    return archive


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.slow
def test_a_zip_recorded_by_playwright(recorded_zip, tmp_path):
    with zipfile.ZipFile(recorded_zip) as archive:
        names = archive.namelist()
        har = json.loads(archive.read("har.har"))
    assert "har.har" in names and len(names) > 1  # the bodies sit beside it, sha1-named
    assert har["log"]["creator"]["name"] == "Playwright"

    entries = list(read_entries(recorded_zip))
    assert [e.url for e in entries] == [e["request"]["url"] for e in har["log"]["entries"]]
    # The bodies are in the archive, not in the HAR: a JSON answer and a JSON post alike.
    assert json.loads(open_attachment(entries[0].file, _attachment(har, "/api/items/7"))) == ITEM
    posted = _attachment(har, "/api/cart", "request")
    assert json.loads(open_attachment(entries[0].file, posted)) == {"item": 7, "quantity": 2}

    out = tmp_path / "map.json"
    result = CliRunner().invoke(main, ["journeys", str(recorded_zip.parent), "-o", str(out)])
    assert result.exit_code == 0, result.output
    journey_map = json.loads(out.read_text("utf-8"))
    assert journey_map["summary"]["sessions"] == 1
    [journey] = journey_map["journeys"]
    assert journey["name"] == "GET / → POST /checkout → GET /orders/{hash}"
    item, cart = journey["steps"][0]["calls"]
    assert [f"{c['method']} {c['route']}" for c in (item, cart)] == [
        "GET /api/items/{id}",
        "POST /api/cart",
    ]
    # Read from the archive: the answer's shape and the posted JSON, which the HAR leaves empty.
    assert set(item["response"]["shape"]["properties"]) == {"id", "name", "price"}
    assert cart["body"] == "json" and cart["fields"] == {"item": 7, "quantity": 2}
    assert "k3y-f0r-th1s" not in out.read_text("utf-8")  # the form's CSRF token was scrubbed
