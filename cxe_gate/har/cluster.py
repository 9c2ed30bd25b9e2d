"""Merging look-alike journeys across sessions: the same templated step sequence is one journey,
weighted by how many sessions took it, with the recorded timing distribution; heaviest first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .journeys import RecordedJourney
from .timing import Timing, timing


@dataclass(frozen=True, slots=True)
class Cluster:
    journeys: tuple[RecordedJourney, ...]

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


def cluster(journeys: Iterable[RecordedJourney]) -> list[Cluster]:
    groups: dict[tuple[tuple[str, ...], ...], list[RecordedJourney]] = {}
    for journey in journeys:
        groups.setdefault(journey.signature, []).append(journey)
    clusters = [Cluster(tuple(group)) for group in groups.values()]
    return sorted(clusters, key=lambda c: (-c.weight, -len(c.journeys), c.signature))
