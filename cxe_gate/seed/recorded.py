"""What every writer of seeded journeys (the Playwright suite, the k6 script) reads off the
recording the same way: the placeholder a scrubbed secret left, a step's time budget and the
status to expect, the pause cap, and of a correlation link its name hint and where it goes."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ..har.journey_map import Link, MappedJourney, Request

PLACEHOLDER = re.compile(r"\$\{(CXE_SECRET_[A-Z0-9_]+)\}")  # a scrubbed secret, by its variable
DEFAULT_BUDGET_FACTOR = 2.0
# Fast steps get this much room at least: a CI runner under load is not production, and a fresh
# browser context pays for its first connection (340 ms measured for a 10 ms page on a busy runner).
BUDGET_SLACK_MS = 1000.0
THINK_CAP_MS = 10_000  # a recorded pause longer than this was a customer away, not thinking


def budget_ms(request: Request, factor: float) -> int | None:
    """A step's time budget: its recorded p90 times `factor`, and at least p90 + the slack."""
    p90 = request.time.p90_ms
    if p90 is None:
        return None
    return math.ceil(max(p90 * factor, p90 + BUDGET_SLACK_MS))


def expected_status(status: int) -> int:
    """The status to expect: an aborted (0, -1) or cached (304) answer stands for a 200."""
    return 200 if status in (0, -1, 304) else status


def pause_ms(journey: MappedJourney) -> int:
    """The pause before each step after the first, as the customers took it: the journey's p50
    duration less its requests' p50 times, shared evenly between the steps (the map keeps no
    per-step gap), to 100 ms, at most THINK_CAP_MS."""
    if len(journey.steps) < 2 or journey.duration.p50_ms is None:
        return 0
    busy = sum(r.time.p50_ms or 0.0 for step in journey.steps for r in (step.page, *step.calls))
    idle = max(0.0, journey.duration.p50_ms - busy) / (len(journey.steps) - 1)
    return min(THINK_CAP_MS, round(idle / 100) * 100)


def capture_hint(link: Link, request: Request) -> str:
    """A word to name a captured value by: the route's placeholder for a path segment, else the
    last key it is sent under (or read from), else where it came from."""
    if link.target == "path":
        segments = request.route.split("?")[0].split("/")
        index = link.at[0]
        if isinstance(index, int) and index < len(segments):
            return segments[index].strip("{}")
    words = [k for k in (link.at if link.target != "path" else link.key) if isinstance(k, str)]
    return words[-1] if words else link.source


def set_at(data: Any, key: Sequence[str | int], value: Any) -> None:
    """`data[key[0]][key[1]]... = value` (the caller handles a body whose shape changed)."""
    for part in key[:-1]:
        data = data[part]
    data[key[-1]] = value
