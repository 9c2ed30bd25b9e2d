"""Before any rule: numbers only, and enough of them. A window with NaN is a window without data; a
release window without data, or either window with too few samples, is not judged."""

from __future__ import annotations

import math
from dataclasses import replace

from ..measurement import Measurement
from ..metrics import pending
from ..results import Verdict
from . import wording
from .case import Case


def finite(measurement: Measurement) -> Measurement:
    """NaN or an infinity is no number at all, whatever the provider: no data, said in a note."""
    value, variance = measurement.value, measurement.variance
    if value is not None and not math.isfinite(value):
        return replace(
            measurement,
            value=None,
            samples=0,
            successes=None,
            variance=None,
            notes=(
                *measurement.notes,
                f"the provider returned {value!r} as the value: treated as no data",
            ),
        )
    if variance is not None and not math.isfinite(variance):
        return replace(
            measurement,
            variance=None,
            notes=(
                *measurement.notes,
                f"the provider returned {variance!r} as the variance: no test applies",
            ),
        )
    return measurement


def unjudgeable(case: Case, looking: bool) -> tuple[Verdict, str] | None:
    """The verdict and message of a case no rule can judge; None when the rules can. `looking`:
    judged at one look of a wait, where more data may still come."""
    criterion = case.criterion
    if not case.release.has_data:
        waiting = pending(case.release)
        if waiting is not None:  # waiting will measure it: neither a pass nor a failure
            return Verdict.INCONCLUSIVE, f"{criterion.name}: {waiting}"
        verdict = Verdict.FAIL if criterion.no_data == "fail" else Verdict.INCONCLUSIVE
        return verdict, wording.no_data(criterion)
    if case.release.samples < criterion.min_samples:
        return Verdict.INCONCLUSIVE, wording.too_few(case, looking)
    baseline = case.compared
    if (
        criterion.has_relative_rules
        and baseline is not None
        and baseline.samples < criterion.min_samples
    ):
        return Verdict.INCONCLUSIVE, wording.baseline_too_few(case, baseline.samples)
    return None
