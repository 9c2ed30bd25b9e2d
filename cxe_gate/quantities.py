"""Quantities as people write them in cxe.yml: durations (`30m`, `2h`, `7d`), percentages (`5%`) and
percentage points (`0.5pp`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_DURATION_UNITS_MS = {
    "ms": 1.0,
    "s": 1_000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
    "w": 604_800_000.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION = re.compile(r"^([+-])?((?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+)$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

DURATION_HINT = "a duration such as 500ms, 30m, 2h, 1h30m or 7d"


def parse_duration_ms(text: str) -> float:
    """`"1h30m"` → 5400000.0 milliseconds; a leading `-` gives a negative duration."""
    match = _DURATION.match(text.strip().replace(" ", ""))
    if not match:
        raise ValueError(f"expected {DURATION_HINT}, got {text!r}")
    total = sum(float(n) * _DURATION_UNITS_MS[unit] for n, unit in _DURATION_PART.findall(match[2]))
    return -total if match[1] == "-" else total


def to_timedelta(value: object) -> timedelta:
    """Validator for cxe.yml durations: strings with units, or a timedelta; bare numbers are refused
    because `2` could mean seconds, minutes or hours."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return timedelta(milliseconds=parse_duration_ms(value))
    if value == 0 and not isinstance(value, bool):
        return timedelta(0)
    raise ValueError(f"expected {DURATION_HINT}, got {value!r}")


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling: 2h, 90m, 1d, 500ms, -24h."""
    ms = round(delta.total_seconds() * 1000)
    if ms == 0:
        return "0m"
    sign, ms = ("-" if ms < 0 else ""), abs(ms)
    for unit in ("w", "d", "h", "m", "s", "ms"):
        size = _DURATION_UNITS_MS[unit]
        if ms % size == 0:
            return f"{sign}{int(ms // size)}{unit}"
    return f"{sign}{ms}ms"  # pragma: no cover - the loop always ends at ms


def is_duration_text(value: object) -> bool:
    return isinstance(value, str) and bool(_DURATION.match(value.strip().replace(" ", "")))


@dataclass(frozen=True)
class Change:
    """A largest allowed change: relative to the baseline (`5%`) or absolute (`1pp`, `100ms`, `3`)."""

    amount: float
    relative: bool

    def describe(self) -> str:
        if self.relative:
            return f"{self.amount * 100:g}%"
        return f"{self.amount:g}"


def parse_level(value: object) -> float:
    """An absolute bound: a number, `1%` (→ 0.01, for rates) or a duration (→ milliseconds)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, a percentage such as 1% or a duration, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%") and _NUMBER.match(text[:-1].strip()):
            return float(text[:-1]) / 100
        if _NUMBER.match(text):
            return float(text)
        if is_duration_text(text):
            return parse_duration_ms(text)
    raise ValueError(
        f"expected a number, a percentage such as 1% or a duration such as 800ms, got {value!r}"
    )


def parse_change(value: object) -> Change:
    """A largest allowed drop or rise: `5%` is relative to the baseline; `0.5pp` (percentage points),
    `100ms` or a plain number is an absolute difference in the metric's own unit."""
    if isinstance(value, Change):
        return value
    hint = (
        "expected a relative change such as 5%, or an absolute one such as 0.5pp, 100ms or 3, "
        f"got {value!r}"
    )
    if isinstance(value, bool):
        raise ValueError(hint)
    if isinstance(value, int | float):
        amount, relative = float(value), False
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("pp") and _NUMBER.match(text[:-2].strip()):
            amount, relative = float(text[:-2]) / 100, False
        elif text.endswith("%") and _NUMBER.match(text[:-1].strip()):
            amount, relative = float(text[:-1]) / 100, True
        elif _NUMBER.match(text):
            amount, relative = float(text), False
        elif is_duration_text(text):
            amount, relative = parse_duration_ms(text), False
        else:
            raise ValueError(hint)
    else:
        raise ValueError(hint)
    if amount < 0:
        raise ValueError(f"a change limit is a size and cannot be negative, got {value!r}")
    return Change(amount, relative)
