"""Merging look-alike journeys across sessions: the same templated step sequence is one journey,
weighted by how many sessions took it, with the recorded timing distribution; heaviest first."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .journeys import Journey


@dataclass(frozen=True, slots=True)
class Timing:
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
    known = sorted(v for v in values if v is not None)
    if not known:
        return Timing(0, None, None, None, None, None)
    return Timing(
        len(known),
        known[0],
        percentile(known, 50),
        percentile(known, 90),
        known[-1],
        sum(known) / len(known),
    )


@dataclass(frozen=True, slots=True)
class Cluster:
    journeys: tuple[Journey, ...]

    @property
    def signature(self) -> tuple[tuple[str, ...], ...]:
        return self.journeys[0].signature

    @property
    def sessions(self) -> list[str]:
        return sorted({j.session for j in self.journeys})

    @property
    def weight(self) -> int:
        return len(self.sessions)

    @property
    def duration(self) -> Timing:
        return timing(j.duration_ms for j in self.journeys)


def cluster(journeys: Iterable[Journey]) -> list[Cluster]:
    groups: dict[tuple[tuple[str, ...], ...], list[Journey]] = {}
    for journey in journeys:
        groups.setdefault(journey.signature, []).append(journey)
    clusters = [Cluster(tuple(group)) for group in groups.values()]
    return sorted(clusters, key=lambda c: (-c.weight, -len(c.journeys), c.signature))
