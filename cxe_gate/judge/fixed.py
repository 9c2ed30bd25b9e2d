"""Fixed-sample checks: each rule judged once on the windows as they are. A breach counts when it is
beyond the limit and, where a test applies, statistically significant; otherwise it is unsure."""

from __future__ import annotations

from .. import stats
from ..measurement import Measurement, format_value
from ..results import Check, Outcome
from . import wording
from .case import Case
from .rules import RuleSpec


def fixed_check(spec: RuleSpec, case: Case) -> Check:
    criterion = case.criterion
    if spec.undefined_note and spec.threshold is None:
        return spec.check(Outcome.UNSURE, spec.undefined_note)
    value_text = format_value(case.release.value, case.unit)
    bound_text = format_value(spec.threshold, case.unit)
    if not spec.breached:
        return spec.check(Outcome.OK, wording.within(spec, value_text, bound_text))
    p = p_value(spec, case) if criterion.test == "auto" else None
    if spec.undefined_note:
        # Zero baseline: only a significant difference counts, and only a test can say so.
        if p is None:
            return spec.check(Outcome.UNSURE, spec.undefined_note)
        outcome = Outcome.BREACH if p < criterion.alpha else Outcome.UNSURE
        note = f"{spec.undefined_note}: {value_text} vs {bound_text} ({wording.format_p(p)})"
        return spec.check(outcome, note, p)
    note = wording.beyond(spec, value_text, bound_text)
    if p is None:
        return spec.check(Outcome.BREACH, note)
    if p < criterion.alpha:
        return spec.check(Outcome.BREACH, f"{note}, {wording.format_p(p)}", p)
    return spec.check(Outcome.UNSURE, wording.maybe_noise(note, p, case), p)


def p_value(spec: RuleSpec, case: Case) -> float | None:
    """The one-sided p-value of the breach, or None where no test applies (a percentile)."""
    release = case.release
    if spec.relative_to_baseline:
        baseline = case.compared
        if baseline is None:
            return None
        if baseline.spread is not None:
            return stats.against_periods(
                release.value or 0.0,
                _sampling_variance(release, baseline),
                baseline.value or 0.0,
                baseline.spread,
                spec.direction,
            )
        if release.is_proportion and baseline.is_proportion:
            return stats.two_proportion(
                release.successes or 0,
                release.samples,
                baseline.successes or 0,
                baseline.samples,
                spec.direction,
            )
        if release.is_mean and baseline.is_mean:
            return stats.two_means(
                release.value or 0.0,
                release.variance or 0.0,
                release.samples,
                baseline.value or 0.0,
                baseline.variance or 0.0,
                baseline.samples,
                spec.direction,
            )
        return None
    assert spec.threshold is not None
    if release.is_proportion:
        return stats.proportion_vs_bound(
            release.successes or 0, release.samples, spec.threshold, spec.direction
        )
    if release.is_mean:
        return stats.mean_vs_bound(
            release.value or 0.0,
            release.variance or 0.0,
            release.samples,
            spec.threshold,
            spec.direction,
        )
    return None


def _sampling_variance(release: Measurement, baseline: Measurement) -> float:
    """The release value's sampling variance if it were like the baseline: binomial at the
    baseline's rate, its scores' variance over n for a mean, 0 (unknown) for a percentile."""
    if release.samples <= 0:
        return 0.0
    rate = None if baseline.value is None else min(max(baseline.value, 0.0), 1.0)
    return (release.sample_variance(rate) or 0.0) / release.samples
