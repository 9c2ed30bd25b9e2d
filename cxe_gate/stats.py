"""Significance tests behind the verdicts: is a breach real, or could it be noise?

All tests are one-sided in the direction of the breach and return a p-value; `None` means the test
does not apply (no counts, no variance, an empty window)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .measurement import Spread

Direction = Literal["less", "greater"]


def _tail(z: float, direction: Direction) -> float:
    """P(Z <= z) for "less", P(Z >= z) for "greater", with Z standard normal. math.erfc is exact
    enough and spares every gate run the second it takes to import scipy.stats."""
    return (
        0.5 * math.erfc(z / math.sqrt(2))
        if direction == "greater"
        else 0.5 * math.erfc(-z / math.sqrt(2))
    )


def two_proportion(
    release_successes: int,
    release_trials: int,
    baseline_successes: int,
    baseline_trials: int,
    direction: Direction,
) -> float | None:
    """Pooled two-proportion z-test of H0 "the release rate equals the baseline rate" against the
    release rate being `direction` than the baseline."""
    if release_trials <= 0 or baseline_trials <= 0:
        return None
    pooled = (release_successes + baseline_successes) / (release_trials + baseline_trials)
    variance = pooled * (1 - pooled) * (1 / release_trials + 1 / baseline_trials)
    difference = release_successes / release_trials - baseline_successes / baseline_trials
    if variance == 0:
        # Both rates are 0 or both 1: no difference at all, or a certain one.
        return 1.0 if difference == 0 else 0.0
    z = difference / math.sqrt(variance)
    return _tail(z, direction)


def proportion_vs_bound(
    successes: int, trials: int, bound: float, direction: Direction
) -> float | None:
    """Exact binomial test of H0 "the true rate is on the allowed side of `bound`"."""
    if trials <= 0 or not 0 <= bound <= 1:
        return None
    if bound in (0.0, 1.0):
        # A bound at the edge is breached by a single observation: no noise can explain it.
        return 0.0
    from scipy.special import bdtr, bdtrc  # the exact binomial tail; imported only when needed

    if direction == "greater":  # P(X >= successes)
        return 1.0 if successes == 0 else float(bdtrc(successes - 1, trials, bound))
    return float(bdtr(successes, trials, bound))  # P(X <= successes)


def two_means(
    release_mean: float,
    release_variance: float,
    release_n: int,
    baseline_mean: float,
    baseline_variance: float,
    baseline_n: int,
    direction: Direction,
) -> float | None:
    """Large-sample (Welch) z-test of two means of per-sample scores."""
    if release_n < 2 or baseline_n < 2:
        return None
    standard_error = math.sqrt(release_variance / release_n + baseline_variance / baseline_n)
    difference = release_mean - baseline_mean
    if standard_error == 0:
        return 1.0 if difference == 0 else 0.0
    z = difference / standard_error
    return _tail(z, direction)


def mean_vs_bound(
    mean: float, variance: float, n: int, bound: float, direction: Direction
) -> float | None:
    """One-sample z-test of a mean of per-sample scores against a fixed bound."""
    if n < 2:
        return None
    standard_error = math.sqrt(variance / n)
    if standard_error == 0:
        return 1.0 if mean == bound else 0.0
    z = (mean - bound) / standard_error
    return _tail(z, direction)


def against_periods(
    release_value: float,
    release_variance: float,
    baseline_value: float,
    spread: Spread,
    direction: Direction,
) -> float | None:
    """Test of H0 "the release is like the baseline periods" against the release being `direction`
    than their mean, when the baseline is the mean of k periods (the same hours on k days).

    Each period's value is the metric's level, plus that period's own movement (variance τ²), plus
    sampling noise; so is the release window's. The difference release - mean therefore has
    variance V_release + τ² + s²/k, where s² is the variance between the periods' values and
    τ² = max(0, s² - their mean sampling variance). The part estimated from the k periods has
    k - 1 degrees of freedom; the test uses Student's t with Satterthwaite's degrees of freedom.
    `release_variance` is the release value's sampling variance (0 when the metric gives none,
    as for a percentile: then s² holds all of the noise, and the test is a prediction interval)."""
    k = spread.parts
    if k < 2:
        return None
    between = spread.between if release_variance > 0 else spread.variance
    estimated = between + spread.of_mean
    variance = release_variance + estimated
    difference = release_value - baseline_value
    if variance <= 0:
        return 1.0 if difference == 0 else 0.0
    t = difference / math.sqrt(variance)
    freedom = math.inf if estimated == 0 else variance**2 / (estimated**2 / (k - 1))
    if math.isinf(freedom):
        return _tail(t, direction)
    from scipy.special import stdtr  # Student's t distribution; imported only when needed

    below = float(stdtr(freedom, t))
    return below if direction == "less" else 1.0 - below
