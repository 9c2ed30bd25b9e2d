"""Splitting one session's kept entries into journeys and steps.

A step is one page navigation (a new `pageref`, or a main-frame document request) with the API
calls made from that page; a journey is a run of steps without an idle gap longer than `idle_gap_s`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .frames import is_navigation
from .model import Entry
from .routes import template_url

IDLE_GAP_S = 30 * 60.0  # the usual analytics session timeout


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """A request of a recorded step (its page or a call made from it), its route templated."""

    method: str
    host: str
    route: str
    status: int
    time_ms: float | None
    entry: Entry

    @property
    def signature(self) -> str:
        # The host is part of it: journeys of different sites never merge.
        return f"{self.method} {self.host}{self.route}"


@dataclass(slots=True)
class RecordedStep:
    """A page the session opened and the calls made from it."""

    page: RecordedCall
    calls: list[RecordedCall] = field(default_factory=list)

    @property
    def signature(self) -> tuple[str, ...]:
        return (self.page.signature, *(c.signature for c in self.calls))


@dataclass(frozen=True, slots=True)
class RecordedJourney:
    """One journey of a session, as recorded (clusters merge look-alikes across sessions)."""

    session: str
    steps: tuple[RecordedStep, ...]
    duration_ms: float

    @property
    def signature(self) -> tuple[tuple[str, ...], ...]:
        return tuple(step.signature for step in self.steps)


def _call(entry: Entry) -> RecordedCall:
    return RecordedCall(
        entry.method, entry.host, template_url(entry.url), entry.status, entry.time_ms, entry
    )


def split_journeys(
    entries: Sequence[Entry], *, session: str, idle_gap_s: float = IDLE_GAP_S
) -> list[RecordedJourney]:
    ordered = sorted(entries, key=lambda e: (e.started, e.index))
    journeys: list[RecordedJourney] = []
    steps: list[RecordedStep] = []
    first_ms = last_ms = 0.0
    pageref: str | None = None

    def close() -> None:
        if steps:
            journeys.append(RecordedJourney(session, tuple(steps), max(0.0, last_ms - first_ms)))

    for entry in ordered:
        start_ms = entry.started.timestamp() * 1000
        if steps and start_ms - last_ms > idle_gap_s * 1000:
            close()
            steps = []
        if not steps:
            first_ms = last_ms = start_ms
        new_page = entry.pageref is not None and pageref is not None and entry.pageref != pageref
        if not steps or is_navigation(entry) or new_page:
            steps.append(RecordedStep(_call(entry)))
        else:
            steps[-1].calls.append(_call(entry))
        pageref = entry.pageref or pageref
        last_ms = max(last_ms, entry.ended_ms)
    close()
    return journeys
