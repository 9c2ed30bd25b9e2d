"""Whole days in a project's time zone, as analytics services count them: each window widened to the
days it touches, and one rule for time both windows touch: it is counted in the release window only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ProviderError
from ..measurement import Measurement, TimeWindow

NOT_BEGUN = "the window has not begun; nothing was counted"


def time_zone(name: str) -> str:
    """Validator: an IANA time zone name."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; expected an IANA name such as UTC or Europe/Paris "
            "(the project's time zone, set in the service's project settings)"
        ) from None
    return name


def local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def is_midnight(moment: datetime, zone: ZoneInfo) -> bool:
    return moment.astimezone(zone).time() == time()


def read_hours(window: TimeWindow, start: datetime, end: datetime) -> tuple[float, float]:
    """For a window read as `start` to `end`: the hours read outside it, and the hours of it left
    unread (left to the release window)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)  # a DST day lasts 23 or 25 hours
    shared = max(timedelta(0), min(window.end, end) - max(window.start, start))
    added = (end - start - shared).total_seconds() / 3600
    left = (window.end - window.start - shared).total_seconds() / 3600
    return round(added, 2), round(left, 2)


def _hours(n: float) -> str:
    return f"{n:g} hour" if n == 1 else f"{n:g} hours"


def widening_details(added: float, left: float) -> dict[str, float]:
    """The hours behind the notes, next to the counts."""
    details: dict[str, float] = {}
    if added > 0:
        details["hours added"] = added
    if left > 0:
        details["hours left to the release window"] = left
    return details


def widening_notes(
    window: TimeWindow, counted_as: str, added: float, left: float, *, grain: str = "day"
) -> tuple[str, ...]:
    """What a reader should know about a window read at a service's grain (`counted_as`: "whole
    days in UTC (2026-11-23)")."""
    notes = []
    if added > 0:
        verb = "is" if added == 1 else "are"
        notes.append(
            f"counted as {counted_as}: {_hours(added)} outside the {window.hours:g}-hour window "
            f"{verb} included"
        )
    if left > 0:
        notes.append(
            f"{_hours(left)} of the window fall on {'an' if grain == 'hour' else 'a'} {grain} the "
            "release window also touches; they are counted there only"
        )
    return tuple(notes)


@dataclass(frozen=True)
class DaySpan:
    """A window as a day-granular service counts it: the whole days, in the project's time zone, that
    the window touches, less any day it shares with the release window (counted there only)."""

    window: TimeWindow
    first: date
    last: date  # inclusive; before `first` when the window holds no day
    zone: ZoneInfo
    ceded: bool = False  # gave a shared day to the release window

    @property
    def days(self) -> int:
        return max(0, (self.last - self.first).days + 1)

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone)

    @property
    def seconds(self) -> int:
        # In UTC: a day on which the clocks change lasts 23 or 25 hours.
        return round((self.end.astimezone(UTC) - self.start.astimezone(UTC)).total_seconds())

    @property
    def widened(self) -> bool:
        return self.start != self.window.start or self.end != self.window.end

    @property
    def period(self) -> str:
        return str(self.first) if self.days == 1 else f"{self.first} to {self.last}"

    @property
    def details(self) -> dict[str, float]:
        if not self.days or not self.widened:
            return {}
        return widening_details(*read_hours(self.window, self.start, self.end))

    @property
    def notes(self) -> tuple[str, ...]:
        if not self.days:
            return (NOT_BEGUN,)
        if not self.widened:
            return ()
        counted_as = f"whole days in {self.zone.key} ({self.period})"
        return widening_notes(
            self.window, counted_as, *read_hours(self.window, self.start, self.end)
        )

    def note(self) -> str:
        """One line for the query text: which days were counted, and why."""
        if not self.days:
            return f"# the {self.window.label} window has not begun: nothing was asked"
        text = f"# whole days in {self.zone.key}: {self.period}"
        if self.widened:
            text += (
                f" (the {self.window.label} window {local(self.window.start, self.zone)} to "
                f"{local(self.window.end, self.zone)} widened to whole days"
            )
            text += (
                "; a day shared with the release window counts there only)" if self.ceded else ")"
            )
        return text


def day_spans(
    windows: Sequence[TimeWindow],
    zone_name: str,
    *,
    service: str,
    provider: str,
    remedy: str = "",
) -> dict[str, DaySpan]:
    """Each window's whole days. A day both windows touch goes to the release window alone, so the
    two never count the same events; a window left without a day is a mistake the user must fix."""
    zone = ZoneInfo(zone_name)

    def touched(window: TimeWindow) -> tuple[date, date]:
        last = (window.end - timedelta(microseconds=1)).astimezone(zone).date()
        return window.start.astimezone(zone).date(), last

    release = next((w for w in windows if w.label == "release" and w.end > w.start), None)
    taken = touched(release) if release else None
    spans: dict[str, DaySpan] = {}
    for window in windows:
        if window.end <= window.start:  # a release window that has not begun
            first = window.start.astimezone(zone).date()
            spans[window.label] = DaySpan(window, first, first - timedelta(days=1), zone)
            continue
        first, last = touched(window)
        ceded = False
        if window is not release and taken and first <= taken[1] and taken[0] <= last:
            if first < taken[0]:
                last = taken[0] - timedelta(days=1)
            elif last > taken[1]:
                first = taken[1] + timedelta(days=1)
            else:
                raise ProviderError(
                    f"the {window.label} window ({local(window.start, zone)} to "
                    f"{local(window.end, zone)}) falls on the release window's day(s) in "
                    f"{zone.key}; {service} counts whole days, so give the {window.label} window "
                    "days of its own, e.g. baseline: {start: -48h, end: -24h}" + remedy,
                    provider=provider,
                )
            ceded = True
        spans[window.label] = DaySpan(window, first, last, zone, ceded)
    return spans


class Counted(Protocol):
    """How a window was counted: the hours added or left to the release window, and why."""

    @property
    def details(self) -> dict[str, float]: ...

    @property
    def notes(self) -> tuple[str, ...]: ...


def with_spans(
    measurements: Mapping[str, Measurement], spans: Mapping[str, Counted]
) -> dict[str, Measurement]:
    """Each window's measurement with how its time was counted: hours in the details, why in the
    notes."""
    return {
        label: replace(m, details=m.details | span.details, notes=m.notes + span.notes)
        if (span := spans.get(label)) is not None
        else m
        for label, m in measurements.items()
    }
