"""Where a retention criterion's cohorts lie when a release is judged at checkpoints, and the
checkpoints too early to judge it: a cohort's follow-up must be over before its verdict is due."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from ..quantities import format_duration
from .criteria import RetentionCriterion
from .windows import Checkpoint, WindowSpec

if TYPE_CHECKING:
    from .file import GateConfig, Location, Problems


def cohort_window(checkpoints: dict[str, Checkpoint], criterion: RetentionCriterion) -> WindowSpec:
    """The release cohort's window, relative to the deploy: the first checkpoint's release window
    (the gate window), or its first `cohort_window`. Every checkpoint judges the same cohort, so
    day-7 retention waits for one 7-day follow-up, not for the checkpoint's whole window's."""
    first = next(iter(checkpoints.values())).release
    if criterion.cohort_window is None:
        return first
    return WindowSpec(start=first.start, end=first.start + criterion.cohort_window)


def known_after(checkpoints: dict[str, Checkpoint], criterion: RetentionCriterion) -> timedelta:
    """How long after the deploy the cohort's last user's follow-up ends."""
    return cohort_window(checkpoints, criterion).end + criterion.follow_up[1]


def place_cohorts(config: GateConfig) -> None:
    """Tell each retention criterion where its cohort lies relative to the release window it is
    judged over: the first checkpoint it is judged at (`cohort_at` places it for another)."""
    if not config.checkpoints:
        return
    for criterion in config.criteria:
        if not isinstance(criterion, RetentionCriterion):
            continue
        at = [config.checkpoints[n] for n in config.judged_at(criterion) if n in config.checkpoints]
        if at:
            criterion.place_cohort(_span(config.checkpoints, criterion, at[0]))


def cohort_at(
    checkpoints: dict[str, Checkpoint], criterion: RetentionCriterion, checkpoint: Checkpoint
) -> RetentionCriterion:
    """A copy of the criterion with its cohort placed relative to `checkpoint`'s release window:
    the same cohort, whatever that window's start (week1's last day lies 6 days after it)."""
    placed = criterion.model_copy()
    placed.place_cohort(_span(checkpoints, criterion, checkpoint))
    return placed


def _span(
    checkpoints: dict[str, Checkpoint], criterion: RetentionCriterion, checkpoint: Checkpoint
) -> WindowSpec:
    cohort = cohort_window(checkpoints, criterion)
    start = checkpoint.release.start
    return WindowSpec(start=cohort.start - start, end=cohort.end - start)


def _described(criterion: RetentionCriterion, cohort: WindowSpec) -> str:
    return (
        f"{criterion.name!r}: the {criterion.described} of the users first seen "
        f"{format_duration(cohort.start)} to {format_duration(cohort.end)} after the deploy"
    )


def retention_problems(config: GateConfig) -> Problems:
    """Retention criteria judged at checkpoints their cohort's follow-up has not reached, or with
    cohort_window but no checkpoints."""
    problems: Problems = []
    for index, criterion in enumerate(config.criteria):
        if not isinstance(criterion, RetentionCriterion):
            continue
        here: Location = ("criteria", index)
        if not config.checkpoints:
            if criterion.cohort_window is not None:
                problems.append(
                    (
                        (*here, "cohort_window"),
                        f"{criterion.name!r}: cohort_window places the cohort in the first "
                        "checkpoint's window: declare checkpoints:, or remove cohort_window "
                        "(without checkpoints the cohort is the release window's new users)",
                    )
                )
            continue
        names = [n for n in config.judged_at(criterion) if n in config.checkpoints]
        where: Location = (*here, "at") if criterion.at is not None else here
        cohort = cohort_window(config.checkpoints, criterion)
        due = known_after(config.checkpoints, criterion)
        late_enough = [n for n, c in config.checkpoints.items() if c.after >= due]
        for name in names:
            after = config.checkpoints[name].after
            if after >= due:
                continue
            fix = (
                f"judge it at {late_enough[0]} "
                f"({format_duration(config.checkpoints[late_enough[0]].after)}), the earliest "
                "checkpoint that works"
                if late_enough
                else f"no checkpoint is that late: add one at {format_duration(due)} or later"
            )
            problems.append(
                (
                    where,
                    f"{_described(criterion, cohort)} is known {format_duration(due)} after it "
                    f"(the follow-up ends {format_duration(criterion.follow_up[1])} after a "
                    f"user's first visit); checkpoint {name} ({format_duration(after)}) is too "
                    f"early: {fix}, or give it a shorter cohort_window",
                )
            )
    return problems
