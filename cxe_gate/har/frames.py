"""Which document requests are page loads: the main frame's, not an iframe's. Producers say it in
different ways (Sec-Fetch-Dest, Chromium's `_initiator`, Playwright's `_frameref`, a page per
navigation), so a file's entries are read in order, one `FrameTracker` per file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .model import Entry, Pairs

# Sec-Fetch-Dest values of a document loaded inside another one.
FRAME_DESTS = frozenset({"iframe", "frame", "embed", "object", "fencedframe"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})  # the same navigation goes on


@dataclass(frozen=True, slots=True)
class Page:
    """What a `log.pages[]` item tells: its title and when it had loaded."""

    title: str | None
    loaded_at: datetime | None


def _header(headers: Pairs, name: str) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.lower()
    return ""


def looks_like_document(resource_type: str | None, headers: Pairs, mime: str) -> bool:
    """A document request: `_resourceType` says so when present; otherwise what a browser sends
    for one (Sec-Fetch-Mode navigate, Accept text/html) or an HTML answer to a non-XHR request."""
    if resource_type is not None:
        return resource_type == "document"
    if _header(headers, "x-requested-with") == "xmlhttprequest":
        return False
    mode, dest = _header(headers, "sec-fetch-mode"), _header(headers, "sec-fetch-dest")
    if mode or dest:
        return mode == "navigate" and dest in ("", "document", *FRAME_DESTS)
    accept = _header(headers, "accept")
    if accept:
        return accept.startswith(("text/html", "application/xhtml"))
    return mime in ("text/html", "application/xhtml+xml")


def is_navigation(entry: Entry) -> bool:
    """A main-frame page load (an iframe's document is not one)."""
    return not entry.subframe and looks_like_document(
        entry.resource_type, entry.request_headers, entry.mime
    )


class FrameTracker:
    """Tells main-frame documents from subframe ones as one file's entries are read in order."""

    def __init__(self, pages: dict[str, Page] | None = None) -> None:
        self.pages = pages or {}
        self._main_frame: dict[
            str, str
        ] = {}  # pageref → Playwright's `_frameref` of its main frame
        self._settled: set[str] = set()  # pages whose main document has answered (not a redirect)

    def subframe(
        self,
        raw: dict[str, Any],
        *,
        pageref: str | None,
        started: datetime,
        status: int,
        resource_type: str | None,
        headers: Pairs,
        mime: str,
    ) -> bool:
        if not looks_like_document(resource_type, headers, mime):
            return False
        if _header(headers, "sec-fetch-dest") in FRAME_DESTS:
            return True
        initiator = raw.get("_initiator")
        chromium = isinstance(initiator, dict)
        if isinstance(initiator, dict) and initiator.get("type") == "parser":
            return True  # an <iframe> in the markup: a parser never navigates the main frame
        if pageref is None:
            return False
        frame = raw.get("_frameref")
        if isinstance(frame, str) and frame:
            return self._main_frame.setdefault(pageref, frame) != frame
        if pageref in self._settled and self._same_page(chromium, pageref, started):
            return True
        if status not in _REDIRECTS:
            self._settled.add(pageref)
        return False

    def _same_page(self, chromium: bool, pageref: str, started: datetime) -> bool:
        """A second document in a page that has loaded is an iframe's when the producer starts a
        page per navigation (Chromium's DevTools does), or when it came before the page's load
        event (Safari and IE write no frame ids; a single-page producer has no load time)."""
        if chromium:
            return True
        page = self.pages.get(pageref)
        return page is not None and page.loaded_at is not None and started <= page.loaded_at


def pages_of(log: dict[str, Any], parse_time: Callable[[Any], datetime | None]) -> dict[str, Page]:
    """`log.pages` by id; a page with a wrong shape is left out (pages only help to read)."""
    pages: dict[str, Page] = {}
    items = log.get("pages")
    if not isinstance(items, list):
        return pages
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        title = item.get("title")
        started = parse_time(item.get("startedDateTime"))
        timings = item.get("pageTimings")
        on_load = timings.get("onLoad") if isinstance(timings, dict) else None
        loaded_at = None
        if started is not None and isinstance(on_load, int | float) and 0 <= on_load < 1e9:
            loaded_at = started + timedelta(milliseconds=float(on_load))
        pages[item["id"]] = Page(title if isinstance(title, str) and title else None, loaded_at)
    return pages
