"""The CriterionResult a judged criterion becomes: its verdict and message with the figures behind
them (values, samples, the counts of each window, the queries as sent, how values were read)."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import CriterionBase
from ..measurement import Measurement, Unit
from ..results import Check, CriterionResult, Verdict
from .case import Case, relative_change


def criterion_result(
    case: Case,
    provider: str,
    *,
    verdict: Verdict,
    message: str,
    threshold: float | None = None,
    p_value: float | None = None,
    checks: Sequence[Check] = (),
    notes: Sequence[str] = (),
    queries: dict[str, str] | None = None,
) -> CriterionResult:
    """`notes` follow the windows' own; `queries` are the measurements' unless given (an error)."""
    criterion, release, baseline = case.criterion, case.release, case.baseline
    windows = [
        (label, m) for label, m in (("baseline", baseline), ("release", release)) if m is not None
    ]
    if queries is None:
        queries = {label: m.query for label, m in windows if m.query}
    return CriterionResult(
        name=criterion.name,
        metric=criterion.metric,
        provider=provider,
        verdict=verdict,
        severity=criterion.severity,
        key=criterion.key,
        weight=criterion.weight,
        unit=str(case.unit),
        value=release.value,
        baseline=baseline.value if baseline else None,
        change=relative_change(release.value, baseline.value if baseline else None),
        threshold=threshold,
        samples=release.samples,
        baseline_samples=baseline.samples if baseline else None,
        p_value=p_value,
        message=message,
        checks=list(checks),
        details=_details(release, baseline),
        queries=queries,
        notes=[*(f"{label}: {note}" for label, m in windows for note in m.notes), *notes],
    )


def _details(release: Measurement, baseline: Measurement | None) -> dict[str, dict[str, float]]:
    """Per window the counts behind its value, and each period of a same-hours baseline."""
    parts = baseline.parts if baseline is not None else ()
    return {
        **{
            part.label: {"value": part.value, "samples": part.samples, **part.details}
            for part in parts
            if part.value is not None
        },
        **{
            label: m.details
            for label, m in (("baseline", baseline), ("release", release))
            if m is not None and m.details
        },
    }


def error_result(
    criterion: CriterionBase,
    *,
    provider: str,
    unit: Unit | str,
    message: str,
    queries: dict[str, str] | None = None,
) -> CriterionResult:
    """A criterion whose data could not be read: `error`, never pass."""
    unread = Case(criterion, Measurement(value=None, samples=0), None, unit)
    return criterion_result(
        unread, provider, verdict=Verdict.ERROR, message=message, queries=queries or {}
    )
