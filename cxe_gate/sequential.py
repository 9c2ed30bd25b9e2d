"""Always-valid tests for a gate that looks again and again: a breach established, or excluded, at
level α however often and for however long the release window is polled.

Each rule (`max_drop: 2%`, `max: 1%`, ...) is a contrast D = release - threshold, where the
threshold is factor × baseline + offset. The release window grows between looks; the baseline
window does not. A mixture sequential probability ratio test (mSPRT) of "D = 0" decides:

    Λ = sqrt(W / (W + τ²)) · exp(τ² D² / (2 W (W + τ²)))

is the likelihood ratio of the estimate D (with sampling variance W = V_release + factor² ·
V_baseline) averaged over effects N(0, τ²) (Robbins, 1970; Johari, Pekelis and Walsh, "Always valid
inference", 2017). Seen as a function of the release's observations with the baseline held fixed it
is the likelihood ratio of the differences to the baseline, a quantity whose law does not depend on
the baseline's true value, hence a martingale when D = 0, and by Ville's inequality it ever reaches
1/α with probability at most α. Each decision uses the one-sided mixture (effects on its own side
only, a half-normal), which can double Λ and so decides sooner, and stays a supermartingale for any
D on the other side: a breach is established when the mixture over breaches reaches 1/α; it is
excluded when the mixture over allowed values does. Variances
come from the data: a rate's release variance is taken at the threshold (a score test: a window
with no errors yet cannot look certain), a mean's from its per-sample scores (asymptotic, after
Waudby-Smith et al., "Time-uniform central limit theory", 2021).

Every function works on floats and, elementwise, on numpy arrays: the decision benchmark runs
thousands of simulated releases through the very code the gate uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import log_ndtr

Direction = Literal["less", "greater"]  # the direction of a breach
Number = float | np.ndarray

# The mixture's standard deviation τ, as a multiple of the rule's own tolerance (a 2% drop allowed
# from a 30% conversion: τ = 1.5 × 0.6pp = 0.9pp). A mixture SPRT decides soonest on effects near
# τ from the limit: a good release sits about one tolerance inside it, a regression worth catching
# (twice the tolerance and more) one or more beyond. benchmarks/bench_decision.py found 1 to 1.5
# equally good for those, and 1.5 quicker on large regressions at low traffic.
MIXTURE_SCALE = 1.5
# τ when the rule gives no size (an absolute bound without a baseline, a zero tolerance): this
# share of the bound, or of the baseline's value (of its scores' spread when that value is zero).
FALLBACK_SCALE = 0.1
# A rate's normal limit needs events: fewer expected at the threshold (or seen in the baseline)
# than this, on either side (successes and failures), and no look decides.
MIN_EVENTS = 10
_NEWTON_STEPS = 8  # from sqrt(2c), the error is below 1e-12 after five


@dataclass(frozen=True)
class Bounds:
    lower: Number
    upper: Number


@dataclass(frozen=True)
class Counts:
    """One window of one metric: a rate (`successes` of `samples`) or a mean of per-sample scores
    (`mean`, with the scores' `variance`)."""

    samples: Number
    successes: Number | None = None
    mean: Number | None = None
    variance: Number | None = None

    @property
    def is_rate(self) -> bool:
        return self.successes is not None

    @property
    def estimate(self) -> Number:
        if self.successes is not None:
            return _scalar(np.asarray(self.successes) / np.maximum(self.samples, 1))
        assert self.mean is not None
        return self.mean


# ---------------------------------------------------------------------------------------------
# the normal mixture


def mixture_ratio(difference: Number, variance: Number, scale: Number) -> Number:
    """Λ of the two-sided normal mixture SPRT: the likelihood of an estimate `difference` away from
    the null (its sampling variance `variance`) averaged over effects N(0, scale²), over its
    likelihood under the null."""
    v, t2 = np.asarray(variance, dtype=float), np.asarray(scale, dtype=float) ** 2
    return _scalar(np.exp(_log_ratio(difference, v, t2)))


def one_sided_ratio(difference: Number, variance: Number, scale: Number, side: Direction) -> Number:
    """Λ of the one-sided mixture: effects drawn from the half-normal on `side` of the null only.
    Integrating the half-normal gives 2 Φ(±D τ / sqrt(W (W + τ²))) times the two-sided Λ."""
    return _scalar(np.exp(_log_one_sided(difference, variance, scale, side)))


def radius(variance: Number, scale: Number, alpha: float) -> Number:
    """How far the estimate must lie from the null for the one-sided mixture to reach 1/α: the
    half-width of the always-valid bounds, each of which holds alone at 1 - α at every look."""
    v, t = np.asarray(variance, dtype=float), np.asarray(scale, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # With u = D τ / sqrt(W (W + τ²)), log Λ = log 2 + log Φ(u) - ½ log(1 + τ²/W) + u² / 2:
        # solve u² / 2 + log Φ(u) = c, increasing and convex in u, by Newton from sqrt(2c).
        c = np.log(1 / alpha) - np.log(2) + 0.5 * np.log1p(t**2 / v)
        u = np.sqrt(2 * c)
        for _ in range(_NEWTON_STEPS):
            log_phi = log_ndtr(u)
            slope = u + np.exp(-(u**2) / 2 - 0.5 * np.log(2 * np.pi) - log_phi)
            u = u - (u**2 / 2 + log_phi - c) / slope
        r = u * np.sqrt(v * (v + t**2)) / t
    # No spread at all (every score equal): the estimate is exact.
    return _scalar(np.where(v > 0, r, 0.0))


def two_sided_radius(variance: Number, scale: Number, alpha: float) -> Number:
    """The two-sided mixture's radius, in closed form: the D at which Λ = 1/α."""
    v, t2 = np.asarray(variance, dtype=float), np.asarray(scale, dtype=float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(2 * v * (v + t2) / t2 * np.log(np.sqrt((v + t2) / v) / alpha))
    # No spread at all (every score equal): the estimate is exact.
    return _scalar(np.where(v > 0, r, 0.0))


def _log_ratio(difference: Number, v: np.ndarray, t2: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * np.log(v / (v + t2)) + t2 * np.asarray(difference) ** 2 / (2 * v * (v + t2))


def _log_one_sided(difference: Number, variance: Number, scale: Number, side: Direction) -> Number:
    v, t = np.asarray(variance, dtype=float), np.asarray(scale, dtype=float)
    d = np.asarray(difference, dtype=float)
    signed = d if side == "greater" else -d
    with np.errstate(divide="ignore", invalid="ignore"):
        u = signed * t / np.sqrt(v * (v + t**2))
    return np.log(2) + log_ndtr(u) + _log_ratio(d, v, t**2)


# ---------------------------------------------------------------------------------------------
# rules


@dataclass(frozen=True)
class Rule:
    """`release ≥ threshold` (a breach is `less`) or `release ≤ threshold` (`greater`), where
    threshold = factor × baseline + offset; `scale` is the mixture's τ in the metric's units.
    `limit` and `per` say how reports read it: a relative rule reads the change from the baseline
    (release / baseline - 1, per = the baseline), an absolute change the difference from the
    baseline, a bound the release value itself (per = 1)."""

    direction: Direction
    factor: float
    offset: float
    scale: Number
    limit: float
    per: Number = 1.0


def _baseline_value(counts: Counts) -> Number:
    """The baseline's value, a rate nudged off 0 and 1 by half a success either way, so that a
    baseline without errors still sizes τ and has a variance."""
    if counts.successes is not None:
        return _scalar((np.asarray(counts.successes) + 0.5) / (np.asarray(counts.samples) + 1.0))
    return counts.estimate


def _scale(size: Number, fallback: Number) -> Number:
    size = np.abs(np.asarray(size, dtype=float))
    fallback = np.maximum(np.abs(np.asarray(fallback, dtype=float)) * FALLBACK_SCALE, 1e-12)
    return _scalar(np.where(size > 0, MIXTURE_SCALE * size, fallback))


def relative_rule(direction: Direction, limit: float, baseline: Counts) -> Rule:
    """`max_drop: 5%` (direction less, limit 0.05) or `max_rise: 5%` against the baseline."""
    value = _baseline_value(baseline)
    sign = -1 if direction == "less" else 1
    # A baseline of zero (NPS at 0) gives a percentage nothing to size: its scores' spread does.
    spread = np.sqrt(baseline.variance) if baseline.variance is not None else 0.0
    scale = _scale(limit * np.abs(value), np.where(np.asarray(value) != 0, value, spread))
    return Rule(direction, 1 + sign * limit, 0.0, scale, sign * limit, baseline.estimate)


def absolute_change_rule(direction: Direction, amount: float, baseline: Counts) -> Rule:
    """`max_drop: 0.5pp` (direction less) or `max_rise: 100ms` against the baseline."""
    sign = -1 if direction == "less" else 1
    scale = _scale(amount, _baseline_value(baseline))
    return Rule(direction, 1.0, sign * amount, scale, sign * amount)


def bound_rule(direction: Direction, bound: float, baseline: Counts | None) -> Rule:
    """`min` (a breach is less) or `max`: an absolute bound. τ is the distance from the baseline's
    value to the bound when there is a baseline, a tenth of the bound otherwise."""
    distance = 0.0 if baseline is None else np.abs(_baseline_value(baseline) - bound)
    return Rule(direction, 0.0, bound, _scale(distance, bound), bound)


# ---------------------------------------------------------------------------------------------
# one look


@dataclass(frozen=True)
class Look:
    """One look at one rule. `bounds` are on the rule's own reading (see Rule), each holding alone
    at 1 - α at every look; `p_value` is the always-valid p of a breach (1 / Λ of the mixture over
    breaches, at most 1). `testable` is false where a rate has too few events for the normal
    limit: such a look decides nothing."""

    estimate: Number  # D = release - threshold
    variance: Number  # W
    radius: Number
    bounds: Bounds
    breach: Number
    clear: Number
    p_value: Number
    testable: Number


def look(rule: Rule, release: Counts, baseline: Counts | None, alpha: float) -> Look:
    """Judge one rule on the release window as it stands."""
    uses_baseline = rule.factor != 0
    if uses_baseline and baseline is None:
        raise ValueError("a rule relative to the baseline needs the baseline's counts")
    base = baseline.estimate if uses_baseline and baseline is not None else 0.0
    threshold = rule.factor * np.asarray(base) + rule.offset
    n = np.maximum(np.asarray(release.samples, dtype=float), 1)
    if release.is_rate:
        # The spread the release would have at the threshold: a score test.
        at = np.clip(threshold, 0.5 / (n + 1), 1 - 0.5 / (n + 1))
        variance = at * (1 - at) / n
        testable = n * np.minimum(at, 1 - at) >= MIN_EVENTS
    else:
        assert release.variance is not None
        variance = np.asarray(release.variance, dtype=float) / n
        testable = np.ones(np.shape(variance), dtype=bool)
    if uses_baseline:
        assert baseline is not None
        b_n = np.maximum(np.asarray(baseline.samples, dtype=float), 1)
        if baseline.is_rate:
            nudged = np.asarray(_baseline_value(baseline))
            b_variance = nudged * (1 - nudged) / b_n
            seen = np.asarray(baseline.successes, dtype=float)
            testable = testable & (np.minimum(seen, b_n - seen) >= MIN_EVENTS)
        else:
            assert baseline.variance is not None
            b_variance = np.asarray(baseline.variance, dtype=float) / b_n
        variance = variance + rule.factor**2 * b_variance
    estimate = np.asarray(release.estimate, dtype=float) - threshold
    half = radius(variance, rule.scale, alpha)
    if rule.direction == "less":
        breach, clear = estimate + half < 0, estimate - half >= 0
    else:
        breach, clear = estimate - half > 0, estimate + half <= 0
    with np.errstate(over="ignore"):
        p = np.minimum(1.0, np.exp(-_log_one_sided(estimate, variance, rule.scale, rule.direction)))
    p = np.where(variance > 0, p, np.where(breach, 0.0, 1.0))
    low, high = estimate - half, estimate + half
    if release.is_rate:
        # Shown within what a rate can be; the decisions above need no such help.
        low, high = np.maximum(low, -threshold), np.minimum(high, 1 - threshold)
    # A relative rule on a baseline of zero reads as the difference from it.
    relative = np.asarray(rule.per) != 0
    reading = np.where(relative, rule.per, 1.0)
    limit = np.where(relative, rule.limit, threshold - np.asarray(base))
    return Look(
        estimate=_scalar(estimate),
        variance=_scalar(variance),
        radius=half,
        bounds=Bounds(_scalar(limit + low / reading), _scalar(limit + high / reading)),
        breach=_scalar(testable & breach),
        clear=_scalar(testable & clear),
        p_value=_scalar(p),
        testable=_scalar(testable),
    )


def _scalar(value: Number) -> Number:
    """0-d results back to plain floats and bools, so a report never shows np.float64(…)."""
    array = np.asarray(value)
    return array.item() if array.ndim == 0 else array
