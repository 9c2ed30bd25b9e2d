"""The values a metric can take (a rate from 0% to 100%, an NPS from -100 to 100), so that a bound
no value could cross is caught when cxe.yml is loaded, not by a gate that can never decide."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .criteria import CriterionBase


@dataclass(frozen=True)
class Scale:
    """The values a metric can take, so that bounds no value could cross are caught at load time:
    `max: -1%` on a rate, `min: 120%`, `max_drop: 150%`."""

    name: str  # how messages call it: "rate", "share", "Apdex score", "NPS", "duration", "count"
    low: float | None = 0.0
    high: float | None = None
    percent: bool = False  # shown as a percentage: bounds are spelled 1% in messages

    def _text(self, value: float) -> str:
        return f"{value * 100:g}%" if self.percent else f"{value:g}"

    @property
    def a(self) -> str:
        """The scale's name with its article: 'a rate', 'an Apdex score'."""
        return f"{'an' if self.name[0] in 'AEIOUaeiou' else 'a'} {self.name}"

    def problems(self, criterion: CriterionBase) -> list[str]:
        found = []
        span = (
            f"from {self._text(self.low)} to {self._text(self.high)}"
            if self.low is not None and self.high is not None
            else f"at least {self._text(self.low)}"
            if self.low is not None
            else ""
        )
        for rule in ("min", "max"):
            bound = getattr(criterion, rule)
            if bound is None or math.isinf(bound):  # an infinite bound is no bound, knowingly
                continue
            outside = (self.low is not None and bound < self.low) or (
                self.high is not None and bound > self.high
            )
            if outside:
                found.append(
                    f"{rule}: {self._text(bound)} is outside what {self.a} can be ({span}), "
                    "so the rule could never decide anything"
                )
            elif rule == "max" and self.high is not None and bound == self.high and self.percent:
                found.append(
                    f"max: {self._text(bound)} can never be exceeded; write max: 1% if you meant "
                    "one percent"
                )
        drop = criterion.max_drop
        if drop is not None and drop.relative and drop.amount >= 1 and self.low == 0:
            found.append(
                f"max_drop: {drop.describe()} allows a drop to zero or below, which {self.a} "
                "cannot go beyond; the rule could never fail"
            )
        for rule in ("max_drop", "max_rise"):
            change = getattr(criterion, rule)
            if (
                change is not None
                and not change.relative
                and self.low is not None
                and self.high is not None
                and change.amount >= self.high - self.low
            ):
                size = f"{change.amount * 100:g}pp" if self.percent else f"{change.amount:g}"
                found.append(
                    f"{rule}: an absolute change of {size} spans the whole range of {self.a} "
                    f"({span}); the rule could never fail"
                )
        return found


RATE = Scale("rate", 0.0, 1.0, percent=True)
SHARE = Scale("share", 0.0, 1.0, percent=True)
