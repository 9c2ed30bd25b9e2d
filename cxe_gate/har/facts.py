"""What a kept response tells later stages: the shape of its JSON (genson's inferred JSON Schema:
types and keys, never values) and the values it hands to the client (JSON ids, hidden form inputs,
a redirect's Location, tokens in headers and cookies) that a later request may send back. A body
nested deeper than `bounded_json.MAX_DEPTH` gives no facts, so every walk here stays shallow."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from genson import SchemaBuilder

from . import bounded_json
from .html import read_tags
from .model import Entry, Key, Produced, ResponseFacts
from .routes import template_segment

MAX_PRODUCED = 400  # values kept per response: enough for a page of ids, bounded for huge lists
MAX_OBJECT_KEYS = 60  # an object with more keys is a map (ids → ...), not a record
_TOKEN_NAME = re.compile(r"csrf|xsrf|token|nonce|request-?id|state", re.IGNORECASE)
_SECRET_KEY = re.compile(r"@|^\$\{CXE_SECRET_|^eyJ")
_DIGIT = re.compile(r"\d")
# The only tags facts are taken from: html.parser then reads a few tags, not a whole page (on a
# 1 GB benchmark HAR, 0.13 s instead of 11 s for 1,919 pages).
_TAGS = re.compile(r"<(?:input|meta)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE)
SHAPE_ITEMS = 20  # array items a shape is inferred from: enough for its item type


def is_dynamic(value: str) -> bool:
    """Could this value be an id or token the server made up, rather than a word of the app?
    Short numbers (quantities, page numbers) and plain words are not worth correlating."""
    if len(value) < 4 or value.startswith("${CXE_SECRET_"):
        return False
    if template_segment(value) != value:
        return True
    return len(value) >= 8 and _DIGIT.search(value) is not None


def with_facts(entry: Entry, *, shape_wanted: bool = True) -> Entry:
    """The entry with its body replaced by the facts taken from it; `shape_wanted=False` skips
    the shape (its route has enough recorded answers already)."""
    produced: list[Produced] = []
    shape = None
    text = entry.response_text
    if text is not None:
        if "json" in entry.mime:
            shape = _json_facts(text, produced, shape_wanted)
        else:
            _html_facts(text, produced)
    _header_facts(entry, produced)
    if text is None and not produced:
        return entry
    return replace(
        entry,
        response_text=None,
        facts=ResponseFacts(shape, tuple(produced[:MAX_PRODUCED])),
    )


def produced_by(mime: str, text: str) -> list[Produced]:
    """The values a response body of this type hands to the client (hidden inputs, token meta
    tags, JSON leaves that look made up), as `with_facts` finds them."""
    produced: list[Produced] = []
    if "json" in mime:
        _json_facts(text, produced, shape_wanted=False)
    else:
        _html_facts(text, produced)
    return produced[:MAX_PRODUCED]


def merge_shapes(shapes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One shape for responses of one route: keys every response had stay required."""
    if not shapes:
        return None
    builder = SchemaBuilder(schema_uri=None)
    for shape in shapes:
        builder.add_schema(shape)
    return builder.to_schema()


# --- JSON ----------------------------------------------------------------------------------


def _json_facts(text: str, produced: list[Produced], shape_wanted: bool) -> dict[str, Any] | None:
    try:
        data = bounded_json.loads(text)
    except ValueError:
        return None
    if data is bounded_json.TOO_DEEP:  # nothing to correlate or infer a shape from safely
        return None
    _leaves(data, (), produced)
    if not shape_wanted:
        return None
    builder = SchemaBuilder(schema_uri=None)
    builder.add_object(_sample(data))
    return _private(builder.to_schema())


def _sample(value: Any) -> Any:
    """The value with long arrays cut to their first items: their shape is the same."""
    if isinstance(value, list):
        return [_sample(v) for v in value[:SHAPE_ITEMS]]
    if isinstance(value, dict):
        return {k: _sample(v) for k, v in value.items()}
    return value


def _leaves(value: Any, key: Key, produced: list[Produced]) -> None:
    if len(produced) >= MAX_PRODUCED:
        return
    if isinstance(value, dict):
        for name, item in value.items():
            _leaves(item, (*key, name), produced)
    elif isinstance(value, list):
        for i, item in enumerate(value[:50]):
            _leaves(item, (*key, i), produced)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)
        if is_dynamic(text):
            produced.append(Produced("json", key, text))


def _private(shape: dict[str, Any]) -> dict[str, Any]:
    """Object keys that are data (ids, e-mails, tokens) or too many to be a record: the object is
    kept as `{"type": "object"}`, so no value travels as a key and maps do not look like records."""
    properties = shape.get("properties")
    if isinstance(properties, dict):
        if len(properties) > MAX_OBJECT_KEYS or any(
            _SECRET_KEY.search(k) or template_segment(k) != k for k in properties
        ):
            return {"type": "object"}
        shape = {**shape, "properties": {k: _private(v) for k, v in properties.items()}}
    for word in ("items", "anyOf"):
        inner = shape.get(word)
        if isinstance(inner, dict):
            shape = {**shape, word: _private(inner)}
        elif isinstance(inner, list):
            shape = {**shape, word: [_private(s) for s in inner]}
    return shape


# --- HTML ----------------------------------------------------------------------------------


def _html_facts(text: str, produced: list[Produced]) -> None:
    tags = read_tags("".join(_TAGS.findall(text)))
    for found in tags.inputs:
        if found.type == "hidden" and found.value:
            produced.append(Produced("html_input", (found.name,), found.value))
    for name, content in tags.metas:
        if _TOKEN_NAME.search(name) and content:
            produced.append(Produced("html_meta", (name,), content))


# --- headers and cookies -------------------------------------------------------------------


def _header_facts(entry: Entry, produced: list[Produced]) -> None:
    for name, value in entry.response_headers:
        lower = name.lower()
        if lower == "location" and value:
            produced.append(Produced("location", (), value))
            parts = urlsplit(value)
            for i, segment in enumerate(parts.path.split("/")):
                if is_dynamic(unquote(segment)):
                    produced.append(Produced("location", (i,), unquote(segment)))
            for query_name, query_value in parse_qsl(parts.query):
                if is_dynamic(query_value):
                    produced.append(Produced("location", (query_name,), query_value))
        elif _TOKEN_NAME.search(lower) and value:
            produced.append(Produced("header", (lower,), value))
    for name, value in entry.response_cookies:
        if _TOKEN_NAME.search(name) and value:
            produced.append(Produced("cookie", (name,), value))
