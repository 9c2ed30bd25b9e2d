"""How every report spells times, p-values, counts and thresholds, so the formats agree."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..measurement import format_value
from ..results import Check, CriterionResult, GateReport, Verdict


def checkpoint(report: GateReport) -> str | None:
    """`day1 (1d after the deploy)`, for a report judged at a checkpoint; else None."""
    c = report.checkpoint
    return None if c is None else f"{c.name} ({c.after} after the deploy)"


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


def policy(report: GateReport) -> str | None:
    """The score's meaning under `gate.policy: score` (None under any_fail, or in an older report
    that does not say)."""
    if report.policy != "score" or report.pass_score is None or report.warn_score is None:
        return None
    passing, warning = f"{report.pass_score:g}", f"{report.warn_score:g}"
    return f"policy score: pass at {passing} or more, warn from {warning}, fail below {warning}"


def query_groups(queries: dict[str, str]) -> list[tuple[str, str, bool]]:
    """The queries of a criterion, each told once: (title, query, varies). Windows that sent the
    very same text share it; windows whose queries differ only in numbers (their times, bound
    values) share the first, with `varies` set."""
    groups: dict[str, tuple[list[str], str, bool]] = {}
    for window, query in queries.items():
        shape = re.sub(r"\d+", "0", query)
        if shape not in groups:
            groups[shape] = ([window], query, False)
            continue
        windows, first, varies = groups[shape]
        groups[shape] = ([*windows, window], first, varies or query != first)
    return [(_title(windows), query, varies) for windows, query, varies in groups.values()]


def _title(windows: list[str]) -> str:
    if len(windows) == 1:
        return query_title(windows[0])
    named = f"{', '.join(windows[:-1])} and {windows[-1]}"
    return f"Query ({named} windows)"
