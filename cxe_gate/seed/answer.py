"""A response as a seeded journey's checks see it, whichever driver got it: status, URL, headers,
the body read once, the time taken, and the values it hands out for later steps to capture."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..har.html import read_tags
from .markers import Capture


@dataclass
class Answer:
    status: int
    url: str
    headers: list[tuple[str, str]]  # names in lower case
    read: Callable[[], str]
    ms: float | None
    _text: str | None = field(default=None, init=False, repr=False)
    _was_read: bool = field(default=False, init=False, repr=False)

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    def text(self) -> str | None:
        """The body, read once (shape, captures and forms all look at it)."""
        if not self._was_read:
            self._was_read = True
            try:
                self._text = self.read()
            except Exception:  # a redirect or an aborted body has no text
                self._text = None
        return self._text

    def captured(self, spec: Capture) -> str | None:
        """The value `spec` says this answer hands out; None when it is not there."""
        if spec.source == "json":
            return self._json_value(spec.key)
        if spec.source in ("html_input", "html_meta"):
            return read_tags(self.text() or "").first_values(spec.source).get(str(spec.key[0]))
        if spec.source == "location":
            return self._location_part(spec.key)
        if spec.source == "header":
            return self.header(str(spec.key[0]).lower())
        if spec.source == "cookie":
            for line in self.header_values("set-cookie"):
                for cookie in line.split("\n"):
                    name, _, rest = cookie.partition("=")
                    if name.strip() == spec.key[0]:
                        return rest.split(";", 1)[0]
        return None

    def _json_value(self, key: tuple[str | int, ...]) -> str | None:
        try:
            value: Any = json.loads(self.text() or "")
        except ValueError:
            return None
        for part in key:
            inside_list = isinstance(value, list) and isinstance(part, int) and part < len(value)
            if not (inside_list or (isinstance(value, dict) and part in value)):
                return None
            value = value[part]
        return None if isinstance(value, dict | list) or value is None else str(value)

    def _location_part(self, key: tuple[str | int, ...]) -> str | None:
        """The redirect's Location, or one path segment (by index) or query value (by name)."""
        location = self.header("location")
        if location is None or not key:
            return location
        parts = urlsplit(location)
        if isinstance(key[0], int):
            segments = parts.path.split("/")
            return unquote(segments[key[0]]) if key[0] < len(segments) else None
        return dict(parse_qsl(parts.query)).get(key[0])
