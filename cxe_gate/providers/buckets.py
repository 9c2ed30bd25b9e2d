"""Quantiles from cumulative histogram buckets, interpolated as Prometheus' histogram_quantile()
does, with the bucket each came from (so a report can say how wide the guess is)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Quantile:
    """A quantile read from cumulative bucket counts, and the bucket it was interpolated in."""

    value: float
    lower: float  # the bucket's lower bound (0 for the first bucket)
    upper: float  # its upper bound; +Inf when the quantile lies above every finite bound
    above_buckets: bool = False  # then `value` is the highest finite bound: a lower limit


def bucket_quantile(q: float, buckets: dict[float, float]) -> Quantile | None:
    """The q-quantile of cumulative bucket counts {upper bound: observations at or under it}, as
    Prometheus' histogram_quantile() computes it: linear interpolation inside the bucket holding
    the rank. None without observations or without a +Inf bucket."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]) or len(bounds) < 2:
        return None
    counts = [buckets[b] for b in bounds]
    for i in range(1, len(counts)):  # counts read at different moments may dip: keep them monotonic
        counts[i] = max(counts[i], counts[i - 1])
    observations = counts[-1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next(i for i, count in enumerate(counts) if count >= rank)
    if b == len(bounds) - 1:
        return Quantile(bounds[-2], bounds[-2], math.inf, above_buckets=True)
    if b == 0 and bounds[0] <= 0:
        return Quantile(bounds[0], bounds[0], bounds[0])
    lower, count = 0.0, counts[b]
    if b > 0:
        lower = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return Quantile(lower + (bounds[b] - lower) * (rank / count), lower, bounds[b])
