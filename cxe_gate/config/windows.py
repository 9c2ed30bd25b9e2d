"""The release and the windows it is judged over: the deploy, the release window after it (or one per
checkpoint of the release's life), and the baseline it is compared with (a window before it, the
same hours on earlier days, or a concurrent cohort)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ..quantities import format_duration, is_duration_text
from .fields import Duration, Strict


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
        from ..moments import parse_deploy_time

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

    def offsets(self, release_end: timedelta = timedelta(0)) -> list[timedelta]:
        """How far back each part lies: 1 period, 2 periods, ... A release window that ends
        `release_end` after the deploy (a later checkpoint) is mirrored only by periods that end
        before the deploy, the nearest first: at 7d, with every: 1d, 7 to 13 days back, never
        days the release itself was live on."""
        first = max(1, math.ceil(release_end / self.every))
        return [self.every * k for k in range(first, first + self.same_hours)]


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
        WindowSpec | SameHours | Concurrent,
        # The schema shows the `24h` shorthand the validator takes too.
        BeforeValidator(
            _baseline_shorthand,
            json_schema_input_type=Duration | WindowSpec | SameHours | Concurrent,
        ),
    ] = Field(
        default_factory=lambda: WindowSpec(start=timedelta(hours=-24), end=timedelta(0)),
        description="before the deploy: `24h`, {start: -7d, end: -6d22h}; the release window's "
        "hours on earlier days: {same_hours: 7} (7 days), {same_hours: 4, every: 7d} (the same "
        "weekday and hours over 4 weeks); or `concurrent`: the baseline cohort over the release "
        "window itself (give `cohorts`)",
    )
    release: Annotated[
        WindowSpec, BeforeValidator(_after_deploy, json_schema_input_type=Duration | WindowSpec)
    ] = Field(
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


def checkpoint_shorthand(value: object) -> object:
    # `day1: 24h` means the release window from the deploy to 24 hours after it.
    if is_duration_text(value):
        return {"after": value}
    return value


class Checkpoint(Strict):
    """A moment of the release's life at which it is judged again: `24h`, or `{after: 7d, window:
    24h}` for the last 24 hours before 7 days (a week-old release judged on its latest day)."""

    after: Duration = Field(description="how long after the deploy, e.g. 2h, 24h, 7d")
    window: Duration | None = Field(
        None,
        description="the release window's length, ending at `after` (default: from the deploy)",
    )

    @model_validator(mode="after")
    def _inside(self) -> Checkpoint:
        if self.after <= timedelta(0):
            raise ValueError(f"after ({format_duration(self.after)}) must be after the deploy")
        if self.window is not None and not timedelta(0) < self.window <= self.after:
            raise ValueError(
                f"window ({format_duration(self.window)}) must be longer than zero and no longer "
                f"than after ({format_duration(self.after)}): it ends at after and starts no "
                "earlier than the deploy"
            )
        return self

    @property
    def release(self) -> WindowSpec:
        """The release window this checkpoint judges, relative to the deploy."""
        start = self.after - self.window if self.window is not None else timedelta(0)
        return WindowSpec(start=start, end=self.after)
