"""The recorded time distribution of a request or a journey, as journeys.json gives it: count, min,
nearest-rank p50 and p90, max and mean, in milliseconds."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict


class Timing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int
    min_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    max_ms: float | None
    mean_ms: float | None


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def timing(values: Iterable[float | None]) -> Timing:
    """The distribution of the known values (None: a duration the producer did not record)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return Timing(count=0, min_ms=None, p50_ms=None, p90_ms=None, max_ms=None, mean_ms=None)
    return Timing(
        count=len(known),
        min_ms=known[0],
        p50_ms=percentile(known, 50),
        p90_ms=percentile(known, 90),
        max_ms=known[-1],
        mean_ms=sum(known) / len(known),
    )
