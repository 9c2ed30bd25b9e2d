"""Route templates: `/products/123` and `/products/987` are one route, `/products/{id}`; so are
paths that differ by a UUID, a hash or token, or a date. Query values are dropped, names kept."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit

_KEEP_ENCODED = frozenset("/%?#")

_RULES = (
    ("{id}", re.compile(r"\d+")),
    (
        "{uuid}",
        re.compile(
            r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
        ),
    ),
    ("{date}", re.compile(r"\d{4}-\d{2}-\d{2}(?:[T_ ]\d{2}:?\d{2}(?::?\d{2})?)?Z?|\d{8}")),
    ("{hash}", re.compile(r"[0-9a-fA-F]{12,}")),
    # Opaque ids and tokens: long, mixing letters and digits.
    ("{token}", re.compile(r"(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}")),
)


def normal_segment(segment: str) -> str:
    """A path segment in one spelling whether its producer percent-encoded it or not: `caf%C3%A9`
    and `café` are both `café`; what would change the path's meaning (`%2F`, `%25`, `%3F`, `%23`,
    spaces and control characters) stays encoded, and non-UTF-8 escapes stay as recorded."""
    if "%" not in segment:
        return segment
    try:
        decoded = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return segment
    return "".join(
        quote(c, safe="") if c in _KEEP_ENCODED or c <= " " or c == "\x7f" else c for c in decoded
    )


def template_segment(segment: str) -> str:
    segment = normal_segment(segment)
    # A scrub placeholder, whole or inside a segment (`user-${CXE_SECRET_EMAIL_1}`).
    if segment.startswith("${") or "${CXE_SECRET_" in segment:
        return "{secret}"
    for placeholder, pattern in _RULES:
        if pattern.fullmatch(segment):
            return placeholder
    return segment


def template_path(path: str) -> str:
    return "/".join(template_segment(s) if s else s for s in (path or "/").split("/")) or "/"


def template_url(url: str) -> str:
    """The route of a URL: templated path plus the sorted names of its query parameters."""
    parts = urlsplit(url)
    route = template_path(parts.path)
    names = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return f"{route}?{'&'.join(names)}" if names else route
