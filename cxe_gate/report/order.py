"""The order every report lists criteria in: what needs attention first (error, fail, warn,
inconclusive, pass), the criteria file's order within a verdict."""

from __future__ import annotations

from ..results import CriterionResult, Verdict

ATTENTION = (Verdict.ERROR, Verdict.FAIL, Verdict.WARN, Verdict.INCONCLUSIVE, Verdict.PASS)
_RANK = {verdict: rank for rank, verdict in enumerate(ATTENTION)}


def by_attention(criteria: list[CriterionResult]) -> list[CriterionResult]:
    # sorted() is stable: the file's order holds within a verdict.
    return sorted(criteria, key=lambda c: _RANK[c.verdict])


def warn_only(criterion: CriterionResult) -> bool:
    """A criterion of severity warn: it can warn the release, never fail it."""
    return criterion.severity == "warn"
