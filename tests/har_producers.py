"""HAR files in the shapes different producers write: Chrome DevTools, Firefox, Charles, mitmproxy,
browsermob-proxy and Playwright's attached bodies (in a zip or beside the HAR). One customer visit
(home, a product, add to cart, checkout) with planted secrets, plus the assets and trackers a real
page pulls in."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SITE = "https://shop.example.com"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXN0b21lci00MiJ9.c2lnbmF0dXJlLXZhbHVl"
EMAIL = "ada.lovelace@example.org"
CARD = "4111 1111 1111 1111"
PASSWORD = "correct-horse-battery"
SESSION_COOKIE = "sess-9f8e7d6c5b4a"
PHONE = "+44 20 7946 0958"
SECRETS = (JWT, EMAIL, CARD, CARD.replace(" ", ""), PASSWORD, SESSION_COOKIE, PHONE)


@dataclass
class Req:
    method: str
    url: str
    status: int = 200
    mime: str = "application/json"
    kind: str = "fetch"  # Chrome's _resourceType
    body: Any = None  # dict → JSON, list of pairs → form
    at_ms: float = 0.0
    time_ms: float = 40.0
    headers: dict[str, str] = field(default_factory=dict)


def visit(order_id: str = "9c1f0e8a7b6d5c4b3a21", product: int = 12) -> list[Req]:
    auth = {"Authorization": f"Bearer {JWT}"}
    return [
        Req("GET", f"{SITE}/", mime="text/html", kind="document", at_ms=0),
        Req("GET", f"{SITE}/static/app.js?v=3", mime="text/javascript", kind="script", at_ms=50),
        Req("GET", f"{SITE}/img/logo.png?w=120", mime="image/png", kind="image", at_ms=60),
        Req("GET", f"{SITE}/fonts/inter.woff2", mime="font/woff2", kind="font", at_ms=70),
        Req("GET", f"{SITE}/static/app.js.map", mime="application/json", kind="other", at_ms=80),
        Req(
            "POST", "https://www.google-analytics.com/g/collect?tid=G-1", 204, "", "ping", at_ms=90
        ),
        Req("GET", f"{SITE}/products/{product}", mime="text/html", kind="document", at_ms=3000),
        Req("GET", f"{SITE}/api/products/{product}", at_ms=3100, headers=auth),
        Req(
            "POST",
            f"{SITE}/api/cart?api_key=sk_live_abcdef123456",
            body={"product_id": product, "quantity": 1, "contact": {"phone": PHONE}},
            at_ms=6000,
            headers=auth,
        ),
        Req("GET", f"{SITE}/checkout", mime="text/html", kind="document", at_ms=9000),
        Req(
            "POST",
            f"{SITE}/checkout",
            303,
            "text/html",
            "document",
            body=[
                ("csrf_token", "k3y-f0r-th1s-s3ss10n"),
                ("email", EMAIL),
                ("card_number", CARD),
                ("password", PASSWORD),
                ("note", f"call me on {PHONE}"),
            ],
            at_ms=15000,
        ),
        Req("GET", f"{SITE}/orders/{order_id}", mime="text/html", kind="document", at_ms=15200),
    ]


def _iso(start: datetime, at_ms: float) -> str:
    return (start + timedelta(milliseconds=at_ms)).isoformat().replace("+00:00", "Z")


def _browser_headers(req: Req) -> list[dict[str, str]]:
    navigation = req.kind == "document"
    headers = {
        "Accept": "text/html,application/xhtml+xml" if navigation else "*/*",
        "Cookie": f"session={SESSION_COOKIE}; theme=dark",
        "User-Agent": "Mozilla/5.0",
        "Sec-Fetch-Mode": "navigate" if navigation else "cors",
        "Sec-Fetch-Dest": "document" if navigation else "empty",
        **req.headers,
    }
    return [{"name": k, "value": v} for k, v in headers.items()]


def _post(req: Req) -> dict[str, Any] | None:
    if req.body is None:
        return None
    if isinstance(req.body, dict):
        return {"mimeType": "application/json", "text": json.dumps(req.body)}
    from urllib.parse import urlencode

    return {
        "mimeType": "application/x-www-form-urlencoded",
        "text": urlencode(req.body),
        "params": [{"name": k, "value": v} for k, v in req.body],
    }


def _entry(req: Req, start: datetime, *, chrome: bool, timings_unknown: bool) -> dict[str, Any]:
    from urllib.parse import parse_qsl, urlsplit

    request: dict[str, Any] = {
        "method": req.method,
        "url": req.url,
        "httpVersion": "HTTP/1.1",
        "headers": _browser_headers(req),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(req.url).query)],
        "cookies": [{"name": "session", "value": SESSION_COOKIE}],
        "headersSize": -1,
        "bodySize": -1,
    }
    post = _post(req)
    if post:
        request["postData"] = post
    response_headers = [{"name": "Content-Type", "value": req.mime}]
    if req.status == 303:
        response_headers.append({"name": "Location", "value": "/orders/next"})
    if req.url.endswith(f"{SITE}/"):
        response_headers.append(
            {"name": "Set-Cookie", "value": f"session={SESSION_COOKIE}; Path=/; HttpOnly"}
        )
    entry: dict[str, Any] = {
        "startedDateTime": _iso(start, req.at_ms),
        "time": -1 if timings_unknown else req.time_ms,
        "request": request,
        "response": {
            "status": req.status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": response_headers,
            "cookies": [],
            "content": {"size": 10, "mimeType": req.mime, "text": "{}"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "send": 1,
            "wait": req.time_ms - 2,
            "receive": 1,
            "ssl": -1,
        },
    }
    if chrome:
        entry["_resourceType"] = req.kind
        entry["_initiator"] = {"type": "other"}
    return entry


def _log(creator: str, entries: list[dict[str, Any]], pages: list[dict[str, Any]] | None):
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": creator, "version": "1"}}
    if pages is not None:
        log["pages"] = pages
    log["entries"] = entries
    return {"log": log}


def chrome(reqs: list[Req], start: datetime) -> dict[str, Any]:
    """DevTools: one page per navigation, `pageref` on every entry, `_resourceType`."""
    pages, entries = [], []
    for req in reqs:
        if req.kind == "document" or not pages:
            pages.append(
                {"startedDateTime": _iso(start, req.at_ms), "id": f"page_{len(pages) + 1}",
                 "title": req.url, "pageTimings": {"onContentLoad": 120.5, "onLoad": -1}}
            )  # fmt: skip
        entry = _entry(req, start, chrome=True, timings_unknown=False)
        entry["pageref"] = pages[-1]["id"]
        entries.append(entry)
    return _log("WebInspector", entries, pages)


def firefox(reqs: list[Req], start: datetime) -> dict[str, Any]:
    """Firefox: pages and pageref, no `_resourceType`, a comment on the log."""
    har = chrome(reqs, start)
    for entry in har["log"]["entries"]:
        del entry["_resourceType"], entry["_initiator"]
        entry["serverIPAddress"] = "93.184.216.34"
        entry["connection"] = "443"
    har["log"]["creator"] = {"name": "Firefox", "version": "126.0"}
    har["log"]["comment"] = "exported by support"
    return har


def charles(reqs: list[Req], start: datetime) -> dict[str, Any]:
    """Charles: no pages, -1 timings, base64 response bodies, comments everywhere."""
    entries = []
    for req in reqs:
        entry = _entry(req, start, chrome=False, timings_unknown=True)
        entry["comment"] = ""
        content = entry["response"]["content"]
        content["text"] = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\xff").decode()
        content["encoding"] = "base64"
        entries.append(entry)
    return _log("Charles Proxy", entries, None)


def mitmproxy(reqs: list[Req], start: datetime) -> dict[str, Any]:
    """mitmproxy: no pages, Sec-Fetch headers missing (a non-browser client), base64 post body."""
    entries = []
    for req in reqs:
        entry = _entry(req, start, chrome=False, timings_unknown=False)
        entry["request"]["headers"] = [
            h for h in entry["request"]["headers"] if not h["name"].startswith("Sec-")
        ]
        post = entry["request"].get("postData")
        if post and "params" not in post:
            post["text"] = base64.b64encode(post["text"].encode()).decode()
            post["encoding"] = "base64"
        entries.append(entry)
    return _log("mitmproxy", entries, None)


def browsermob(reqs: list[Req], start: datetime) -> dict[str, Any]:
    """browsermob-proxy: a single page for the whole session, -1 timings, status as in HAR 1.1."""
    entries = []
    for req in reqs:
        entry = _entry(req, start, chrome=False, timings_unknown=True)
        entry["pageref"] = "Page 0"
        entries.append(entry)
    pages = [{"id": "Page 0", "startedDateTime": _iso(start, 0), "title": "", "pageTimings": {}}]
    return _log("BrowserMob Proxy", entries, pages)


PRODUCERS = {
    "chrome": chrome,
    "firefox": firefox,
    "charles": charles,
    "mitmproxy": mitmproxy,
    "browsermob": browsermob,
}


def write(path: Path, har: dict[str, Any], *, encoding: str = "utf-8") -> Path:
    path.write_bytes(json.dumps(har, ensure_ascii=False, indent=1).encode(encoding))
    return path


def write_all(directory: Path, start: datetime | None = None) -> dict[str, Path]:
    """One file per producer (Charles's in latin-1, with an accented comment), one visit each."""
    start = start or datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    paths = {}
    for number, (name, build) in enumerate(PRODUCERS.items()):
        har = build(visit(order_id=f"{number:020x}", product=10 + number), start)
        encoding = "latin-1" if name == "charles" else "utf-8"
        if name == "charles":
            har["log"]["comment"] = "café, exported on the customer's machine"
        paths[name] = write(directory / f"{name}.har", har, encoding=encoding)
    return paths


_EXTENSIONS = {"application/json": "json", "text/html": "html", "text/javascript": "js",
               "image/png": "png", "font/woff2": "woff2"}  # fmt: skip


def _attach(bodies: dict[str, bytes], data: bytes, mime: str) -> str:
    name = f"{hashlib.sha1(data).hexdigest()}.{_EXTENSIONS.get(mime, 'dat')}"
    bodies[name] = data
    return name


def playwright_attached(path: Path, reqs: list[Req], start: datetime) -> Path:
    """Playwright with `record_har_content="attach"`: every body in a sha1-named file
    (`content._file`; a post body's `postData._file`, its `text` left empty, form `params` kept),
    one page for the whole context. A `.zip` path gets one archive holding `har.har` and the
    bodies; a `.har` path gets the bodies written next to it."""
    har = chrome(reqs, start)
    log = har["log"]
    log["creator"] = {"name": "Playwright", "version": "1.65.1"}
    log["browser"] = {"name": "chromium", "version": "156.0.0.0"}
    log["pages"] = [{**log["pages"][0], "id": "page@1f2e", "title": "Shop"}]
    bodies: dict[str, bytes] = {}
    for entry in log["entries"]:
        entry["pageref"] = "page@1f2e"
        del entry["_initiator"]
        content = entry["response"]["content"]
        text = content.pop("text")
        data = base64.b64decode(text) if content.pop("encoding", "") == "base64" else text.encode()
        content["_file"] = _attach(bodies, data, content["mimeType"])
        post = entry["request"].get("postData")
        if post:
            post["_file"] = _attach(bodies, post["text"].encode(), "")
            post["text"] = ""
    document = json.dumps(har, ensure_ascii=False, indent=2).encode()
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("har.har", document)
            for name, data in bodies.items():
                archive.writestr(name, data)
    else:
        path.write_bytes(document)
        for name, data in bodies.items():
            (path.parent / name).write_bytes(data)
    return path
