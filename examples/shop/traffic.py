"""When customers arrive: a Poisson process whose rate follows the hour of the day (quiet nights,
an afternoon and evening peak) and varies a little from day to day."""

from __future__ import annotations

import math
import random
from datetime import datetime

DAY_TO_DAY_SIGMA = 0.08  # of the lognormal factor each calendar day gets


def hourly_shape(hour: float) -> float:
    """The arrival rate at `hour` (0-24, UTC) relative to the day's mean: about 0.3 at 04:00,
    about 1.75 at 15:00; its mean over a day is exactly 1."""
    return (
        1.0
        + 0.7 * math.cos(2 * math.pi * (hour - 16) / 24)
        + 0.15 * math.cos(4 * math.pi * (hour - 13) / 24)
    )


_PEAK_SHAPE = max(hourly_shape(h / 60) for h in range(24 * 60))


def arrivals(
    start: datetime, end: datetime, sessions_per_hour: float, rng: random.Random
) -> list[float]:
    """Arrival times (POSIX seconds) in [start, end), in order. `sessions_per_hour` is the mean
    over a whole day; the peak hours get about 1.75 times as much."""
    if sessions_per_hour <= 0:
        return []
    day_factor: dict[int, float] = {}
    first_day = int(start.timestamp() // 86400)
    last_day = int(end.timestamp() // 86400)
    for day in range(first_day, last_day + 1):
        day_factor[day] = math.exp(rng.gauss(0.0, DAY_TO_DAY_SIGMA))
    # Thinning (Lewis-Shedler): draw at the highest rate, keep each with rate(t) / highest rate.
    highest = sessions_per_hour * _PEAK_SHAPE * max(day_factor.values()) / 3600
    times: list[float] = []
    t, stop = start.timestamp(), end.timestamp()
    while True:
        t += rng.expovariate(highest)
        if t >= stop:
            return times
        hour = (t % 86400) / 3600
        rate = sessions_per_hour * hourly_shape(hour) * day_factor[int(t // 86400)] / 3600
        if rng.random() * highest < rate:
            times.append(t)
