"""The judge's sentences: a criterion's headline ('checkout conversion fell 7.1% (27.9% → 25.9%) on
1,204 units') and what each check says of its rule, judged once or at one look of a wait."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import CriterionBase
from ..measurement import Unit, format_change, format_p_value, format_value
from .case import Case, relative_change
from .rules import RuleName, RuleSpec

if TYPE_CHECKING:
    from ..sequential import Look, Rule, Schedule

# What `inconclusive` says in sequential mode when more of the release window may still decide it.
UNDECIDED = "not decided yet"

_WITHIN: dict[RuleName, str] = {
    "min": "{value} meets the minimum {limit}",
    "max": "{value} is within the maximum {limit}",
    "max_drop": "within the allowed drop of {limit} (threshold {bound})",
    "max_rise": "within the allowed rise of {limit} (threshold {bound})",
}
_BEYOND: dict[RuleName, str] = {
    "min": "{value} is below the minimum {limit}",
    "max": "{value} is above the maximum {limit}",
    "max_drop": "{value} is below {bound}, the allowed drop of {limit}",
    "max_rise": "{value} is above {bound}, the allowed rise of {limit}",
}
# A breach of each rule, and where a value lies that breaches it.
_BREACH: dict[RuleName, tuple[str, str]] = {
    "max_drop": ("a drop beyond {limit}", "beyond the allowed drop of {limit}"),
    "max_rise": ("a rise beyond {limit}", "beyond the allowed rise of {limit}"),
    "min": ("a value below the minimum {limit}", "below the minimum {limit}"),
    "max": ("a value above the maximum {limit}", "above the maximum {limit}"),
}


def format_p(p: float | None) -> str:
    text = format_p_value(p, none="")
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def samples(case: Case) -> str:
    """'1,204 units'."""
    return f"{case.release.samples:,} {case.criterion.samples_word}"


def headline(case: Case) -> str:
    """'checkout conversion fell 7.1% (27.9% → 25.9%) on 1,204 units'."""
    name, release, unit = case.criterion.name, case.release, case.unit
    value_text = format_value(release.value, unit)
    on = samples(case)
    baseline = case.compared
    if baseline is None:
        return f"{name} is {value_text} on {on}"
    change = relative_change(release.value, baseline.value)
    base_text = format_value(baseline.value, unit)
    if change is None:  # from a baseline of zero
        if release.value == baseline.value:
            return f"{name} held at {value_text} on {on}"
        verb = "rose" if (release.value or 0) > 0 else "fell"
        return f"{name} {verb} from {base_text} to {value_text} on {on}"
    if abs(change) < 0.0005:
        return f"{name} held ({base_text} → {value_text}) on {on}"
    if unit == Unit.POINTS:
        # A percentage of a score on -100..100 misleads (and flips sign across zero): say points.
        difference = (release.value or 0.0) - (baseline.value or 0.0)
        verb = "rose" if difference > 0 else "fell"
        return f"{name} {verb} {abs(difference):.1f} points ({base_text} → {value_text}) on {on}"
    verb = "rose" if change > 0 else "fell"
    return f"{name} {verb} {abs(change) * 100:.1f}% ({base_text} → {value_text}) on {on}"


# ---------------------------------------------------------------------------------------------
# before any rule: no data, too few samples


def no_data(criterion: CriterionBase) -> str:
    return f"{criterion.name}: the release window has no data (no_data: {criterion.no_data})"


def too_few(case: Case, looking: bool) -> str:
    return (
        f"{headline(case)}: {UNDECIDED + ': ' if looking else ''}too few to judge "
        f"(min_samples {case.criterion.min_samples:,})"
    )


def baseline_too_few(case: Case, baseline_samples: int) -> str:
    return (
        f"{headline(case)}; the baseline has only {baseline_samples:,} "
        f"{case.criterion.samples_word}, too few to compare with (min_samples "
        f"{case.criterion.min_samples:,})"
    )


# ---------------------------------------------------------------------------------------------
# a rule judged once


def within(spec: RuleSpec, value_text: str, bound_text: str) -> str:
    if spec.undefined_note:
        return f"{spec.undefined_note}; no change seen"
    return _WITHIN[spec.rule].format(value=value_text, limit=spec.limit_text, bound=bound_text)


def beyond(spec: RuleSpec, value_text: str, bound_text: str) -> str:
    return _BEYOND[spec.rule].format(value=value_text, limit=spec.limit_text, bound=bound_text)


def maybe_noise(note: str, p: float, case: Case) -> str:
    return (
        f"{note}, but it could be noise ({format_p(p)} ≥ α = {case.criterion.alpha:g} "
        f"on {samples(case)})"
    )


# ---------------------------------------------------------------------------------------------
# a rule at one look of a wait


def looked(criterion: CriterionBase, schedule: Schedule) -> str:
    """The criterion's note that it was judged at one look."""
    return (
        f"judged as look {schedule.look} of a polled release window: group-sequential "
        f"tests at α = {criterion.alpha:g}, so looking again does not raise the false alarms"
    )


def judged_once(note: str) -> str:
    return f"{note} (judged once, at the last look: no sequential test covers it)"


def no_counts(value_text: str) -> str:
    return (
        f"{UNDECIDED}: {value_text} comes without the counts or the variance a sequential test "
        "needs, so it is judged once, at the wait's last look"
    )


def sequential_note(spec: RuleSpec, case: Case, seen: Look, rule: Rule, schedule: Schedule) -> str:
    from ..sequential import MIN_EVENTS, NO_SPEND

    alpha = case.criterion.alpha
    what, kind = _reading(spec)
    if kind == "percent" and not rule.per:
        what, kind = "the difference from the baseline", "difference"  # a percentage of zero
    low = _bound_text(float(seen.bounds.lower), kind, case.unit)
    high = _bound_text(float(seen.bounds.upper), kind, case.unit)
    method = (
        f"group-sequential test, look {schedule.look}, {float(seen.information):.0%} of the "
        f"planned information, boundary {float(seen.boundary):.2f} SE, α = {alpha:g}, "
        f"{samples(case)} at this look"
    )
    # The p-value is of a breach: it says nothing once the breach is excluded. It is nominal: the
    # boundary, not α, is what it must beat at this look.
    tested = (
        f"nominal {format_p(float(seen.p_value))} against "
        f"{format_p_value(float(seen.level), none='')} at this look; {method}"
    )
    level = f"repeated {1 - alpha:.0%} bounds"
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
    breach, breaching = (text.format(limit=spec.limit_text) for text in _BREACH[spec.rule])
    breach_side = high if spec.direction == "less" else low
    safe_side = low if spec.direction == "less" else high
    if seen.breach:
        bound = "at most" if spec.direction == "less" else "at least"
        return f"{what} is {bound} {breach_side} ({level}), {breaching} ({tested})"
    if seen.clear:
        bound = "at least" if spec.direction == "less" else "at most"
        return f"{what} is {bound} {safe_side} ({level}): {breach} is excluded ({method})"
    return (
        f"{UNDECIDED}: {what} lies between {low} and {high} ({level}), which neither "
        f"establishes nor excludes {breach} ({tested})"
    )


def _reading(spec: RuleSpec) -> tuple[str, str]:
    """What a rule's bounds are on, and how they read: the rule's own terms."""
    if spec.change is None:
        return "the release value", "value"
    if spec.change.relative:
        return "the change from the baseline", "percent"
    return "the difference from the baseline", "difference"


def _bound_text(value: float, kind: str, unit: Unit | str) -> str:
    if kind == "percent":
        return f"{value * 100:+.1f}%"
    if kind == "difference":
        text = format_change(value, unit)
        return text if text.startswith("-") else f"+{text}"
    return format_value(value, unit)
