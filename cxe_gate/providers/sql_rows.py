"""A criterion's own SQL query as the sql provider runs it: the columns its row may hold for each
metric, and that row read into a Measurement (the file provider's custom-query contract), with
errors that name the column and what was expected."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .. import metrics
from ..config import (
    ApdexCriterion,
    ConversionCriterion,
    CriterionBase,
    EngagementCriterion,
    ErrorRateCriterion,
    FeedbackCriterion,
    LatencyCriterion,
)
from ..measurement import Measurement
from .query_contract import COUNTS, counts_problem, from_counts
from .sql_engines import Fail, Result

_COLUMNS = frozenset(
    {"value", "samples", "variance", "successes", "trials", *COUNTS["nps"], *COUNTS["apdex"]}
)


def contract(criterion: CriterionBase) -> str:
    """The columns a query for this criterion returns."""
    rate = "successes and trials"
    if isinstance(criterion, ConversionCriterion):
        return f"{rate} (units that completed the journey, of units that started it)"
    if isinstance(criterion, ErrorRateCriterion):
        return f"{rate} (failed requests, of requests)"
    if isinstance(criterion, ApdexCriterion):
        return "satisfied, tolerating and frustrated (counts of requests)"
    if isinstance(criterion, LatencyCriterion):
        return "value (milliseconds) and samples (requests)"
    if isinstance(criterion, FeedbackCriterion):
        if criterion.scale == "nps":
            return "promoters, passives and detractors (counts of answers)"
        if not criterion.is_share:
            return "value, samples and variance (the mean answer, answers, their variance)"
        low, high = criterion.good
        return f"{rate} ({low}-{high} answers, of answers)"
    if criterion.metric == "retention":
        return f"{rate} (users who came back, of the users first seen)"
    if isinstance(criterion, EngagementCriterion):
        if criterion.measure == "adoption":
            return f"{rate} (units that sent the event, of active units)"
        if criterion.measure == "active_users":
            return "value and samples (distinct users)"
        return "value, samples and variance (of the per-unit counts)"
    return "value (and optionally samples and variance), or successes and trials"


def _number(column: str, value: Any, fail: Fail) -> float | None:
    """A column's value as a float; None for NULL and NaN (no data)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        raise fail(f"column {column} is {shown} ({type(value).__name__}), expected a number")
    number = float(value)
    return None if math.isnan(number) else number


def _count(column: str, value: float | None, fail: Fail) -> int:
    if value is None:
        return 0
    if value < 0 or value != int(value):
        raise fail(f"column {column} is {value:g}, expected a count (a whole number ≥ 0)")
    return int(value)


def moment(column: str, value: Any, fail: Fail) -> datetime | None:
    """A column's time as an aware UTC datetime. Without a zone it is UTC (PostgreSQL's session
    runs in UTC); SQLite keeps times as ISO 8601 text."""
    if value is None:
        return None
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if not isinstance(moment, datetime):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        raise fail(
            f"column {column} is {shown} ({type(value).__name__}), expected a timestamp "
            "such as max(ts)"
        )
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def measurement(criterion: CriterionBase, result: Result, shown: str, fail: Fail) -> Measurement:
    """One window's row as a Measurement, the way the file provider reads a custom query. An
    optional data_end column (the time of the window's newest row) becomes its data_end."""
    columns = [c.lower() for c in result.columns]
    if "data_end" not in columns:
        return _values(criterion, result, shown, fail)
    at = columns.index("data_end")
    newest = moment("data_end", result.rows[0][at], fail) if result.rows else None
    rest = Result(
        [c for i, c in enumerate(result.columns) if i != at],
        [tuple(v for i, v in enumerate(row) if i != at) for row in result.rows],
    )
    return replace(_values(criterion, rest, shown, fail), data_end=newest)


def _values(criterion: CriterionBase, result: Result, shown: str, fail: Fail) -> Measurement:
    columns = [c.lower() for c in result.columns]
    unknown = [c for c in columns if c not in _COLUMNS]
    if unknown or not columns:
        raise fail(
            f"unexpected column(s) {', '.join(unknown) or '(none)'}; this criterion's query "
            f"returns {contract(criterion)}, and optionally data_end (its newest row's time)"
        )
    if len(result.rows) > 1:
        raise fail("the query returned more than one row; expected one row per window")
    if not result.rows:
        return Measurement(value=None, samples=0, query=shown)
    values = {c: _number(c, v, fail) for c, v in zip(columns, result.rows[0], strict=True)}
    details = {c: v for c, v in values.items() if v is not None}

    for kind, names in COUNTS.items():
        if not set(names) & set(columns):
            continue
        missing = [n for n in names if n not in columns]
        if missing:
            raise fail(f"give all of {', '.join(names)} (missing: {', '.join(missing)})")
        problem = counts_problem(kind, criterion)
        if problem:
            raise fail(f"{problem}; return {contract(criterion)}")
        return from_counts(kind, [_count(n, values[n], fail) for n in names], query=shown)

    if "successes" in columns or "trials" in columns:
        if not {"successes", "trials"} <= set(columns):
            raise fail("give both successes and trials")
        successes = _count("successes", values["successes"], fail)
        trials = _count("trials", values["trials"], fail)
        if successes > trials:
            raise fail(f"successes ({successes}) exceed trials ({trials})")
        return metrics.proportion(successes, trials, query=shown)

    if "value" not in columns:
        raise fail(f"no value column; this criterion's query returns {contract(criterion)}")
    value = values["value"]
    samples = _count("samples", values.get("samples"), fail) if "samples" in columns else 1
    if value is None or samples == 0:
        return Measurement(value=None, samples=0, details=details, query=shown)
    return Measurement(
        value=value, samples=samples, variance=values.get("variance"), details=details, query=shown
    )


def bound(params: dict[str, Any]) -> str:
    """The values bound to a query's parameters: `:end = '...', :start = '...'`."""
    return ", ".join(
        f":{name} = {value.isoformat() if isinstance(value, datetime) else value!r}"
        for name, value in sorted(params.items())
    )


def as_sent(sql: str, params: dict[str, Any]) -> str:
    """The query as sent: the SQL and, after it, the values bound to its parameters."""
    values = bound(params)
    return f"{sql.strip()}\n-- {values}" if values else sql.strip()
