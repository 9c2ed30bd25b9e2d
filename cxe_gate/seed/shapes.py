"""Checking a JSON answer against the shape recorded for its route: a JSON Schema as genson infers
it (types, properties, required keys, items, anyOf). Values are never compared: they change."""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


def shape_problems(shape: dict[str, Any], value: Any, where: str = "$") -> list[str]:
    """What in `value` does not fit `shape`, one plain sentence each (empty: it fits)."""
    if "anyOf" in shape:
        options = [shape_problems(option, value, where) for option in shape["anyOf"]]
        return [] if any(not o for o in options) else min(options, key=len)
    problems: list[str] = []
    expected = shape.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES.get(n, lambda v: True)(value) for n in names):
            return [f"{where} is {_type_name(value)}, recorded as {' or '.join(names)}"]
    if isinstance(value, dict):
        for key in shape.get("required", []):
            if key not in value:
                problems.append(f"{where} has no `{key}` (every recorded answer had it)")
        for key, inner in shape.get("properties", {}).items():
            if key in value:
                problems.extend(shape_problems(inner, value[key], f"{where}.{key}"))
    elif isinstance(value, list):
        items = shape.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                found = shape_problems(items, item, f"{where}[{i}]")
                if found:
                    problems.extend(found)
                    break  # one broken item says enough
        elif isinstance(items, list):
            for i, (inner, item) in enumerate(zip(items, value, strict=False)):
                problems.extend(shape_problems(inner, item, f"{where}[{i}]"))
    return problems
