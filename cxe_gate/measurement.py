"""What a provider hands to the judge: one measurement of one metric over one time window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class TimeWindow:
    label: str  # "baseline" or "release"
    start: datetime
    end: datetime  # exclusive

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


class Unit(StrEnum):
    """How a value reads: drives formatting and which statistics apply."""

    RATIO = "ratio"  # 0..1, shown as a percentage
    MILLISECONDS = "ms"
    SCORE = "score"  # Apdex 0..1
    POINTS = "points"  # NPS -100..100
    PER_USER = "per user"
    NUMBER = ""


@dataclass(frozen=True)
class Measurement:
    """`value` is None when the window had no data. For a rate, `successes` of `samples` (errors of
    requests, completions of starts) make a two-proportion test possible; for a mean of per-sample
    scores (Apdex, NPS, events per user), `variance` of those scores makes a z-test possible."""

    value: float | None
    samples: int
    successes: int | None = None
    variance: float | None = None
    details: dict[str, float] = field(default_factory=dict)
    query: str | None = None
    # What a reader should know about how the value was read ("window widened to whole days").
    notes: tuple[str, ...] = ()

    @property
    def has_data(self) -> bool:
        return self.value is not None and self.samples > 0

    @property
    def is_proportion(self) -> bool:
        return self.successes is not None

    @property
    def is_mean(self) -> bool:
        return self.successes is None and self.variance is not None


def format_value(value: float | None, unit: Unit | str) -> str:
    if value is None:
        return "no data"
    match unit:
        case Unit.RATIO:
            return f"{value * 100:.3g}%" if abs(value) < 0.1 else f"{value * 100:.1f}%"
        case Unit.MILLISECONDS:
            return f"{value:,.0f} ms" if abs(value) >= 10 else f"{value:.3g} ms"
        case Unit.SCORE:
            return f"{value:.3f}"
        case Unit.POINTS:
            return f"{value:.1f}"
        case Unit.PER_USER:
            return f"{value:.2f} per user"
        case _:
            text = f"{value:,.4g}"
            return f"{text} {unit}" if unit else text


def format_p_value(p: float | None, *, none: str = "—") -> str:
    """`< 0.001` or `0.012`: how every message and report spells a p-value."""
    if p is None:
        return none
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def format_change(amount: float, unit: Unit | str) -> str:
    """An absolute difference in the metric's unit: percentage points for ratios."""
    if unit == Unit.RATIO:
        return f"{amount * 100:.3g}pp"
    return format_value(amount, unit)
