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
    """The share of good answers: CSAT = share of 4-5 on a 1-5 scale; CES = share of 5-7 on
    1-7 (7: very easy); a scale of one's own, its `good` range."""
    return proportion(
        satisfied, responses, query=query, details={"satisfied": satisfied, "responses": responses}
    )


def mean_answer(
    answers: int, mean: float | None, variance: float | None, *, query: str | None = None
) -> Measurement:
    """The mean answer on a survey's scale (CES, CSAT or a scale of its own), with the answers'
    sample variance for a z-test."""
    details: dict[str, float] = {"responses": answers}
    if answers <= 0 or mean is None:
        return _empty(query, details)
    return Measurement(
        float(mean), answers, variance=float(variance or 0.0), details=details, query=query
    )


# The start of the note on a measurement whose follow-up the data do not reach yet (retention):
# the judge calls it inconclusive whatever `no_data` says, since waiting will measure it.
NOT_YET = "not yet measurable"


def not_yet(reason: str, *, query: str | None = None, details: dict[str, float]) -> Measurement:
    """No value yet: `reason` says what data are still to come, and when."""
    return Measurement(
        value=None, samples=0, details=details, query=query, notes=(f"{NOT_YET}: {reason}",)
    )


def pending(measurement: Measurement) -> str | None:
    """The not_yet note of a measurement, or None."""
    return next((n for n in measurement.notes if n.startswith(NOT_YET)), None)
