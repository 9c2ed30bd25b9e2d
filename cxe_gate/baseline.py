"""Baselines: the windows a baseline is read from, and one baseline measurement built from them.

A plain baseline is one window (the 24 hours before the deploy). A same-hours baseline is the
release window's clock hours on each of k earlier days (or weeks): its value is the mean of the k
parts' values, and the spread between the parts says how much the metric moves from day to day.
A release window has that movement too, so the judge adds it to the release's sampling noise
(cxe_gate.stats.against_periods), or a jittery metric would block good releases."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta

from .config import Cohorts, SameHours, Windows
from .measurement import Measurement, Part, Spread, TimeWindow
from .quantities import format_duration

# A spread needs two degrees of freedom at least: fewer parts with data and no relative rule can
# be judged (the day-to-day movement would be a guess).
MIN_PARTS = 3
PART_PREFIX = "baseline-"


def is_part(label: str) -> bool:
    return label.startswith(PART_PREFIX)


def _part_label(back: timedelta) -> str:
    # In days wherever whole ("baseline-7d", "baseline-14d"): the reader counts days back.
    days, rest = divmod(back, timedelta(days=1))
    return f"{PART_PREFIX}{days}d" if not rest else f"{PART_PREFIX}{format_duration(back)}"


def windows_for(windows: Windows, deployed_at: datetime, release_end: datetime) -> list[TimeWindow]:
    """The baseline's windows and the release window (read up to `release_end`). A same-hours
    baseline mirrors the release window as read so far, so both cover the same clock hours, in
    the nearest periods before the deploy (lag-matched: a checkpoint a week after the deploy is
    mirrored 7 to 13 days back, not by days the release was already live on). A before/after
    baseline stays where it is written: the last hours before the deploy are the freshest
    release-free data for any checkpoint."""
    release = TimeWindow("release", deployed_at + windows.release.start, release_end)
    baseline = windows.baseline
    if baseline == "concurrent":
        # The baseline cohort over the very same time: the cohorts' conditions come per criterion.
        return [TimeWindow("baseline", release.start, release.end), release]
    if isinstance(baseline, SameHours):
        parts = [
            TimeWindow(_part_label(back), release.start - back, release.end - back)
            for back in baseline.offsets(windows.release.end)
        ]
        return [*parts, release]
    return [
        TimeWindow("baseline", deployed_at + baseline.start, deployed_at + baseline.end),
        release,
    ]


def design(windows: Windows, release: TimeWindow) -> str:
    """Which comparison the gate makes, in one sentence for the report."""
    baseline = windows.baseline
    if baseline == "concurrent":
        return (
            "cohorts: the release cohort against the baseline cohort over the same window, so time "
            "of day cancels out"
        )
    if isinstance(baseline, SameHours):
        hours = f"{release.start:%H:%M}–{release.end:%H:%M} UTC"
        k = baseline.same_hours
        if baseline.every == timedelta(days=1):
            where = f"the same clock hours ({hours}) on each of the {k} days before"
        elif baseline.every == timedelta(days=7):
            where = f"the same weekday and hours ({hours}) in each of the {k} weeks before"
        else:
            where = f"the same hours ({hours}) every {format_duration(baseline.every)}, {k} times"
        return f"same hours: the release window against {where}, with the spread between them"
    length = format_duration(baseline.end - baseline.start)
    return f"before/after: the release window against the {length} baseline window"


def _sampling_variance(m: Measurement) -> float:
    """The sampling variance of one part's value (0, unknown, for a percentile or a count)."""
    return (m.sample_variance() or 0.0) / m.samples if m.samples > 0 else 0.0


def combine(parts: list[tuple[TimeWindow, Measurement]]) -> Measurement:
    """One baseline from the same hours on earlier days: the mean of the parts' values, with their
    spread. Parts without data are left out and named; with fewer than MIN_PARTS left there is no
    baseline to compare with."""
    seen = [
        Part(w.label, w.start, w.end, m.value if m.has_data else None, m.samples, dict(m.details))
        for w, m in parts
    ]
    with_data = [(w, m) for w, m in parts if m.has_data]
    missing = [w.label for w, m in parts if not m.has_data]
    notes = [f"no data in {', '.join(missing)}: left out of the baseline"] if missing else []
    query = next((m.query for _, m in parts if m.query), None)
    if len(with_data) < MIN_PARTS:
        notes.append(
            f"only {len(with_data)} of {len(parts)} baseline periods have data; the spread "
            f"between periods needs at least {MIN_PARTS}"
        )
        return Measurement(
            value=None, samples=0, query=query, notes=tuple(notes), parts=tuple(seen)
        )
    values = [float(m.value) for _, m in with_data if m.value is not None]
    k = len(values)
    rates = all(m.successes is not None for _, m in with_data)
    means = not rates and all(m.variance is not None for _, m in with_data)
    # A rate or a mean of scores pools its parts (each weighted by its samples), so that the
    # baseline's value is the one its counts give; a percentile or a count is a plain mean.
    weights = [float(m.samples) for _, m in with_data] if rates or means else [1.0] * k
    shares = [w / math.fsum(weights) for w in weights]
    mean = math.fsum(share * v for share, v in zip(shares, values, strict=True))
    spread = Spread(
        parts=k,
        variance=math.fsum((v - mean) ** 2 for v in values) / (k - 1),
        sampling=math.fsum(_sampling_variance(m) for _, m in with_data) / k,
        concentration=math.fsum(share**2 for share in shares),
    )
    samples = sum(m.samples for _, m in with_data)
    notes.append(
        f"the {'pooled' if rates or means else 'plain'} mean of {k} periods; their values vary "
        f"by SD {math.sqrt(spread.variance):.4g} between periods, "
        f"{math.sqrt(spread.between):.4g} of it beyond sampling"
    )
    scores = [share * (m.variance or 0.0) for share, (_, m) in zip(shares, with_data, strict=True)]
    return Measurement(
        value=mean,
        samples=samples,
        successes=sum(m.successes or 0 for _, m in with_data) if rates else None,
        variance=math.fsum(scores) if means else None,
        details={"periods": k, "samples": samples},
        query=query,
        notes=tuple(notes),
        data_end=max((m.data_end for _, m in with_data if m.data_end), default=None),
        spread=spread,
        parts=tuple(seen),
    )


def with_cohorts(windows: list[TimeWindow], cohorts: Cohorts | None) -> list[TimeWindow]:
    """The windows with each cohort's condition attached (concurrent cohorts), else as they are."""
    if cohorts is None:
        return windows
    conditions = {"release": cohorts.release, "baseline": cohorts.baseline}
    return [replace(w, cohort=conditions.get(w.label)) for w in windows]


def baseline_of(measured: dict[str, Measurement], windows: list[TimeWindow]) -> Measurement | None:
    """The baseline measurement for the judge: the one window's, or the parts combined."""
    parts = [(w, measured[w.label]) for w in windows if is_part(w.label) and w.label in measured]
    if parts:
        return combine(parts)
    return measured.get("baseline")
