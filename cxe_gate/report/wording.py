"""How every report spells times, p-values, counts and thresholds, so the formats agree."""

from __future__ import annotations

from datetime import UTC, datetime

from ..measurement import format_value
from ..results import Check, CriterionResult


def utc_time(moment: datetime) -> str:
    # Naive times come from the core as UTC; aware ones are shown in UTC so windows line up.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def count(number: float) -> str:
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,.4g}"


def threshold(c: CriterionResult | Check, unit: str) -> str:
    return "—" if c.threshold is None else format_value(c.threshold, unit)


def query_title(window: str) -> str:
    # A provider error carries its query under "query", not under a window's label.
    return "Query" if window == "query" else f"{window.capitalize()} query"
