"""Day-N retention of new users from Mixpanel's Query API (`GET /api/query/retention`, birth
retention): what a criterion may ask of it, the request, and each window's users read from the answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .. import metrics
from ..config import Problems
from ..config.criteria import RetentionCriterion
from ..measurement import Measurement, TimeWindow
from .analytics import QueryKeys, read_count, snippet
from .answers import provider_error
from .base import ProviderContext
from .days import DaySpan
from .retention import cohort_windows

RETENTION = "/api/query/retention"
WITHOUT = "the file or sql provider, which read the events themselves"


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


RETENTION_KEYS = QueryKeys(
    "Mixpanel retention",
    {
        "born_event": (_text, "the name of the event each user sends first, once"),
        "born_where": (_text, 'a segmentation expression such as properties["$os"] == "iOS"'),
    },
    '{born_where: \'properties["$os"] == "iOS"\'}',
)


def retention_problems(criterion: RetentionCriterion, first_event: str | None) -> Problems:
    """What Mixpanel's retention query cannot answer exactly as the gate defines retention."""
    problems: Problems = []
    if criterion.within is not None:
        # Its answer is per interval: users back in interval 1 and in interval 3 cannot be
        # united into "came back at all", and the API knows no sessions.
        problems.append(
            (
                ("within",),
                "Mixpanel's retention query counts returns per 24-hour interval and knows no "
                "sessions, so it cannot tell who came back at all within a span; use day: N "
                f"(day-N retention), or read `within` from {WITHOUT}",
            )
        )
    if criterion.cohort == "active":
        problems.append(
            (
                ("cohort",),
                "Mixpanel's recurring (compounded) retention starts again at every event, not "
                "at each user's first event in the window; use cohort: new, or read cohort: "
                f"active from {WITHOUT}",
            )
        )
    raw = criterion.query if isinstance(criterion.query, Mapping) else {}
    if not (raw.get("born_event") or first_event):
        problems.append(
            (
                ("metric",),
                "Mixpanel's birth retention needs the event that makes a user new: set "
                "first_event on the mixpanel provider (the event each user sends once, first, "
                "e.g. $ae_first_open) or query: {born_event: <event>} here",
            )
        )
    return problems + RETENTION_KEYS.problems(criterion.query)


def day_cohort_windows(
    criterion: RetentionCriterion, windows: list[TimeWindow]
) -> list[TimeWindow]:
    """The cohorts' windows (retention.cohort_windows), except that a before/after baseline keeps
    its whole window: Mixpanel widens the release cohort to the deploy's whole day, on which the
    baseline's last hours before the deploy also fall (day_spans gives that day to the release)."""
    return [
        window if window.label == "baseline" and window.cohort is None else placed
        for window, placed in zip(windows, cohort_windows(criterion, windows), strict=True)
    ]


def retention_params(
    criterion: RetentionCriterion, first_event: str | None, first: date, last: date
) -> list[tuple[str, str]]:
    """Birth retention of users born on `first`..`last`, counted in interval N = day N. Neither
    `unit` nor `interval` is sent: only then do Mixpanel's docs promise each user 24 hours per
    interval, from their own born event (the gate's day N); `unit=day` is not documented so."""
    assert criterion.day is not None  # retention_problems refused `within`
    raw = criterion.query if isinstance(criterion.query, Mapping) else {}
    born = str(raw.get("born_event") or first_event)
    params = [
        ("retention_type", "birth"),
        ("born_event", born),
        ("from_date", first.isoformat()),
        ("to_date", last.isoformat()),
        ("interval_count", str(criterion.day + 1)),  # intervals 0..N
    ]
    if "born_where" in raw:
        params.append(("born_where", str(raw["born_where"])))
    return params


@dataclass(frozen=True)
class Cohort:
    """One day's born users (`first`) and, per interval from their born event, those who came back."""

    first: int
    counts: tuple[int | None, ...]


def read_cohorts(context: ProviderContext, body: Any, query: str) -> dict[date, Cohort]:
    """The answer's cohorts by day: `{"2026-11-23": {"first": 10, "counts": [9, 7]}, ...}`."""
    if not isinstance(body, dict):
        raise provider_error(
            context,
            f"retention: expected a JSON object of cohort days, got {snippet(body)}",
            query,
        )
    cohorts: dict[date, Cohort] = {}
    for key, entry in body.items():
        try:
            day = date.fromisoformat(str(key)[:10])
        except ValueError:
            raise provider_error(
                context, f"retention: expected a yyyy-mm-dd cohort day, got {key!r}", query
            ) from None
        if not isinstance(entry, dict) or "first" not in entry:
            raise provider_error(
                context,
                f"retention: expected {key} as {{first: users, counts: [...]}}, got "
                f"{snippet(entry)}",
                query,
            )
        counts = entry.get("counts") or []
        if not isinstance(counts, list):
            raise provider_error(
                context,
                f"retention: expected {key}.counts as a list of users per interval, got "
                f"{snippet(counts)}",
                query,
            )
        born = read_count(context, entry["first"], f"retention: {key}.first", query) or 0
        back = tuple(
            read_count(context, v, f"retention: {key}.counts[{i}]", query)
            for i, v in enumerate(counts)
        )
        if any(n is not None and n > born for n in back):
            raise provider_error(
                context,
                f"retention: {key} has {max(n or 0 for n in back)} users back in an interval but "
                f"only {born} born that day (counts should never exceed first)",
                query,
            )
        cohorts[day] = Cohort(born, back)
    return cohorts


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def cohort_measurement(
    criterion: RetentionCriterion,
    span: DaySpan,
    cohorts: Mapping[date, Cohort],
    *,
    born_event: str,
    as_of: datetime,
    query: str,
) -> Measurement:
    """Day-N retention of the users born on the span's days: users of different days are different
    users (each is born once), so cohorts add up. Not yet measurable until the last-born user's
    day N has ended by `as_of` (the end of the window judged), or while Mixpanel lacks interval N."""
    assert criterion.day is not None
    n = criterion.day
    mine = {day: c for day, c in cohorts.items() if day in span}
    users = sum(c.first for c in mine.values())
    due = span.end.astimezone(UTC) + timedelta(days=n + 1)
    details: dict[str, float] = {"users": users}
    what = f"the {criterion.described} of the {span.window.label} window's users"
    if due > as_of:
        return metrics.not_yet(
            f"{what} (born {span.period}, {span.zone.key}) is known once their day {n} has "
            f"ended, at {_utc(due)}; the gate is judged as of {_utc(as_of)}",
            query=query,
            details=details,
        )
    missing = sorted(
        d for d, c in mine.items() if c.first and (len(c.counts) <= n or c.counts[n] is None)
    )
    if missing:
        return metrics.not_yet(
            f"{what}: Mixpanel's answer has no day-{n} count yet for the users born on "
            f"{missing[0]}",
            query=query,
            details=details,
        )
    returned = sum(c.counts[n] or 0 for c in mine.values() if c.first)
    measured = metrics.proportion(
        returned, users, query=query, details={**details, "returned": returned}
    )
    definition = (
        f"Mixpanel birth retention: the cohort is the users whose first {born_event} falls on "
        f"{span.period} ({span.zone.key}); day {n} is any event {24 * n} to {24 * (n + 1)} hours "
        "after it"
    )
    return replace(measured, notes=(*measured.notes, definition))
