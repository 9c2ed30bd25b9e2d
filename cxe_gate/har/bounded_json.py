"""JSON bodies read with a bound on their nesting: HAR bodies are untrusted, and a body nested
thousands of levels deep must give a clear answer (`TooDeep`), never a RecursionError."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # far deeper than any real API body, far below Python's recursion limit


class TooDeep:
    """A body that parsed (or would have) but nests deeper than `MAX_DEPTH` levels."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TooDeep()"


TOO_DEEP = TooDeep()
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def nesting(text: str) -> int:
    """How deep the brackets of a JSON text nest outside its strings: cheap (the strings are cut
    out by one regex, then only brackets are counted), and it answers before a parse recurses."""
    level = deepest = 0
    for char in _BRACKETS.findall(_STRINGS.sub("", text)):
        if char in "[{":
            level += 1
            if level > deepest:
                deepest = level
                if deepest > MAX_DEPTH:
                    break
        else:
            level -= 1
    return deepest


def loads(text: str) -> Any:
    """The parsed body; `TOO_DEEP` if it nests deeper than `MAX_DEPTH`; raises ValueError if it
    is not JSON."""
    # Only texts with many brackets can be too deep: skip the scan for the others.
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting(text) > MAX_DEPTH:
        return TOO_DEEP
    try:
        return json.loads(text)
    except RecursionError:  # the scan cannot miss one, but a parse must never raise it
        return TOO_DEEP
