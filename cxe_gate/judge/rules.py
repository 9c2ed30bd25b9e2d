"""A criterion's rules (min, max, max_drop, max_rise) → what to check: each rule's limit as written,
the threshold the release value is held to, and whether the value is beyond it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..measurement import format_change, format_value
from ..quantities import Change
from ..results import Check, Outcome
from ..stats import Direction
from .case import Case

RuleName = Literal["min", "max", "max_drop", "max_rise"]


@dataclass(frozen=True)
class RuleSpec:
    rule: RuleName
    limit_text: str
    threshold: float | None
    breached: bool
    direction: Direction  # the direction of a breach
    change: Change | None = None  # the allowed change, for a rule relative to the baseline
    undefined_note: str | None = None  # why the rule cannot be judged as written

    @property
    def relative_to_baseline(self) -> bool:
        return self.change is not None

    def check(self, outcome: Outcome, note: str, p_value: float | None = None) -> Check:
        """How this rule came out."""
        return Check(
            rule=self.rule,
            limit=self.limit_text,
            threshold=self.threshold,
            outcome=outcome,
            p_value=p_value,
            note=note,
        )


def rules(case: Case) -> list[RuleSpec]:
    """The criterion's rules in the order reports list them: min, max, max_drop, max_rise."""
    criterion, value = case.criterion, case.value
    bounds: tuple[tuple[RuleName, float | None, Direction], ...] = (
        ("min", criterion.min, "less"),
        ("max", criterion.max, "greater"),
    )
    changes: tuple[tuple[RuleName, Change | None, Direction], ...] = (
        ("max_drop", criterion.max_drop, "less"),
        ("max_rise", criterion.max_rise, "greater"),
    )
    specs = [
        RuleSpec(
            rule,
            format_value(bound, case.unit),
            bound,
            value < bound if direction == "less" else value > bound,
            direction,
        )
        for rule, bound, direction in bounds
        if bound is not None
    ]
    specs += [
        _relative_rule(rule, change, direction, case)
        for rule, change, direction in changes
        if change is not None
    ]
    return specs


def _relative_rule(rule: RuleName, change: Change, direction: Direction, case: Case) -> RuleSpec:
    limit_text = change.describe() if change.relative else format_change(change.amount, case.unit)
    baseline = case.compared
    if baseline is None:
        return RuleSpec(
            rule,
            limit_text,
            None,
            False,
            direction,
            change,
            undefined_note="the baseline window has no data to compare with",
        )
    value, base = case.value, baseline.value
    assert base is not None
    sign = -1 if direction == "less" else 1
    if change.relative and base == 0:
        # A percentage of zero is not defined (0 errors before, a few after): let the test decide.
        return RuleSpec(
            rule,
            limit_text,
            0.0,
            value != 0 and (value - base) * sign > 0,
            direction,
            change,
            undefined_note="relative change from a baseline of 0 "
            "is not defined; judged on the absolute difference and its significance",
        )
    allowed = abs(base) * change.amount if change.relative else change.amount
    threshold = base + sign * allowed
    breached = value < threshold if direction == "less" else value > threshold
    return RuleSpec(rule, limit_text, threshold, breached, direction, change)
