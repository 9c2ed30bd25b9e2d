"""The entry: what later stages need of one HAR request/response pair, nothing more (a response
body only until its shape is taken, no timings breakdown), so a million of them fit in memory and
few secrets travel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

Pairs = tuple[tuple[str, str], ...]
Key = tuple[str | int, ...]  # a JSON key path, or one name / segment index
# Where a response hands a value to the client, and where a later request sends it back.
Source = Literal["json", "html_input", "html_meta", "location", "header", "cookie"]
Target = Literal["path", "query", "form", "json", "header"]


@dataclass(frozen=True, slots=True)
class Produced:
    """A value a response hands to the client, where a later request may send it back."""

    source: Source
    key: Key  # where in the response: a JSON key path, an input / header / cookie name, ...
    value: str


@dataclass(frozen=True, slots=True)
class PostedFile:
    """A file a multipart request sent: where and under what name, never its content."""

    field: str
    file_name: str  # scrubbed like a text value once the entry is scrubbed
    content_type: str | None
    size: int  # bytes


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    """What later stages need of a response body: its JSON shape (types and keys, no values) and,
    until correlation is done, the values it produced. Values never leave memory."""

    shape: dict[str, Any] | None
    produced: tuple[Produced, ...] = ()

    def without_values(self) -> ResponseFacts:
        return ResponseFacts(self.shape)


@dataclass(frozen=True, slots=True)
class Entry:
    file: str
    index: int  # position in log.entries
    started: datetime  # timezone-aware
    time_ms: float | None  # None when the producer wrote -1
    method: str
    url: str
    status: int  # 0 or -1: failed or aborted
    mime: str  # response content type, lower case, without parameters
    resource_type: str | None  # Chrome/Playwright `_resourceType`
    pageref: str | None
    request_headers: Pairs
    response_headers: Pairs
    request_cookies: Pairs
    response_cookies: Pairs
    post_mime: str | None
    post_text: str | None
    post_params: Pairs | None  # a multipart body's text fields too
    # A first-party JSON or HTML response body, read only until `facts` are derived from it.
    response_text: str | None = None
    facts: ResponseFacts | None = None
    subframe: bool = False  # a document loaded inside an iframe (frames.FrameTracker)
    page_title: str | None = None  # `log.pages[].title` of its pageref
    body_size: int | None = None  # response `content.size` in bytes, when given
    post_files: tuple[PostedFile, ...] = ()  # a multipart body's files (its text: dropped)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    def request_header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.request_headers:
            if key.lower() == name:
                return value
        return None

    @property
    def ended_ms(self) -> float:
        """End time as epoch milliseconds (the start when the duration is unknown)."""
        return self.started.timestamp() * 1000 + (self.time_ms or 0.0)
