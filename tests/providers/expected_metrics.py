"""Each built-in metric computed in plain Python over engine_tables' rows, independently of any SQL:
what every engine must answer for the criteria in CRITERIA."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from engine_tables import STEPS, Logs
from tiny_logs import DEPLOY

WINDOWS = {
    "baseline": (DEPLOY - timedelta(hours=24), DEPLOY),
    "release": (DEPLOY, DEPLOY + timedelta(hours=2)),
}
WITHIN = timedelta(minutes=5)  # the journey's time limit

# The criteria every engine is judged on, and each one's (baseline, release) value below.
CRITERIA = """\
  - {name: conversion, metric: conversion, journey: checkout, max_drop: 99%, min_samples: 1}
  - {name: conversion by user, metric: conversion, journey: checkout, unit: user, max_drop: 99%,
     min_samples: 1}
  - {name: errors, metric: error_rate, max: 90%, min_samples: 1, test: none}
  - {name: client errors too, metric: error_rate, errors: "status >= 400", max: 90%,
     min_samples: 1, test: none}
  - {name: checkout errors, metric: error_rate, filter: "route = '/checkout'", max: 90%,
     min_samples: 1, test: none}
  - {name: apdex, metric: apdex, t: 200ms, min: 0.01, min_samples: 1}
  - {name: p50, metric: latency, percentile: 50, max: 100s, min_samples: 1}
  - {name: p95, metric: latency, percentile: 95, max: 100s, min_samples: 1}
  - {name: nps, metric: feedback, scale: nps, filter: "survey = 'nps'", min: -100, min_samples: 1}
  - {name: csat, metric: feedback, scale: csat, filter: "survey = 'csat'", min: 0%, min_samples: 1}
  - {name: wishlist, metric: engagement, measure: adoption, event: wishlist_add, min: 0%,
     min_samples: 1}
  - {name: per session, metric: engagement, measure: events_per_session, min: 0, min_samples: 1}
  - {name: per user, metric: engagement, measure: events_per_user, min: 0, min_samples: 1}
  - {name: users, metric: engagement, measure: active_users, min: 1, min_samples: 1}
"""
JOURNEYS = "checkout: {steps: [a, b, c], within: 5m}"


def _in(moment: datetime, window: str) -> bool:
    start, end = WINDOWS[window]
    return start <= moment < end


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks (DuckDB's quantile_cont, PostgreSQL's
    percentile_cont, Spark's percentile, ClickHouse's quantileExactInclusive)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = p * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rate(successes: int, trials: int) -> float | None:
    return successes / trials if trials else None


def _converts(events: list[tuple[datetime, str]]) -> int:
    """How many steps of the journey a unit reached in order, within the time limit of its first
    step (the earliest start that can still complete is not needed: greedy from the first)."""
    ordered = sorted(events)
    starts = [t for t, name in ordered if name == STEPS[0]]
    if not starts:
        return 0
    t0 = starts[0]
    reached, last = 1, t0
    for step in STEPS[1:]:
        later = [t for t, name in ordered if name == step and last <= t <= t0 + WITHIN]
        if not later:
            break
        reached, last = reached + 1, later[0]
    return reached


def _window_values(logs: Logs, window: str) -> dict[str, float | None]:
    requests = [r for r in logs.requests if _in(r[0], window)]
    events = [e for e in logs.events if _in(e[0], window)]
    feedback = [f for f in logs.feedback if _in(f[0], window)]
    values: dict[str, float | None] = {}

    for name, unit in (("conversion", 1), ("conversion by user", 2)):
        by_unit: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for row in events:
            if row[unit] is not None:
                by_unit[row[unit]].append((row[0], row[3]))
        reached = [_converts(seen) for seen in by_unit.values()]
        values[name] = _rate(sum(r == len(STEPS) for r in reached), sum(r >= 1 for r in reached))

    values["errors"] = _rate(sum(r[2] >= 500 for r in requests), len(requests))
    values["client errors too"] = _rate(sum(r[2] >= 400 for r in requests), len(requests))
    checkout = [r for r in requests if r[1] == "/checkout"]
    values["checkout errors"] = _rate(sum(r[2] >= 500 for r in checkout), len(checkout))

    ok = [r for r in requests if r[2] < 500 and r[3] is not None]
    satisfied = sum(r[3] <= 200 for r in ok)
    tolerating = sum(200 < r[3] <= 800 for r in ok)
    values["apdex"] = _rate(satisfied + tolerating / 2, len(requests)) if requests else None
    durations = [r[3] for r in requests if r[3] is not None]
    values["p50"] = percentile(durations, 0.5)
    values["p95"] = percentile(durations, 0.95)

    nps = [f[2] for f in feedback if f[1] == "nps"]
    promoters, detractors = sum(s >= 9 for s in nps), sum(s <= 6 for s in nps)
    values["nps"] = 100 * (promoters - detractors) / len(nps) if nps else None
    csat = [f[2] for f in feedback if f[1] == "csat"]
    values["csat"] = _rate(sum(s >= 4 for s in csat), len(csat))

    sessions: dict[str, list[str]] = defaultdict(list)
    users: dict[str, list[str]] = defaultdict(list)
    for _, session, user, name in events:
        if session is not None:
            sessions[session].append(name)
        if user is not None:
            users[user].append(name)
    values["wishlist"] = _rate(
        sum("wishlist_add" in names for names in sessions.values()), len(sessions)
    )
    values["per session"] = sum(map(len, sessions.values())) / len(sessions) if sessions else None
    values["per user"] = sum(map(len, users.values())) / len(users) if users else None
    values["users"] = float(len(users)) if users else None
    return values


def expected(logs: Logs) -> dict[str, tuple[float | None, float | None]]:
    """Per criterion of CRITERIA: (baseline, release)."""
    baseline, release = _window_values(logs, "baseline"), _window_values(logs, "release")
    return {name: (baseline[name], release[name]) for name in baseline}
