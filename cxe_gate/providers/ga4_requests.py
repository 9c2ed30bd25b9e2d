"""The Data API's request bodies: the gate's windows in GA4's terms (whole days in the property's time
zone, narrowed to the hour with a `dateHour` filter or widened to whole days), as date ranges and
filters of runReport and runFunnelReport requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..measurement import TimeWindow
from .answers import provider_error
from .base import ProviderContext
from .days import (
    NOT_BEGUN,
    DaySpan,
    day_spans,
    is_midnight,
    local,
    read_hours,
    widening_details,
    widening_notes,
)
from .ga4_settings import Ga4Settings

# Funnel answers carry no time zone: the property's is read from the smallest core report. Fixed, so
# every criterion of an evaluation shares the one answer.
ZONE_PROBE: dict[str, Any] = {
    "dateRanges": [{"startDate": "yesterday", "endDate": "today"}],
    "metrics": [{"name": "activeUsers"}],
    "limit": 1,
}


@dataclass(frozen=True)
class Span:
    """One window as GA4 reads it: whole days, optionally narrowed to listed hours."""

    label: str
    first_day: date
    last_day: date  # inclusive, as GA4 reads date ranges; before first_day: not begun
    hours: tuple[str, ...] = ()  # dateHour values (YYYYMMDDHH); empty: the whole days
    details: dict[str, float] = field(default_factory=dict)  # hours added, or left to the release
    notes: tuple[str, ...] = ()  # why

    @classmethod
    def whole_days(cls, span: DaySpan) -> Span:
        return cls(span.window.label, span.first, span.last, (), span.details, span.notes)

    @property
    def begun(self) -> bool:
        return self.first_day <= self.last_day

    @property
    def days(self) -> list[date]:
        return [
            self.first_day + timedelta(days=n)
            for n in range((self.last_day - self.first_day).days + 1)
        ]

    def date_range(self) -> dict[str, str]:
        return {
            "startDate": self.first_day.isoformat(),
            "endDate": self.last_day.isoformat(),
            "name": self.label,
        }

    def restriction(self) -> dict[str, Any]:
        """A filter keeping only this window's hours (or days)."""
        if self.hours:
            return _in_list("dateHour", list(self.hours))
        return _in_list("date", [day.strftime("%Y%m%d") for day in self.days])


def spans(windows: list[TimeWindow], settings: Ga4Settings, context: ProviderContext) -> list[Span]:
    """Each window as GA4 reads it. Time both windows touch (a day when widened, else an hour)
    is read in the release window only; a window left with none of its own is an error."""
    name = settings.timezone
    zone = ZoneInfo(name)
    if settings.partial_days == "widen":
        days = day_spans(
            windows,
            name,
            service="GA4",
            provider=context.name,
            remedy=" (or use partial_days: hours, the default)",
        )
        return [Span.whole_days(days[w.label]) for w in windows]
    read = {w.label: _whole_hours(w, zone) for w in windows if w.end > w.start}
    release = read.get("release")
    found = []
    for window in windows:
        if window.label not in read:  # a release window that has not begun
            day = window.start.astimezone(zone).date()
            found.append(Span(window.label, day, day - timedelta(days=1), notes=(NOT_BEGUN,)))
            continue
        start, end = read[window.label]
        if release and window.label != "release" and start < release[1] and release[0] < end:
            start, end = (start, release[0]) if start < release[0] else (release[1], end)
            if end <= start:
                raise provider_error(
                    context,
                    f"the {window.label} window ({local(window.start, zone)} to "
                    f"{local(window.end, zone)}) falls within the release window's hours in "
                    f"{name}; GA4 counts whole hours at best, so give the {window.label} "
                    "window hours of its own",
                )
        found.append(_hour_span(window, start, end, zone))
    return found


def _whole_hours(window: TimeWindow, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The whole hours, in the property's time zone, that a window touches (in UTC)."""
    if is_midnight(window.start, zone) and is_midnight(window.end, zone):
        return window.start.astimezone(UTC), window.end.astimezone(UTC)
    # Step in UTC from the local hour's start: right across DST changes and half-hour zones.
    start = window.start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    end = start = start.astimezone(UTC)
    while end < window.end:
        end += timedelta(hours=1)
    return start, end


def _hour_span(window: TimeWindow, start: datetime, end: datetime, zone: ZoneInfo) -> Span:
    """A window read from `start` to `end` (whole hours): as date ranges when those are whole days,
    else narrowed by a dateHour filter."""
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    hours: list[str] = []
    if not (is_midnight(start, zone) and is_midnight(end, zone)):
        moment = start
        while moment < end:
            text = moment.astimezone(zone).strftime("%Y%m%d%H")
            if text not in hours:
                hours.append(text)
            moment += timedelta(hours=1)
    added, left = read_hours(window, start, end)
    counted_as = f"whole hours in {zone.key} ({local(start, zone)} to {local(end, zone)})"
    return Span(
        window.label,
        start.astimezone(zone).date(),
        last_day,
        tuple(hours),
        widening_details(added, left),
        widening_notes(window, counted_as, added, left, grain="hour"),
    )


def groups(found: list[Span]) -> list[list[Span]]:
    """Which windows can share one runReport call: all of them when each reads whole days, or
    when their days are apart (a dateHour/date filter per window, OR-ed); else one call each."""
    if all(not s.hours for s in found):
        return [found]
    days = [set(s.days) for s in found]
    apart = all(not (a & b) for i, a in enumerate(days) for b in days[i + 1 :])
    return [found] if apart else [[s] for s in found]


def report_body(base: dict[str, Any], group: list[Span]) -> dict[str, Any]:
    """A runReport request: `base` (metrics, a dimensionFilter, …) over the group's windows."""
    body = {k: v for k, v in base.items() if k != "dimensionFilter"}
    body["dateRanges"] = [s.date_range() for s in group]
    restriction = _and(base.get("dimensionFilter"), _restriction(group))
    if restriction is not None:
        body["dimensionFilter"] = restriction
    body["returnPropertyQuota"] = True
    return body


def funnel_body(span: Span, steps: list[str]) -> dict[str, Any]:
    """A runFunnelReport request: a closed funnel of `steps` (event names) over one window."""
    body: dict[str, Any] = {
        "dateRanges": [span.date_range()],
        "funnel": {
            "isOpenFunnel": False,
            "steps": [
                {"name": step, "filterExpression": {"funnelEventFilter": {"eventName": step}}}
                for step in steps
            ],
        },
    }
    restriction = _restriction([span])
    if restriction is not None:
        body["dimensionFilter"] = restriction
    body["returnPropertyQuota"] = True
    return body


def event_filter(event: str) -> dict[str, Any]:
    return {
        "filter": {"fieldName": "eventName", "stringFilter": {"matchType": "EXACT", "value": event}}
    }


def _in_list(field_name: str, values: list[str]) -> dict[str, Any]:
    return {"filter": {"fieldName": field_name, "inListFilter": {"values": values}}}


def _restriction(group: list[Span]) -> dict[str, Any] | None:
    if all(not s.hours for s in group):
        return None  # whole days: the date ranges say it all
    if len(group) == 1:
        return group[0].restriction()
    return {"orGroup": {"expressions": [s.restriction() for s in group]}}


def _and(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict[str, Any] | None:
    if first is None or second is None:
        return first or second
    return {"andGroup": {"expressions": [first, second]}}
