"""Route templates: `/products/123` and `/products/987` are one route, `/products/{id}`; so are
paths that differ by a UUID, a hash or token, or a date. Query values are dropped, names kept."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

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


def template_segment(segment: str) -> str:
    if segment.startswith("${"):  # a scrub placeholder stands for a secret value
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
