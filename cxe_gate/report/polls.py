"""The polls of `evaluate --wait` as every report tells them: each criterion's path over the polls,
a sparkline of it, and why the wait ended."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..results import GateReport, PollCriterion, StopReason

_BLOCKS = "▁▂▃▄▅▆▇█"

_WHY = {
    StopReason.DECIDED: "every criterion was decided",
    StopReason.REGRESSION: "the release fails whatever the undecided criteria still show",
    StopReason.DEADLINE: "the wait ran out before every criterion was decided",
    StopReason.WINDOW_CLOSED: "the release window had closed, so no more data could come",
}


def path(report: GateReport, name: str) -> list[tuple[datetime, PollCriterion]]:
    """The criterion `name` at each poll that saw it, in the order of the polls."""
    return [(poll.at, seen) for poll in report.polls for seen in poll.criteria if seen.name == name]


def sparkline(values: Sequence[float | None]) -> str:
    """One block per value, from lowest to highest; a space where a poll had no value."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    blocks = []
    for value in values:
        if value is None or not math.isfinite(value):
            blocks.append(" ")
        elif high == low:
            blocks.append(_BLOCKS[len(_BLOCKS) // 2])
        else:
            # Divided first, so values near the float limits cannot overflow the difference.
            share = (value / 2 - low / 2) / (high / 2 - low / 2)
            blocks.append(_BLOCKS[min(len(_BLOCKS) - 1, int(share * len(_BLOCKS)))])
    return "".join(blocks)


def span(delta: timedelta) -> str:
    """A wait's length to the second, as people say it: 1h35m, 12m30s, 40s."""
    seconds = max(0, round(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts) or "0s"


def why(report: GateReport) -> str | None:
    """Why the wait ended, as a phrase; None while it goes on (or when the gate did not wait)."""
    stopped = report.wait.stopped if report.wait is not None else None
    return None if stopped is None else _WHY[stopped]


def wait_sentence(report: GateReport) -> str:
    """How long the gate waited, how often it looked, and why it stopped: one plain sentence."""
    wait = report.wait
    polls = len(report.polls)
    counted = f"{polls} poll{'s' if polls != 1 else ''}"
    if wait is None:
        return f"{counted}."
    elapsed = span(report.polls[-1].at - wait.started_at) if report.polls else "0s"
    head = (
        f"Waited {elapsed} of up to {span(wait.deadline - wait.started_at)}, polling every "
        f"{wait.interval}: {counted}"
    )
    reason = why(report)
    return f"{head}; still waiting." if reason is None else f"{head}; stopped because {reason}."
