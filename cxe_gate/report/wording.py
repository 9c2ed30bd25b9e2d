"""How every report spells times, p-values, counts and thresholds, so the formats agree."""

from __future__ import annotations

from datetime import UTC, datetime

from ..measurement import format_value
from ..results import Check, CriterionResult, GateReport, Verdict


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


def score(report: GateReport, out_of: str = "") -> str:
    """The score as a headline shows it. A score over the decided criteria alone would read as
    "100" beside an error or an undecided release: there it is not given."""
    if report.score is None:
        return "n/a"
    if report.verdict in (Verdict.ERROR, Verdict.INCONCLUSIVE):
        decided = sum(
            1 for c in report.criteria if c.verdict not in (Verdict.ERROR, Verdict.INCONCLUSIVE)
        )
        return f"n/a ({decided} of {len(report.criteria)} criteria decided)"
    return f"{report.score:g}{out_of}"
