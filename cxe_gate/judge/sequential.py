"""Sequential checks: each rule at one look of a polled release window, a breach only when
established and ok only when excluded, at level alpha however many looks come before and after.
The group-sequential math is cxe_gate.sequential's, imported only when judging sequentially (it
brings numpy and scipy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..measurement import Measurement, format_value
from ..results import Check, Outcome
from . import wording
from .case import Case
from .fixed import fixed_check
from .rules import RuleSpec

if TYPE_CHECKING:
    from ..sequential import Counts, Rule, Schedule


def sequential_check(spec: RuleSpec, case: Case, schedule: Schedule) -> Check:
    if spec.undefined_note and spec.threshold is None:  # no baseline to compare with
        return fixed_check(spec, case)
    if case.criterion.test == "none":
        # Numbers only, as asked: the same comparison at every look.
        return fixed_check(spec, case)
    from .. import sequential

    release_counts, baseline_counts = counts(case.release), counts(case.baseline)
    if (
        baseline_counts is not None
        and release_counts is not None
        and baseline_counts.is_rate != release_counts.is_rate
    ):
        baseline_counts = None  # a rate and a mean: no one test compares them
    rule = _sequential_rule(spec, baseline_counts) if release_counts else None
    if release_counts is None or rule is None:
        if schedule.final:
            fixed = fixed_check(spec, case)
            return fixed.model_copy(update={"note": wording.judged_once(fixed.note)})
        value_text = format_value(case.release.value, case.unit)
        return spec.check(Outcome.UNSURE, wording.no_counts(value_text))
    alpha = case.criterion.alpha
    seen = sequential.look(rule, release_counts, baseline_counts, alpha, schedule)
    if seen.breach:
        outcome = Outcome.BREACH
    elif seen.clear:
        outcome = Outcome.OK
    else:
        outcome = Outcome.UNSURE
    # The p-value is of a breach: it says nothing once the breach is excluded.
    p = None if outcome == Outcome.OK or not seen.testable else float(seen.p_value)
    return spec.check(outcome, wording.sequential_note(spec, case, seen, rule, schedule), p)


def counts(measurement: Measurement | None) -> Counts | None:
    """What a sequential test needs of a window: counts of a rate, or a mean with its variance."""
    from ..sequential import Counts

    if measurement is None or not measurement.has_data:
        return None
    spread = measurement.spread
    periods = (
        {"variance_of_value": spread.of_mean, "period_variance": spread.between}
        if spread is not None
        else {}
    )
    if measurement.is_proportion:
        return Counts(samples=measurement.samples, successes=measurement.successes, **periods)
    if measurement.is_mean:
        assert measurement.value is not None
        return Counts(
            samples=measurement.samples,
            mean=measurement.value,
            variance=measurement.variance,
            **periods,
        )
    return None


def _sequential_rule(spec: RuleSpec, baseline: Counts | None) -> Rule | None:
    from .. import sequential

    if spec.change is None:  # min or max
        assert spec.threshold is not None
        return sequential.bound_rule(spec.direction, spec.threshold, baseline)
    if baseline is None:
        return None
    if spec.change.relative:
        return sequential.relative_rule(spec.direction, spec.change.amount, baseline)
    return sequential.absolute_change_rule(spec.direction, spec.change.amount, baseline)
