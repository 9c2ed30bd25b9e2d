"""Conversion funnels read from product-analytics services: what a funnel API that counts users cannot
measure about a journey, and the users at each step made into a conversion measurement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from .. import metrics
from ..config import JourneySpec
from ..measurement import Measurement
from ..quantities import format_duration
from .answers import provider_error
from .base import ProviderContext


def users_funnel_problems(journey: JourneySpec, service: str) -> list[str]:
    """What a funnel API counting users, with a conversion window in whole seconds, cannot measure
    (the journey's unit is the criterion's, when it sets one)."""
    problems = []
    if journey.unit != "user":
        problems.append(
            f"{service} funnels count users, but the journey counts sessions (unit: session): set "
            "unit: user on the journey or on this criterion"
        )
    within = journey.within
    if within is not None and (within < timedelta(seconds=1) or within % timedelta(seconds=1)):
        problems.append(
            f"within: {format_duration(within)} is not a conversion window {service} can take: "
            "it counts whole seconds, at least 1s"
        )
    return problems


def funnel_measurement(
    context: ProviderContext,
    steps: Sequence[str],
    users: Sequence[int],
    *,
    query: str,
    rising: str,
    suffix: str = "",
    details: Mapping[str, float] | None = None,
) -> Measurement:
    """Conversion from the users at each step: the last step's over the first's, each step's count
    in the details (`step 2: add_to_cart{suffix}`). `rising` words the error when more users finish
    than start, with `{first}` and `{last}` for the two counts."""
    if users[-1] > users[0]:
        raise provider_error(context, rising.format(first=users[0], last=users[-1]), query)
    counts = {
        f"step {i + 1}: {step}{suffix}": n
        for i, (step, n) in enumerate(zip(steps, users, strict=True))
    }
    return metrics.proportion(
        users[-1], users[0], query=query, details=counts | dict(details or {})
    )


def judged_on(measurement: Measurement, samples: int, note: str) -> Measurement:
    """A conversion read from estimated counts (a sketch, a sample), judged as a proportion of
    `samples` units, its effective sample size: fewer than the units counted, so every test on it
    is wider. The value stays as read; the counted units stay in the details, `note` says why."""
    if not measurement.is_proportion or measurement.value is None:
        return replace(measurement, notes=(*measurement.notes, note))
    samples = max(1, min(samples, measurement.samples))
    return replace(
        measurement,
        samples=samples,
        successes=round(measurement.value * samples),
        details=measurement.details | {"effective samples": samples},
        notes=(*measurement.notes, note),
    )
