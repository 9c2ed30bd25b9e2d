"""Paths into a JSON answer, the http provider's way of saying where its numbers are: JSONPath
(starting with `$`) or JMESPath (anything else), compiled once, and the numbers, counts and times
they find (null and NaN are no data, never zero)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath
from jsonpath_ng.jsonpath import Child, Fields, Root, auto_id_field

from ..errors import ProviderError
from .answers import first_line

# A Unix time at least this large is in milliseconds: 10^11 seconds would be the year 5138.
_MS_FROM = 1e11


@lru_cache(maxsize=256)
def _compiled(path: str) -> Any:
    """A JSONPath (starts with `$`) or a JMESPath expression, compiled once."""
    if path.startswith("$"):
        return parse_jsonpath(path)
    return jmespath.compile(path)


def check_path(path: str) -> str:
    path = path.strip()
    try:
        _compiled(path)
    except (JSONPathError, JMESPathError) as exc:
        kind = "JSONPath" if path.startswith("$") else "JMESPath (a JSONPath starts with $)"
        raise ValueError(f"{path!r} is not a valid {kind}: {first_line(exc)}") from None
    return path


def _as_number(value: Any) -> float | None:
    """A JSON number, or a number written as text ("12.5", as many APIs send them); else None."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@lru_cache(maxsize=256)
def _names(path: str) -> tuple[str, ...] | None:
    """The keys of a path that only walks down objects by name (`$.a.b`, `a.b`, the common case),
    read from the compiled path; None for any other path."""
    compiled = _compiled(path)
    if not path.startswith("$"):
        tree = compiled.parsed
        steps = tree["children"] if tree["type"] == "subexpression" else [tree]
        if all(step["type"] == "field" for step in steps):
            return tuple(step["value"] for step in steps)
        return None
    names: list[str] = []
    node = compiled
    while type(node) is Child and type(node.right) is Fields and len(node.right.fields) == 1:
        if node.right.fields[0] in ("*", auto_id_field):
            return None
        names.append(node.right.fields[0])
        node = node.left
    return tuple(reversed(names)) if type(node) is Root and names else None


def _walked(path: str, names: tuple[str, ...], body: Any) -> list[Any]:
    """What `_found` answers for a path of names, without the libraries' interpreters (a tenth of
    their CPU): a JSONPath matches a present key's value, null included, and nothing past a
    missing key or a non-object; JMESPath reads a missing key or a non-object as null, and a list
    result as its items."""
    value = body
    if path.startswith("$"):
        for name in names:
            if not isinstance(value, dict) or name not in value:
                return []
            value = value[name]
        return [value]
    for name in names:
        value = value.get(name) if isinstance(value, dict) else None
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _found(path: str, body: Any) -> list[Any]:
    """Every value `path` matches in `body` (JMESPath: its result, a list read as its items)."""
    names = _names(path)
    if names is not None:
        return _walked(path, names, body)
    compiled = _compiled(path)
    if path.startswith("$"):
        return [match.value for match in compiled.find(body)]
    result = compiled.search(body)
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:60] + "…"


class Answer:
    """One window's JSON answer, read through the query's paths."""

    def __init__(self, body: Any, error: Callable[[str], ProviderError]):
        self.body = body
        self._error = error

    def _matches(self, path: str) -> list[Any]:
        try:
            return _found(path, self.body)
        except JMESPathError as exc:  # a function given the wrong type: length(null)
            raise self._error(
                f"{path} cannot be read from this answer: {first_line(exc)}"
            ) from None

    def number(self, path: str) -> float | None:
        """The one number at `path`; None when it matches nothing, null or NaN (no data)."""
        found = [v for v in self._matches(path) if v is not None]
        if not found:
            return None
        if len(found) > 1:
            raise self._error(
                f"{path} matched {len(found)} values ({_shown(found[:3])}), expected one number"
            )
        value = found[0]
        number = _as_number(value)
        if number is None:
            raise self._error(f"{path} matched {_shown(value)}, expected a number")
        if math.isnan(number):
            return None
        if math.isinf(number):
            raise self._error(f"{path} matched {_shown(value)}, expected a finite number")
        return number

    def newest(self, path: str) -> datetime | None:
        """The newest of the times at `path`; None when it matches nothing or only null."""
        found = [self._time(path, v) for v in self._matches(path) if v is not None]
        return max(found) if found else None

    def _time(self, path: str, value: Any) -> datetime:
        number = _as_number(value)
        if number is None and isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                moment = None
            if moment is not None:
                return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if number is None or not math.isfinite(number):
            raise self._error(
                f"{path} matched {_shown(value)}, expected a time: ISO 8601 or Unix seconds "
                "or milliseconds"
            )
        since = (
            timedelta(milliseconds=number) if abs(number) >= _MS_FROM else timedelta(seconds=number)
        )
        return datetime.fromtimestamp(0, UTC) + since

    def count(self, path: str) -> int | None:
        number = self.number(path)
        if number is None:
            return None
        if number < 0 or number != int(number):
            raise self._error(f"{path} matched {number:g}, expected a count (a whole number ≥ 0)")
        return int(number)
