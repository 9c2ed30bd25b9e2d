"""The criteria of cxe.yml, one model per metric. Each knows what it measures (`metric`), what its
samples are called, and the unit its values read in."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, TypeGuard

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ..measurement import Unit
from .fields import ChangeLimit, Duration, Level, Strict
from .journeys import CountingUnit
from .scales import RATE, SHARE, Scale
from .windows import Cohorts, WindowSpec

Severity = Literal["fail", "warn"]
RawQuery = str | dict[str, Any]
DEFAULT_ERRORS = "status >= 500"


def _is_bare_number(value: object) -> TypeGuard[int | float | str]:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", value))


class CriterionBase(Strict):
    # False for a criterion measured without a provider (journeys_pass_rate: inside a pytest run).
    reads_provider: ClassVar[bool] = True
    # What one sample is called, and the unit values read in: `samples_word`, `default_unit()`.
    SAMPLES: ClassVar[str] = "samples"
    UNIT: ClassVar[Unit | str] = Unit.NUMBER

    name: str = Field(min_length=1, description="shown in reports and as the pytest item name")
    description: str | None = None
    provider: str | None = Field(
        None, description="a name under `providers`; may be left out when only one is declared"
    )
    # comparisons
    min: Level | None = Field(None, description="the release value must be at least this")
    max: Level | None = Field(None, description="the release value must be at most this")
    max_drop: ChangeLimit | None = Field(None, description="largest allowed drop from the baseline")
    max_rise: ChangeLimit | None = Field(None, description="largest allowed rise from the baseline")
    test: Literal["auto", "none"] = Field(
        "auto",
        description="auto: a breach must also be statistically significant (two-proportion test for "
        "rates, z-test for means) or the answer is inconclusive; none: compare the numbers only",
    )
    alpha: float = Field(0.05, gt=0, lt=0.5, description="significance level of the test")
    min_samples: int = Field(
        100, ge=1, description="fewer samples in a window than this makes the answer inconclusive"
    )
    no_data: Literal["inconclusive", "fail"] = Field(
        "inconclusive", description="the verdict when a window has no data; never pass"
    )
    # judgement
    severity: Severity = Field("fail", description="what a breach means: fail or warn")
    weight: float = Field(1.0, ge=0, description="weight in the 0-100 score")
    key: bool = Field(False, description="a failure fails the release whatever the score")
    filter: str | None = Field(
        None,
        description="narrows the rows measured, in the provider's own language: an SQL condition "
        "for file/sql (route = '/checkout'), a label matcher for Prometheus, NRQL for New Relic, "
        "tags for Datadog",
    )
    query: RawQuery | None = Field(
        None,
        description="a raw provider query replacing the default one: text (SQL, PromQL, NRQL, a "
        "metric selector) or, for providers that take several parts, a mapping they check",
    )
    cohorts: Cohorts | None = Field(
        None, description="with windows.baseline: concurrent, overrides the file's cohorts"
    )
    at: list[str] | None = Field(
        None,
        description="the checkpoints (names under checkpoints:) at which this criterion is judged; "
        "default the first",
    )
    # What is measured; each criterion narrows it to its own name, the key that picks the model.
    metric: str

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        """What values the metric takes, from the criterion's fields (None: unknown, custom)."""
        return None

    @property
    def samples_word(self) -> str:
        """What one sample is called in messages: 'on 1,204 requests'."""
        return self.SAMPLES

    def default_unit(self) -> Unit | str:
        """The unit the metric's values read in, unless a provider says otherwise."""
        return self.UNIT

    @property
    def value_scale(self) -> Scale | None:
        return self.scale_of(self.model_dump())

    @model_validator(mode="before")
    @classmethod
    def _changes_spelled_out(cls, data: Any) -> Any:
        # `max_drop: 10` on a rate reads as a drop of 10 (1,000 percentage points): never meant.
        if not isinstance(data, dict):
            return data
        scale = cls.scale_of(data)
        for rule in ("max_drop", "max_rise"):
            raw = data.get(rule)
            if scale is None or not _is_bare_number(raw):
                continue
            amount = float(raw)
            text = str(raw).strip()
            if scale.percent:
                raise ValueError(
                    f"{rule}: {text} on {scale.a} is ambiguous (a change of {text} is "
                    f"{amount * 100:g} percentage points); write {text}% for a change relative "
                    f"to the baseline, or {text}pp for percentage points"
                )
            if scale.high is not None and scale.low is not None and amount > scale.high - scale.low:
                raise ValueError(
                    f"{rule}: {text} is more than the whole range of {scale.a} "
                    f"({scale.low:g} to {scale.high:g}); write {text}% for a relative change"
                )
        return data

    @model_validator(mode="after")
    def _has_a_rule(self) -> CriterionBase:
        if all(v is None for v in (self.min, self.max, self.max_drop, self.max_rise)):
            raise ValueError("give at least one comparison: min, max, max_drop or max_rise")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        scale = self.value_scale
        if scale is not None:
            for problem in scale.problems(self):
                raise ValueError(problem)
        return self

    @property
    def has_relative_rules(self) -> bool:
        return self.max_drop is not None or self.max_rise is not None


class ConversionCriterion(CriterionBase):
    SAMPLES = "units"
    UNIT = Unit.RATIO

    metric: Literal["conversion"]
    journey: str = Field(description="a name under `journeys`")
    unit: CountingUnit | None = Field(None, description="overrides the journey's unit")
    order: Literal["strict", "any"] = Field(
        "strict",
        description="strict: only steps taken in the journey's order count; any: a count that "
        "ignores their order is accepted (NRQL funnel() counts no other way)",
    )

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return RATE


class EngagementCriterion(CriterionBase):
    metric: Literal["engagement"]
    measure: Literal["active_users", "events_per_session", "events_per_user", "adoption"] = Field(
        description="active_users: distinct users in the window; events_per_session / "
        "events_per_user: events (of `event`, or all) per active session or user; adoption: share "
        "of active sessions (or users, with unit: user) that sent `event`"
    )
    event: str | None = Field(None, description="the feature event (required for adoption)")
    unit: CountingUnit = Field(
        "session",
        description="adoption: per session (default) or user. A user's activity grows with the "
        "window's length, so per-user measures compare only over windows of equal length",
    )

    @model_validator(mode="after")
    def _event_for_adoption(self) -> EngagementCriterion:
        if self.measure == "adoption" and not self.event:
            raise ValueError("measure adoption needs `event`: the feature event to count")
        return self

    @property
    def per_user(self) -> bool:
        return self.measure in ("active_users", "events_per_user") or (
            self.measure == "adoption" and self.unit == "user"
        )

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return SHARE if fields.get("measure") == "adoption" else Scale("count")

    @property
    def samples_word(self) -> str:
        return "users" if self.per_user else "sessions"

    def default_unit(self) -> Unit | str:
        return {
            "active_users": "users",
            "events_per_user": Unit.PER_USER,
            "events_per_session": "per session",
        }.get(self.measure, Unit.RATIO)


class ErrorRateCriterion(CriterionBase):
    SAMPLES = "requests"
    UNIT = Unit.RATIO

    metric: Literal["error_rate"]
    errors: str = Field(DEFAULT_ERRORS, description="what counts as an error (SQL condition)")

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return RATE


class ApdexCriterion(CriterionBase):
    SAMPLES = "requests"
    UNIT = Unit.SCORE

    metric: Literal["apdex"]
    t: Duration = Field(description="Apdex T: satisfied at or under T, tolerating up to 4T")
    errors: str = Field(DEFAULT_ERRORS, description="failed requests count as frustrated")

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return Scale("Apdex score", 0.0, 1.0)

    @field_validator("t")
    @classmethod
    def _positive(cls, t: timedelta) -> timedelta:
        if t <= timedelta(0):
            raise ValueError("Apdex T must be positive")
        return t


class LatencyCriterion(CriterionBase):
    SAMPLES = "requests"
    UNIT = Unit.MILLISECONDS

    metric: Literal["latency"]
    percentile: float = Field(95, gt=0, lt=100, description="e.g. 95 for p95")

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return Scale("duration")


class CustomScale(Strict):
    """A survey's own scale: whole answers from `min` to `max`, the `good` ones a closed range."""

    min: int = Field(description="the lowest answer")
    max: int = Field(description="the highest answer")
    good: tuple[int, int] = Field(description="[low, high]: the answers that count as good")

    @model_validator(mode="after")
    def _ordered(self) -> CustomScale:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        low, high = self.good
        if not self.min <= low <= high <= self.max:
            raise ValueError(
                f"good: [{low}, {high}] must be a range within {self.min} to {self.max}"
            )
        return self


# The named scales after NPS: (lowest answer, highest, the good ones).
NAMED_SCALES: dict[str, tuple[int, int, tuple[int, int]]] = {
    "csat": (1, 5, (4, 5)),
    "ces": (1, 7, (5, 7)),
}


class FeedbackCriterion(CriterionBase):
    SAMPLES = "responses"

    metric: Literal["feedback"]
    scale: Literal["nps", "csat", "ces"] | CustomScale = Field(
        description="nps: % promoters (9-10) - % detractors (0-6); csat: share of 4-5 on 1-5; "
        "ces (customer effort, 7 = very easy): share of 5-7 on 1-7; or {min, max, good: [low, "
        "high]}: the share of good answers on a scale of your own"
    )
    measure: Literal["share", "mean"] = Field(
        "share",
        description="share: of good answers (the default); mean: the mean answer (not for nps)",
    )

    @model_validator(mode="after")
    def _mean_of_a_scale(self) -> FeedbackCriterion:
        if self.scale == "nps" and self.measure == "mean":
            raise ValueError("measure: mean is for csat, ces and custom scales; NPS is its own")
        return self

    @property
    def bounds(self) -> tuple[int, int]:
        """The lowest and the highest answer."""
        if isinstance(self.scale, CustomScale):
            return self.scale.min, self.scale.max
        if self.scale == "nps":
            return 0, 10
        return NAMED_SCALES[self.scale][:2]

    @property
    def good(self) -> tuple[int, int]:
        """The answers counted good, a closed range (NPS: the promoters)."""
        if isinstance(self.scale, CustomScale):
            return self.scale.good
        return (9, 10) if self.scale == "nps" else NAMED_SCALES[self.scale][2]

    @property
    def is_share(self) -> bool:
        """The value is a share of good answers (successes of responses)."""
        return self.scale != "nps" and self.measure == "share"

    @property
    def scale_name(self) -> str:
        """How messages call the scale: NPS, CSAT, CES, or 'the 1-10 scale'."""
        if isinstance(self.scale, CustomScale):
            return f"the {self.scale.min}-{self.scale.max} scale"
        return self.scale.upper()

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        scale = fields.get("scale")
        if scale == "nps":
            return Scale("NPS", -100.0, 100.0)
        if fields.get("measure") != "mean":
            return SHARE
        if isinstance(scale, dict | CustomScale):
            found = scale if isinstance(scale, dict) else scale.model_dump()
            low, high = found.get("min"), found.get("max")
            if isinstance(low, int | float) and isinstance(high, int | float):
                return Scale("mean answer", float(low), float(high))
            return None  # the scale's own validation says what is wrong
        if isinstance(scale, str) and scale in NAMED_SCALES:
            low, high, _ = NAMED_SCALES[scale]
            return Scale(f"mean {scale.upper()}", float(low), float(high))
        return None

    def default_unit(self) -> Unit | str:
        if self.scale == "nps":
            return Unit.POINTS
        return Unit.RATIO if self.measure == "share" else Unit.NUMBER


class RetentionCriterion(CriterionBase):
    """Users who come back. Each user of the cohort has a first_seen moment: their first event ever
    (cohort new: users first seen in the window) or in the window (cohort active); day N counts
    those with an event in [first_seen + N x 24h, first_seen + (N+1) x 24h), `within` those with a
    session starting in (first_seen, first_seen + within]. 24-hour blocks, not calendar days: every
    user gets the same time to return, whatever the hour they came and the time zone. With
    checkpoints, the window is the gate window (or cohort_window) at every checkpoint."""

    SAMPLES = "users"
    UNIT = Unit.RATIO

    metric: Literal["retention"]
    day: int | None = Field(
        None,
        ge=1,
        le=90,
        description="day-N retention (1, 7, 30...): the share of the cohort with an event in the "
        "24 hours from first_seen + N days",
    )
    within: Duration | None = Field(
        None,
        description="instead of day: the share of the cohort with a session (other than their "
        "first) starting within this long after first_seen, e.g. 7d",
    )
    cohort: Literal["new", "active"] = Field(
        "new",
        description="new: users whose first event ever is in the window; active: every user "
        "active in the window, from their first event in it",
    )
    unit: Literal["user"] = Field("user", description="retention counts users")
    cohort_window: Duration | None = Field(
        None,
        description="with checkpoints: the cohort is the users first seen in this long from the "
        "start of the first checkpoint's release window (default: that whole window, the gate "
        "window), whatever checkpoint judges it; the baseline cohort is a baseline window as long",
    )
    # Where the cohort lies, relative to the start of the release window the criterion is judged
    # over; set by GateConfig from checkpoints: (None without them: the whole window).
    _cohort_span: WindowSpec | None = PrivateAttr(None)

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return RATE

    @model_validator(mode="after")
    def _day_or_within(self) -> RetentionCriterion:
        if (self.day is None) == (self.within is None):
            raise ValueError("give day (day-N retention) or within (came back within), not both")
        if self.within is not None and not timedelta(0) < self.within <= timedelta(days=90):
            raise ValueError("within must be more than zero and at most 90d")
        if self.cohort_window is not None and self.cohort_window <= timedelta(0):
            raise ValueError("cohort_window must be more than zero, e.g. 2h or 24h")
        return self

    @property
    def cohort_span(self) -> WindowSpec | None:
        """The cohort's window relative to the start of the release window judged (checkpoints:
        the gate window, wherever the checkpoint's own window starts); None: the whole window."""
        return self._cohort_span

    def place_cohort(self, span: WindowSpec) -> None:
        """Where the cohort lies (cxe_gate.config.retention_cohorts works it out from the file's
        checkpoints; a private attribute, so the criterion's fields stay as written)."""
        self._cohort_span = span

    @property
    def follow_up(self) -> tuple[timedelta, timedelta]:
        """Where a return counts, from first_seen: [from, to) for day N; (0, within] else."""
        if self.day is not None:
            return timedelta(days=self.day), timedelta(days=self.day + 1)
        assert self.within is not None
        return timedelta(0), self.within

    @property
    def described(self) -> str:
        """'day-7 retention', 'return within 7 days'."""
        if self.day is not None:
            return f"day-{self.day} retention"
        assert self.within is not None
        hours = self.within.total_seconds() / 3600
        return (
            f"return within {hours / 24:g} days"
            if hours % 24 == 0
            else f"return within {hours:g} hours"
        )


class CustomCriterion(CriterionBase):
    # Written `unit` in cxe.yml, as ever; `suffix` here, since `unit` on the other criteria is what
    # is counted (a session or a user). Dumped as `unit` too, so a dump validates again.
    model_config = ConfigDict(serialize_by_alias=True)

    metric: Literal["custom"]
    query: RawQuery = Field(
        description="file/sql providers: SQL returning `value`, and optionally `samples`, or "
        "`successes` and `trials` for a rate; $start and $end are the window bounds"
    )
    suffix: str | None = Field(None, alias="unit", description="shown after the value in reports")

    def default_unit(self) -> Unit | str:
        return self.suffix or Unit.NUMBER


class JourneysPassRateCriterion(CriterionBase):
    """The share of journey tests (e.g. a seeded Playwright suite) that passed. Only a pytest run
    sees their outcomes: cxe-gate's pytest plugin judges it; the CLI reports it inconclusive."""

    reads_provider: ClassVar[bool] = False
    SAMPLES = "tests"

    metric: Literal["journeys_pass_rate"]
    # A failing journey is a broken journey, not a noisy sample: compare the numbers by default.
    test: Literal["auto", "none"] = Field(
        "none", description="none: compare the pass rate with min/max; auto: a binomial test"
    )
    min_samples: int = Field(1, ge=1, description="fewer journey tests than this is inconclusive")

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return SHARE

    @model_validator(mode="after")
    def _one_run(self) -> JourneysPassRateCriterion:
        if self.has_relative_rules:
            raise ValueError(
                "journeys_pass_rate is measured in one test run and has no baseline; use min or max"
            )
        if self.provider is not None or self.filter is not None or self.query is not None:
            raise ValueError(
                "journeys_pass_rate reads no provider; remove provider, filter and query"
            )
        return self


Criterion = Annotated[
    ConversionCriterion
    | EngagementCriterion
    | ErrorRateCriterion
    | ApdexCriterion
    | LatencyCriterion
    | FeedbackCriterion
    | RetentionCriterion
    | CustomCriterion
    | JourneysPassRateCriterion,
    Field(discriminator="metric"),
]
