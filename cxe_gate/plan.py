"""How long must a release window be? From the baseline's traffic, variance and day-to-day spread:
the smallest change each criterion can detect in the configured release window, and the wait the
declared tolerance needs, for the configured design and for cohorts split 50/50.

Planned for one test at the end of the window (one-sided, at the criterion's alpha, 80% power):
V(T) is the variance of release - baseline after T hours of release traffic at r samples an hour,
with σ² the variance of one sample (p(1-p) for a rate, the scores' variance for a mean):
- before/after: σ²/(rT) + σ²/n_baseline (the baseline window is fixed);
- same hours on k periods: σ²/(rT) + τ² + (τ² + σ²/(rT))/k (the periods grow with the window, and
  the release window moves by τ² from day to day as each period does);
- cohorts with a share q in the release cohort: σ²/(qrT) + σ²/((1-q)rT) (time of day cancels).
A change Δ is detected with 80% power when Δ ≥ (z_α + z_0.8) √V(T). Polling with `--wait` spends
alpha over its looks and needs somewhat more than this."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .baseline import baseline_of, windows_for
from .config import ConversionCriterion, CriterionBase
from .config.criteria import RetentionCriterion
from .errors import CxeGateError
from .gate import at_checkpoint, build_provider
from .loader import LoadedConfig
from .measurement import Measurement, TimeWindow
from .providers import MetricRequest, Provider

POWER = 0.8
COHORT_SHARE = 0.5


@dataclass(frozen=True)
class CriterionPlan:
    """What one criterion's release window can tell, and how long it needs."""

    name: str
    sentence: str  # one plain sentence for the terminal and the reports
    per_hour: float | None = None  # samples an hour at the release window's hours
    detectable: float | None = None  # smallest relative change detected in the release window
    wait: timedelta | None = None  # the release window the tolerance needs (None: never)
    cohorts_wait: timedelta | None = None  # the same with cohorts split 50/50


def _z(p: float) -> float:
    from scipy.special import ndtri  # the normal quantile; imported only when planning

    return float(ndtri(p))


def _hours(text_hours: float) -> str:
    if text_hours < 1:
        return f"{max(1, round(text_hours * 60))} min"
    if text_hours < 48:
        return f"{text_hours:.1f} h"
    return f"{text_hours / 24:.1f} days"


@dataclass(frozen=True)
class _Design:
    """V(T) = a / T + b: the release window's part shrinks with T, the rest does not."""

    a: float
    b: float

    def variance(self, hours: float) -> float:
        return self.a / hours + self.b

    def hours_for(self, target: float) -> float | None:
        """The T at which V(T) reaches `target`, or None when the fixed part alone exceeds it."""
        if target <= self.b:
            return None
        return self.a / (target - self.b)


def _designs(baseline: Measurement, sigma2: float, per_hour: float) -> tuple[_Design, _Design]:
    """The configured design and cohorts 50/50, as V(T) = a/T + b."""
    q = COHORT_SHARE
    cohorts = _Design(a=sigma2 / (q * per_hour) + sigma2 / ((1 - q) * per_hour), b=0.0)
    spread = baseline.spread
    if spread is not None:
        k = spread.parts
        between = spread.between
        return _Design(a=sigma2 / per_hour * (1 + 1 / k), b=between * (1 + 1 / k)), cohorts
    return _Design(a=sigma2 / per_hour, b=sigma2 / max(baseline.samples, 1)), cohorts


def _tolerance(criterion: CriterionBase, base: float) -> tuple[str, float] | None:
    """The rule to plan for and the change it allows, in the metric's units."""
    for rule in ("max_drop", "max_rise"):
        change = getattr(criterion, rule)
        if change is not None:
            amount = change.amount * abs(base) if change.relative else change.amount
            return f"{rule} {change.describe()}", amount
    return None


def _hours_read(
    baseline: Measurement, windows: list[TimeWindow], *, per_window: float | None = None
) -> float:
    """How many hours of data the baseline's samples came from: its periods with data, or its
    one window; `per_window` hours of each when the criterion reads only part of a window (a
    retention cohort)."""
    if baseline.parts:
        return sum(
            per_window or (p.end - p.start).total_seconds() / 3600
            for p in baseline.parts
            if p.value is not None
        )
    return sum(per_window or w.hours for w in windows)


def _plan_one(
    criterion: CriterionBase,
    baseline: Measurement,
    baseline_hours: float,
    window_hours: float,
    *,
    concurrent: bool = False,
) -> CriterionPlan:
    name = criterion.name
    if not baseline.has_data or baseline.value is None:
        return CriterionPlan(name, f"{name}: the baseline has no data to plan from")
    per_hour = baseline.samples / baseline_hours if baseline_hours else None
    sigma2 = baseline.sample_variance()
    tolerance = _tolerance(criterion, baseline.value)
    if per_hour is None or sigma2 is None:
        return CriterionPlan(
            name,
            f"{name}: the baseline gives no per-sample variance (a percentile or a count), so "
            "no sample size can be planned",
        )
    if tolerance is None:
        return CriterionPlan(
            name, f"{name}: only absolute bounds; plan covers rules relative to the baseline"
        )
    rule, allowed = tolerance
    if allowed <= 0:
        return CriterionPlan(
            name,
            f"{name}: the baseline is {baseline.value:g}, so {rule} allows no change at all: "
            "any significant change breaches it",
        )
    z = _z(1 - criterion.alpha) + _z(POWER)
    design, cohorts = _designs(baseline, sigma2, per_hour)
    if concurrent:
        design = cohorts
    detectable = z * math.sqrt(design.variance(window_hours)) / abs(baseline.value)
    target = (allowed / z) ** 2
    wait = design.hours_for(target)
    cohorts_wait = cohorts.hours_for(target)
    window = "cohort window" if _cohort_hours(criterion) else "release window"
    needs = (
        f"{rule} needs a {window} of about {_hours(wait)}"
        if wait is not None
        else f"{rule} cannot be detected at any length with this baseline (its fixed part, "
        f"{'the day-to-day movement' if baseline.spread else 'the baseline window'}, is too noisy)"
    )
    cohort_text = f", or cohorts 50/50 for {_hours(cohorts_wait)}" if cohorts_wait else ""
    sentence = (
        f"{name}: at {per_hour:,.0f} {_samples(criterion)}/h, the {_hours(window_hours)} "
        f"{window} detects a change of {detectable:.1%} (80% power, α = "
        f"{criterion.alpha:g}); {needs}{cohort_text}"
    )
    return CriterionPlan(
        name,
        sentence,
        per_hour=per_hour,
        detectable=detectable,
        wait=timedelta(hours=wait) if wait is not None else None,
        cohorts_wait=timedelta(hours=cohorts_wait) if cohorts_wait else None,
    )


def _cohort_hours(criterion: CriterionBase) -> float | None:
    """The hours of a window whose samples a retention criterion at checkpoints judges: the users
    first seen in its cohort's window (the gate window, or its cohort_window) at every
    checkpoint, however long the checkpoint's own window; None for the whole window."""
    if isinstance(criterion, RetentionCriterion) and criterion.cohort_span is not None:
        span = criterion.cohort_span
        return (span.end - span.start).total_seconds() / 3600
    return None


def _samples(criterion: CriterionBase) -> str:
    if isinstance(criterion, RetentionCriterion):
        return "new users"
    return "units" if isinstance(criterion, ConversionCriterion) else "samples"


def planned_at(loaded: LoadedConfig, checkpoint: str | None, *, now: datetime) -> LoadedConfig:
    """The file as planned (or its queries reviewed) at a checkpoint, default the first: that
    checkpoint's release window and the criteria judged at it, around the deploy time, or `now`
    for a deploy not made yet. A file without checkpoints as it is."""
    config = loaded.config
    if config.release.deployed_at is None and config.checkpoints:
        release = config.release.model_copy(update={"deployed_at": now})
        loaded = replace(loaded, config=config.model_copy(update={"release": release}))
    return at_checkpoint(loaded, checkpoint)


def plan(
    loaded: LoadedConfig, *, now: datetime, checkpoint: str | None = None
) -> list[CriterionPlan]:
    """A plan per criterion that reads a provider, from the baseline before the deploy time (or
    before `now`, for a deploy not made yet), for the release window of `checkpoint` (default
    the first; see planned_at)."""
    loaded = planned_at(loaded, checkpoint, now=now)
    config = loaded.config
    deployed_at = config.release.deployed_at or now
    windows = config.windows
    release_hours = (windows.release.end - windows.release.start).total_seconds() / 3600
    if windows.baseline == "concurrent":
        # The cohorts split traffic yet to come: the day before the deploy tells how much comes.
        baseline_windows = [TimeWindow("baseline", deployed_at - timedelta(days=1), deployed_at)]
    else:
        every = windows_for(windows, deployed_at, deployed_at + windows.release.end)
        baseline_windows = [w for w in every if w.label != "release"]
    plans = []
    providers: dict[str, Provider] = {}
    for criterion in config.criteria:
        if not criterion.reads_provider:
            continue
        name = config.provider_for(criterion)
        journey = (
            config.journeys.get(criterion.journey)
            if isinstance(criterion, ConversionCriterion)
            else None
        )
        try:
            provider = providers.get(name) or build_provider(loaded, name)
            providers[name] = provider
            measured = provider.measure(
                MetricRequest(criterion=criterion, journey=journey, release=config.release.name),
                baseline_windows,
            )
        except CxeGateError as exc:
            plans.append(CriterionPlan(criterion.name, f"{criterion.name}: {exc}"))
            continue
        baseline = baseline_of(measured, baseline_windows) or Measurement(None, 0)
        cohort = _cohort_hours(criterion)
        hours = _hours_read(baseline, baseline_windows, per_window=cohort)
        plans.append(
            _plan_one(
                criterion,
                baseline,
                hours,
                cohort or release_hours,
                concurrent=windows.baseline == "concurrent",
            )
        )
    for provider in providers.values():
        provider.close()
    return plans
