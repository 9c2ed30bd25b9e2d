"""Benchmark: `cxe-gate journeys` ingestion (`build_journey_map`: read, drop noise, scrub, split,
cluster) on a ~1 GB HAR, against a bare streaming parse of the same file in the same run; and the
same HARs split over shards, read in parallel into partial maps and merged, against one run.

    python benchmarks/bench_har.py [--size-mb 1000] [--repeat 3] [--har PATH] [--keep]
                                   [--shards 2] [--shard-mb 1000]

The HAR is written entry by entry (never held in memory) into a temporary directory, or to PATH
(reused when it exists): customer sessions on a shop as Playwright records them, one page per
session, in one file. Each page view pulls in its document, scripts, stylesheets, fonts, images,
first-party JSON API calls with bodies of a few KB (some large, some base64 binary), third-party
analytics; there are logins and checkouts as form posts, cookies, bearer tokens, query strings;
most of the bytes are response bodies, as in a real HAR.

The bare parse is `ijson.items(f, "log.entries.item", use_float=True)` iterating every entry and
doing nothing. Each side runs in a fresh process (wall time includes start-up; peak memory is the
process's max RSS), interleaved, median of --repeat. MB are 10^6 bytes. Targets: peak memory
under 300 MB, and at most 2x the bare parse's time.

Shards: --shards HAR files of --shard-mb in all (each its own sessions) are read by one run
(`build_journey_map` over all of them), and by one process per shard at the same time
(`build_partial_map`, the partial map written as `cxe-gate journeys --partial` writes it) followed
by the merge (`finish(combine(...))`, as `cxe-gate journeys PARTS...` does); the shards' wall time
runs from their start to the merged map written. Both sides write their journey map, which must be
byte-identical. Target: shards merged at most 1.2x the single run's time (2 shards on 2 cores).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import ijson

MB = 1_000_000
TARGET_RSS_MB = 300
TARGET_RATIO = 2.0
TARGET_SHARDS_RATIO = 1.2

SITE = "https://shop.example.com"
CDN = "https://cdn.shop-static.example.com"
START = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
WORDS = (
    "mug", "kettle", "teapot", "espresso", "grinder", "filter", "stoneware", "porcelain", "glaze",
    "handmade", "café", "crème", "brûlée", "déjà", "vu", "naïve", "東京", "—", "“quoted”", "set",
    "of", "two", "gift", "boxed", "limited",
)  # fmt: skip

BARE = textwrap.dedent("""\
    import json, sys, ijson
    count = 0
    with open(sys.argv[1], "rb") as f:
        for _entry in ijson.items(f, "log.entries.item", use_float=True):
            count += 1
    print(json.dumps({"entries": count}))
""")

PIPELINE = textwrap.dedent("""\
    import json, sys
    from cxe_gate.har.pipeline import build_journey_map
    journey_map = build_journey_map([sys.argv[1]])
    s = journey_map.summary
    assert not journey_map.failures, journey_map.failures
    print(json.dumps({"entries": s.entries_read, "kept": s.entries_kept,
                      "journeys": s.journeys, "steps": sum(len(j.steps) for j in journey_map.journeys)}))
""")

# Shards: one run over every part, a shard's partial map, and the merge of the partial maps.
SINGLE = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from cxe_gate.har.pipeline import build_journey_map
    journey_map = build_journey_map(sys.argv[2:])
    Path(sys.argv[1]).write_text(journey_map.model_dump_json(indent=2) + "\\n", encoding="utf-8")
""")
SHARD = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from cxe_gate.har.pipeline import build_partial_map
    partial = build_partial_map(sys.argv[2:], key=b"bench")
    Path(sys.argv[1]).write_text(partial.model_dump_json() + "\\n", encoding="utf-8")
""")
MERGE = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from cxe_gate.har.merge import combine, finish
    from cxe_gate.har.partial import load_partial_map
    parts = [(name, load_partial_map(Path(name))) for name in sys.argv[2:]]
    journey_map = finish(combine(parts))
    Path(sys.argv[1]).write_text(journey_map.model_dump_json(indent=2) + "\\n", encoding="utf-8")
""")

# The child's own peak: VmHWM belongs to the process image started by exec, whereas ru_maxrss
# keeps the high-water mark of the forking parent (which built the HAR).
REPORT_RSS = textwrap.dedent("""
    import sys as _s
    with open("/proc/self/status") as _f:
        _kib = next(int(l.split()[1]) for l in _f if l.startswith("VmHWM:"))
    print(_kib, file=_s.stderr)
""")


# --- the HAR ---------------------------------------------------------------------------------


class Pools:
    """Bodies made once and reused: generating 1 GB of distinct text would be the benchmark."""

    def __init__(self, rng: random.Random):
        words = self.words = WORDS

        def prose(size: int) -> str:
            out: list[str] = []
            length = 0
            while length < size:
                w = rng.choice(words)
                out.append(w)
                length += len(w) + 1
            return " ".join(out)

        def html(size: int) -> str:
            state = json.dumps({"props": {"page": prose(200), "user": None, "flags": [1, 2]}})
            rows = []
            while sum(map(len, rows)) < size:
                rows.append(
                    f'<div class="card" data-id="{rng.randrange(10**6)}">\n  <a href="/products/'
                    f'{rng.randrange(5000)}">{prose(60)}</a>\n  <span class="price">€'
                    f"{rng.randrange(500, 9000) / 100:.2f}</span>\n</div>\n"
                )
            return (
                '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
                '<link rel="stylesheet" href="/static/app.css"></head><body>\n'
                + "".join(rows)
                + f'<script id="__STATE__" type="application/json">{state}</script>'
                + '<script src="/static/app.js"></script></body></html>\n'
            )

        def script(size: int) -> str:
            lines = []
            while sum(map(len, lines)) < size:
                n = rng.randrange(10**6)
                lines.append(
                    f'function f{n}(e,t){{return e&&"object"==typeof e?t["{rng.choice(words)}"]'
                    f':void 0}}var s{n}="{prose(40)}";\n'
                )
            return "".join(lines)

        def binary(size: int) -> str:
            return base64.b64encode(rng.randbytes(size)).decode("ascii")

        def sizes(count: int, median: int, cap: int) -> list[int]:
            return [
                min(cap, max(200, int(rng.lognormvariate(0, 0.9) * median))) for _ in range(count)
            ]

        self.html = [html(s) for s in sizes(16, 40_000, 120_000)]
        self.scripts = [script(s) for s in sizes(24, 60_000, 400_000)]
        self.styles = [script(s).replace("function", ".cls") for s in sizes(6, 30_000, 90_000)]
        self.images = [binary(s) for s in sizes(60, 9_000, 250_000)]
        self.fonts = [binary(s) for s in sizes(4, 28_000, 60_000)]
        self.pdfs = [binary(s) for s in sizes(4, 90_000, 200_000)]
        self.protobufs = [binary(s) for s in sizes(8, 3_000, 20_000)]
        self.i18n = json.dumps(
            {f"key.{i}.{rng.choice(words)}": prose(60) for i in range(900)}, ensure_ascii=False
        )
        self.catalogue = [
            json.dumps({"items": [self.product(rng, i, long=False) for i in range(n)]})
            for n in (600, 1500, 2500)
        ]

    def product(self, rng: random.Random, pid: int, *, long: bool = True) -> dict[str, Any]:
        words = self.words
        item: dict[str, Any] = {
            "id": pid,
            "sku": f"SKU-{pid:06d}",
            "name": " ".join(rng.choices(words, k=3)).title(),
            "price": {"amount": rng.randrange(500, 9000) / 100, "currency": "EUR"},
            "stock": rng.randrange(0, 40),
            "rating": round(rng.uniform(2.5, 5), 1),
            "image": f"{CDN}/img/p/{pid}/main.webp?w=640",
            "tags": rng.sample(words, 3),
        }
        if long:
            item["description"] = " ".join(rng.choices(words, k=rng.randrange(80, 250)))
            item["variants"] = [
                {"id": f"{pid}-{v}", "colour": rng.choice(words), "available": rng.random() < 0.8}
                for v in range(rng.randrange(1, 6))
            ]
        return item


@dataclass
class Session:
    """One customer's visit: their cookies and token, and what they did."""

    number: int
    start: datetime
    rng: random.Random
    session_id: str
    token: str
    email: str
    user_agent: str
    logged_in: bool = False
    cart: list[int] = field(default_factory=list)


UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/126.0.6478.17 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Safari/537.36",
)


class HarWriter:
    """Writes entries as they are made; the pages (one per session) are known only at the end,
    so entries go to a side file first and the HAR is assembled with the pages ahead of them, in
    Playwright's key order."""

    def __init__(self, path: Path, pools: Pools):
        self.path = path
        self.pools = pools
        self.part = path.with_suffix(".entries.part")
        self.out = self.part.open("w", encoding="utf-8")
        self.pages: list[dict[str, Any]] = []
        self.entries = 0
        self.bytes = 0
        self.body_bytes = 0
        self.monotonic = 1000.0

    def entry(
        self,
        s: Session,
        at: datetime,
        method: str,
        url: str,
        kind: str,
        *,
        status: int = 200,
        mime: str = "",
        text: str | None = None,
        base64_body: bool = False,
        post: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
        set_cookies: list[dict[str, Any]] | None = None,
        time_ms: float | None = None,
        first_party: bool = True,
    ) -> datetime:
        rng = s.rng
        time_ms = time_ms if time_ms is not None else round(rng.lognormvariate(3.5, 0.8), 3)
        parts = urlsplit(url)
        request_headers = {
            "sec-ch-ua": '"Chromium";v="126", "Not.A/Brand";v="24"',
            "accept": "text/html,application/xhtml+xml" if kind == "document" else "*/*",
            "user-agent": s.user_agent,
            "referer": f"{SITE}/",
            "accept-language": "en-GB,en;q=0.9",
            **(headers or {}),
        }
        cookies = []
        if first_party:
            cookies = [
                {"name": "sessionid", "value": s.session_id},
                {"name": "csrftoken", "value": s.token[-32:]},
                {"name": "_ga", "value": f"GA1.1.{s.number}.{int(s.start.timestamp())}"},
            ]
            request_headers["cookie"] = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
        size = len(text) if text is not None else 0
        if base64_body and text is not None:
            size = len(text) * 3 // 4
        content: dict[str, Any] = {"size": size, "mimeType": mime, "compression": 0}
        if text is not None:
            content["text"] = text
            if base64_body:
                content["encoding"] = "base64"
            self.body_bytes += len(text)
        elif status > 0 and kind in ("ping", "beacon"):
            content["size"] = -1  # a body the page never read
        all_response_headers = {
            "content-type": mime,
            "date": at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "server": "nginx",
            "cache-control": "no-store"
            if kind in ("fetch", "xhr", "document")
            else "max-age=31536000",
            "strict-transport-security": "max-age=63072000",
            "x-request-id": f"{rng.getrandbits(64):016x}",
            **(response_headers or {}),
        }
        for c in set_cookies or ():
            all_response_headers.setdefault("set-cookie", f"{c['name']}={c['value']}; Path=/")
        wait = max(0.1, time_ms * 0.8) if time_ms >= 0 else -1
        receive = round(time_ms - wait, 3) if time_ms >= 0 else -1
        entry: dict[str, Any] = {
            "startedDateTime": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "time": time_ms,
            "request": {
                "method": method,
                "url": url,
                "httpVersion": "HTTP/2.0" if first_party else "HTTP/1.1",
                "cookies": cookies,
                "headers": [{"name": k, "value": v} for k, v in request_headers.items()],
                "queryString": [
                    {"name": k, "value": v}
                    for k, v in parse_qsl(parts.query, keep_blank_values=True)
                ],
                "headersSize": -1,
                "bodySize": len(post["text"]) if post else 0,
            },
            "response": {
                "status": status,
                "statusText": {200: "OK", 204: "No Content", 302: "Found", 303: "See Other"}.get(
                    status, ""
                ),
                "httpVersion": "HTTP/2.0" if first_party else "HTTP/1.1",
                "cookies": [
                    {**c, "path": "/", "httpOnly": True, "secure": True, "sameSite": "Lax"}
                    for c in set_cookies or ()
                ],
                "headers": [{"name": k, "value": v} for k, v in all_response_headers.items()],
                "content": content,
                "redirectURL": all_response_headers.get("location", ""),
                "headersSize": -1,
                "bodySize": size,
                "_transferSize": size + 420,
                "_failureText": None if status > 0 else "net::ERR_ABORTED",
            },
            "cache": {},
            "timings": {
                "dns": -1,
                "connect": -1,
                "ssl": -1,
                "send": 0.05,
                "wait": wait if wait < 0 else round(wait, 3),
                "receive": receive,
            },
            "pageref": self.pages[-1]["id"],
            "serverIPAddress": "203.0.113.10" if first_party else "198.51.100.7",
            "_frameref": f"frame@{s.number:08x}",
            "_monotonicTime": round(self.monotonic, 3),
            "_serverPort": 443,
            "_securityDetails": {"protocol": "TLS 1.3", "subjectName": parts.hostname},
            "_resourceType": kind,
        }
        if post is not None:
            entry["request"]["postData"] = post
        self.monotonic += time_ms / 1000
        text = json.dumps(entry, ensure_ascii=False, indent=2).replace("\n", "\n      ")
        if self.entries:
            self.out.write(",\n")
        self.out.write("      " + text)
        self.entries += 1
        self.bytes += len(text.encode("utf-8")) if not text.isascii() else len(text)
        return at + timedelta(milliseconds=rng.uniform(2, 30))

    def page(self, s: Session, title: str) -> None:
        self.pages.append(
            {
                "startedDateTime": s.start.isoformat(timespec="milliseconds").replace(
                    "+00:00", "Z"
                ),
                "id": f"page@{s.number:08x}{s.rng.getrandbits(64):016x}",
                "title": title,
                "pageTimings": {"onContentLoad": -1, "onLoad": -1},
            }
        )

    def close(self) -> None:
        self.out.close()
        head = {
            "version": "1.2",
            "creator": {"name": "Playwright", "version": "1.45.0"},
            "browser": {"name": "chromium", "version": "126.0.6478.17"},
            "pages": self.pages,
        }
        prefix = json.dumps({"log": head}, ensure_ascii=False, indent=2)
        with self.path.open("w", encoding="utf-8") as out:
            out.write(prefix[: prefix.rindex("]") + 1] + ',\n    "entries": [\n')
            with self.part.open(encoding="utf-8") as entries:
                shutil.copyfileobj(entries, out, 1 << 22)
            out.write("\n    ]\n  }\n}\n")
        self.part.unlink()


def _api(w: HarWriter, s: Session, at: datetime, path: str, body: Any, **kw: Any) -> datetime:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    headers = {"authorization": f"Bearer {s.token}", "accept": "application/json"}
    headers.update(kw.pop("headers", {}))
    return w.entry(
        s, at, kw.pop("method", "GET"), f"{SITE}{path}", kw.pop("kind", "fetch"),
        mime="application/json", text=text, headers=headers, **kw,
    )  # fmt: skip


def _assets(w: HarWriter, s: Session, at: datetime, first: bool) -> datetime:
    """What a page pulls in: scripts and styles (all of them on the first page, route chunks
    after), fonts once, images every time, and the trackers."""
    rng, p = s.rng, w.pools
    scripts = 6 if first else rng.randrange(1, 3)
    for i in range(scripts):
        name = "app" if i == 0 else f"chunk-{rng.randrange(900):03d}"
        at = w.entry(s, at, "GET", f"{SITE}/static/{name}.js?v=3", "script",
                     mime="application/javascript", text=rng.choice(p.scripts))  # fmt: skip
    if first:
        for i in range(2):
            at = w.entry(s, at, "GET", f"{SITE}/static/app{i}.css", "stylesheet",
                         mime="text/css", text=rng.choice(p.styles))  # fmt: skip
        for i in range(3):
            at = w.entry(s, at, "GET", f"https://fonts.gstatic.com/s/inter/v13/f{i}.woff2", "font",
                         mime="font/woff2", text=p.fonts[i], base64_body=True, first_party=False)  # fmt: skip
        at = w.entry(s, at, "GET", "https://www.googletagmanager.com/gtm.js?id=GTM-AB12CD",
                     "script", mime="application/javascript", text=rng.choice(p.scripts),
                     first_party=False)  # fmt: skip
        at = w.entry(s, at, "GET", "https://static.hotjar.com/c/hotjar-3345.js?sv=6", "script",
                     mime="application/javascript", text=rng.choice(p.scripts), first_party=False)  # fmt: skip
    for _ in range(rng.randrange(6, 20)):
        pid = rng.randrange(5000)
        at = w.entry(s, at, "GET", f"{CDN}/img/p/{pid}/thumb.webp?w={rng.choice((160, 320, 640))}",
                     "image", mime="image/webp", text=rng.choice(p.images), base64_body=True)  # fmt: skip
    for _ in range(rng.randrange(2, 5)):
        at = w.entry(s, at, "POST", f"https://region1.google-analytics.com/g/collect?v=2&tid=G-XYZ"
                     f"&cid={s.number}.1714&en=page_view&dl={SITE}%2F", "ping", status=204,
                     first_party=False)  # fmt: skip
    at = w.entry(s, at, "GET", "https://www.facebook.com/tr/?id=1234&ev=PageView&noscript=1",
                 "image", mime="image/gif", text="R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==",
                 base64_body=True, first_party=False)  # fmt: skip
    if rng.random() < 0.3:
        envelope = json.dumps(
            {
                "event_id": f"{rng.getrandbits(128):032x}",
                "exception": {
                    "values": [{"type": "TypeError", "value": "undefined is not a function"}]
                },
            }
        )
        at = w.entry(s, at, "POST", "https://o123.ingest.sentry.io/api/45/envelope/?sentry_key=abc",
                     "fetch", status=200, mime="application/json", text='{"id":"x"}',
                     post={"mimeType": "text/plain;charset=UTF-8", "text": envelope},
                     first_party=False)  # fmt: skip
    return at


def _document(
    w: HarWriter, s: Session, at: datetime, method: str, path: str, **kw: Any
) -> datetime:
    return w.entry(s, at, method, f"{SITE}{path}", "document",
                   mime="text/html; charset=utf-8", text=s.rng.choice(w.pools.html), **kw)  # fmt: skip


def _view(w: HarWriter, s: Session, at: datetime, path: str, first: bool = False) -> datetime:
    at = _document(w, s, at, "GET", path)
    return _assets(w, s, at, first)


def write_session(w: HarWriter, s: Session) -> datetime:
    rng, p = s.rng, w.pools
    w.page(s, "Shop — handmade ceramics")
    at = _view(w, s, s.start, "/", first=True)
    at = _api(w, s, at, "/api/session", {"user": None, "csrfToken": s.token[-32:],
              "features": {"newCheckout": True, "reviews": rng.random() < 0.5}})  # fmt: skip
    at = _api(w, s, at, "/api/i18n/en-GB", p.i18n)
    for _ in range(rng.randrange(2, 7)):  # browse: search, product pages, recommendations
        at += timedelta(seconds=rng.uniform(4, 60))
        query = rng.choice(p.words)
        at = _view(w, s, at, f"/search?q={query}&page=1")
        results = {"query": query, "total": rng.randrange(10, 400),
                   "items": [p.product(rng, rng.randrange(5000), long=False) for _ in range(24)]}  # fmt: skip
        at = _api(w, s, at, f"/api/search?q={query}&page=1&sort=relevance", results)
        if rng.random() < 0.05:
            at = _api(w, s, at, "/api/catalogue?full=1", rng.choice(p.catalogue))
        pid = rng.randrange(5000)
        at += timedelta(seconds=rng.uniform(3, 40))
        at = _view(w, s, at, f"/products/{pid}")
        at = _api(w, s, at, f"/api/products/{pid}", p.product(rng, pid))
        recs = [p.product(rng, rng.randrange(5000), long=False) for _ in range(8)]
        at = _api(w, s, at, f"/api/products/{pid}/recommendations", {"items": recs})
        at = _api(w, s, at, "/api/telemetry", "", method="POST", status=204,
                  post={"mimeType": "application/json", "text": json.dumps(
                      {"event": "view_item", "item": pid, "session": s.session_id})})  # fmt: skip
        if rng.random() < 0.05:
            at = w.entry(s, at, "GET", f"{SITE}/api/recs.pb?item={pid}", "fetch",
                         mime="application/x-protobuf", text=rng.choice(p.protobufs),
                         base64_body=True)  # fmt: skip
        if rng.random() < 0.5:
            s.cart.append(pid)
            body = {"productId": pid, "quantity": 1, "variant": f"{pid}-0"}
            at = _api(w, s, at, "/api/cart/items", {"items": [{"id": i, "qty": 1} for i in s.cart],
                      "total": 12.5 * len(s.cart)}, method="POST",
                      post={"mimeType": "application/json", "text": json.dumps(body)})  # fmt: skip
        if rng.random() < 0.03:
            at = w.entry(s, at, "GET", f"{SITE}/api/stock/{pid}", "fetch", status=-1,
                         mime="", time_ms=-1)  # fmt: skip
    if rng.random() < 0.5:  # sign in with a form post
        at += timedelta(seconds=rng.uniform(5, 30))
        at = _view(w, s, at, "/account/login?next=/cart")
        form = [("csrfmiddlewaretoken", s.token[-32:]), ("email", s.email),
                ("password", f"pw-{s.session_id[:10]}!"), ("next", "/cart")]  # fmt: skip
        at += timedelta(seconds=rng.uniform(5, 20))
        at = _document(w, s, at, "POST", "/account/login", status=302,
                       post={"mimeType": "application/x-www-form-urlencoded", "text": urlencode(form),
                             "params": [{"name": k, "value": v} for k, v in form]},
                       response_headers={"location": "/cart"},
                       set_cookies=[{"name": "sessionid", "value": s.session_id + "-auth"}])  # fmt: skip
        s.logged_in = True
    if s.cart:
        at += timedelta(seconds=rng.uniform(5, 60))
        at = _view(w, s, at, "/cart")
        at = _api(w, s, at, "/api/cart", {"items": [p.product(rng, i, long=False) for i in s.cart]})
        if rng.random() < 0.6:  # check out
            at += timedelta(seconds=rng.uniform(10, 90))
            at = _view(w, s, at, "/checkout")
            order = f"{rng.getrandbits(80):020x}"
            form = [("csrfmiddlewaretoken", s.token[-32:]), ("name", "Ada Lovelace"),
                    ("email", s.email), ("address", "1 Analytical Way, London"),
                    ("card_number", "4242 4242 4242 4242"), ("expiry", "12/29"), ("cvc", "123")]  # fmt: skip
            at += timedelta(seconds=rng.uniform(20, 120))
            at = _document(w, s, at, "POST", "/checkout", status=303,
                           post={"mimeType": "application/x-www-form-urlencoded",
                                 "text": urlencode(form),
                                 "params": [{"name": k, "value": v} for k, v in form]},
                           response_headers={"location": f"/orders/{order}"})  # fmt: skip
            at = _view(w, s, at, f"/orders/{order}")
            at = w.entry(s, at, "GET", f"{SITE}/api/orders/{order}/invoice", "fetch",
                         mime="application/pdf", text=rng.choice(p.pdfs), base64_body=True,
                         headers={"authorization": f"Bearer {s.token}"})  # fmt: skip
    return at


def build_har(path: Path, size_mb: int, seed: int = 7) -> tuple[int, float]:
    """Writes sessions until the file reaches `size_mb`; returns the entries and the share of the
    bytes that are response bodies."""
    rng = random.Random(seed)
    print(f"building a {size_mb:,} MB HAR at {path} ...", flush=True)
    began = time.perf_counter()
    writer = HarWriter(path, Pools(rng))
    at = START
    number = 0
    while writer.bytes < size_mb * MB:
        number += 1
        jwt_body = base64.urlsafe_b64encode(json.dumps({"sub": f"customer-{number}"}).encode())
        session = Session(
            number=number,
            start=at,
            rng=random.Random(rng.getrandbits(64)),
            session_id=f"{rng.getrandbits(128):032x}",
            token="eyJhbGciOiJIUzI1NiJ9."
            + jwt_body.decode().rstrip("=")
            + f".{rng.getrandbits(128):032x}",
            email=f"customer{number}@example.org",
            user_agent=rng.choice(UAS),
        )
        end = write_session(writer, session)
        at = end + timedelta(minutes=rng.uniform(35, 240))  # an idle gap: the next session
    writer.close()
    share = writer.body_bytes / max(writer.bytes, 1)
    print(
        f"  {number:,} sessions, {writer.entries:,} entries, {path.stat().st_size / MB:,.0f} MB "
        f"in {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    return writer.entries, share


# --- the measurement -------------------------------------------------------------------------


def timed(code: str, har: Path) -> tuple[float, float, dict[str, Any]]:
    """Wall seconds, the process's own peak RSS in MB, and what `code` printed, in a fresh Python."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + REPORT_RSS, str(har)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"benchmark process failed:\n{done.stderr}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return elapsed, peak_kib * 1024 / MB, json.loads(done.stdout)


@dataclass
class Side:
    label: str
    code: str
    times: list[float] = field(default_factory=list)
    rss: float = 0.0
    out: dict[str, Any] = field(default_factory=dict)

    def run(self, har: Path) -> None:
        seconds, rss, self.out = timed(self.code, har)
        self.times.append(seconds)
        self.rss = max(self.rss, rss)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def _python(code: str, *args: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        _, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"benchmark process failed:\n{err}")


@dataclass
class Shards:
    """One run over every part, against a process per shard at once and then the merge."""

    parts: list[Path]
    out: Path
    single: list[float] = field(default_factory=list)
    merged: list[float] = field(default_factory=list)
    identical: bool = True

    def run(self) -> None:
        start = time.perf_counter()
        _finish(_python(SINGLE, self.out / "single.json", *self.parts))
        self.single.append(time.perf_counter() - start)
        start = time.perf_counter()
        partials = [self.out / f"part-{i}.json" for i in range(1, len(self.parts) + 1)]
        _finish(*(_python(SHARD, p, har) for p, har in zip(partials, self.parts, strict=True)))
        _finish(_python(MERGE, self.out / "merged.json", *partials))
        self.merged.append(time.perf_counter() - start)
        same = (self.out / "merged.json").read_bytes() == (self.out / "single.json").read_bytes()
        self.identical = self.identical and same

    def report(self, repeat: int) -> None:
        size = sum(p.stat().st_size for p in self.parts)
        partial = sum(p.stat().st_size for p in self.out.glob("part-*.json"))
        print(
            f"\nshards: {len(self.parts)} HAR files, {size / MB:,.0f} MB in all; partial maps "
            f"{partial / MB:,.1f} MB in all; merged map "
            f"{'byte-identical to' if self.identical else 'DIFFERENT from'} the single run's"
        )
        print(f"{'':<26} {'seconds':>8}   runs (s)")
        for label, times in (
            ("one run over all", self.single),
            ("shards, then merge", self.merged),
        ):
            runs = ", ".join(f"{x:.2f}" for x in times)
            print(f"{label:<26} {statistics.median(times):>8.2f}   {runs}")
        ratio = statistics.median(self.merged) / statistics.median(self.single)
        best = min(self.merged) / min(self.single)
        ok = ratio <= TARGET_SHARDS_RATIO and self.identical
        print(
            f"time shards merged / one run: {ratio:.2f}x  (target <= {TARGET_SHARDS_RATIO:g}x, "
            f"median of {repeat}; best runs {best:.2f}x)  {'PASS' if ok else 'MISS'}"
        )


def _shard_parts(directory: Path, shards: int, total_mb: int) -> list[Path]:
    """One HAR per shard, each of its own sessions (reused when they exist)."""
    parts = [directory / f"shard-{i}.har" for i in range(1, shards + 1)]
    for i, part in enumerate(parts):
        if not part.exists():
            build_har(part, max(1, total_mb // shards), seed=100 + i)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1000, help="size of the HAR to build")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--har", type=Path, help="build the HAR here, or reuse it if it exists")
    parser.add_argument("--keep", action="store_true", help="keep the temporary HAR")
    parser.add_argument("--shards", type=int, default=2, help="shards to compare (0: none)")
    parser.add_argument("--shard-mb", type=int, help="size of the shards' HARs in all (--size-mb)")
    args = parser.parse_args()

    temp = None
    if args.har is None:
        temp = Path(tempfile.mkdtemp(prefix="bench-har-"))
        har = temp / "sessions.har"
    else:
        har = args.har
    body_share = None
    try:
        if not har.exists():
            _, body_share = build_har(har, args.size_mb)
        size = har.stat().st_size
        with har.open("rb") as f:  # warm the page cache so neither side pays for the first read
            while f.read(1 << 24):
                pass
        shards = None
        if args.shards:
            work = Path(tempfile.mkdtemp(prefix="bench-shards-"))
            parts = _shard_parts(har.parent, args.shards, args.shard_mb or args.size_mb)
            for part in parts:
                with part.open("rb") as f:
                    while f.read(1 << 24):
                        pass
            shards = Shards(parts, work)
        bare = Side("bare ijson parse", BARE)
        pipeline = Side("cxe-gate journeys", PIPELINE)
        for _ in range(args.repeat):  # interleaved, so drift on the machine hits both alike
            bare.run(har)
            pipeline.run(har)
            if shards is not None:
                shards.run()
        report(har, size, body_share, bare, pipeline, args.repeat)
        if shards is not None:
            shards.report(args.repeat)
            shutil.rmtree(shards.out, ignore_errors=True)
    finally:
        if temp is not None:
            if args.keep:
                print(f"kept {har}")
            else:
                shutil.rmtree(temp, ignore_errors=True)


def report(
    har: Path, size: int, body_share: float | None, bare: Side, pipeline: Side, repeat: int
) -> None:
    entries = bare.out["entries"]
    if pipeline.out["entries"] != entries:
        raise SystemExit(f"entry counts differ: bare {entries}, pipeline {pipeline.out['entries']}")
    share = f", response bodies {body_share:.0%} of the bytes" if body_share is not None else ""
    print(
        f"HAR: {har.name}, {size / MB:,.0f} MB, {entries:,} entries{share}; "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, ijson {ijson.__version__} "
        f"({ijson.backend} backend)"
    )
    print(
        f"journey map: {pipeline.out['kept']:,} entries kept, {pipeline.out['journeys']:,} "
        f"journeys, {pipeline.out['steps']:,} steps"
    )
    print(f"{'':<19} {'seconds':>8} {'MB/s':>7} {'entries/s':>10} {'peak RSS':>9}   runs (s)")
    for side in (bare, pipeline):
        t = side.median
        runs = ", ".join(f"{x:.2f}" for x in side.times)
        print(
            f"{side.label:<19} {t:>8.2f} {size / MB / t:>7.1f} {entries / t:>10,.0f} "
            f"{side.rss:>6.0f} MB   {runs}"
        )
    ratio = pipeline.median / bare.median
    best = min(pipeline.times) / min(bare.times)  # less exposed to other work on a shared machine
    print(
        f"time journeys / bare : {ratio:.2f}x  (target <= {TARGET_RATIO:g}x, median of {repeat}; "
        f"best runs {best:.2f}x)  {'PASS' if ratio <= TARGET_RATIO else 'MISS'}"
    )
    print(
        f"peak RSS journeys    : {pipeline.rss:.0f} MB  (target < {TARGET_RSS_MB} MB)  "
        f"{'PASS' if pipeline.rss < TARGET_RSS_MB else 'MISS'}"
    )


if __name__ == "__main__":
    main()
