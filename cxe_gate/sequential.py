"""Tests for a gate that looks again and again: a breach established, or excluded, at level α
however many times the release window is read before the wait ends.

Each rule (`max_drop: 2%`, `max: 1%`, ...) is a contrast D = release - threshold, where the
threshold is factor × baseline + offset, with sampling variance W = V_release + factor² ·
V_baseline. The release window grows between looks; the baseline window does not. At every look
Z = D / sqrt(W) is held to a group-sequential boundary c_k (Jennison and Turnbull, "Group
Sequential Methods", 2000, ch. 7): a breach is established when Z is beyond -c_k on its side, and
excluded when it is beyond +c_k on the other. The Z of successive looks are those of a Brownian
motion observed at its information I = 1/W (the baseline's part of W is shared by every look, so
cov(D_j, D_k) = W_k), and c_k is found by numerical integration over that law so that the chance
of ever crossing, for a release exactly at the threshold, is at most α.

How much α each look may spend is an error-spending function (Lan and DeMets, 1983) of the
information fraction t: α ln(1 + (e - 1) t), the Pocock-like function that spends early, so that a
clear regression fails at the first looks. The fraction is the smaller of

- the share of the wait gone by: all of α is spent by the wait's last look, and
- I / I_max, where I_max is the information at which a single test at α would catch a breach one
  tolerance beyond the threshold (a drop of twice the allowed) with 90% power: at low traffic the
  window never gathers that much, and early looks spend little.

The wait's last look spends all that is left (t = 1), whatever information came: its boundary then
assumes the earlier looks spent on the full schedule, more than they did, which errs on the safe
side. (Leaving α unspent at the last look, as earlier versions did, cost up to two thirds of what
one test at the deadline detects: benchmarks/bench_decision.py, section 2.)

Each decision side is its own one-sided test at α (non-binding: stopping on the other side only
lowers the error). The boundary at look k is computed as if the k looks so far were equally spaced
in information up to the current fraction, which is what polling at a fixed interval gives when
traffic is steady; the decision benchmark (with traffic that swings with the hour) checks the
error rates this gives. Variances come from the data: a rate's release variance is taken at the
threshold (a score test: a window with no errors yet cannot look certain), a mean's from its
per-sample scores.

Every function works on floats and, elementwise, on numpy arrays: the decision benchmark runs
thousands of simulated releases through the very code the gate uses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

Direction = Literal["less", "greater"]  # the direction of a breach
Number = float | np.ndarray

# Power at I_max against a breach one tolerance beyond the threshold (see the module docstring).
# benchmarks/bench_decision.py found 80% and 90% alike; 90% spends α a little more slowly at low
# traffic, where a chance fail costs a good release its deploy.
POWER = 0.9
# The breach size the test is planned for when the rule gives none (an absolute bound without a
# baseline, a zero tolerance): this share of the bound, or of the baseline's value (of its scores'
# spread when that value is zero).
FALLBACK_SHARE = 0.1
# A rate's normal limit needs events: fewer expected at the threshold (or seen in the baseline)
# than this, on either side (successes and failures), and no look decides.
MIN_EVENTS = 10
# More looks than this add nothing a user could see (the boundary approaches continuous
# monitoring's) and cost numerical integration at every look: `--wait` lengthens its interval.
MAX_LOOKS = 300


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
    # A baseline built from k earlier periods (cxe_gate.baseline): the variance of its value
    # between periods over k, which replaces its sampling variance, and the metric's own movement
    # from period to period beyond sampling, which the release window has too.
    variance_of_value: Number | None = None
    period_variance: Number | None = None

    @property
    def is_rate(self) -> bool:
        return self.successes is not None

    @property
    def estimate(self) -> Number:
        if self.successes is not None:
            return _scalar(np.asarray(self.successes) / np.maximum(self.samples, 1))
        assert self.mean is not None
        return self.mean


@dataclass(frozen=True)
class Schedule:
    """Where a look falls in a wait: the `look`-th (from 1), with `share` of the wait gone by (the
    wait ending at its deadline or when the release window closes, whichever is first)."""

    look: int
    share: float

    def __post_init__(self) -> None:
        if self.look < 1:
            raise ValueError("looks are counted from 1")

    @property
    def final(self) -> bool:
        """The wait's last look: all of α that the information allows is spent here."""
        return self.share >= 1


# ---------------------------------------------------------------------------------------------
# the boundary


def spent(fraction: Number, alpha: float) -> Number:
    """α spent by information fraction t: α ln(1 + (e - 1) t), from 0 at t = 0 to α at t = 1."""
    t = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
    return _scalar(alpha * np.log1p((math.e - 1) * t))


_GRID_RATIO = 2 ** (1 / 32)  # fractions are rounded down to this grid, so boundaries can be cached
_SMALLEST_FRACTION = 1e-6  # below this, no look spends anything (and none decides)
_FAR = 8.0  # the integration's lower end, in standard deviations: the mass below is < 1e-15
NO_SPEND = 40.0  # the boundary when a look has (almost) nothing to spend


def boundary(look: int, fraction: Number, alpha: float) -> Number:
    """c_k: how many standard errors an estimate must lie from the threshold to decide at the
    `look`-th look, with the information fraction `fraction` now (arrays elementwise). The
    fraction is first rounded down by at most 2.2%, which spends a little less α, never more."""
    if not 1 <= look <= MAX_LOOKS:
        raise ValueError(f"look {look} is outside 1..{MAX_LOOKS}")
    t = np.asarray(fraction, dtype=float)
    with np.errstate(divide="ignore"):
        # (the 1e-9 keeps a fraction on the grid, 0.5 = ratio^-32, from rounding a step down)
        step = np.floor(np.log(np.maximum(t, _SMALLEST_FRACTION / 2)) / np.log(_GRID_RATIO) + 1e-9)
    step = np.minimum(step, 0).astype(int)
    lowest = math.floor(math.log(_SMALLEST_FRACTION) / math.log(_GRID_RATIO))
    values = np.empty(step.shape)
    for index in np.unique(step):
        values[step == index] = (
            np.inf if index < lowest else _boundary_on_grid(look, int(index), alpha)
        )
    return _scalar(values)


@lru_cache(maxsize=4096)
def _boundary_on_grid(look: int, step: int, alpha: float) -> float:
    """The boundary of the last of `look` looks equally spaced in information up to the fraction
    _GRID_RATIO ** step, by the recursive numerical integration of Armitage, McPherson and Rowe
    (1969): carry the density of Z over the region that has not crossed yet from look to look,
    and at each look solve for the boundary that crosses with exactly the α it may spend."""
    t = _GRID_RATIO**step
    spending = np.diff(np.asarray(spent(t * np.arange(look + 1) / look, alpha)))
    z = density = None
    c = NO_SPEND
    for j in range(1, look + 1):
        to_spend = float(spending[j - 1])
        if z is None:
            c = float(-ndtri(to_spend)) if to_spend > 0 else NO_SPEND
            c = min(c, NO_SPEND)
        else:
            # Z_j = r Z_{j-1} + N(0, s²) with r = sqrt(I_{j-1}/I_j), s² = 1 - r², here (j-1)/j.
            r, s = math.sqrt((j - 1) / j), math.sqrt(1 / j)
            mass = density * _trapezoid_weights(z)

            def overspent(c: float, z=z, mass=mass, r=r, s=s, budget=to_spend) -> float:
                """The chance of crossing first here, with boundary c, beyond the budget."""
                return float(np.sum(mass * ndtr((r * z - c) / s))) - budget

            if to_spend <= 0 or overspent(NO_SPEND) >= 0:
                c = NO_SPEND
            else:
                c = brentq(overspent, -_FAR, NO_SPEND, xtol=1e-7)
        if j == look:
            return c
        # The next look's kernel has standard deviation sqrt(1/(j+1)) in Z: the grid must be finer.
        h = min(0.05, math.sqrt(1 / (j + 1)) / 1.5)
        top = min(c, _FAR)
        grid = np.append(np.arange(-_FAR, top, h), top)
        if z is None:
            density = np.exp(-(grid**2) / 2) / math.sqrt(2 * math.pi)
        else:
            gap = (grid[:, None] - r * z[None, :]) / s
            density = (mass[None, :] * np.exp(-(gap**2) / 2)).sum(axis=1) / (
                s * math.sqrt(2 * math.pi)
            )
        z = grid
    return c


def _trapezoid_weights(grid: np.ndarray) -> np.ndarray:
    weights = np.zeros_like(grid)
    gaps = np.diff(grid) / 2
    weights[:-1] += gaps
    weights[1:] += gaps
    return weights


def planned_information(effect: Number, alpha: float) -> Number:
    """I_max: the information 1/W at which a single one-sided test at α has POWER against a breach
    `effect` beyond the threshold."""
    z = float(ndtri(1 - alpha) + ndtri(POWER))
    return _scalar((z / np.asarray(effect, dtype=float)) ** 2)


# ---------------------------------------------------------------------------------------------
# rules


@dataclass(frozen=True)
class Rule:
    """`release ≥ threshold` (a breach is `less`) or `release ≤ threshold` (`greater`), where
    threshold = factor × baseline + offset; `effect` is the breach beyond the threshold the test is
    planned for, in the metric's units (one tolerance). `limit` and `per` say how reports read it:
    a relative rule reads the change from the baseline (release / baseline - 1, per = the
    baseline), an absolute change the difference from the baseline, a bound the release value
    itself (per = 1)."""

    direction: Direction
    factor: float
    offset: float
    effect: Number
    limit: float
    per: Number = 1.0


def _baseline_value(counts: Counts) -> Number:
    """The baseline's value, a rate nudged off 0 and 1 by half a success either way, so that a
    baseline without errors still sizes the effect and has a variance."""
    if counts.successes is not None:
        return _scalar((np.asarray(counts.successes) + 0.5) / (np.asarray(counts.samples) + 1.0))
    return counts.estimate


def _effect(size: Number, fallback: Number) -> Number:
    size = np.abs(np.asarray(size, dtype=float))
    fallback = np.maximum(np.abs(np.asarray(fallback, dtype=float)) * FALLBACK_SHARE, 1e-12)
    return _scalar(np.where(size > 0, size, fallback))


def relative_rule(direction: Direction, limit: float, baseline: Counts) -> Rule:
    """`max_drop: 5%` (direction less, limit 0.05) or `max_rise: 5%` against the baseline."""
    value = _baseline_value(baseline)
    sign = -1 if direction == "less" else 1
    # A baseline of zero (NPS at 0) gives a percentage nothing to size: its scores' spread does.
    spread = np.sqrt(baseline.variance) if baseline.variance is not None else 0.0
    effect = _effect(limit * np.abs(value), np.where(np.asarray(value) != 0, value, spread))
    return Rule(direction, 1 + sign * limit, 0.0, effect, sign * limit, baseline.estimate)


def absolute_change_rule(direction: Direction, amount: float, baseline: Counts) -> Rule:
    """`max_drop: 0.5pp` (direction less) or `max_rise: 100ms` against the baseline."""
    sign = -1 if direction == "less" else 1
    effect = _effect(amount, _baseline_value(baseline))
    return Rule(direction, 1.0, sign * amount, effect, sign * amount)


def bound_rule(direction: Direction, bound: float, baseline: Counts | None) -> Rule:
    """`min` (a breach is less) or `max`: an absolute bound. The effect is the distance from the
    baseline's value to the bound when there is a baseline, a tenth of the bound otherwise."""
    distance = 0.0 if baseline is None else np.abs(_baseline_value(baseline) - bound)
    return Rule(direction, 0.0, bound, _effect(distance, bound), bound)


# ---------------------------------------------------------------------------------------------
# one look


@dataclass(frozen=True)
class Look:
    """One look at one rule. `bounds` are repeated confidence bounds on the rule's own reading
    (see Rule), estimate ± boundary × standard error, each holding alone at 1 - α over all the
    looks; `information` is the fraction t that set this look's `boundary`; `p_value` is the
    nominal one-sided p of a breach at this look, to be held to `level` (the nominal level the
    boundary amounts to), not to α. `testable` is false where a rate has too few events for the
    normal limit: such a look decides nothing."""

    estimate: Number  # D = release - threshold
    variance: Number  # W
    z: Number  # D / sqrt(W)
    boundary: Number
    information: Number
    bounds: Bounds
    breach: Number
    clear: Number
    p_value: Number
    level: Number
    testable: Number


def look(
    rule: Rule, release: Counts, baseline: Counts | None, alpha: float, schedule: Schedule
) -> Look:
    """Judge one rule on the release window as it stands at this point of the wait."""
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
        if baseline.variance_of_value is not None:
            b_variance = np.asarray(baseline.variance_of_value, dtype=float)
        variance = variance + rule.factor**2 * b_variance
        if baseline.period_variance is not None:
            # Shared by every look, as the baseline's part is: the looks' covariance stays W_k.
            variance = variance + np.asarray(baseline.period_variance, dtype=float)
    estimate = np.asarray(release.estimate, dtype=float) - threshold
    exact = variance <= 0  # every score equal: the estimate has no spread to test
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(exact, np.sign(estimate) * np.inf, estimate / np.sqrt(variance))
        information = np.where(exact, np.inf, 1 / variance)
    fraction = np.minimum(schedule.share, information / planned_information(rule.effect, alpha))
    if schedule.final:
        # The last look spends what is left of α, however little information came: its boundary
        # is computed as if the earlier looks had spent on the full schedule, more than they did,
        # so it is higher than an exact one would be (conservative), and a breach the data can
        # establish by the deadline is not left undecided for want of planned information.
        fraction = np.ones_like(np.asarray(fraction, dtype=float))
    c = np.asarray(boundary(schedule.look, fraction, alpha))
    # An exact estimate decides at once, on the side it lies (at the threshold itself: allowed).
    exact_breach = estimate < 0 if rule.direction == "less" else estimate > 0
    toward_breach = -z if rule.direction == "less" else z
    breach = np.where(exact, exact_breach, toward_breach >= c)
    clear = np.where(exact, ~exact_breach, -toward_breach >= c)
    with np.errstate(invalid="ignore"):
        half = np.where(exact, 0.0, c * np.sqrt(np.maximum(variance, 0)))
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
        z=_scalar(z),
        boundary=_scalar(c),
        information=_scalar(fraction),
        bounds=Bounds(_scalar(limit + low / reading), _scalar(limit + high / reading)),
        breach=_scalar(testable & breach),
        clear=_scalar(testable & clear),
        p_value=_scalar(ndtr(-toward_breach)),
        level=_scalar(ndtr(-c)),
        testable=_scalar(testable),
    )


def _scalar(value: Number) -> Number:
    """0-d results back to plain floats and bools, so a report never shows np.float64(…)."""
    array = np.asarray(value)
    return array.item() if array.ndim == 0 else array
