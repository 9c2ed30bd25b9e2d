"""The criteria of cxe.yml, one model per metric. Each knows what it measures (`metric`), what its
samples are called, and the unit its values read in."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, TypeGuard

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..measurement import Unit
from .fields import ChangeLimit, Duration, Level, Strict
from .journeys import CountingUnit
from .scales import RATE, SHARE, Scale
from .windows import Cohorts

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


class FeedbackCriterion(CriterionBase):
    SAMPLES = "responses"

    metric: Literal["feedback"]
    scale: Literal["nps", "csat"] = Field(
        description="nps: % promoters (9-10) - % detractors (0-6); csat: share of 4-5 on 1-5"
    )

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return Scale("NPS", -100.0, 100.0) if fields.get("scale") == "nps" else SHARE

    def default_unit(self) -> Unit | str:
        return Unit.POINTS if self.scale == "nps" else Unit.RATIO


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
    | CustomCriterion
    | JourneysPassRateCriterion,
    Field(discriminator="metric"),
]
