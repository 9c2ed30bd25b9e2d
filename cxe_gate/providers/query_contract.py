"""What a criterion's own query is given and may give back, for the providers that run it as written
(sql, http): the values it may use besides the window's bounds, and the counts that make a score."""

from __future__ import annotations

from .. import metrics
from ..config import (
    ApdexCriterion,
    CriterionBase,
    EngagementCriterion,
    FeedbackCriterion,
    LatencyCriterion,
)
from ..measurement import Measurement

# Counts a query may return instead of a value: the gate computes the score and its variance.
COUNTS = {
    "nps": ("promoters", "passives", "detractors"),
    "apdex": ("satisfied", "tolerating", "frustrated"),
}
_COUNTED = {"nps": "metric: feedback, scale: nps", "apdex": "metric: apdex"}


def parameters(criterion: CriterionBase) -> dict[str, float]:
    """What a criterion gives its query besides the window's start and end: its Apdex T in
    milliseconds (`t_ms`) or its percentile (`percentile`, e.g. 95)."""
    if isinstance(criterion, ApdexCriterion):
        return {"t_ms": criterion.t.total_seconds() * 1000}
    if isinstance(criterion, LatencyCriterion):
        return {"percentile": criterion.percentile}
    return {}


def takes_successes(criterion: CriterionBase) -> bool:
    """Whether a query may give successes (of trials) for this criterion: its value is a rate (a
    custom metric's may be) or a share of units."""
    if criterion.metric in ("conversion", "error_rate", "retention", "custom"):
        return True
    if isinstance(criterion, FeedbackCriterion):
        return criterion.is_share  # csat, ces, a scale of its own: a share of good answers
    return isinstance(criterion, EngagementCriterion) and criterion.measure == "adoption"


def counts_problem(kind: str, criterion: CriterionBase) -> str | None:
    """Why `kind`'s counts cannot measure this criterion; None when they can."""
    if kind == "nps":
        fits = isinstance(criterion, FeedbackCriterion) and criterion.scale == "nps"
    else:
        fits = isinstance(criterion, ApdexCriterion)
    return None if fits else f"{', '.join(COUNTS[kind])} are for {_COUNTED[kind]}"


def from_counts(kind: str, counts: list[int], *, query: str) -> Measurement:
    """The NPS or Apdex of `kind`'s counts, in the order COUNTS names them."""
    build = metrics.nps if kind == "nps" else metrics.apdex
    return build(*counts, query=query)
