"""What every handler shares: the app's backend (store, logs, metrics, modelled latency, clock) and
the current request's customer and time."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app, g

from .clock import format_timestamp
from .latency import LatencyModel
from .logs import ShopLog
from .metrics import ShopMetrics
from .store import Session, Store


@dataclass
class Backend:
    store: Store
    log: ShopLog
    metrics: ShopMetrics
    latency: LatencyModel
    rng: random.Random
    regressions: frozenset[str]
    simulated_clock: bool
    breakages: frozenset[str] = frozenset()

    def regressed(self, name: str) -> bool:
        return name in self.regressions

    def broken(self, name: str) -> bool:
        return name in self.breakages

    def close(self) -> None:
        self.log.close()


@dataclass
class Visit:
    """One request, from the shop's side: who asked, in which session, and when."""

    started: datetime  # arrival: the real time, or X-Sim-Time under the simulated clock
    timer: float  # perf_counter() at arrival
    user_id: str
    session: Session
    new_user: bool
    new_session: bool
    modelled_ms: float = 0.0
    started_text: str = field(init=False)  # formatted once: every line of the request needs it

    def __post_init__(self) -> None:
        self.started_text = format_timestamp(self.started)


def backend() -> Backend:
    return current_app.extensions["shop"]


def visit() -> Visit:
    return g.visit


def spend(profile: str) -> None:
    """Takes the modelled backend time of `profile`: really sleeps on the live clock; under the
    simulated clock only adds it to the request's duration."""
    shop, current = backend(), visit()
    ms = shop.latency.draw(profile)
    if not shop.simulated_clock:
        time.sleep(ms / 1000)
    current.modelled_ms += ms


def delay(seconds: float) -> None:
    """Takes a fixed extra time that latency_scale does not shrink (a breakage's slowdown must
    be measurable in tests that serve with latency_scale=0): slept on the live clock, only added
    to the request's duration under the simulated clock."""
    shop, current = backend(), visit()
    if not shop.simulated_clock:
        time.sleep(seconds)
    current.modelled_ms += seconds * 1000


def now() -> datetime:
    """When things happen in this request. The simulated clock stands still within a request, so
    everything a request does carries its arrival time and stays inside the simulated window."""
    if backend().simulated_clock:
        return visit().started
    return datetime.now(UTC)


def emit(event: str, **properties: object) -> None:
    """Writes an analytics event for the current customer."""
    shop, current = backend(), visit()
    stamp = current.started_text if shop.simulated_clock else format_timestamp(now())
    shop.log.write(
        "events",
        stamp,
        {
            "event": event,
            "user_id": current.user_id,
            "session_id": current.session.id,
            "properties": properties,
        },
    )
