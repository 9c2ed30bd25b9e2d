"""What both writers (the Playwright suite and the k6 script) need of a correlation link: a name
hint for the captured value, and where in a recorded body the captured value goes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..har.journey_map import Link, Request


def capture_hint(link: Link, request: Request) -> str:
    """A word to name a captured value by: the route's placeholder for a path segment, else the
    last key it is sent under (or read from), else where it came from."""
    if link.target == "path":
        segments = request.route.split("?")[0].split("/")
        index = link.at[0]
        if isinstance(index, int) and index < len(segments):
            return segments[index].strip("{}")
    words = [k for k in (link.at if link.target != "path" else link.key) if isinstance(k, str)]
    return words[-1] if words else link.source


def set_at(data: Any, key: Sequence[str | int], value: Any) -> None:
    """`data[key[0]][key[1]]... = value` (the caller handles a body whose shape changed)."""
    for part in key[:-1]:
        data = data[part]
    data[key[-1]] = value
