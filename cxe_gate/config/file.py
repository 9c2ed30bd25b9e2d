"""The whole cxe.yml: providers, journeys, gate settings and criteria together, and the mistakes only
the whole file shows (a name that points at nothing declared)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ..quantities import format_duration
from .criteria import ConversionCriterion, Criterion, CriterionBase, EngagementCriterion
from .fields import Duration, Strict
from .journeys import JourneySpec, journey_shorthand
from .notify import Links, NotifyTarget
from .retention_cohorts import place_cohorts, retention_problems
from .suite_links import SeededSuite
from .windows import (
    Checkpoint,
    Cohorts,
    Concurrent,
    Release,
    SameHours,
    Windows,
    WindowSpec,
    checkpoint_shorthand,
)


class ProviderSpec(BaseModel):
    """A named data source. `type` picks the provider; its other keys are checked by that provider's
    own settings model (see cxe_gate.providers)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(description="provider type, e.g. file, prometheus, datadog, http, sql")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


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
    series: bool = Field(
        False,
        description="also measure each window in 12 equal intervals for the HTML report's "
        "per-interval chart (file, sql and prometheus providers; one more query per criterion, "
        "a few per window for prometheus)",
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
    checkpoints: dict[
        str,
        Annotated[
            Checkpoint,
            BeforeValidator(checkpoint_shorthand, json_schema_input_type=Duration | Checkpoint),
        ],
    ] = Field(
        default_factory=dict,
        description="moments of the release's life at which it is judged, earliest first, e.g. "
        "{gate: 2h, day1: 24h, week1: {after: 7d, window: 24h}}; each judges its own release "
        "window (instead of windows.release), the criteria `at` it (default: at the first)",
    )
    gate: GateSettings = Field(default_factory=GateSettings)
    providers: dict[str, ProviderSpec] = Field(min_length=1)
    journeys: dict[
        str,
        Annotated[
            JourneySpec,
            BeforeValidator(journey_shorthand, json_schema_input_type=list[str] | JourneySpec),
        ],
    ] = Field(default_factory=dict)
    cohorts: Cohorts | None = Field(
        None,
        description="with windows.baseline: concurrent, the conditions that pick the release and "
        "the baseline cohort (a criterion may override them)",
    )
    criteria: list[Criterion] = Field(min_length=1)
    notify: list[NotifyTarget] = Field(
        default_factory=list,
        description="where the verdict is announced: Slack, Teams or any webhook",
    )
    links: Links = Field(
        default_factory=dict,
        description="named links shown in reports and messages, e.g. dashboard, runbook",
    )
    seeded: SeededSuite | None = Field(
        None,
        description="the journey map and the seeded suite of the same journeys: a criterion that "
        "does not pass is reported with the seeded tests that touch its routes",
    )

    @model_validator(mode="after")
    def _cohorts_placed(self) -> GateConfig:
        # Retention criteria judge the gate window's cohort at every checkpoint.
        place_cohorts(self)
        return self

    def provider_for(self, criterion: CriterionBase) -> str:
        """The provider a criterion reads from (`reference_problems` guarantees it exists)."""
        return criterion.provider if criterion.provider is not None else next(iter(self.providers))

    def judged_at(self, criterion: CriterionBase) -> list[str]:
        """The checkpoints at which a criterion is judged (none without `checkpoints:`)."""
        if criterion.at is not None:
            return list(criterion.at)
        return list(self.checkpoints)[:1]

    def cohorts_for(self, criterion: CriterionBase) -> Cohorts | None:
        """The cohorts a criterion compares, with windows.baseline: concurrent; else None."""
        if self.windows.baseline != "concurrent":
            return None
        return criterion.cohorts or self.cohorts


Location = tuple[str | int, ...]
# What is wrong with part of a file, each at a place relative to that part.
Problems = list[tuple[Location, str]]


def _length(window: WindowSpec | SameHours | Concurrent, release: WindowSpec) -> timedelta:
    # Each part of a same-hours baseline, and a concurrent cohort, is as long as the release window.
    if isinstance(window, SameHours) or window == "concurrent":
        return release.end - release.start
    return window.end - window.start


def _release_windows(config: GateConfig, criterion: CriterionBase) -> list[WindowSpec]:
    # The release windows a criterion is judged over: one per checkpoint, else windows.release.
    named = [config.checkpoints[n] for n in config.judged_at(criterion) if n in config.checkpoints]
    return [c.release for c in named] if config.checkpoints else [config.windows.release]


def checkpoint_problems(config: GateConfig) -> Problems:
    """`checkpoints:` against the windows, and every criterion's `at` against `checkpoints:`."""
    problems: Problems = []
    declared = ", ".join(config.checkpoints) or "none"
    for index, criterion in enumerate(config.criteria):
        if criterion.at is None:
            continue
        here: Location = ("criteria", index, "at")
        if not config.checkpoints:
            problems.append((here, "at names checkpoints: declare them under checkpoints:"))
        elif not criterion.at:
            problems.append((here, f"name at least one checkpoint (declared: {declared})"))
        for name in criterion.at:
            if config.checkpoints and name not in config.checkpoints:
                problems.append(
                    (
                        here,
                        f"checkpoint {name!r} is not declared under checkpoints (declared: "
                        f"{declared})",
                    )
                )
    if not config.checkpoints:
        return problems
    if "release" in config.windows.model_fields_set:
        problems.append(
            (
                ("windows", "release"),
                "with checkpoints, each checkpoint sets its own release window; remove "
                "windows.release (or give a checkpoint {after: 2h, window: 1h50m})",
            )
        )
    earlier: tuple[str, Checkpoint] | None = None
    baseline = config.windows.baseline
    for name, checkpoint in config.checkpoints.items():
        here = ("checkpoints", name)
        if earlier is not None and checkpoint.after <= earlier[1].after:
            problems.append(
                (
                    here,
                    f"checkpoints are written earliest first: {name} "
                    f"({format_duration(checkpoint.after)}) comes after {earlier[0]} "
                    f"({format_duration(earlier[1].after)})",
                )
            )
        earlier = (name, checkpoint)
        release = checkpoint.release
        if isinstance(baseline, SameHours) and release.end - release.start > baseline.every:
            problems.append(
                (
                    here,
                    f"a release window of {format_duration(release.end - release.start)} does "
                    f"not fit in one period of the same-hours baseline (every: "
                    f"{format_duration(baseline.every)}); give the checkpoint a window of its "
                    f"own, e.g. {{after: {format_duration(checkpoint.after)}, window: "
                    f"{format_duration(min(baseline.every, checkpoint.after))}}}",
                )
            )
        elif (
            isinstance(baseline, WindowSpec)
            and baseline.start < release.end
            and release.start < baseline.end
        ):
            problems.append((here, "the baseline window overlaps this checkpoint's release window"))
    return problems


def reference_problems(config: GateConfig) -> Problems:
    """Mistakes no single model can see: names that must point at something declared elsewhere."""
    problems: Problems = [*checkpoint_problems(config), *retention_problems(config)]
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
            and any(
                _length(config.windows.baseline, release) != _length(release, release)
                for release in _release_windows(config, criterion)
            )
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
