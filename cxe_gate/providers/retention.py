"""Retention's SQL, written once in DuckDB's dialect for the file provider and compiled by SQLGlot for
the sql provider: each window's cohort of users, and the share who came back in their follow-up.

The exact definition (docs/concepts/metrics.md, "Retention"): a user's first_seen is their first event ever (cohort
new; the cohort of a window is the users whose first event falls in it) or their first event in the
window (cohort active). Day-N retention counts those with any event in [first_seen + N x 24h,
first_seen + (N+1) x 24h); `within: D` those with a session, other than the first, starting in
(first_seen, first_seen + D]. Only users whose whole follow-up the data reach are counted; a window
whose last users' follow-up the data do not reach yet is not yet measurable. With checkpoints the
cohorts are those of the gate window at every checkpoint (cohort_windows)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from .. import metrics
from ..config.criteria import RetentionCriterion
from ..measurement import Measurement, TimeWindow
from .file_metrics import MetricQuery, Row, interval, window_label
from .file_tables import timestamp

# Events come at random moments: the newest lies a little before the data's true end even when
# nothing is missing (as cxe_gate.coverage.SLACK).
SLACK = timedelta(minutes=5)
# How far past the follow-up the query reads, to see whether the data reach its end: an event in
# the day after it says they do (a log with a silent day after the follow-up waits for more).
MARGIN = timedelta(days=1)
# The start of a new cohort's history: every event before the window is read, to know who is new.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cohort_windows(criterion: RetentionCriterion, windows: list[TimeWindow]) -> list[TimeWindow]:
    """The windows whose users make the cohorts. Without checkpoints, the windows as they are;
    with them (criterion.cohort_span), the release cohort is the gate window's wherever the
    checkpoint's window lies, a same-hours part or a concurrent cohort mirrors it, and a
    before/after baseline gives its last stretch as long as the release cohort's, nearest the
    deploy."""
    span = criterion.cohort_span
    if span is None:
        return windows
    length = span.end - span.start
    placed = []
    for window in windows:
        if window.label == "baseline" and window.cohort is None:
            placed.append(replace(window, start=max(window.start, window.end - length)))
        else:
            # each of these windows starts where the release window does, less its lag
            start = window.start + span.start
            placed.append(replace(window, start=start, end=start + length))
    return placed


def reach(criterion: RetentionCriterion, windows: list[TimeWindow]) -> tuple[datetime, datetime]:
    """The span of events the query reads: the whole history before the cohorts' windows (cohort
    new) or their start (active), to the last one's end, its follow-up and MARGIN."""
    windows = cohort_windows(criterion, windows)
    start = EPOCH if criterion.cohort == "new" else min(w.start for w in windows)
    return start, max(w.end for w in windows) + criterion.follow_up[1] + MARGIN


def measurable_from(criterion: RetentionCriterion, window: TimeWindow) -> datetime:
    """When the follow-up of the window's last user ends: the data must reach it."""
    return window.end + criterion.follow_up[1]


def _moment(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def retention(
    criterion: RetentionCriterion, windows: list[TimeWindow], condition: str | None
) -> MetricQuery:
    """The criterion's query over `events`, narrowed by its checked filter (`condition`,
    parenthesised): a row per window of (users counted, users who came back, users in the
    cohort, the newest event read, the window's label)."""
    start, end = reach(criterion, windows)
    windows = cohort_windows(criterion, windows)
    where = f"ts >= {timestamp(start)} AND ts < {timestamp(end)}"
    rows = f"SELECT *, {window_label(windows)} AS win FROM events WHERE {where}" + (
        f" AND {condition}" if condition else ""
    )
    session = "session_id" if criterion.within is not None else "NULL"
    parts = [
        f"e AS (SELECT user_id AS unit, ts, {session} AS session, win FROM ({rows}) AS scoped "
        "WHERE user_id IS NOT NULL)",
        # how far the data reach, whatever the filter: the log's end is the log's
        f"n AS (SELECT max(ts) AS newest FROM events WHERE {where})",
    ]
    if criterion.cohort == "new":
        parts += [
            "f AS (SELECT unit, min(ts) AS first_seen FROM e GROUP BY unit)",
            "c AS (SELECT e.win AS win, e.unit AS unit, min(e.ts) AS first_seen FROM e "
            "JOIN f ON e.unit = f.unit AND e.ts = f.first_seen WHERE e.win IS NOT NULL "
            "GROUP BY e.win, e.unit)",
        ]
    else:
        parts.append(
            "c AS (SELECT win, unit, min(ts) AS first_seen FROM e WHERE win IS NOT NULL "
            "GROUP BY win, unit)"
        )
    low, high = criterion.follow_up
    if criterion.day is not None:
        parts.append(
            "b AS (SELECT c.win AS win, c.unit AS unit FROM c JOIN e ON e.unit = c.unit "
            f"AND e.ts >= c.first_seen + {interval(low)} "
            f"AND e.ts < c.first_seen + {interval(high)} GROUP BY c.win, c.unit)"
        )
    else:
        # Sessions by their first event: the first session starts at first_seen, so a session
        # starting after it is a return, however long the first one lasted.
        parts += [
            "s AS (SELECT unit, session, min(ts) AS started FROM e WHERE session IS NOT NULL "
            "GROUP BY unit, session)",
            "b AS (SELECT c.win AS win, c.unit AS unit FROM c JOIN s ON s.unit = c.unit "
            f"AND s.started > c.first_seen AND s.started <= c.first_seen + {interval(high)} "
            "GROUP BY c.win, c.unit)",
        ]
    covered = f"c.first_seen + {interval(high)} <= n.newest"
    sql = (
        f"WITH {', '.join(parts)} "
        f"SELECT c.win, count(*) FILTER (WHERE {covered}), "
        f"count(b.unit) FILTER (WHERE {covered}), count(*), max(n.newest), min(c.win) AS label "
        "FROM c CROSS JOIN n LEFT JOIN b ON b.win = c.win AND b.unit = c.unit GROUP BY c.win"
    )
    by_label = {w.label: w for w in windows}

    def build(row: Row | None, query: str) -> Measurement:
        if row is None:  # nobody in the cohort
            return metrics.proportion(0, 0, query=query, details={"users": 0})
        counted, returned, users, newest_value, label = row
        newest = _moment(newest_value)
        window = by_label[label]
        due = measurable_from(criterion, window)
        details = {"users": users, "counted": counted, "returned": returned}
        if newest is None or newest + SLACK < due:
            reached = "no events" if newest is None else f"the data reach {_utc(newest)}"
            return metrics.not_yet(
                f"the {criterion.described} of the {window.label} window's users is known "
                f"once the events reach {_utc(due)}; {reached}",
                query=query,
                details=details,
            )
        measured = metrics.proportion(returned, counted, query=query, details=details)
        if criterion.cohort_span is None:
            return measured
        cohort = f"the cohort: users first seen {_utc(window.start)} to {_utc(window.end)}"
        return replace(measured, notes=(*measured.notes, cohort))

    return MetricQuery("events", sql, build)
