"""Correlation: values a request sends that an earlier response of the same session produced (a
CSRF token from a form, an order id from a redirect or a JSON answer). A replay must capture them
at run time; replaying the recorded constant would fail, or worse, act on a stranger's order.

Runs on raw entries (before scrubbing, which would hide the equality) and keeps only where each
value came from and went, never the value."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import bounded_json
from .facts import is_dynamic
from .model import Entry, Key, Produced, Source, Target

# Request headers a client sets itself, or that carry secrets the scrubber handles: never targets.
_NOT_TARGETS = frozenset(
    {"cookie", "authorization", "proxy-authorization", "referer", "origin", "host", "user-agent",
     "accept", "accept-language", "accept-encoding", "content-type", "content-length",
     "if-none-match", "if-modified-since"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class EntryLink:
    """A value an entry sends that an earlier entry of the same file produced, by entry index (the
    journey map turns it into a `Link` between steps)."""

    target: Target
    at: Key  # path: (segment index,); query/form/header: (name,); json: key path
    producer: int  # index of the producing entry in its file
    source: Source
    key: Key  # where in the producing response


def sent_values(entry: Entry) -> Iterator[tuple[Target, Key, str]]:
    """Every value the request sends: path segments, query and form fields, JSON leaves, headers."""
    parts = urlsplit(entry.url)
    for i, segment in enumerate(parts.path.split("/")):
        yield "path", (i,), unquote(segment)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        yield "query", (name,), value
    if entry.post_params:
        for name, value in entry.post_params:
            yield "form", (name,), value
    elif entry.post_text:
        if "x-www-form-urlencoded" in (entry.post_mime or ""):
            for name, value in parse_qsl(entry.post_text, keep_blank_values=True):
                yield "form", (name,), value
        else:
            try:  # a body too deep to walk safely (`TOO_DEEP`) has no targets
                data = bounded_json.loads(entry.post_text)
            except ValueError:
                data = None
            if isinstance(data, dict | list):
                yield from _json_targets(data, ())
    for name, value in entry.request_headers:
        if name.lower() not in _NOT_TARGETS and not name.startswith(":"):
            yield "header", (name.lower(),), value


def _json_targets(value: Any, key: Key) -> Iterator[tuple[Target, Key, str]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _json_targets(item, (*key, name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_targets(item, (*key, i))
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield "json", key, str(value)


def find_links(entries: Sequence[Entry]) -> dict[int, tuple[EntryLink, ...]]:
    """For each entry (by index) that sends back an earlier response's value, where it came from.
    The latest producer wins: a token refreshed by each page is taken from the last one."""
    ordered = sorted(entries, key=lambda e: (e.started, e.index))
    seen: dict[str, tuple[int, Produced]] = {}
    links: dict[int, tuple[EntryLink, ...]] = {}
    for entry in ordered:
        found = []
        for target, at, value in sent_values(entry):
            producer = seen.get(value) if is_dynamic(value) else None
            if producer is not None:
                index, produced = producer
                found.append(EntryLink(target, at, index, produced.source, produced.key))
        if found:
            links[entry.index] = tuple(found)
        if entry.facts is not None:
            for produced in entry.facts.produced:
                seen[produced.value] = (entry.index, produced)
    return links
