"""The judge: comparisons and statistics → one verdict per criterion, and the overall verdict and
score.

A breach must be both beyond the declared limit and, where a test applies, statistically significant;
otherwise the answer is inconclusive, never pass. Missing data is never a pass either. Judged
sequentially (one look of a polled release window), a rule fails only when a sequential test
establishes the breach and passes only when it excludes one, at a group-sequential boundary
(cxe_gate.sequential).

`judge` runs the stages in order, one module each: validation (numbers, and enough of them), rules
(what to check), fixed or sequential (each rule's check), verdict (the criterion's verdict from its
checks; `overall` and `score` for the release), with the sentences in wording and the result's
figures in result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import CriterionBase
from ..measurement import Measurement, Unit
from ..results import CriterionResult
from .case import Case, relative_change
from .fixed import fixed_check
from .result import criterion_result, error_result
from .rules import rules
from .sequential import sequential_check
from .validation import finite, unjudgeable
from .verdict import criterion_verdict, overall, score, shown_threshold
from .wording import UNDECIDED, headline, looked

if TYPE_CHECKING:
    from ..sequential import Schedule

__all__ = [
    "UNDECIDED",
    "error_result",
    "judge",
    "overall",
    "relative_change",
    "score",
]


def judge(
    criterion: CriterionBase,
    *,
    provider: str,
    unit: Unit | str,
    release: Measurement,
    baseline: Measurement | None,
    sequential: Schedule | None = None,
) -> CriterionResult:
    """One criterion's verdict from its release and baseline measurements. `sequential` judges
    the release window as one look of a polled sequence, the look it says (see the module's
    docstring); at the sequence's last look a rule no sequential test covers (a percentile) is
    judged once, the fixed way: one look cannot inflate its false alarms."""
    case = Case(criterion, finite(release), None if baseline is None else finite(baseline), unit)
    refused = unjudgeable(case, looking=sequential is not None)
    if refused is not None:
        verdict, message = refused
        return criterion_result(case, provider, verdict=verdict, message=message)
    specs = rules(case)
    checks = [
        fixed_check(spec, case) if sequential is None else sequential_check(spec, case, sequential)
        for spec in specs
    ]
    verdict, deciding = criterion_verdict(checks, criterion.severity)
    return criterion_result(
        case,
        provider,
        verdict=verdict,
        message=f"{headline(case)}: {deciding.note}",
        threshold=shown_threshold(deciding, specs, checks),
        p_value=deciding.p_value,
        checks=checks,
        notes=[looked(criterion, sequential)] if sequential and criterion.test == "auto" else [],
    )
