"""The `file` provider's per-interval series: the metric's own query over each window's intervals,
in one more scan of the table the main query already prepared."""

from __future__ import annotations

from collections.abc import Callable

from ..config import CriterionBase
from ..measurement import Point, TimeWindow
from .file_metrics import MetricQuery
from .file_tables import FileTables
from .series import intervals, points


def file_series(
    query_for: Callable[[list[TimeWindow]], MetricQuery],
    tables: FileTables,
    criterion: CriterionBase,
    windows: list[TimeWindow],
) -> dict[str, tuple[Point, ...]]:
    """Per window, its intervals' values; `query_for(windows)` writes the metric's query."""
    cut = intervals(windows)
    query = query_for(cut)
    rows = tables.rows(query.table, query.sql, cut, criterion)
    return points(windows, lambda label: query.build(rows.get(label), query.sql))
