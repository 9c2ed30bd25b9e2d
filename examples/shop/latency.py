"""The modelled backend: how long each kind of request takes (lognormal), from a seeded source."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    median_ms: float
    sigma: float  # of the underlying normal: 0.35 puts p95 at about 1.8 × the median


PROFILES: dict[str, Profile] = {
    "page": Profile(80, 0.35),
    "api": Profile(40, 0.4),
    "checkout_page": Profile(110, 0.35),
    "payment": Profile(250, 0.35),
    "feedback": Profile(60, 0.3),
    # the slow_checkout regression, added on top of the checkout's own time
    "slow_checkout": Profile(900, 0.2),
}


# Now and then a request hits a cold cache, a lock or a GC pause and takes several times longer;
# without this tail every Apdex would be a flat 1.0.
TAIL_CHANCE = 0.02
TAIL_FACTOR = Profile(4.0, 0.5)


class LatencyModel:
    """Draws a modelled duration per profile. `scale` shrinks every duration (tests use it to
    keep real sleeps short while keeping the proportions)."""

    def __init__(self, rng: random.Random, scale: float = 1.0) -> None:
        if scale < 0:
            raise ValueError("latency scale must not be negative")
        self._rng = rng
        self.scale = scale

    def draw(self, profile: str) -> float:
        p = PROFILES[profile]
        ms = p.median_ms * math.exp(p.sigma * self._rng.gauss(0.0, 1.0))
        if self._rng.random() < TAIL_CHANCE:
            ms *= TAIL_FACTOR.median_ms * math.exp(TAIL_FACTOR.sigma * self._rng.gauss(0.0, 1.0))
        return ms * self.scale
