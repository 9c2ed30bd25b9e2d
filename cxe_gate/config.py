"""Pydantic models of the success-criteria file (cxe.yml): release, windows, providers, journeys and
criteria. Validated once, at the door; everything downstream works on these models."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .quantities import (
    DURATION_HINT,
    Change,
    format_duration,
    is_duration_text,
    parse_change,
    parse_level,
    to_timedelta,
)

_DURATION_SCHEMA = {
    "type": "string",
    "pattern": r"^-?(\d+(\.\d+)?(ms|s|m|h|d|w))+$",
    "description": DURATION_HINT,
    "examples": ["30m", "2h", "7d"],
}
Duration = Annotated[
    timedelta,
    BeforeValidator(to_timedelta),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_DURATION_SCHEMA),
]
Level = Annotated[
    float,
    BeforeValidator(parse_level),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\S+(%|ms|s|m)?$"}],
            "description": "an absolute bound: a number, a percentage (1%) or a duration (800ms)",
            "examples": [0.9, "1%", "800ms"],
        }
    ),
]
ChangeLimit = Annotated[
    Change,
    BeforeValidator(parse_change),
    PlainSerializer(lambda c: c.describe(), return_type=str),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
            "description": "relative to the baseline (5%), or absolute (0.5pp, 100ms, 3)",
            "examples": ["5%", "0.5pp", "100ms"],
        }
    ),
]

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class SecretRef(str):
    """A secret written as `${ENV_VAR}`: only the variable's name is ever stored or printed."""

    @property
    def variable(self) -> str:
        match = _ENV_REF.match(self)
        assert match  # guaranteed by validation
        return match[1]

    @classmethod
    def validate(cls, value: object) -> SecretRef:
        if not isinstance(value, str) or not _ENV_REF.match(value.strip()):
            # Never echo the value: it may be the secret itself, pasted inline by mistake.
            raise ValueError(
                "secrets must be written as an environment variable reference such as "
                "${DATADOG_API_KEY}, never inline"
            )
        return cls(value.strip())


Secret = Annotated[
    str,
    BeforeValidator(SecretRef.validate),  # refuses anything else before it could be echoed
    AfterValidator(SecretRef),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _ENV_REF.pattern, "examples": ["${API_KEY}"]}),
]


class Strict(BaseModel):
    """Base for every cxe.yml model: unknown keys are mistakes, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# release and windows


class Release(Strict):
    name: str | None = Field(None, description="release name or version; --release overrides it")
    deployed_at: datetime | None = Field(
        None,
        description="deploy time, ISO 8601 with time of day and zone (2026-11-17T14:00:00Z or "
        "+02:00); --deployed-at overrides it",
    )

    @field_validator("deployed_at", mode="before")
    @classmethod
    def _with_zone(cls, value: object) -> datetime | None:
        # Before pydantic's own parsing, which would take a number as a Unix timestamp, a date
        # as midnight and a time without a zone as a naive time.
        from .moments import parse_deploy_time

        return None if value is None else parse_deploy_time(value)


class WindowSpec(Strict):
    """A window relative to the deploy time: `start: -24h, end: 0m` is the day before the deploy."""

    start: Duration
    end: Duration

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        if self.end <= self.start:
            raise ValueError(
                f"end ({format_duration(self.end)}) must come after start ({format_duration(self.start)})"
            )
        return self


def _before_deploy(value: object) -> object:
    # `baseline: 24h` means the 24 hours before the deploy.
    if is_duration_text(value):
        return {"start": f"-{str(value).lstrip('+-')}", "end": "0m"}
    return value


def _after_deploy(value: object) -> object:
    # `release: 2h` means the first 2 hours after the deploy.
    if is_duration_text(value):
        return {"start": "0m", "end": str(value).lstrip("+")}
    return value


class SameHours(Strict):
    """The release window's clock hours on each of the `same_hours` days (or weeks, with `every:
    7d`) before the deploy: time of day (and weekday) cancels out, and the spread between those
    days tells how much the metric moves on its own."""

    same_hours: int = Field(
        ge=3,
        le=60,
        description="how many earlier periods to read (at least 3: the spread between them needs "
        "two degrees of freedom)",
    )
    every: Duration = Field(
        timedelta(days=1), description="the period: 1d (same hours each day) or 7d (each week)"
    )

    @field_validator("every")
    @classmethod
    def _positive(cls, every: timedelta) -> timedelta:
        if every <= timedelta(0):
            raise ValueError("every must be a positive duration such as 1d or 7d")
        return every

    def offsets(self) -> list[timedelta]:
        """How far back each part lies: 1 period, 2 periods, ..."""
        return [self.every * k for k in range(1, self.same_hours + 1)]


class Cohorts(Strict):
    """Canary, feature flag or A/B split: the release and the baseline are two cohorts of the same
    traffic over the same window, each picked by a condition in the provider's own filter language
    (an SQL condition for file and sql, label matchers for Prometheus)."""

    release: str = Field(min_length=1, description="picks the release cohort, e.g. version = '2.0'")
    baseline: str = Field(
        min_length=1, description="picks the baseline cohort, e.g. version = '1.9'"
    )

    @model_validator(mode="after")
    def _different(self) -> Cohorts:
        # Cohorts must not overlap; the same text certainly does (the rest only the data can tell).
        if " ".join(self.release.split()) == " ".join(self.baseline.split()):
            raise ValueError("the release and baseline cohorts are the same condition")
        return self


Concurrent = Literal["concurrent"]


def _baseline_shorthand(value: object) -> object:
    if isinstance(value, dict) and "same_hours" in value:
        return SameHours.model_validate(value)
    return _before_deploy(value)


class Windows(Strict):
    baseline: Annotated[
        WindowSpec | SameHours | Concurrent, BeforeValidator(_baseline_shorthand)
    ] = Field(
        default_factory=lambda: WindowSpec(start=timedelta(hours=-24), end=timedelta(0)),
        description="before the deploy: `24h`, {start: -7d, end: -6d22h}; the release window's "
        "hours on earlier days: {same_hours: 7} (7 days), {same_hours: 4, every: 7d} (the same "
        "weekday and hours over 4 weeks); or `concurrent`: the baseline cohort over the release "
        "window itself (give `cohorts`)",
    )
    release: Annotated[WindowSpec, BeforeValidator(_after_deploy)] = Field(
        default_factory=lambda: WindowSpec(start=timedelta(0), end=timedelta(hours=2)),
        description="after the deploy: `2h`, or {start: 10m, end: 2h}",
    )

    allow_partial: bool = Field(
        False,
        description="judge a release window that reaches past the newest data as if complete; by "
        "default such a window cannot pass (inconclusive), as the hours without data are unseen",
    )

    @model_validator(mode="after")
    def _apart(self) -> Windows:
        b, r = self.baseline, self.release
        if b == "concurrent":
            return self
        if isinstance(b, SameHours):
            if r.end - r.start > b.every:
                raise ValueError(
                    f"a release window of {format_duration(r.end - r.start)} does not fit in "
                    f"one period (every: {format_duration(b.every)}): the same hours a period "
                    "earlier would overlap it; shorten the release window or lengthen every"
                )
            return self
        if b.start < r.end and r.start < b.end:
            raise ValueError(
                "the baseline and release windows overlap; a comparison needs them apart"
            )
        return self


# ---------------------------------------------------------------------------------------------
# providers and journeys


class ProviderSpec(BaseModel):
    """A named data source. `type` picks the provider; its other keys are checked by that provider's
    own settings model (see cxe_gate.providers)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(description="provider type, e.g. file, prometheus, datadog, http, sql")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


Unit = Literal["session", "user"]


class Journey(Strict):
    steps: list[str] = Field(
        min_length=2, description="event names, in the order customers take them"
    )
    unit: Unit = Field("session", description="what converts: a session or a user")
    within: Duration | None = Field(
        None, description="the last step must follow the first within this"
    )

    @field_validator("steps")
    @classmethod
    def _distinct(cls, steps: list[str]) -> list[str]:
        if len(set(steps)) != len(steps):
            raise ValueError("a journey's steps must be distinct event names")
        return steps


def _journey_shorthand(value: object) -> object:
    return {"steps": value} if isinstance(value, list) else value


# ---------------------------------------------------------------------------------------------
# criteria

Severity = Literal["fail", "warn"]
RawQuery = str | dict[str, Any]


def _is_bare_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", value))


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


class CriterionBase(Strict):
    # False for a criterion measured without a provider (journeys_pass_rate: inside a pytest run).
    reads_provider: ClassVar[bool] = True

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

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        """What values the metric takes, from the criterion's fields (None: unknown, custom)."""
        return None

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


DEFAULT_ERRORS = "status >= 500"


class ConversionCriterion(CriterionBase):
    metric: Literal["conversion"]
    journey: str = Field(description="a name under `journeys`")
    unit: Unit | None = Field(None, description="overrides the journey's unit")
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
    unit: Unit = Field(
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


class ErrorRateCriterion(CriterionBase):
    metric: Literal["error_rate"]
    errors: str = Field(DEFAULT_ERRORS, description="what counts as an error (SQL condition)")

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return RATE


class ApdexCriterion(CriterionBase):
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
    metric: Literal["latency"]
    percentile: float = Field(95, gt=0, lt=100, description="e.g. 95 for p95")

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return Scale("duration")


class FeedbackCriterion(CriterionBase):
    metric: Literal["feedback"]
    scale: Literal["nps", "csat"] = Field(
        description="nps: % promoters (9-10) - % detractors (0-6); csat: share of 4-5 on 1-5"
    )

    @classmethod
    def scale_of(cls, fields: dict[str, Any]) -> Scale | None:
        return Scale("NPS", -100.0, 100.0) if fields.get("scale") == "nps" else SHARE


class CustomCriterion(CriterionBase):
    metric: Literal["custom"]
    query: RawQuery = Field(  # type: ignore[assignment]
        description="file/sql providers: SQL returning `value`, and optionally `samples`, or "
        "`successes` and `trials` for a rate; $start and $end are the window bounds"
    )
    unit: str | None = Field(None, description="shown after the value in reports")


class JourneysPassRateCriterion(CriterionBase):
    """The share of journey tests (e.g. a seeded Playwright suite) that passed. Only a pytest run
    sees their outcomes: cxe-gate's pytest plugin judges it; the CLI reports it inconclusive."""

    reads_provider: ClassVar[bool] = False

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


class GateSettings(Strict):
    policy: Literal["any_fail", "score"] = Field(
        "any_fail",
        description="any_fail: a failed criterion of severity fail fails the release (as Argo "
        "Rollouts and Flagger do); score: a weighted score decides between pass, warn and fail "
        "(Keptn-style), with only `key` criteria failing the release alone",
    )
    on_inconclusive: Literal["fail", "warn", "pass"] = Field(
        "fail",
        description="the release's verdict when a criterion of severity fail is undecided: fail "
        "keeps it inconclusive (exit 3); warn or pass accept that no evidence of harm was found, "
        "and say so in the summary",
    )
    pass_score: float = Field(
        90, ge=0, le=100, description="policy score: score at or above which the gate passes"
    )
    warn_score: float = Field(
        75, ge=0, le=100, description="policy score: score below which the gate fails"
    )
    on_error: Literal["closed", "open"] = Field(
        "closed",
        description="closed: a criterion in error makes the verdict `error`; open: it is reported "
        "but does not decide the verdict",
    )

    concurrency: int = Field(
        50,
        ge=1,
        le=256,
        description="how many criteria are queried at once (a provider may allow fewer: its "
        "max_concurrency)",
    )
    deadline: Duration = Field(
        timedelta(minutes=10),
        description="the whole evaluation must be over by then; a criterion still waiting is an "
        "error",
    )

    @model_validator(mode="after")
    def _ordered(self) -> GateSettings:
        if self.warn_score > self.pass_score:
            raise ValueError("warn_score must not be above pass_score")
        return self


class GateConfig(Strict):
    """The whole cxe.yml."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"title": "cxe-gate success criteria"}
    )

    version: Literal[1] = Field(1, description="the file format's version")
    release: Release = Field(default_factory=Release)
    windows: Windows = Field(default_factory=Windows)
    gate: GateSettings = Field(default_factory=GateSettings)
    providers: dict[str, ProviderSpec] = Field(min_length=1)
    journeys: dict[str, Annotated[Journey, BeforeValidator(_journey_shorthand)]] = Field(
        default_factory=dict
    )
    cohorts: Cohorts | None = Field(
        None,
        description="with windows.baseline: concurrent, the conditions that pick the release and "
        "the baseline cohort (a criterion may override them)",
    )
    criteria: list[Criterion] = Field(min_length=1)

    def provider_for(self, criterion: CriterionBase) -> str:
        """The provider a criterion reads from (`reference_problems` guarantees it exists)."""
        return criterion.provider if criterion.provider is not None else next(iter(self.providers))

    def cohorts_for(self, criterion: CriterionBase) -> Cohorts | None:
        """The cohorts a criterion compares, with windows.baseline: concurrent; else None."""
        if self.windows.baseline != "concurrent":
            return None
        return criterion.cohorts or self.cohorts


Location = tuple[str | int, ...]


def _length(window: WindowSpec | SameHours | Concurrent, release: WindowSpec) -> timedelta:
    # Each part of a same-hours baseline, and a concurrent cohort, is as long as the release window.
    if isinstance(window, SameHours) or window == "concurrent":
        return release.end - release.start
    return window.end - window.start


def reference_problems(config: GateConfig) -> list[tuple[Location, str]]:
    """Mistakes no single model can see: names that must point at something declared elsewhere."""
    problems: list[tuple[Location, str]] = []
    declared = ", ".join(config.providers)
    concurrent = config.windows.baseline == "concurrent"
    if config.cohorts is not None and not concurrent:
        problems.append(
            (
                ("cohorts",),
                "cohorts are compared with windows.baseline: concurrent; set it, or remove cohorts",
            )
        )
    seen: set[str] = set()
    for index, criterion in enumerate(config.criteria):
        here: Location = ("criteria", index)
        if criterion.cohorts is not None and not concurrent:
            problems.append(
                (
                    (*here, "cohorts"),
                    "cohorts are compared with windows.baseline: concurrent; set it, or remove "
                    "cohorts",
                )
            )
        if concurrent and criterion.reads_provider and config.cohorts_for(criterion) is None:
            problems.append(
                (
                    here,
                    "windows.baseline: concurrent needs cohorts: {release: <condition>, baseline: "
                    "<condition>} in the file or on this criterion",
                )
            )
        if criterion.name in seen:
            problems.append(
                (
                    (*here, "name"),
                    f"two criteria are named {criterion.name!r}; names must be unique",
                )
            )
        seen.add(criterion.name)
        if criterion.reads_provider and criterion.provider is None and len(config.providers) > 1:
            problems.append((here, f"say which provider to read: one of {declared}"))
        elif criterion.provider is not None and criterion.provider not in config.providers:
            problems.append(
                (
                    (*here, "provider"),
                    f"provider {criterion.provider!r} is not declared under providers "
                    f"(declared: {declared})",
                )
            )
        if (
            isinstance(criterion, EngagementCriterion)
            and criterion.per_user
            and criterion.has_relative_rules
            and _length(config.windows.baseline, config.windows.release)
            != _length(config.windows.release, config.windows.release)
        ):
            # Users pile up activity as a window grows: a 24 h baseline never compares with 2 h.
            problems.append(
                (
                    here,
                    f"{criterion.measure} per user compares only over windows of "
                    "equal length; give the baseline the release window's length (e.g. "
                    "the same hours a week before: {start: -7d, end: -166h}), measure per "
                    "session, or use min/max",
                )
            )
        if isinstance(criterion, ConversionCriterion) and criterion.journey not in config.journeys:
            known = ", ".join(config.journeys) or "none"
            problems.append(
                (
                    (*here, "journey"),
                    f"journey {criterion.journey!r} is not declared under journeys (declared: {known})",
                )
            )
    return problems
