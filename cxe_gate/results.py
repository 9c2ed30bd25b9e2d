"""Verdicts as data: the models every report renders. The JSON report is `GateReport` dumped, so all
formats agree. Bump SCHEMA_VERSION on any incompatible change to these models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from .checkpoints import CheckpointReport
from .reproduction import Reproduction

SCHEMA_VERSION = "1.0"


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class Outcome(StrEnum):
    """How one comparison rule came out."""

    OK = "ok"
    BREACH = "breach"
    UNSURE = "unsure"  # breached but not significant, or not defined (empty or zero baseline)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Check(_Model):
    """One comparison rule of a criterion (min, max, max_drop or max_rise) and how it came out."""

    rule: str = Field(description="min, max, max_drop or max_rise")
    limit: str = Field(description="the rule as written, e.g. 5% or 800 ms")
    threshold: float | None = Field(description="the value the release was held to")
    outcome: Outcome
    p_value: float | None = None
    note: str = Field(description="one plain sentence about this rule")


class SeriesPoint(_Model):
    """One equal interval of a window, measured the way the whole window is."""

    start: datetime
    value: float | None = Field(description="the interval's value; null when it had no data")
    samples: int


class CriterionResult(_Model):
    name: str
    metric: str
    provider: str
    verdict: Verdict
    severity: str
    key: bool
    weight: float
    unit: str = Field(
        description="ratio (0..1), ms, score, points, users, per session, per user, or custom"
    )
    value: float | None = Field(description="the release window's value")
    baseline: float | None = Field(description="the baseline window's value")
    change: float | None = Field(
        None,
        description="relative change from the baseline (-0.071 = fell 7.1%); null if not defined",
    )
    threshold: float | None = Field(description="the deciding rule's threshold")
    samples: int = Field(description="samples in the release window")
    baseline_samples: int | None = None
    p_value: float | None = Field(description="the deciding test's p-value; null when none applied")
    message: str = Field(description="one plain sentence explaining the verdict")
    checks: list[Check] = Field(default_factory=list)
    details: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="per window: the counts behind the value"
    )
    queries: dict[str, str] = Field(
        default_factory=dict, description="per window: the query as sent"
    )
    notes: list[str] = Field(
        default_factory=list,
        description="how the values were read, where it matters (a window widened, a unit converted)",
    )
    data_end: dict[str, datetime] = Field(
        default_factory=dict,
        description="per window: the newest data time the provider saw in it (where it says)",
    )
    partial: bool = Field(
        False, description="the release window reaches past the newest data the provider has"
    )
    series: dict[str, list[SeriesPoint]] = Field(
        default_factory=dict,
        description="per window (baseline, release): its value in each of equal intervals, "
        "where the provider gives them; a same-hours baseline is its periods' mean per interval",
    )
    reproduce: Reproduction | None = Field(
        None,
        description="with `seeded:` in cxe.yml, for a criterion that did not pass: the seeded "
        "tests that touch its routes and the command that runs them",
    )


class WindowReport(_Model):
    start: datetime
    end: datetime


class ReleaseReport(_Model):
    name: str | None
    deployed_at: datetime


class PollCriterion(_Model):
    """One criterion as one poll saw it."""

    name: str
    verdict: Verdict = Field(description="inconclusive while the criterion is not decided yet")
    value: float | None
    baseline: float | None
    threshold: float | None
    samples: int


class Poll(_Model):
    """One reading of the release window while waiting for it to fill (`evaluate --wait`)."""

    at: datetime = Field(description="when the poll read the data")
    release_end: datetime = Field(description="how far the release window was read")
    verdict: Verdict = Field(description="the release's verdict had the wait ended here")
    criteria: list[PollCriterion]


class StopReason(StrEnum):
    """Why a wait for the release window ended."""

    DECIDED = "decided"  # every criterion was decided
    REGRESSION = "regression"  # the release fails whatever the undecided criteria still do
    DEADLINE = "deadline"  # --wait ran out
    WINDOW_CLOSED = "window_closed"  # the release window ended: no more data will come


class WaitReport(_Model):
    """How `evaluate --wait` polled the release window; `stopped` is null while it still waits."""

    wait: str = Field(description="the longest wait, e.g. 2h")
    interval: str = Field(description="the time between polls, e.g. 5m")
    started_at: datetime
    deadline: datetime
    stopped: StopReason | None = None


class GateReport(_Model):
    schema_version: str = SCHEMA_VERSION
    tool: str = "cxe-gate"
    tool_version: str
    generated_at: datetime
    config_file: str | None
    verdict: Verdict
    score: float | None = Field(description="0-100, weighted over decided criteria; null if none")
    summary: str = Field(description="one plain sentence explaining the overall verdict")
    dry_run: bool = False
    release: ReleaseReport
    windows: dict[str, WindowReport]
    design: str = Field(
        "",
        description="the comparison made: before/after windows, or the same hours on earlier days",
    )
    criteria: list[CriterionResult]
    wait: WaitReport | None = Field(None, description="set when the gate waited for data (--wait)")
    polls: list[Poll] = Field(
        default_factory=list, description="each reading of the release window while waiting"
    )
    policy: str | None = Field(
        None, description="gate.policy: any_fail or score (null in older reports)"
    )
    pass_score: float | None = Field(
        None, description="gate.pass_score: under policy score, the score that passes"
    )
    warn_score: float | None = Field(
        None, description="gate.warn_score: under policy score, the score below which it fails"
    )
    checkpoint: CheckpointReport | None = Field(
        None, description="the checkpoint of the release's life this report judges (checkpoints:)"
    )
    links: dict[str, str] = Field(
        default_factory=dict,
        description="title → URL: the `links:` of cxe.yml, the CI run and the commit when known",
    )

    def count(self, verdict: Verdict) -> int:
        return sum(1 for c in self.criteria if c.verdict == verdict)
