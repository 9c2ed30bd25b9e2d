"""Deploy times as people write them: an ISO 8601 instant with its time of day and its zone
(`2026-11-17T14:00:00Z`, `2026-11-17 16:00:00.25+02:00`), read strictly because a guessed zone or
midnight would judge the wrong hours without anyone noticing."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone

# No deploy judged by cxe-gate happened before 2000: providers keep months of data, not decades. An
# earlier year is a typo or a zeroed timestamp (year 1, 1970), and year 1 would even overflow when
# the gate opens the baseline window in the hours before it.
EARLIEST_YEAR = 2000

EXAMPLE = "2026-11-17T14:00:00Z"
HINT = f"an ISO 8601 time such as {EXAMPLE} or 2026-11-17T16:00:00+02:00"

_MOMENT = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:(?:[Tt]|\s+)"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"\s*(?P<zone>[Zz]|(?P<sign>[+-])(?P<zone_hours>\d{2})(?::?(?P<zone_minutes>\d{2}))?)?"
    r")?",
    re.ASCII,
)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
# Numbers that read as seconds since 1970 between 2000 and 2100: worth suggesting what they mean.
_PLAUSIBLE_EPOCH_SECONDS = (946_684_800, 4_102_444_800)


def parse_deploy_time(value: object) -> datetime:
    """`"2026-11-17T16:00:00+02:00"` → that instant, keeping its offset. A date without a time, a
    time without a zone, a number, or a year before 2000 raises ValueError saying what to write."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(
                f"the datetime {value.isoformat()} has no zone; give it one, e.g. "
                "datetime(2026, 11, 17, 14, tzinfo=UTC)"
            )
        return _in_range(value, value.isoformat())
    if isinstance(value, date):
        raise ValueError(_no_time_of_day(value.isoformat()))
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected {HINT}, got {value!r}")
    if isinstance(value, int | float) or _NUMBER.fullmatch(value.strip()):
        raise ValueError(_a_number(value))
    text = value.strip()
    match = _MOMENT.fullmatch(text)
    if match is None:
        raise ValueError(f"expected {HINT}, got {value!r}")
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real date: {exc}") from None
    if day.year < EARLIEST_YEAR:
        raise ValueError(_too_early(text, day.year))
    if match["hour"] is None:
        raise ValueError(_no_time_of_day(text))
    if match["zone"] is None:
        raise ValueError(
            f"{text!r} has no zone; append Z if it is UTC ({text}Z), or the offset it was "
            f"written in, such as {text}+02:00"
        )
    zone = _zone(match, text)
    try:
        moment = datetime(
            day.year,
            day.month,
            day.day,
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            # Finer than microseconds (nanosecond clocks) is cut off: no window is that precise.
            int((match["fraction"] or "").ljust(6, "0")[:6]),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real time: {exc}") from None
    return _in_range(moment, text)


def _zone(match: re.Match[str], text: str) -> timezone:
    if match["zone"] in ("Z", "z"):
        return UTC
    hours, minutes = int(match["zone_hours"]), int(match["zone_minutes"] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(
            f"{text!r} has the offset {match['zone']}, which no zone has; offsets run from "
            "-23:59 to +23:59, e.g. +02:00"
        )
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if match["sign"] == "-" else offset)


def _in_range(moment: datetime, text: str) -> datetime:
    if moment.year < EARLIEST_YEAR:
        raise ValueError(_too_early(text, moment.year))
    try:
        moment.astimezone(UTC)  # 9999-12-31T23:00:00-05:00 is past the last representable time
    except OverflowError:
        raise ValueError(f"{text!r} is past the last time cxe-gate can count to") from None
    return moment


def _no_time_of_day(text: str) -> str:
    return (
        f"{text!r} is a date without a time of day; give the time of day and zone, "
        f"e.g. {text}T14:00:00Z"
    )


def _too_early(text: str, year: int) -> str:
    return (
        f"{text!r} is in the year {year}; a deploy time is in {EARLIEST_YEAR} or later. "
        f"Give the real deploy time, e.g. {EXAMPLE}"
    )


def _a_number(value: str | float) -> str:
    message = f"expected {HINT}, got the number {value!r}; a number is never read as a timestamp"
    try:
        seconds = float(value)
    except ValueError:  # pragma: no cover - only numbers reach here
        return message
    low, high = _PLAUSIBLE_EPOCH_SECONDS
    if math.isfinite(seconds) and low <= seconds < high:
        moment = datetime.fromtimestamp(int(seconds), UTC)
        message += (
            f" (if it is seconds since 1970, write {moment.isoformat().replace('+00:00', 'Z')})"
        )
    return message
