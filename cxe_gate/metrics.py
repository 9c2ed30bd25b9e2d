"""Exact metric definitions, from counts to a Measurement. Every provider that gets counts (rather than
a finished number) goes through these, so the gate means the same thing whatever the source."""

from __future__ import annotations

from .measurement import Measurement


def _empty(query: str | None, details: dict[str, float]) -> Measurement:
    return Measurement(value=None, samples=0, details=details, query=query)


def proportion(
    successes: int,
    trials: int,
    *,
    query: str | None = None,
    details: dict[str, float] | None = None,
) -> Measurement:
    """A rate: successes / trials (error rate = errors / requests; conversion = completed / started)."""
    details = {"successes": successes, "trials": trials, **(details or {})}
    if trials <= 0:
        return _empty(query, details)
    if not 0 <= successes <= trials:
        raise ValueError(f"successes ({successes}) must lie between 0 and trials ({trials})")
    return Measurement(
        successes / trials, trials, successes=successes, details=details, query=query
    )


def _mean_of_scores(
    counts: dict[float, int], *, query: str | None, details: dict[str, float]
) -> Measurement:
    """Mean and sample variance of per-sample scores given as {score: how many samples had it}."""
    n = sum(counts.values())
    if n <= 0:
        return _empty(query, details)
    mean = sum(score * k for score, k in counts.items()) / n
    squares = sum(k * (score - mean) ** 2 for score, k in counts.items())
    variance = squares / (n - 1) if n > 1 else 0.0
    return Measurement(mean, n, variance=variance, details=details, query=query)


def apdex(
    satisfied: int, tolerating: int, frustrated: int, *, query: str | None = None
) -> Measurement:
    """Apdex_T = (satisfied + tolerating / 2) / total, as the Apdex specification defines it:
    satisfied at or under T, tolerating over T up to 4T, frustrated above 4T or failed."""
    details: dict[str, float] = {
        "satisfied": satisfied,
        "tolerating": tolerating,
        "frustrated": frustrated,
    }
    return _mean_of_scores(
        {1.0: satisfied, 0.5: tolerating, 0.0: frustrated}, query=query, details=details
    )


def nps(promoters: int, passives: int, detractors: int, *, query: str | None = None) -> Measurement:
    """NPS = % promoters (9-10) - % detractors (0-6), on -100..100."""
    details: dict[str, float] = {
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
    }
    return _mean_of_scores(
        {100.0: promoters, 0.0: passives, -100.0: detractors}, query=query, details=details
    )


def csat(satisfied: int, responses: int, *, query: str | None = None) -> Measurement:
    """CSAT = share of 4-5 answers on a 1-5 scale."""
    return proportion(
        satisfied, responses, query=query, details={"satisfied": satisfied, "responses": responses}
    )
