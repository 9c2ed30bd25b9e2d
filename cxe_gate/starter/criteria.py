"""Journeys → starter criteria: a conversion funnel per heavy journey and an error-rate and a latency
criterion per route it calls, each limit with the data it came from, as a commented document."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..config.suite_links import ROUTE_STEP
from ..errors import ConfigError
from ..har.journey_map import JourneyMap, MappedJourney, Request
from .evidence import NEAR_SECONDS, Call, EventFacts, Logs, RouteFacts
from .write import Node

LATENCY_FACTOR = 1.5  # a limit at p95 ×1.5 leaves room for a busy hour, not for a regression
ERROR_MARGIN = 0.01  # +1 percentage point over the logged error rate
MAX_DROP = "10%"
MIN_SAMPLES = 100  # the criteria's default: a route with fewer calls per window stays undecided
LOGS, ROUTES = "logs", "routes"
# The request log read as events, one per request named "METHOD route": a funnel over routes.
ROUTE_EVENT = "upper(method) || ' ' || route"


@dataclass(frozen=True)
class Options:
    output: Path  # the criteria file: data paths are written relative to its folder
    requests: Path | None = None
    events: Path | None = None
    preset: str = "cxe"
    min_share: float = 0.1  # a journey taken by fewer of the sessions is not worth a funnel
    release: str | None = None
    deployed_at: datetime | None = None
    release_window: timedelta = timedelta(hours=2)
    until: datetime | None = None  # log rows from then on are left out of every figure
    # The journey map and the suite seeded from it: written as `seeded:`, so reports name tests.
    seeded_map: Path | None = None
    seeded_suite: Path | None = None


@dataclass
class Starter:
    """The document and what went into it, for the command to summarise."""

    document: Node
    header: list[str]
    funnels: int = 0
    route_criteria: int = 0
    left_out: list[str] = field(default_factory=list)


def _n(number: float) -> str:
    return f"{number:,.0f}"


def _relative(path: Path, output: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), output.resolve().parent)
    except ValueError:  # another drive
        return str(path.resolve())


def _usable(request: Request) -> bool:
    # A secret placeholder (or anything like a reference) must never reach the criteria file.
    return "${" not in request.route and "${" not in request.method


def _calls(journey: MappedJourney, first_party: set[str]) -> list[tuple[Call, Request]]:
    """The journey's first-party requests in order: each page, then its calls."""
    found = []
    for step in journey.steps:
        for request in (step.page, *step.calls):
            if request.host in first_party or not first_party:
                found.append((Call(request.method.upper(), request.route), request))
    return found


def heavy(journey_map: JourneyMap, min_share: float) -> list[MappedJourney]:
    return [j for j in journey_map.journeys if j.share >= min_share]


def _event_note(call: Call, facts: EventFacts) -> str:
    what = (
        f"{call.method} {call.route} requests"
        if facts.source == "requests"
        else f"page views of {call.route} (the event log's own paths)"
    )
    return (
        f"← {call.method} {call.route}: {_n(facts.with_event)} of {_n(facts.requests)} {what} "
        f"have it within {NEAR_SECONDS} s in the same session; {_n(facts.near)} of "
        f"{_n(facts.events)} {facts.event} events are nearest to one"
    )


def _funnel(
    calls: list[tuple[Call, Request]],
    events: dict[Call, EventFacts],
    logs: Logs,
) -> tuple[str, list[str], list[str], list[str]] | None:
    """(provider, steps, a comment per step, comment lines above) or None when no funnel of two
    steps or more can be measured."""
    steps: dict[str, str] = {}
    for call, _ in calls:
        facts = events.get(call)
        if facts is not None and facts.event not in steps:
            steps[facts.event] = _event_note(call, facts)
    if len(steps) >= 2:
        return LOGS, list(steps), list(steps.values()), ["steps: analytics events, by evidence"]
    why = (
        "no analytics events given with --events"
        if not logs.has_events
        else f"fewer than two of its requests send an event the logs show ({len(steps)} found)"
    )
    if not logs.has_requests:
        return None
    routes: dict[str, str] = {}
    for call, _ in calls:
        route = logs.route(call)
        if route is not None:
            name = f"{call.method} {route.route}"
            routes.setdefault(name, f"{_n(route.calls)} calls in the request log")
    if len(routes) < 2:
        return None
    return (
        ROUTES,
        list(routes),
        list(routes.values()),
        [f"steps: request-log routes, for want of event evidence ({why})"],
    )


def _latency_limit(p95: float) -> int:
    return math.ceil(p95 * LATENCY_FACTOR / 10) * 10


def _error_limit(rate: float) -> float:
    return math.ceil(round((rate + ERROR_MARGIN) * 1000, 6)) / 10  # percent, 0.1pp steps


def _recorded(request: Request) -> str:
    time = request.time
    if time.count == 0 or time.p90_ms is None:
        return "no recorded times in the HARs"
    return f"recorded in the HARs: p90 {_n(time.p90_ms)} ms over {_n(time.count)} call(s)"


def _route_criteria(
    call: Call, request: Request, facts: RouteFacts, window_hours: float
) -> list[Node] | str:
    """The route's error-rate and latency criteria, or why it has none."""
    label = f"{call.method} {facts.route}"
    per_window = facts.calls / max(facts.hours, 1) * window_hours
    if per_window < MIN_SAMPLES:
        return (
            f"{label}: about {_n(per_window)} calls per release window in the request log, "
            f"fewer than the {MIN_SAMPLES} a criterion needs; not judged"
        )
    # Values SQL reads: quote them as SQL strings (the YAML quoting comes on top, when written).
    where = f"method = {_sql(call.method)} AND route = {_sql(facts.route)}"
    rate = facts.errors / facts.calls
    errors = Node()
    errors.add("name", f"{label} error rate")
    errors.add("metric", "error_rate")
    errors.add("provider", LOGS)
    errors.add("filter", where)
    errors.add(
        "max",
        f"{_error_limit(rate):.1f}%",
        f"{rate:.2%} errors ({_n(facts.errors)} of {_n(facts.calls)} logged calls, status >= 500) "
        "+1pp, rounded up to 0.1pp",
    )
    made = [errors]
    if facts.p95_ms is not None:
        latency = Node()
        latency.add("name", f"{label} latency p95")
        latency.add("metric", "latency")
        latency.add("provider", LOGS)
        latency.add("percentile", 95)
        latency.add("filter", where)
        latency.add(
            "max",
            f"{_latency_limit(facts.p95_ms)}ms",
            f"p95 of {_n(facts.p95_ms)} ms over {_n(facts.calls)} logged calls ×{LATENCY_FACTOR}, "
            f"rounded up to 10 ms; {_recorded(request)}",
        )
        made.append(latency)
    return made


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def starter(journey_map: JourneyMap, logs: Logs, options: Options) -> Starter:
    """The starter criteria for the map's heavy journeys, from what the logs show."""
    chosen = heavy(journey_map, options.min_share)
    first_party = set(journey_map.first_party)
    per_journey = [(j, _calls(j, first_party)) for j in chosen]
    if any(not _usable(r) for _, calls in per_journey for _, r in calls):
        per_journey = [(j, [c for c in calls if _usable(c[1])]) for j, calls in per_journey]
        left_out = ["routes holding a secret placeholder: never written, not judged"]
    else:
        left_out = []
    events = logs.events_for(call for _, calls in per_journey for call, _ in calls)
    result = Starter(Node(), _header(journey_map, chosen, options), left_out=left_out)

    journeys, criteria = Node(), []
    sent_by: dict[str, list[str]] = {}  # event → the requests that send it, for `seeded:`
    for number, (journey, calls) in enumerate(per_journey, 1):
        key = f"journey_{number}"
        about = (
            f"{journey.id}: {journey.name} ({_n(journey.weight)} of "
            f"{_n(journey_map.summary.sessions)} recorded sessions, {journey.share:.0%})"
        )
        funnel = _funnel(calls, events, logs)
        if funnel is None:
            result.left_out.append(
                f"{about}: no funnel (fewer than two of its steps are in the logs)"
            )
            continue
        provider, steps, notes, above = funnel
        if provider == LOGS:
            for call, _ in calls:
                sends = events.get(call)
                sender = f"{call.method} {call.route}"
                if sends is not None and sends.event in steps and ROUTE_STEP.fullmatch(sender):
                    sent = sent_by.setdefault(sends.event, [])
                    sent.extend([sender] if sender not in sent else [])
        spec = Node()
        spec.add("steps", steps, item_comments=tuple(notes))
        spec.add("unit", "session")
        journeys.add(key, spec, above=(about, *above))
        criterion = Node()
        criterion.add("name", f"{key} conversion")
        criterion.add("metric", "conversion")
        criterion.add("provider", provider)
        criterion.add("journey", key)
        criterion.add(
            "max_drop", MAX_DROP, "relative to the baseline: a starting point, not measured"
        )
        criteria.append(criterion)
        result.funnels += 1

    seen: set[tuple[str, str]] = set()
    window_hours = options.release_window.total_seconds() / 3600
    for _, calls in per_journey:
        for call, request in calls:
            facts = logs.route(call)
            if facts is None:
                if logs.has_requests and call.key not in seen:
                    result.left_out.append(
                        f"{call.method} {call.route}: not in the request log; not judged"
                    )
                seen.add(call.key)
                continue
            if call.key in seen:
                continue
            seen.add(call.key)
            made = _route_criteria(call, request, facts, window_hours)
            if isinstance(made, str):
                result.left_out.append(made)
            else:
                criteria += made
                result.route_criteria += len(made)
    if not logs.has_requests:
        result.left_out.append("no request log (--requests): no per-route criteria")

    if not criteria:
        raise ConfigError(
            "no criterion could be derived: no heavy journey has two steps in the logs and no "
            "route of one is in the request log",
            file=str(options.output),
        )
    routes = any(
        item.key == "provider" and item.value == ROUTES for c in criteria for item in c.items
    )
    result.document = _document(journeys, criteria, options, routes)
    if options.seeded_map is not None and options.seeded_suite is not None:
        result.document.add(
            "seeded",
            _seeded(options.seeded_map, options.seeded_suite, sent_by, options.output),
            above=("the journeys and the suite seeded from them: reports name the tests to rerun",),
        )
    return result


def _seeded(journey_map: Path, suite: Path, sent_by: dict[str, list[str]], output: Path) -> Node:
    seeded = Node()
    seeded.add("map", _relative(journey_map, output))
    seeded.add("suite", _relative(suite, output))
    if sent_by:
        events = Node()
        for event, requests in sent_by.items():
            events.add(event, requests)
        seeded.add("events", events, "each funnel event → the requests found sending it")
    return seeded


def _header(journey_map: JourneyMap, chosen: list[MappedJourney], options: Options) -> list[str]:
    summary = journey_map.summary
    return [
        "Starter criteria written by `cxe-gate init`: review every limit before relying on it.",
        f"From {_n(summary.sessions)} recorded session(s) in {_n(summary.files)} HAR file(s): "
        f"{len(chosen)} of {_n(summary.journeys)} journey(s) taken by at least "
        f"{options.min_share:.0%} of the sessions.",
        "Each number says where it came from. Logged figures are over "
        + (
            "the whole of each log."
            if options.until is None
            else f"the logs before {options.until.isoformat().replace('+00:00', 'Z')}."
        ),
        "",
    ]


def _document(journeys: Node, criteria: list[Node], options: Options, routes: bool) -> Node:
    document = Node()
    document.add("version", 1)
    release = Node()
    if options.release is not None:
        release.add("name", options.release)
    if options.deployed_at is not None:
        release.add("deployed_at", options.deployed_at.isoformat().replace("+00:00", "Z"))
    if release.items:
        document.add("release", release)
    windows = Node()
    windows.add(
        "baseline", "24h", "the day before the deploy; {same_hours: 7} once a week of logs exists"
    )
    minutes = options.release_window.total_seconds() / 60
    windows.add("release", f"{minutes / 60:g}h" if minutes % 60 == 0 else f"{minutes:g}m")
    document.add("windows", windows)
    document.add("providers", _providers(options, routes))
    if journeys.items:
        document.add("journeys", journeys)
    document.add("criteria", criteria)
    return document


def _providers(options: Options, routes_too: bool) -> Node:
    providers = Node()
    main = Node()
    main.add("type", "file")
    if options.events is not None:
        main.add("events", _relative(options.events, options.output))
        if options.preset != "cxe":
            main.add("preset", options.preset)
    if options.requests is not None:
        main.add("requests", _relative(options.requests, options.output))
    providers.add(LOGS, main)
    if routes_too and options.requests is not None:
        routes = Node()
        routes.add("type", "file")
        routes.add("events", _relative(options.requests, options.output))
        mapped = Node()
        mapped.add("event", ROUTE_EVENT)
        columns = Node()
        columns.add("events", mapped)
        routes.add("columns", columns)
        providers.add(
            ROUTES,
            routes,
            above=("the request log read as events named 'METHOD route', for funnels over routes",),
        )
    return providers
