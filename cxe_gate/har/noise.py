"""What is not a customer's journey: static assets (by resource type, MIME type and path extension,
never by query string), fonts, images, media, source maps, browser-internal and extension requests,
third-party analytics, ads and beacons, aborted requests, and other hosts than the first party."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import PurePosixPath

from .model import Entry

# Third-party analytics, ads, tag managers, session recorders and RUM beacons, by host suffix.
TRACKER_HOSTS = frozenset(
    {
        "google-analytics.com", "analytics.google.com", "googletagmanager.com",
        "googletagservices.com", "doubleclick.net", "googlesyndication.com",
        "googleadservices.com", "adservice.google.com", "facebook.net", "connect.facebook.net",
        "segment.io", "segment.com", "mixpanel.com", "mxpnl.com", "amplitude.com",
        "hotjar.com", "hotjar.io", "fullstory.com", "clarity.ms", "bat.bing.com",
        "scorecardresearch.com", "quantserve.com", "criteo.com", "criteo.net", "taboola.com",
        "outbrain.com", "adsrvr.org", "adnxs.com", "optimizely.com", "heapanalytics.com",
        "nr-data.net", "newrelic.com", "browser-intake-datadoghq.com", "datadoghq-browser-agent.com",
        "sentry.io", "ingest.sentry.io", "bugsnag.com", "mouseflow.com", "crazyegg.com",
        "linkedin.com", "ads.linkedin.com", "snap.licdn.com", "tiktok.com", "analytics.tiktok.com",
        "pinterest.com", "ct.pinterest.com", "yandex.ru", "mc.yandex.ru", "matomo.cloud",
        "plausible.io", "cloudflareinsights.com", "static.cloudflareinsights.com",
    }
)  # fmt: skip

_INTERNAL_SCHEMES = frozenset(
    {"chrome", "chrome-extension", "moz-extension", "safari-extension", "safari-web-extension",
     "edge", "about", "data", "blob", "devtools", "chrome-search", "resource", "file", "ws", "wss"}
)  # fmt: skip

_ASSET_TYPES = {
    "image": "image", "imageset": "image", "font": "font", "media": "media",
    "stylesheet": "stylesheet", "script": "script", "manifest": "asset", "texttrack": "media",
    "ping": "beacon", "beacon": "beacon", "csp_violation_report": "beacon", "websocket": "websocket",
    "eventsource": "websocket",
}  # fmt: skip
_EXTENSIONS = {
    **dict.fromkeys(
        (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".ico", ".bmp", ".tif",
         ".tiff", ".apng", ".heic"), "image"),
    **dict.fromkeys((".woff", ".woff2", ".ttf", ".otf", ".eot"), "font"),
    **dict.fromkeys(
        (".mp4", ".webm", ".mp3", ".wav", ".ogg", ".oga", ".m4a", ".m4v", ".mov", ".flac",
         ".m3u8", ".ts", ".vtt"), "media"),
    ".css": "stylesheet", ".js": "script", ".mjs": "script", ".cjs": "script", ".wasm": "script",
    ".map": "source-map",
    **dict.fromkeys((".webmanifest", ".pdf", ".zip", ".txt", ".xml"), "asset"),
}  # fmt: skip
_MIME_PREFIXES = (
    ("image/", "image"), ("font/", "font"), ("application/font", "font"),
    ("application/x-font", "font"), ("audio/", "media"), ("video/", "media"),
    ("text/css", "stylesheet"), ("text/javascript", "script"), ("application/javascript", "script"),
    ("application/x-javascript", "script"), ("application/ecmascript", "script"),
    ("application/wasm", "script"), ("application/manifest+json", "asset"),
)  # fmt: skip


def host_matches(host: str, suffixes: Iterable[str]) -> bool:
    """`host` is one of `suffixes` or under one, label by label (`notexample.com` is not under
    `example.com`)."""
    # A lookup per label rather than a scan of the suffixes: this runs for every entry read.
    if not isinstance(suffixes, set | frozenset):
        suffixes = frozenset(suffixes)
    labels = host.split(".")
    return any(".".join(labels[i:]) in suffixes for i in range(len(labels)))


def drop_reason(entry: Entry, tracker_hosts: frozenset[str] = TRACKER_HOSTS) -> str | None:
    """Why an entry is noise whoever the first party is, or None to keep it."""
    if entry.scheme in _INTERNAL_SCHEMES or not entry.scheme.startswith("http"):
        return "browser-internal"
    if host_matches(entry.host, tracker_hosts):
        return "third-party analytics/ads"
    if entry.status <= 0:
        return "aborted"
    if entry.resource_type in _ASSET_TYPES:
        return _ASSET_TYPES[entry.resource_type]
    # The path's extension, never the query's: `/app.js?v=3` is a script, `/api?f=a.js` is not.
    suffix = PurePosixPath(entry.path).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if entry.resource_type in ("fetch", "xhr", "document"):
        return None  # a page or an API call, whatever its answer's type
    for prefix, reason in _MIME_PREFIXES:
        if entry.mime.startswith(prefix):
            return reason
    if any(
        k.lower() == "sourcemap" or k.lower() == "x-sourcemap" for k, _ in entry.response_headers
    ):
        return "source-map"
    return None


def is_navigation(entry: Entry) -> bool:
    """A main-frame page load: `_resourceType` says so when present; otherwise what a browser sends
    for one (Sec-Fetch-Mode navigate, Accept text/html) or an HTML answer to a non-XHR request."""
    if entry.resource_type is not None:
        return entry.resource_type == "document"
    if (entry.request_header("x-requested-with") or "").lower() == "xmlhttprequest":
        return False
    mode = (entry.request_header("sec-fetch-mode") or "").lower()
    dest = (entry.request_header("sec-fetch-dest") or "").lower()
    if mode or dest:
        return mode == "navigate" and dest in ("", "document")
    accept = (entry.request_header("accept") or "").lower()
    if accept:
        return accept.startswith("text/html") or accept.startswith("application/xhtml")
    return entry.mime in ("text/html", "application/xhtml+xml")


def site(host: str) -> str:
    """The registrable part of a host, roughly: `shop.example.co.uk` → `example.co.uk`."""
    labels = host.split(".")
    if len(labels) <= 2 or labels[-1].isdigit():
        return host
    if len(labels[-1]) == 2 and labels[-2] in {"co", "com", "org", "net", "ac", "gov", "edu"}:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def detect_first_party(entries: Iterable[Entry]) -> set[str]:
    """The site the customer navigated to most; every host of that site counts as first party."""
    entries = list(entries)
    pages = Counter(e.host for e in entries if is_navigation(e) and e.host)
    if not pages:  # an API client's recording: the host it talked to most
        pages = Counter(e.host for e in entries if e.host)
    if not pages:
        return set()
    top = pages.most_common(1)[0][0]
    return {site(top)}


def is_first_party(host: str, first_party: Iterable[str]) -> bool:
    return host_matches(host, first_party)
