"""The `sql` provider's per-interval series: the built-in metric compiled over each window's
intervals, one more statement per criterion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import CriterionBase, JourneySpec
from ..measurement import Point, TimeWindow
from .series import intervals, points
from .sql_engines import Fail, Result
from .sql_metrics import statement
from .sql_tables import Tables

Send = Callable[..., tuple[Result, Fail]]


def sql_series(
    send: Send,
    tables: Tables,
    criterion: CriterionBase,
    journey: JourneySpec | None,
    windows: list[TimeWindow],
    provider: str,
) -> dict[str, tuple[Point, ...]]:
    """Per window, its intervals' values; `send(sql, params, shown, rows=)` runs the statement."""
    cut = intervals(windows)
    compiled = statement(tables, criterion, journey, cut, provider)
    answer, _ = send(compiled.sql, {}, compiled.sql, rows=len(cut) + 1)
    rows: dict[str, Any] = {row[0]: tuple(row[1:]) for row in answer.rows if row[0] is not None}
    return points(windows, lambda label: compiled.build(rows.get(label), compiled.sql))
