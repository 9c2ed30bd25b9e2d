"""The metric SQL, written once: per metric kind, one query that labels rows by window, so both
windows come from a single scan, and the measurement each window's row gives. Written in DuckDB's
dialect for the `file` provider, in the plain SQL SQLGlot carries to every warehouse for the `sql`
provider (sql_compile.py): aliased subqueries, FILTER clauses, no DuckDB-only functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .. import metrics
from ..config import (
    ApdexCriterion,
    ConversionCriterion,
    CriterionBase,
    EngagementCriterion,
    ErrorRateCriterion,
    FeedbackCriterion,
    JourneySpec,
    LatencyCriterion,
)
from ..config.criteria import RetentionCriterion
from ..errors import DataError
from ..measurement import Measurement, TimeWindow
from .file_tables import Table, span_of, sql_string, timestamp, utc

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of a metric's row, and the rows it counts (None: all of them)."""

    call: str
    where: str | None = None

    def narrowed(self, condition: str | None) -> Aggregate:
        """The same aggregate over only the rows where `condition` (checked, parenthesised) holds:
        a criterion's filter, when its aggregates share a scan with other criteria's."""
        if condition is None:
            return self
        return Aggregate(
            self.call, condition if self.where is None else f"{condition} AND ({self.where})"
        )

    def __str__(self) -> str:
        return self.call if self.where is None else f"{self.call} FILTER (WHERE {self.where})"


@dataclass(frozen=True)
class MetricQuery:
    """A metric's SQL over `table`: a row per window, its label first; `build` turns a window's
    row (None: the window had no rows) and the SQL into its measurement. `aggregates`, when
    given, are the row's columns after the label, the SQL being `grouped(aggregates, rows)`: such
    a metric can share one scan of its table with others (file_batch.py). `with_end`, when
    given, is the same query with each window's newest row of the table before the other columns:
    a query that reads every row of its windows anyway spares the table's own pass for the data
    end (FileTables.data_ends). DuckDB only: the `sql` provider does not read it."""

    table: Table
    sql: str
    build: Callable[[Row | None, str], Measurement]
    aggregates: tuple[Aggregate, ...] = ()
    with_end: str | None = None


def grouped(aggregates: tuple[Aggregate, ...], rows: str) -> str:
    """`aggregates` of `rows` (see `scoped`), a row per window."""
    columns = ", ".join(str(a) for a in aggregates)
    return f"SELECT win, {columns} FROM ({rows}) AS scoped GROUP BY win"


def table_of(criterion: CriterionBase) -> Table | None:
    """The table a built-in metric reads (None: a custom metric names its own)."""
    if isinstance(criterion, ConversionCriterion | EngagementCriterion | RetentionCriterion):
        return "events"
    if isinstance(criterion, ErrorRateCriterion | ApdexCriterion | LatencyCriterion):
        return "requests"
    if isinstance(criterion, FeedbackCriterion):
        return "feedback"
    return None


def scoped(table: Table, windows: list[TimeWindow], condition: str | None) -> str:
    """Rows of `table` in any window, labelled `win`, narrowed by the criterion's checked filter
    (`condition`, parenthesised)."""
    where = span_of(windows)
    if condition:
        where += f" AND {condition}"
    return f"SELECT *, {window_label(windows)} AS win FROM {table} WHERE {where}"


def window_label(windows: list[TimeWindow]) -> str:
    """A CASE expression naming each row's window. Windows do not overlap in time (the config
    guarantees it), except concurrent cohorts, which their conditions tell apart."""
    whens = " ".join(
        f"WHEN ts >= {timestamp(w.start)} AND ts < {timestamp(w.end)}"
        + (f" AND coalesce(({w.cohort}), false)" if w.cohort else "")
        + f" THEN {sql_string(w.label)}"
        for w in windows
    )
    return f"CASE {whens} END"


def interval(length: timedelta) -> str:
    """An INTERVAL literal: whole seconds where they are (every dialect writes those), else
    microseconds."""
    micros = round(length.total_seconds() * 1_000_000)
    if micros % 1_000_000 == 0:
        return f"INTERVAL '{micros // 1_000_000} seconds'"
    return f"INTERVAL '{micros} microseconds'"


def error_rate(rows: str, errors: str) -> MetricQuery:
    """Failed requests (`errors`, a checked condition) of all requests in `rows`."""
    aggregates = (Aggregate("count(*)"), Aggregate("count(*)", f"coalesce({errors}, false)"))

    def build(row: Row | None, query: str) -> Measurement:
        requests, errors = row or (0, 0)
        return metrics.proportion(
            errors, requests, query=query, details={"requests": requests, "errors": errors}
        )

    return MetricQuery("requests", grouped(aggregates, rows), build, aggregates)


def apdex(criterion: ApdexCriterion, rows: str, errors: str) -> MetricQuery:
    t = criterion.t.total_seconds() * 1000
    ok = f"NOT coalesce({errors}, false) AND duration_ms IS NOT NULL"
    aggregates = (
        Aggregate("count(*)", f"{ok} AND duration_ms <= {t!r}"),
        Aggregate("count(*)", f"{ok} AND duration_ms > {t!r} AND duration_ms <= {4 * t!r}"),
        Aggregate("count(*)"),
    )

    def build(row: Row | None, query: str) -> Measurement:
        satisfied, tolerating, total = row or (0, 0, 0)
        return metrics.apdex(satisfied, tolerating, total - satisfied - tolerating, query=query)

    return MetricQuery("requests", grouped(aggregates, rows), build, aggregates)


def latency(criterion: LatencyCriterion, rows: str) -> MetricQuery:
    fraction = criterion.percentile / 100
    aggregates = (
        Aggregate(f"quantile_cont(duration_ms, {fraction!r})"),
        Aggregate("count(duration_ms)"),
    )

    def build(row: Row | None, query: str) -> Measurement:
        none: Row = (None, 0)  # no rows: no requests
        value, samples = row or none
        return Measurement(
            value=None if not samples else float(value),
            samples=samples,
            details={"requests": samples},
            query=query,
        )

    return MetricQuery("requests", grouped(aggregates, rows), build, aggregates)


def feedback(criterion: FeedbackCriterion, rows: str, provider: str) -> MetricQuery:
    """NPS, or the share of good answers (CSAT, CES, a scale of its own), or the mean answer, of
    the survey answers in `rows`; a score off the scale fails as `provider`."""
    low, high = criterion.bounds
    valid = f"score BETWEEN {low} AND {high} AND score = floor(score)"
    counts: tuple[Aggregate, ...]
    if criterion.scale == "nps":
        counts = (
            Aggregate("count(*)", "score >= 9"),
            Aggregate("count(*)", "score BETWEEN 7 AND 8"),
            Aggregate("count(*)", "score <= 6"),
        )
    elif criterion.measure == "mean":
        counts = (
            Aggregate("count(*)", valid),
            Aggregate("avg(score)", valid),
            Aggregate("var_samp(score)", valid),
        )
    else:
        good_low, good_high = criterion.good
        counts = (
            Aggregate("count(*)", f"score BETWEEN {good_low} AND {good_high}"),
            Aggregate("count(*)"),
        )
    aggregates = (
        *counts,
        Aggregate("count(*)", f"score IS NOT NULL AND NOT ({valid})"),
        Aggregate("min(score)", f"NOT ({valid})"),
    )

    def build(row: Row | None, query: str) -> Measurement:
        if row is None:
            # no rows: no answers, in the shape of the counts
            none: Row = (
                (0, 0, 0)
                if criterion.scale == "nps"
                else (0, None, None)
                if criterion.measure == "mean"
                else (0, 0)
            )
            row = (*none, 0, None)
        *counts_, invalid, example = row
        if invalid:
            raise DataError(
                f"feedback: {invalid} {criterion.scale_name} scores are not whole numbers "
                f"from {low} to {high} (e.g. {example}); check criterion {criterion.name!r}'s "
                "filter selects only this survey's answers",
                provider=provider,
                query=query,
            )
        if criterion.scale == "nps":
            return metrics.nps(*counts_, query=query)
        if criterion.measure == "mean":
            return metrics.mean_answer(*counts_, query=query)
        return metrics.csat(*counts_, query=query)

    return MetricQuery("feedback", grouped(aggregates, rows), build, aggregates)


def engagement(criterion: EngagementCriterion, rows: str) -> MetricQuery:
    if criterion.measure == "active_users":
        users = (Aggregate("count(DISTINCT user_id)"),)

        def count_users(row: Row | None, query: str) -> Measurement:
            users = row[0] if row else 0
            return Measurement(
                value=float(users) if users else None,
                samples=users,
                details={"users": users},
                query=query,
            )

        return MetricQuery("events", grouped(users, rows), count_users, users)
    counted = f"event = {sql_string(criterion.event)}" if criterion.event else "true"
    unit = "user_id" if criterion.per_user else "session_id"
    sql = (
        f"WITH per_unit AS (SELECT win, {unit}, count(*) FILTER (WHERE {counted}) AS n "
        f"FROM ({rows}) AS scoped WHERE {unit} IS NOT NULL GROUP BY win, {unit}) "
        f"SELECT win, count(*), count(*) FILTER (WHERE n > 0), avg(n), coalesce(var_samp(n), 0) "
        f"FROM per_unit GROUP BY win"
    )
    # Unfiltered, the units' rows are all the window's rows: their newest is the log's data end.
    # Rows without a unit are kept (as one group) for that, and left out of every count.
    with_end = None
    if criterion.filter is None:
        known = f"{unit} IS NOT NULL"
        with_end = (
            f"WITH per_unit AS (SELECT win, {unit}, count(*) FILTER (WHERE {counted}) AS n, "
            f"max(ts) AS newest FROM ({rows}) AS scoped GROUP BY win, {unit}) "
            f"SELECT win, max(newest), count(*) FILTER (WHERE {known}), "
            f"count(*) FILTER (WHERE {known} AND n > 0), avg(n) FILTER (WHERE {known}), "
            f"coalesce(var_samp(n) FILTER (WHERE {known}), 0) FROM per_unit GROUP BY win"
        )
    word = "users" if criterion.per_user else "sessions"

    def build(row: Row | None, query: str) -> Measurement:
        none: Row = (0, 0, None, None)  # no rows: no units
        units, adopters, mean, variance = row or none
        if criterion.measure == "adoption":
            return metrics.proportion(
                adopters, units, query=query, details={word: units, "adopters": adopters}
            )
        if not units:
            return Measurement(value=None, samples=0, query=query)
        return Measurement(
            value=float(mean),
            samples=units,
            variance=float(variance),
            details={word: units},
            query=query,
        )

    return MetricQuery("events", sql, build, with_end=with_end)


def conversion(criterion: ConversionCriterion, journey: JourneySpec, rows: str) -> MetricQuery:
    unit = f"{criterion.unit or journey.unit}_id"
    steps = journey.steps
    names = ", ".join(sql_string(s) for s in steps)
    # Greedy earliest match of each step after the previous one: a unit has completed the steps
    # in order if and only if this chain reaches the last step. The first step's time (t0) is
    # carried along only for a time limit.
    timed = journey.within is not None
    parts = [
        f"e AS (SELECT win, {unit} AS unit, ts, event FROM ({rows}) AS scoped "
        f"WHERE event IN ({names}) AND {unit} IS NOT NULL)",
        f"s1 AS MATERIALIZED (SELECT win, unit, min(ts) AS t{', min(ts) AS t0' if timed else ''} "
        "FROM e "
        f"WHERE event = {sql_string(steps[0])} GROUP BY win, unit)",
    ]
    for k, step in enumerate(steps[1:], start=2):
        within = ""
        if journey.within is not None:
            within = f" AND e.ts <= p.t0 + {interval(journey.within)}"
        parts.append(
            f"s{k} AS MATERIALIZED (SELECT e.win, e.unit, min(e.ts) AS t"
            f"{', min(p.t0) AS t0' if timed else ''} "
            "FROM e "
            f"JOIN s{k - 1} p ON e.win = p.win AND e.unit = p.unit AND e.ts >= p.t{within} "
            f"WHERE e.event = {sql_string(step)} GROUP BY e.win, e.unit)"
        )
    # Each step's units are among the previous step's: a step's count is its rows, counted in one
    # pass over them all (joining each step back onto the first cost a hash join per step). Each
    # step is read twice (by the next step and by the count): MATERIALIZED keeps DuckDB from
    # computing it twice (1.38 -> 1.07 s on 10M events); sql_compile drops it for other engines.
    numbers = range(1, len(steps) + 1)
    counts = ", ".join(f"count(*) FILTER (WHERE step = {k})" for k in numbers)
    reached = " UNION ALL ".join(f"SELECT win, {k} AS step FROM s{k}" for k in numbers)
    sql = f"WITH {', '.join(parts)} SELECT win, {counts} FROM ({reached}) AS reached GROUP BY win"

    def build(row: Row | None, query: str) -> Measurement:
        reached = row or (0,) * len(steps)
        return metrics.proportion(
            reached[-1],
            reached[0],
            query=query,
            details={f"step {i + 1}: {s}": reached[i] for i, s in enumerate(steps)},
        )

    return MetricQuery("events", sql, build)


def metric_query(
    criterion: CriterionBase, journey: JourneySpec | None, rows: str, errors: str, provider: str
) -> MetricQuery:
    """The query of a built-in metric over `rows` (see `scoped`); `errors` is the checked error
    rule (parenthesised, or a column holding it), `provider` names who fails on bad scores."""
    if isinstance(criterion, ErrorRateCriterion):
        return error_rate(rows, errors)
    if isinstance(criterion, ApdexCriterion):
        return apdex(criterion, rows, errors)
    if isinstance(criterion, LatencyCriterion):
        return latency(criterion, rows)
    if isinstance(criterion, FeedbackCriterion):
        return feedback(criterion, rows, provider)
    if isinstance(criterion, EngagementCriterion):
        return engagement(criterion, rows)
    assert isinstance(criterion, ConversionCriterion) and journey is not None
    return conversion(criterion, journey, rows)


def custom_measurement(names: list[str], row: Row | None, query: str) -> Measurement:
    """What a custom query's row says: value (and samples), or successes and trials; and, when it
    returns one, data_end."""
    if "value" not in names and not {"successes", "trials"} <= set(names):
        raise DataError(
            "a custom query must return a column named value (and optionally samples), "
            "or successes and trials",
            provider="custom",
            query=query,
        )
    values = dict(zip(names, row, strict=True)) if row else {}
    newest = values.get("data_end")  # optional: the window's newest row, as for built-in metrics
    if newest is not None and not isinstance(newest, datetime):
        raise DataError(
            f"a custom query's data_end is {newest!r} ({type(newest).__name__}), expected a "
            "timestamp such as max(ts)",
            provider="custom",
            query=query,
        )
    if "successes" in values and "trials" in values:
        measured = metrics.proportion(
            int(values["successes"] or 0), int(values["trials"] or 0), query=query
        )
    else:
        value = values.get("value")
        samples = int(values.get("samples") or (1 if value is not None else 0))
        measured = Measurement(
            value=None if value is None else float(value), samples=samples, query=query
        )
    return replace(measured, data_end=utc(newest))
