"""HAR files → the journey map, the whole way: read, drop noise, correlate, scrub, split each session
into journeys, cluster them, and write each cluster as a `MappedJourney`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from ..errors import HarError
from .cluster import Cluster, cluster
from .correlate import EntryLink, find_links
from .facts import merge_shapes, with_facts
from .journey_map import (
    Body,
    Failure,
    JourneyMap,
    Link,
    MappedJourney,
    Request,
    Response,
    Scrubbed,
    Step,
    Summary,
    Via,
)
from .journeys import IDLE_GAP_S, RecordedCall, RecordedJourney, split_journeys
from .load import LARGE_FILE_BYTES, expand, read_entries
from .model import Entry
from .noise import TRACKER_HOSTS, detect_first_party, drop_reason, is_first_party
from .routes import template_url
from .scrub import Finding, Scrubber, ScrubRules
from .timing import timing

SHAPES_PER_ROUTE = 50  # JSON answers per route a shape is inferred from

EntryLinks = Mapping[tuple[str, int], tuple[EntryLink, ...]]  # (session, entry index) → links


def _body(entry: Entry) -> tuple[Body, dict[str, Any] | None]:
    if entry.post_params:
        return "form", dict(entry.post_params)
    if not entry.post_text:
        return "none", None
    if "x-www-form-urlencoded" in (entry.post_mime or ""):
        return "form", dict(parse_qsl(entry.post_text, keep_blank_values=True))
    try:
        data = json.loads(entry.post_text)
    except ValueError:
        return "text", None
    return "json", data if isinstance(data, dict) else {"": data}


def _request(calls: list[RecordedCall], links: list[Link], via: Via = "navigation") -> Request:
    first = calls[0]
    body, fields = _body(first.entry)
    status = Counter(c.status for c in calls).most_common(1)[0][0]
    parts = urlsplit(first.entry.url)
    shapes = [c.entry.facts.shape for c in calls if c.entry.facts and c.entry.facts.shape]
    return Request(
        method=first.method,
        host=first.host,
        route=first.route,
        path=parts.path + (f"?{parts.query}" if parts.query else ""),
        via=via,
        status=status,
        body=body,
        content_type=first.entry.post_mime,
        fields=fields,
        links=links,
        response=Response(mime=first.entry.mime, shape=merge_shapes(shapes))
        if first.entry.mime
        else None,
        time=timing(c.time_ms for c in calls),
    )


def _via(previous: RecordedCall | None, page: RecordedCall) -> Via:
    """A page the browser reached by following the previous page's redirect."""
    if previous is None or not 300 <= previous.status < 400 or page.method != "GET":
        return "navigation"
    location = dict((k.lower(), v) for k, v in previous.entry.response_headers).get("location")
    if location and urljoin(previous.entry.url, location).split("#")[0] == page.entry.url:
        return "redirect"
    return "navigation"


def _journey_links(
    journey: RecordedJourney, links: EntryLinks
) -> dict[tuple[int, int | None], list[Link]]:
    """The links of one journey's requests, producers given as (step, call); a value produced
    before the journey began cannot be captured by its test and stays as recorded."""
    where: dict[int, tuple[int, int | None]] = {}
    for i, step in enumerate(journey.steps):
        where[step.page.entry.index] = (i, None)
        for k, call in enumerate(step.calls):
            where[call.entry.index] = (i, k)
    found: dict[tuple[int, int | None], list[Link]] = {}
    for index, position in where.items():
        for raw in links.get((journey.session, index), ()):
            producer = where.get(raw.producer)
            if producer is None:
                continue
            found.setdefault(position, []).append(
                Link(
                    target=raw.target,
                    at=list(raw.at),
                    step=producer[0],
                    call=producer[1],
                    source=raw.source,
                    key=list(raw.key),
                )
            )
    return found


def _journey(number: int, found: Cluster, sessions: int, links: EntryLinks) -> MappedJourney:
    steps = []
    model = found.journeys[0]
    linked = _journey_links(model, links)
    for i, step in enumerate(model.steps):
        same = [j.steps[i] for j in found.journeys]
        calls = [
            _request([s.calls[k] for s in same], linked.get((i, k), []))
            for k in range(len(step.calls))
        ]
        via = _via(model.steps[i - 1].page if i else None, step.page)
        page = _request([s.page for s in same], linked.get((i, None), []), via)
        steps.append(Step(page=page, calls=calls))
    name = " → ".join(s.page.signature for s in found.journeys[0].steps)
    return MappedJourney(
        id=f"j{number}",
        name=name,
        weight=found.weight,
        share=round(found.weight / sessions, 4) if sessions else 0.0,
        occurrences=len(found.journeys),
        sessions=found.sessions,
        recorded=sorted(
            {
                j.steps[0].page.entry.started.astimezone(UTC).date().isoformat()
                for j in found.journeys
            }
        ),
        duration=found.duration,
        steps=steps,
    )


def build_journey_map(
    inputs: Iterable[str | Path],
    *,
    first_party: Iterable[str] = (),
    rules: ScrubRules | None = None,
    tracker_hosts: frozenset[str] = TRACKER_HOSTS,
    idle_gap_s: float = IDLE_GAP_S,
    large_file_bytes: int = LARGE_FILE_BYTES,
    on_file: Callable[[Path], None] | None = None,
) -> JourneyMap:
    """Reads every HAR (a file that fails is reported and skipped), scrubs, drops noise, splits
    each file (a session) into journeys and clusters them."""
    paths = expand(inputs)
    override = {h.lower() for h in first_party}
    scrubber = Scrubber(rules)
    failures: list[Failure] = []
    drops: Counter[str] = Counter()
    scrubbed: Counter[tuple[str, str]] = Counter()
    placeholders: set[str] = set()
    journeys = []
    links: dict[tuple[str, int], tuple[EntryLink, ...]] = {}
    shapes_seen: Counter[tuple[str, str, str]] = Counter()
    parties: set[str] = set()
    read = kept_total = sessions = 0
    for path in paths:
        file_drops: Counter[str] = Counter()
        findings: list[Finding] = []
        kept: list[Entry] = []
        count = 0
        try:
            for entry in read_entries(path, large_file_bytes=large_file_bytes):
                count += 1
                reason = drop_reason(entry, tracker_hosts)
                if reason is not None:
                    file_drops[reason] += 1
                    continue
                # Shapes merge per route: the first answers of a route are enough to infer one.
                route = (entry.method, entry.host, template_url(entry.url))
                shapes_seen[route] += 1
                kept.append(with_facts(entry, shape_wanted=shapes_seen[route] <= SHAPES_PER_ROUTE))
        except HarError as exc:
            failures.append(Failure(file=str(path), location=exc.location, message=exc.message))
            continue
        finally:
            if on_file is not None:
                on_file(path)
        party = override or detect_first_party(kept)
        parties |= party
        raw = [e for e in kept if is_first_party(e.host, party)]
        file_drops["third-party"] += len(kept) - len(raw)
        kept = []
        # Correlate before scrubbing (it hides the equalities), then forget the values.
        for index, found_links in find_links(raw).items():
            links[(str(path), index)] = found_links
        ours = []
        for entry in raw:
            clean, found = scrubber.scrub(entry)
            findings.extend(found)
            ours.append(replace(clean, facts=entry.facts.without_values() if entry.facts else None))
        del raw
        read += count
        kept_total += len(ours)
        sessions += 1
        drops.update({k: v for k, v in file_drops.items() if v})
        for f in findings:
            scrubbed[(f.kind, f.where)] += 1
            placeholders.add(f.placeholder)
        journeys.extend(split_journeys(ours, session=str(path), idle_gap_s=idle_gap_s))
    clusters = cluster(journeys)
    return JourneyMap(
        first_party=sorted(parties),
        summary=Summary(
            files=len(paths),
            files_failed=len(failures),
            sessions=sessions,
            entries_read=read,
            entries_kept=kept_total,
            entries_dropped=read - kept_total,
            journeys=len(clusters),
        ),
        journeys=[_journey(i, c, sessions, links) for i, c in enumerate(clusters, 1)],
        scrubbed=[Scrubbed(kind=k, where=w, count=n) for (k, w), n in sorted(scrubbed.items())],
        dropped=dict(drops.most_common()),
        placeholders=sorted(placeholders),
        failures=failures,
    )
