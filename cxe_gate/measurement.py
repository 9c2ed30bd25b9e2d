"""What a provider hands to the judge: one measurement of one metric over one time window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class TimeWindow:
    label: str  # "baseline" or "release" (or "baseline-7d", a period of a same-hours baseline)
    start: datetime
    end: datetime  # exclusive
    # With concurrent cohorts: the condition, in the provider's own language, that picks this
    # window's cohort (release and baseline then cover the same time).
    cohort: str | None = None

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
class Spread:
    """How a baseline built from `parts` earlier periods (the same hours on 7 days) varies: its value
    is the mean of the parts' values. `variance` is the sample variance of those values between
    parts; `sampling` the mean sampling variance of one part's value (0 when the metric gives none,
    a percentile): what the spread holds beyond sampling is the metric's own day-to-day movement,
    which a release window has too."""

    parts: int
    variance: float
    sampling: float = 0.0
    # Σ w² of the weights the parts' values were averaged with (1/parts for a plain mean; a rate
    # or a mean of scores weights each part by its samples, as pooling them does).
    concentration: float | None = None

    @property
    def of_mean(self) -> float:
        """The variance of the baseline's value, a weighted mean of `parts` values."""
        return self.variance * (self.concentration or 1 / self.parts)

    @property
    def between(self) -> float:
        """The day-to-day variance beyond sampling (never negative)."""
        return max(0.0, self.variance - self.sampling)


@dataclass(frozen=True)
class Part:
    """One period a baseline was built from, as measured."""

    label: str
    start: datetime
    end: datetime
    value: float | None
    samples: int
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Point:
    """One equal interval of a window, measured the way the whole window is (for a chart)."""

    start: datetime
    value: float | None  # None: no data in the interval
    samples: int


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
    # The time of the newest data point the provider saw in this window (an event's timestamp, a
    # series' last sample); None when the service does not say. The gate compares it with the
    # window's end: a release window that reaches past the data is not a complete window.
    data_end: datetime | None = None
    # Set on a baseline built from earlier periods: how its value varies between them, and each.
    spread: Spread | None = None
    parts: tuple[Part, ...] = ()
    # The window cut into equal intervals, each measured alone (empty: the provider gives none).
    series: tuple[Point, ...] = ()

    @property
    def has_data(self) -> bool:
        return self.value is not None and self.samples > 0

    @property
    def is_proportion(self) -> bool:
        return self.successes is not None

    @property
    def is_mean(self) -> bool:
        return self.successes is None and self.variance is not None

    def sample_variance(self, rate: float | None = None) -> float | None:
        """The variance of one sample: p(1-p) for a rate (at `rate`, else its own value), the
        scores' variance for a mean; None for a percentile or a count, which give none."""
        if self.is_proportion:
            p = self.value if rate is None else rate
            return None if p is None else p * (1 - p)
        return self.variance


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
