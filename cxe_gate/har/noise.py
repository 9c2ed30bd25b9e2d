"""What is not a customer's journey: static assets (by resource type, MIME type and path extension,
never by query string), fonts, images, media, source maps, browser-internal and extension requests,
third-party analytics, ads and beacons, aborted requests, and other hosts than the first party."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from .frames import is_navigation
from .model import Entry
from .sites import detect_first_party, host_matches, is_first_party, site

__all__ = [
    "TRACKER_HOSTS", "detect_first_party", "drop_reason", "host_matches", "is_first_party",
    "is_navigation", "site",
]  # fmt: skip

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
    **dict.fromkeys((".webmanifest", ".pdf", ".zip", ".txt", ".xml", ".swf"), "asset"),
}  # fmt: skip
_MIME_PREFIXES = (
    ("image/", "image"), ("font/", "font"), ("application/font", "font"),
    ("application/x-font", "font"), ("audio/", "media"), ("video/", "media"),
    ("text/css", "stylesheet"), ("text/javascript", "script"), ("application/javascript", "script"),
    ("application/x-javascript", "script"), ("application/ecmascript", "script"),
    ("application/wasm", "script"), ("application/manifest+json", "asset"),
    ("application/x-shockwave-flash", "asset"),
)  # fmt: skip

# Analytics and ad beacons a site serves from its own hosts (a CNAME such as metrics.site.com), by
# the shape of their path: Adobe's `/b/ss/`, Google's `/collect`, `/g/collect`, `/j/collect`,
# `/r/collect`, and `__utm.gif`.
_BEACON_PATH = re.compile(r"/b/ss/|^/(?:[gjr]/)?collect/?$|/[gjr]/collect/?$|/__utm\.gif$")
# Hosts whose first label names a beacon collector (Yahoo's udc. and beap., beacon., pixel.).
_BEACON_LABELS = frozenset({"udc", "beap", "beacon", "beacons", "pixel", "pixels"})
PIXEL_MAX_BYTES = 128  # a 1x1 GIF is 35-43 bytes; no picture a customer sees is this small


def drop_reason(entry: Entry, tracker_hosts: frozenset[str] = TRACKER_HOSTS) -> str | None:
    """Why an entry is noise whoever the first party is, or None to keep it."""
    if entry.scheme in _INTERNAL_SCHEMES or not entry.scheme.startswith("http"):
        return "browser-internal"
    if host_matches(entry.host, tracker_hosts):
        return "third-party analytics/ads"
    if entry.status <= 0:
        return "aborted"
    if entry.subframe:
        return "subframe"
    if _is_beacon(entry):
        return "beacon"
    if entry.resource_type in _ASSET_TYPES:
        return _ASSET_TYPES[entry.resource_type]
    # The path's extension, never the query's: `/app.js?v=3` is a script, `/api?f=a.js` is not.
    suffix = PurePosixPath(entry.path).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if entry.resource_type in ("fetch", "xhr", "document"):
        # A page or an API call, whatever its answer's type; but a tiny GIF is a beacon's answer.
        return "beacon" if _is_pixel(entry) else None
    for prefix, reason in _MIME_PREFIXES:
        if entry.mime.startswith(prefix):
            return reason
    if any(
        k.lower() == "sourcemap" or k.lower() == "x-sourcemap" for k, _ in entry.response_headers
    ):
        return "source-map"
    return None


def _is_beacon(entry: Entry) -> bool:
    """An analytics or ad beacon on any host, by the shape of its path or its host's first label."""
    return bool(_BEACON_PATH.search(entry.path)) or entry.host.split(".", 1)[0] in _BEACON_LABELS


def _is_pixel(entry: Entry) -> bool:
    """A tracking pixel: a GIF or PNG answer of a few bytes."""
    return (
        entry.mime in ("image/gif", "image/png")
        and entry.body_size is not None
        and entry.body_size <= PIXEL_MAX_BYTES
    )
