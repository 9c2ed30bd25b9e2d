"""Comparisons and statistics → one verdict per criterion, and the overall verdict and score.

A breach must be both beyond the declared limit and, where a test applies, statistically significant;
otherwise the answer is inconclusive, never pass. Missing data is never a pass either. Judged
sequentially (one look of a polled release window), a rule fails only when a sequential test
establishes the breach and passes only when it excludes one, at a group-sequential boundary
(cxe_gate.sequential)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from . import stats
from .config import CriterionBase, GateSettings
from .measurement import Measurement, Unit, format_change, format_p_value, format_value
from .quantities import Change
from .results import Check, CriterionResult, Outcome, Verdict

if TYPE_CHECKING:
    from .sequential import Counts, Look, Rule, Schedule

_CREDIT = {Verdict.PASS: 1.0, Verdict.WARN: 0.5, Verdict.FAIL: 0.0}
# What `inconclusive` says in sequential mode when more of the release window may still decide it.
UNDECIDED = "not decided yet"


@dataclass(frozen=True)
class _RuleSpec:
    rule: str
    limit_text: str
    threshold: float | None
    breached: bool
    direction: stats.Direction  # the direction of a breach
    relative_to_baseline: bool
    undefined_note: str | None = None  # why the rule cannot be judged as written


def _samples_word(criterion: CriterionBase) -> str:
    return {
        "conversion": "units",
        "error_rate": "requests",
        "apdex": "requests",
        "latency": "requests",
        "feedback": "responses",
        "journeys_pass_rate": "tests",
        "engagement": "users" if getattr(criterion, "per_user", False) else "sessions",
    }.get(getattr(criterion, "metric", ""), "samples")


def _rules(
    criterion: CriterionBase, release: Measurement, baseline: Measurement | None, unit: Unit | str
) -> list[_RuleSpec]:
    value = release.value
    assert value is not None
    rules: list[_RuleSpec] = []
    for rule, bound, breached, direction in (
        ("min", criterion.min, criterion.min is not None and value < criterion.min, "less"),
        ("max", criterion.max, criterion.max is not None and value > criterion.max, "greater"),
    ):
        if bound is not None:
            rules.append(
                _RuleSpec(rule, format_value(bound, unit), bound, breached, direction, False)
            )
    for rule, change, direction in (
        ("max_drop", criterion.max_drop, "less"),
        ("max_rise", criterion.max_rise, "greater"),
    ):
        if change is None:
            continue
        rules.append(_relative_rule(rule, change, direction, value, baseline, unit))
    return rules


def _relative_rule(
    rule: str,
    change: Change,
    direction: stats.Direction,
    value: float,
    baseline: Measurement | None,
    unit: Unit | str,
) -> _RuleSpec:
    limit_text = change.describe() if change.relative else format_change(change.amount, unit)
    if baseline is None or not baseline.has_data:
        return _RuleSpec(
            rule,
            limit_text,
            None,
            False,
            direction,
            True,
            undefined_note="the baseline window has no data to compare with",
        )
    base = baseline.value
    assert base is not None
    sign = -1 if direction == "less" else 1
    if change.relative and base == 0:
        # A percentage of zero is not defined (0 errors before, a few after): let the test decide.
        return _RuleSpec(
            rule,
            limit_text,
            0.0,
            value != 0 and (value - base) * sign > 0,
            direction,
            True,
            undefined_note="relative change from a baseline of 0 "
            "is not defined; judged on the absolute difference and its significance",
        )
    allowed = abs(base) * change.amount if change.relative else change.amount
    threshold = base + sign * allowed
    breached = value < threshold if direction == "less" else value > threshold
    return _RuleSpec(rule, limit_text, threshold, breached, direction, True)


def _p_value(spec: _RuleSpec, release: Measurement, baseline: Measurement | None) -> float | None:
    if spec.relative_to_baseline:
        if baseline is None or not baseline.has_data:
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


def _format_p(p: float | None) -> str:
    text = format_p_value(p, none="")
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _check(
    spec: _RuleSpec,
    criterion: CriterionBase,
    release: Measurement,
    baseline: Measurement | None,
    unit: Unit | str,
) -> Check:
    value_text = format_value(release.value, unit)
    if spec.undefined_note and spec.threshold is None:
        return Check(
            rule=spec.rule,
            limit=spec.limit_text,
            threshold=None,
            outcome=Outcome.UNSURE,
            note=spec.undefined_note,
        )
    bound_text = format_value(spec.threshold, unit)
    if not spec.breached:
        note = {
            "min": f"{value_text} meets the minimum {spec.limit_text}",
            "max": f"{value_text} is within the maximum {spec.limit_text}",
            "max_drop": f"within the allowed drop of {spec.limit_text} (threshold {bound_text})",
            "max_rise": f"within the allowed rise of {spec.limit_text} (threshold {bound_text})",
        }[spec.rule]
        if spec.undefined_note:
            note = f"{spec.undefined_note}; no change seen"
        return Check(
            rule=spec.rule,
            limit=spec.limit_text,
            threshold=spec.threshold,
            outcome=Outcome.OK,
            note=note,
        )
    p = _p_value(spec, release, baseline) if criterion.test == "auto" else None
    if spec.undefined_note:
        # Zero baseline: only a significant difference counts, and only a test can say so.
        if p is None:
            return Check(
                rule=spec.rule,
                limit=spec.limit_text,
                threshold=spec.threshold,
                outcome=Outcome.UNSURE,
                note=spec.undefined_note,
            )
        note = f"{spec.undefined_note}: {value_text} vs {bound_text} ({_format_p(p)})"
        return Check(
            rule=spec.rule,
            limit=spec.limit_text,
            threshold=spec.threshold,
            outcome=Outcome.BREACH if p < criterion.alpha else Outcome.UNSURE,
            p_value=p,
            note=note,
        )
    note = {
        "min": f"{value_text} is below the minimum {spec.limit_text}",
        "max": f"{value_text} is above the maximum {spec.limit_text}",
        "max_drop": f"{value_text} is below {bound_text}, the allowed drop of {spec.limit_text}",
        "max_rise": f"{value_text} is above {bound_text}, the allowed rise of {spec.limit_text}",
    }[spec.rule]
    if p is None:
        return Check(
            rule=spec.rule,
            limit=spec.limit_text,
            threshold=spec.threshold,
            outcome=Outcome.BREACH,
            note=note,
        )
    if p < criterion.alpha:
        return Check(
            rule=spec.rule,
            limit=spec.limit_text,
            threshold=spec.threshold,
            outcome=Outcome.BREACH,
            p_value=p,
            note=f"{note}, {_format_p(p)}",
        )
    return Check(
        rule=spec.rule,
        limit=spec.limit_text,
        threshold=spec.threshold,
        outcome=Outcome.UNSURE,
        p_value=p,
        note=f"{note}, but it could be noise ({_format_p(p)} ≥ α = {criterion.alpha:g} "
        f"on {release.samples:,} {_samples_word(criterion)})",
    )


def _counts(measurement: Measurement | None) -> Counts | None:
    """What a sequential test needs of a window: counts of a rate, or a mean with its variance."""
    from .sequential import Counts  # numpy and scipy.special only when judging sequentially

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


def _sequential_rule(
    spec: _RuleSpec, criterion: CriterionBase, baseline: Counts | None
) -> Rule | None:
    from . import sequential

    if spec.rule in ("min", "max"):
        assert spec.threshold is not None
        return sequential.bound_rule(spec.direction, spec.threshold, baseline)
    change = criterion.max_drop if spec.rule == "max_drop" else criterion.max_rise
    assert change is not None
    if baseline is None:
        return None
    if change.relative:
        return sequential.relative_rule(spec.direction, change.amount, baseline)
    return sequential.absolute_change_rule(spec.direction, change.amount, baseline)


def _reading(spec: _RuleSpec, criterion: CriterionBase) -> tuple[str, str]:
    """What a rule's bounds are on, and how they read: the rule's own terms."""
    if spec.rule in ("min", "max"):
        return "the release value", "value"
    change = criterion.max_drop if spec.rule == "max_drop" else criterion.max_rise
    assert change is not None
    if change.relative:
        return "the change from the baseline", "percent"
    return "the difference from the baseline", "difference"


def _bound_text(value: float, kind: str, unit: Unit | str) -> str:
    if kind == "percent":
        return f"{value * 100:+.1f}%"
    if kind == "difference":
        text = format_change(value, unit)
        return text if text.startswith("-") else f"+{text}"
    return format_value(value, unit)


def _sequential_note(
    spec: _RuleSpec,
    criterion: CriterionBase,
    seen: Look,
    rule: Rule,
    release: Measurement,
    unit: Unit | str,
    schedule: Schedule,
) -> str:
    from .sequential import MIN_EVENTS, NO_SPEND

    what, kind = _reading(spec, criterion)
    if kind == "percent" and not rule.per:
        what, kind = "the difference from the baseline", "difference"  # a percentage of zero
    low = _bound_text(float(seen.bounds.lower), kind, unit)
    high = _bound_text(float(seen.bounds.upper), kind, unit)
    limit = spec.limit_text
    method = (
        f"group-sequential test, look {schedule.look}, {float(seen.information):.0%} of the "
        f"planned information, boundary {float(seen.boundary):.2f} SE, α = {criterion.alpha:g}, "
        f"{release.samples:,} {_samples_word(criterion)} at this look"
    )
    # The p-value is of a breach: it says nothing once the breach is excluded. It is nominal: the
    # boundary, not α, is what it must beat at this look.
    tested = (
        f"nominal {_format_p(float(seen.p_value))} against "
        f"{format_p_value(float(seen.level), none='')} at this look; {method}"
    )
    level = f"repeated {1 - criterion.alpha:.0%} bounds"
    if not seen.testable:
        return (
            f"{UNDECIDED}: too few events for the sequential test of a rate (it needs "
            f"{MIN_EVENTS} expected at the threshold, and as many seen in the baseline)"
        )
    if float(seen.boundary) >= NO_SPEND:  # nothing to spend yet (or infinitely little)
        return (
            f"{UNDECIDED}: too little information yet for any look to decide "
            f"({float(seen.information):.2%} of what the test is planned for)"
        )
    rule_text = {
        "max_drop": (f"a drop beyond {limit}", "beyond the allowed drop of " + limit),
        "max_rise": (f"a rise beyond {limit}", "beyond the allowed rise of " + limit),
        "min": (f"a value below the minimum {limit}", "below the minimum " + limit),
        "max": (f"a value above the maximum {limit}", "above the maximum " + limit),
    }[spec.rule]
    breach_side = high if spec.direction == "less" else low
    safe_side = low if spec.direction == "less" else high
    if seen.breach:
        bound = "at most" if spec.direction == "less" else "at least"
        return f"{what} is {bound} {breach_side} ({level}), {rule_text[1]} ({tested})"
    if seen.clear:
        bound = "at least" if spec.direction == "less" else "at most"
        return f"{what} is {bound} {safe_side} ({level}): {rule_text[0]} is excluded ({method})"
    return (
        f"{UNDECIDED}: {what} lies between {low} and {high} ({level}), which neither "
        f"establishes nor excludes {rule_text[0]} ({tested})"
    )


def _sequential_check(
    spec: _RuleSpec,
    criterion: CriterionBase,
    release: Measurement,
    baseline: Measurement | None,
    unit: Unit | str,
    schedule: Schedule,
) -> Check:
    """One rule at one look of a polled release window: breach only when established, ok only when
    excluded, undecided otherwise, at level alpha however many looks come before and after."""
    if spec.undefined_note and spec.threshold is None:  # no baseline to compare with
        return _check(spec, criterion, release, baseline, unit)
    if criterion.test == "none":
        # Numbers only, as asked: the same comparison at every look.
        return _check(spec, criterion, release, baseline, unit)
    from . import sequential

    release_counts, baseline_counts = _counts(release), _counts(baseline)
    if (
        baseline_counts is not None
        and release_counts is not None
        and baseline_counts.is_rate != release_counts.is_rate
    ):
        baseline_counts = None  # a rate and a mean: no one test compares them
    rule = _sequential_rule(spec, criterion, baseline_counts) if release_counts else None
    if (release_counts is None or rule is None) and schedule.final:
        fixed = _check(spec, criterion, release, baseline, unit)
        return fixed.model_copy(
            update={
                "note": f"{fixed.note} (judged once, at the last look: no sequential test "
                "covers it)"
            }
        )
    if release_counts is None or rule is None:
        return Check(
            rule=spec.rule,
            limit=spec.limit_text,
            threshold=spec.threshold,
            outcome=Outcome.UNSURE,
            note=f"{UNDECIDED}: {format_value(release.value, unit)} comes without the counts or "
            "the variance a sequential test needs, so it is judged once, at the wait's last look",
        )
    seen = sequential.look(rule, release_counts, baseline_counts, criterion.alpha, schedule)
    if seen.breach:
        outcome = Outcome.BREACH
    elif seen.clear:
        outcome = Outcome.OK
    else:
        outcome = Outcome.UNSURE
    return Check(
        rule=spec.rule,
        limit=spec.limit_text,
        threshold=spec.threshold,
        outcome=outcome,
        p_value=None if outcome == Outcome.OK or not seen.testable else float(seen.p_value),
        note=_sequential_note(spec, criterion, seen, rule, release, unit, schedule),
    )


def relative_change(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0:
        return None
    return (value - baseline) / abs(baseline)


def _headline(
    criterion: CriterionBase, release: Measurement, baseline: Measurement | None, unit: Unit | str
) -> str:
    """'checkout conversion fell 7.1% (27.9% → 25.9%) on 1,204 units'."""
    value_text = format_value(release.value, unit)
    samples = f"{release.samples:,} {_samples_word(criterion)}"
    if baseline is None or not baseline.has_data:
        return f"{criterion.name} is {value_text} on {samples}"
    change = relative_change(release.value, baseline.value)
    base_text = format_value(baseline.value, unit)
    if change is None:  # from a baseline of zero
        if release.value == baseline.value:
            return f"{criterion.name} held at {value_text} on {samples}"
        verb = "rose" if (release.value or 0) > 0 else "fell"
        return f"{criterion.name} {verb} from {base_text} to {value_text} on {samples}"
    if abs(change) < 0.0005:
        return f"{criterion.name} held ({base_text} → {value_text}) on {samples}"
    if unit == Unit.POINTS:
        # A percentage of a score on -100..100 misleads (and flips sign across zero): say points.
        difference = (release.value or 0.0) - (baseline.value or 0.0)
        verb = "rose" if difference > 0 else "fell"
        return (
            f"{criterion.name} {verb} {abs(difference):.1f} points ({base_text} → {value_text}) "
            f"on {samples}"
        )
    verb = "rose" if change > 0 else "fell"
    return f"{criterion.name} {verb} {abs(change) * 100:.1f}% ({base_text} → {value_text}) on {samples}"


def _finite(measurement: Measurement) -> Measurement:
    """NaN or an infinity is no number at all, whatever the provider: no data, said in a note."""
    numbers = {
        "value": measurement.value,
        "variance": measurement.variance,
    }
    bad = [name for name, v in numbers.items() if v is not None and not math.isfinite(v)]
    if not bad:
        return measurement
    if "value" in bad:
        return replace(
            measurement,
            value=None,
            samples=0,
            successes=None,
            variance=None,
            notes=(
                *measurement.notes,
                f"the provider returned {measurement.value!r} as the value: treated as no data",
            ),
        )
    return replace(
        measurement,
        variance=None,
        notes=(
            *measurement.notes,
            f"the provider returned {measurement.variance!r} as the variance: no test applies",
        ),
    )


def _shown_threshold(deciding: Check, specs: list[_RuleSpec], checks: list[Check]) -> float | None:
    """The threshold a report shows for the criterion. A relative rule on a baseline of 0 has
    none (it is judged on the difference from 0): a bound on the same side, where one is given,
    is the limit that reads true (`max: 1%`), not "0%"."""
    spec = specs[checks.index(deciding)]
    if not (spec.relative_to_baseline and spec.undefined_note):
        return deciding.threshold
    same_side = next(
        (
            check
            for other, check in zip(specs, checks, strict=True)
            if not other.relative_to_baseline and other.direction == spec.direction
        ),
        None,
    )
    return same_side.threshold if same_side is not None else None


def _deciding(checks: list[Check], outcome: Outcome) -> Check | None:
    return next((c for c in checks if c.outcome == outcome), None)


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
    release = _finite(release)
    baseline = _finite(baseline) if baseline is not None else None
    base_fields = {
        "name": criterion.name,
        "metric": getattr(criterion, "metric", "custom"),
        "provider": provider,
        "severity": criterion.severity,
        "key": criterion.key,
        "weight": criterion.weight,
        "unit": str(unit),
        "value": release.value,
        "baseline": baseline.value if baseline else None,
        "change": relative_change(release.value, baseline.value if baseline else None),
        "samples": release.samples,
        "baseline_samples": baseline.samples if baseline else None,
        "details": {
            **{
                part.label: {"value": part.value, "samples": part.samples, **part.details}
                for part in (baseline.parts if baseline is not None else ())
                if part.value is not None
            },
            **{
                label: m.details
                for label, m in (("baseline", baseline), ("release", release))
                if m is not None and m.details
            },
        },
        "queries": {
            label: m.query
            for label, m in (("baseline", baseline), ("release", release))
            if m is not None and m.query
        },
        "notes": [
            f"{label}: {note}"
            for label, m in (("baseline", baseline), ("release", release))
            if m is not None
            for note in m.notes
        ],
    }
    if not release.has_data:
        verdict = Verdict.FAIL if criterion.no_data == "fail" else Verdict.INCONCLUSIVE
        return CriterionResult(
            **base_fields,
            verdict=verdict,
            threshold=None,
            p_value=None,
            message=f"{criterion.name}: the release window has no data "
            f"(no_data: {criterion.no_data})",
        )
    word = _samples_word(criterion)
    if release.samples < criterion.min_samples:
        return CriterionResult(
            **base_fields,
            verdict=Verdict.INCONCLUSIVE,
            threshold=None,
            p_value=None,
            message=f"{_headline(criterion, release, baseline, unit)}: "
            f"{UNDECIDED + ': ' if sequential else ''}too few to judge "
            f"(min_samples {criterion.min_samples:,})",
        )
    if (
        criterion.has_relative_rules
        and baseline is not None
        and baseline.has_data
        and baseline.samples < criterion.min_samples
    ):
        return CriterionResult(
            **base_fields,
            verdict=Verdict.INCONCLUSIVE,
            threshold=None,
            p_value=None,
            message=f"{_headline(criterion, release, baseline, unit)}; the baseline has only "
            f"{baseline.samples:,} {word}, too few to compare with (min_samples "
            f"{criterion.min_samples:,})",
        )

    specs = _rules(criterion, release, baseline, unit)
    checks = [
        _sequential_check(spec, criterion, release, baseline, unit, sequential)
        if sequential
        else _check(spec, criterion, release, baseline, unit)
        for spec in specs
    ]
    if sequential and criterion.test == "auto":
        base_fields["notes"] = [
            *base_fields["notes"],
            f"judged as look {sequential.look} of a polled release window: group-sequential "
            f"tests at α = {criterion.alpha:g}, so looking again does not raise the false alarms",
        ]
    breach = _deciding(checks, Outcome.BREACH)
    unsure = _deciding(checks, Outcome.UNSURE)
    deciding = breach or unsure or checks[0]
    if breach:
        verdict = Verdict.FAIL if criterion.severity == "fail" else Verdict.WARN
    elif unsure:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.PASS
    message = f"{_headline(criterion, release, baseline, unit)}: {deciding.note}"
    return CriterionResult(
        **base_fields,
        verdict=verdict,
        threshold=_shown_threshold(deciding, specs, checks),
        p_value=deciding.p_value,
        message=message,
        checks=checks,
    )


def error_result(
    criterion: CriterionBase,
    *,
    provider: str,
    unit: Unit | str,
    message: str,
    queries: dict[str, str] | None = None,
) -> CriterionResult:
    """A criterion whose data could not be read: `error`, never pass."""
    return CriterionResult(
        name=criterion.name,
        metric=getattr(criterion, "metric", "custom"),
        provider=provider,
        verdict=Verdict.ERROR,
        severity=criterion.severity,
        key=criterion.key,
        weight=criterion.weight,
        unit=str(unit),
        value=None,
        baseline=None,
        threshold=None,
        samples=0,
        p_value=None,
        message=message,
        queries=queries or {},
    )


def score(results: list[CriterionResult]) -> float | None:
    """0-100, weighted: pass counts fully, warn half, fail nothing. Criteria without an answer
    (inconclusive, error) are left out; with none decided, there is no score."""
    decided = [r for r in results if r.verdict in _CREDIT]
    total = sum(r.weight for r in decided)
    if not decided or total == 0:
        return None
    return round(100 * sum(r.weight * _CREDIT[r.verdict] for r in decided) / total, 1)


def overall(results: list[CriterionResult], settings: GateSettings) -> tuple[Verdict, str]:
    """The release's verdict. A failed key criterion fails the release alone. Under `policy:
    any_fail` (the default) so does any failed criterion of severity fail; under `policy: score`
    the weighted score decides between pass, warn and fail (Keptn-style). Then errors, then
    undecided criteria (as `on_inconclusive` says), then warnings."""
    total = score(results)
    key_failures = [r.name for r in results if r.key and r.verdict == Verdict.FAIL]
    if key_failures:
        return Verdict.FAIL, f"key criterion failed: {', '.join(key_failures)}"
    failed = [r.name for r in results if r.verdict == Verdict.FAIL]
    if settings.policy == "any_fail" and failed:
        return Verdict.FAIL, f"failed: {', '.join(failed)}"
    if settings.policy == "score" and total is not None and total < settings.warn_score:
        warned = [r.name for r in results if r.verdict == Verdict.WARN]
        named = [f"failed: {', '.join(failed)}"] if failed else []
        named += [f"warned: {', '.join(warned)}"] if warned else []
        return Verdict.FAIL, (
            f"score {total:g} is below warn_score {settings.warn_score:g} ({'; '.join(named)})"
        )
    errors = [r.name for r in results if r.verdict == Verdict.ERROR]
    if errors and settings.on_error == "closed":
        return Verdict.ERROR, f"could not read the data for: {', '.join(errors)}"
    # An undecided warn-only criterion cannot block the release, but it cannot pass either.
    blocking = [r for r in results if r.verdict == Verdict.INCONCLUSIVE and r.severity == "fail"]
    unsure = [r.name for r in blocking]
    if unsure and settings.on_inconclusive == "fail":
        return Verdict.INCONCLUSIVE, f"not enough evidence for: {', '.join(unsure)}"
    # "No evidence of harm" needs evidence: a criterion that read no data at all is never accepted.
    unread = [r.name for r in blocking if r.value is None]
    if unread:
        return Verdict.INCONCLUSIVE, (
            f"no data for: {', '.join(unread)} (on_inconclusive: {settings.on_inconclusive} "
            "accepts undecided criteria, never a window without data)"
        )
    if total is None and not unsure:
        # Every criterion errored under on_error: open; nothing was decided, so nothing passed.
        return Verdict.ERROR, "no criterion could be decided"
    accepted = (
        [f"undecided, accepted by on_inconclusive: {settings.on_inconclusive}: {', '.join(unsure)}"]
        if unsure
        else []
    )
    # Under policy: score a failed criterion that is not key only lowers the score: it warns.
    warned = [r.name for r in results if r.verdict in (Verdict.WARN, Verdict.FAIL)]
    undecided = [
        r.name for r in results if r.verdict == Verdict.INCONCLUSIVE and r.severity == "warn"
    ]
    notes = [f"warnings: {', '.join(warned)}"] if warned else []
    notes += [f"undecided (warn only): {', '.join(undecided)}"] if undecided else []
    # Under on_error: open an unread criterion does not block, but the release cannot pass on it.
    notes += [f"could not read (on_error: open): {', '.join(errors)}"] if errors else []
    if settings.policy == "score" and total is not None and total < settings.pass_score:
        return Verdict.WARN, "; ".join(
            [f"score {total:g} is below pass_score {settings.pass_score:g}", *notes, *accepted]
        )
    if notes or (unsure and settings.on_inconclusive == "warn"):
        return Verdict.WARN, "; ".join([*notes, *accepted])
    if accepted:
        return Verdict.PASS, "; ".join(["every decided criterion passed", *accepted])
    return Verdict.PASS, "every criterion passed"
