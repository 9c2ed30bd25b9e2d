"""The sql provider's built-in metrics: a criterion's metric query from file_metrics.py, over the
warehouse's tables (sql_tables.py), compiled to the database's dialect (sql_compile.py). One
statement per criterion answers a row of aggregates per window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlglot import exp

from ..config import (
    ApdexCriterion,
    ConversionCriterion,
    CriterionBase,
    ErrorRateCriterion,
    JourneySpec,
    LatencyCriterion,
)
from ..config.criteria import RetentionCriterion
from ..measurement import Measurement, TimeWindow
from . import file_metrics, retention
from .file_metrics import MetricQuery, Row, table_of
from .file_tables import Table, timestamp
from .sql_compile import CompileError, parse_metric, write
from .sql_dialects import PERCENTILES
from .sql_tables import CONDITION, Tables


@dataclass(frozen=True)
class Statement:
    """A criterion's compiled SQL: a row per window, its label first; `build` makes a window's
    measurement of its row (None: no rows) and the SQL."""

    sql: str
    table: Table
    build: Callable[[Row | None, str], Measurement]
    notes: tuple[str, ...] = ()


def statement(
    tables: Tables,
    criterion: CriterionBase,
    journey: JourneySpec | None,
    windows: list[TimeWindow],
    provider: str,
) -> Statement:
    """The criterion's metric over `windows` in `tables.dialect`. Raises CompileError when it
    cannot be written there (a column the table lacks, no percentile aggregate)."""
    conditions: dict[str, str] = {}
    if criterion.filter:
        conditions["filter"] = criterion.filter
    if isinstance(criterion, ErrorRateCriterion | ApdexCriterion):
        conditions["errors"] = criterion.errors
    # Each window's cohort condition is computed where the table's own columns are, by name.
    labelled = []
    for i, window in enumerate(windows):
        if window.cohort:
            conditions[f"cohort_{i}"] = window.cohort
        cohort = CONDITION.format(f"cohort_{i}") if window.cohort else None
        labelled.append(replace(window, cohort=cohort))
    query = _metric(criterion, journey, labelled, provider, "filter" in conditions)
    tree = parse_metric(query.sql)
    needed = {c.name for c in tree.find_all(exp.Column)} & set(tables.mapping(query.table))
    span = (
        retention.reach(criterion, windows)
        if isinstance(criterion, RetentionCriterion)
        else _span(windows)
    )
    source = tables.source(query.table, needed, conditions, span)
    for node in list(tree.find_all(exp.Table)):
        if node.name == query.table and not node.db:
            node.replace(source.subquery(query.table))
    notes: tuple[str, ...] = ()
    if isinstance(criterion, LatencyCriterion):
        percentile = PERCENTILES.get(tables.dialect)
        note = percentile.note(tables.dialect) if percentile else None
        notes = (note,) if note else ()
    return Statement(write(tree, tables.dialect), query.table, query.build, notes)


def newest(tables: Tables, table: Table, windows: list[TimeWindow]) -> str:
    """Per window, the time of the table's newest row in it, whatever a criterion's filter or
    cohort (as the file provider's data_ends): one statement per table."""
    ends = ", ".join(
        f"max(ts) FILTER (WHERE ts >= {timestamp(w.start)} AND ts < {timestamp(w.end)})"
        for w in windows
    )
    tree = parse_metric(f"SELECT {ends} FROM {table}")
    source = tables.source(table, {"ts"}, {}, _span(windows))
    for node in list(tree.find_all(exp.Table)):
        node.replace(source.subquery(table))
    return write(tree, tables.dialect)


def _span(windows: list[TimeWindow]) -> tuple[datetime, datetime]:
    return min(w.start for w in windows), max(w.end for w in windows)


def _metric(
    criterion: CriterionBase,
    journey: JourneySpec | None,
    windows: list[TimeWindow],
    provider: str,
    filtered: bool,
) -> MetricQuery:
    """file_metrics' query for the criterion, over its table by its canonical name; the filter,
    error rule and cohorts stand as columns the innermost query computes."""
    table = table_of(criterion)
    if table is None:
        raise CompileError("a custom metric runs its own query: give `query`")
    if isinstance(criterion, ConversionCriterion) and journey is None:
        raise CompileError(f"criterion {criterion.name!r} names no journey")
    condition = CONDITION.format("filter") if filtered else None
    if isinstance(criterion, RetentionCriterion):  # reads events before and after the windows
        return retention.retention(criterion, windows, condition)
    rows = file_metrics.scoped(table, windows, condition)
    return file_metrics.metric_query(criterion, journey, rows, CONDITION.format("errors"), provider)
