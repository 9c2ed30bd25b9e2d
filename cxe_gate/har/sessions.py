"""Reading HAR files into a partial map: each file (a session) read, its noise dropped, correlated,
scrubbed with digest placeholders and split into journeys; each journey reduced to its statuses,
times and shapes, the first of each kind kept whole. `merge.finish` makes the journey map of it."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from ..errors import HarError
from .correlate import EntryLink, find_links
from .facts import with_facts
from .form_labels import form_labels
from .journey_map import Body, Failure, Link, Upload, Via
from .journeys import RecordedCall, RecordedJourney, split_journeys
from .load import read_entries
from .model import Entry
from .multipart import MULTIPART, is_multipart
from .noise import detect_first_party, drop_reason, is_first_party
from .partial import (
    FirstRequest,
    FirstStep,
    KeyCheck,
    Occurrence,
    PartialJourney,
    PartialMap,
    Sample,
    SessionFile,
    Settings,
)
from .placeholders import Digests, DigestScrubber
from .routes import template_url
from .scrub import PLACEHOLDER, Scrubber, ScrubRules

SHAPES_PER_ROUTE = 50  # JSON answers per route a shape is inferred from


# Request headers a client adds itself that apps authenticate with: replayed from their variables.
AUTH_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "api-key",
     "x-auth-token", "x-access-token"}
)  # fmt: skip


def _fields(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Form fields by name; one sent several times (a multi-select, checkboxes) as a list."""
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name not in fields:
            fields[name] = value
        elif isinstance(fields[name], list):
            fields[name].append(value)
        else:
            fields[name] = [fields[name], value]
    return fields


def _auth_headers(entry: Entry) -> dict[str, str]:
    """The auth headers the request sent, scrubbed: only ever as placeholders (a value the scrub
    left alone is not replayed, so no secret reaches a generated file)."""
    return {
        name: value
        for name, value in entry.request_headers
        if name.lower() in AUTH_HEADERS and PLACEHOLDER.search(value)
    }


def _body(entry: Entry) -> tuple[Body, dict[str, Any] | None]:
    if is_multipart(entry.post_mime) and (entry.post_params is not None or entry.post_files):
        return "multipart", _fields(entry.post_params or ())
    if entry.post_params:
        return "form", _fields(entry.post_params)
    if not entry.post_text:
        return "none", None
    if "x-www-form-urlencoded" in (entry.post_mime or ""):
        return "form", _fields(parse_qsl(entry.post_text, keep_blank_values=True))
    try:
        data = json.loads(entry.post_text)
    except ValueError:
        return "text", None
    return "json", data if isinstance(data, dict) else {"": data}


class _FormPages:
    """The labels of each form post's fields, read from the last HTML page before it (the page
    the form was on) while its body is still there; only pages a form post follows are parsed."""

    def __init__(self, rules: ScrubRules) -> None:
        self.check = Scrubber(rules)  # finds personal data in a label; its placeholders unused
        self.page: Entry | None = None
        self.labels: dict[int, dict[str, str]] = {}  # entry index → field name → label

    def new_file(self) -> None:
        self.page = None
        self.labels = {}

    def see(self, entry: Entry) -> None:
        if entry.method == "POST" and self.page is not None:
            sent = _form_pairs(entry)
            if sent:
                self.labels[entry.index] = form_labels(
                    self.page.response_text or "",
                    self.page.url,
                    entry.url,
                    sent,
                    self._personal(sent),
                )
        if "html" in entry.mime and entry.response_text and not entry.subframe:
            self.page = entry

    def _personal(self, sent: list[tuple[str, str]]) -> Callable[[str], bool]:
        """A label holding a value the form sent that scrubbing hides (a greeting with the
        customer's name), or that scrubbing would change itself (an e-mail address), is personal."""
        values = [
            v.casefold() for n, v in sent if len(v) >= 3 and self.check.field_kind(n, v) is not None
        ]

        def personal(label: str) -> bool:
            folded = label.casefold()
            return any(v in folded for v in values) or self.check.text(label, "label", []) != label

        return personal


def _form_pairs(entry: Entry) -> list[tuple[str, str]]:
    if entry.post_files:  # a file input is labelled like any field (its file name is no label)
        return [*(entry.post_params or ()), *((f.field, "") for f in entry.post_files)]
    if entry.post_params:
        return list(entry.post_params)
    if entry.post_text and "x-www-form-urlencoded" in (entry.post_mime or ""):
        return parse_qsl(entry.post_text, keep_blank_values=True)
    return []


def _via(previous: RecordedCall | None, page: RecordedCall) -> Via:
    """A page the browser reached by following the previous page's redirect."""
    if previous is None or not 300 <= previous.status < 400 or page.method != "GET":
        return "navigation"
    location = dict((k.lower(), v) for k, v in previous.entry.response_headers).get("location")
    if location and urljoin(previous.entry.url, location).split("#")[0] == page.entry.url:
        return "redirect"
    return "navigation"


def _journey_links(
    journey: RecordedJourney, links: Mapping[int, tuple[EntryLink, ...]]
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
        for raw in links.get(index, ()):
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


def _first_request(
    call: RecordedCall,
    links: list[Link],
    via: Via = "navigation",
    labels: Mapping[int, dict[str, str]] | None = None,
) -> FirstRequest:
    body, fields = _body(call.entry)
    parts = urlsplit(call.entry.url)
    # A multipart boundary is new at every post: the content type is kept without it. Chromium
    # records no body of a post carrying a file: its header still says what it was.
    content_type = call.entry.post_mime
    if body == "multipart" or (
        body == "none" and is_multipart(call.entry.request_header("content-type"))
    ):
        content_type = MULTIPART
    return FirstRequest(
        method=call.method,
        host=call.host,
        route=call.route,
        path=parts.path + (f"?{parts.query}" if parts.query else ""),
        via=via,
        body=body,
        content_type=content_type,
        fields=fields,
        files=[
            Upload(field=f.field, name=f.file_name, type=f.content_type, size=f.size)
            for f in call.entry.post_files
        ],
        headers=_auth_headers(call.entry),
        links=links,
        labels=(labels or {}).get(call.entry.index, {}) if body in ("form", "multipart") else {},
        mime=call.entry.mime,
    )


def _first_steps(
    journey: RecordedJourney,
    links: Mapping[int, tuple[EntryLink, ...]],
    labels: Mapping[int, dict[str, str]],
) -> list[FirstStep]:
    linked = _journey_links(journey, links)
    steps = []
    for i, step in enumerate(journey.steps):
        via = _via(journey.steps[i - 1].page if i else None, step.page)
        calls = [_first_request(c, linked.get((i, k), [])) for k, c in enumerate(step.calls)]
        page = _first_request(step.page, linked.get((i, None), []), via, labels)
        steps.append(FirstStep(page=page, calls=calls))
    return steps


class _Shapes:
    """Response shapes by digest (one copy of each), and which answers they came from."""

    def __init__(self) -> None:
        self.by_digest: dict[str, dict[str, Any]] = {}
        self.ranks: dict[int, tuple[str, int]] = {}  # entry index → route digest, rank in file

    def new_file(self) -> None:
        self.ranks = {}

    def sample(self, call: RecordedCall) -> Sample:
        facts = call.entry.facts
        if facts is None or not facts.shape:
            return (call.status, call.time_ms, None)
        # Key order matters to the merged shape, so the digest keeps it.
        digest = hashlib.sha256(json.dumps(facts.shape).encode()).hexdigest()[:32]
        self.by_digest.setdefault(digest, facts.shape)
        return (call.status, call.time_ms, (digest, *self.ranks[call.entry.index]))


def _occurrence(journey: RecordedJourney, number: int, shapes: _Shapes) -> Occurrence:
    requests = [shapes.sample(c) for step in journey.steps for c in (step.page, *step.calls)]
    return Occurrence(
        session=journey.session,
        number=number,
        day=journey.steps[0].page.entry.started.astimezone(UTC).date().isoformat(),
        duration_ms=journey.duration_ms,
        requests=requests,
    )


def settings_of(
    first_party: Iterable[str], rules: ScrubRules, tracker_hosts: frozenset[str], idle_gap_s: float
) -> Settings:
    trackers = hashlib.sha256("\n".join(sorted(tracker_hosts)).encode()).hexdigest()[:16]
    return Settings(
        first_party=sorted({h.lower() for h in first_party}),
        keep=sorted(rules.keep),
        fields=sorted(rules.fields.items()),
        patterns=list(rules.patterns.items()),
        trackers=trackers,
        idle_gap_s=idle_gap_s,
        shapes_per_route=SHAPES_PER_ROUTE,
    )


def read_sessions(
    paths: Iterable[Path],
    *,
    digests: Digests,
    settings: Settings,
    rules: ScrubRules,
    tracker_hosts: frozenset[str],
    large_file_bytes: int,
    on_file: Callable[[Path], None] | None = None,
) -> PartialMap:
    """Reads every HAR in the order given (a file that fails is recorded and skipped)."""
    override = set(settings.first_party)
    scrubber = DigestScrubber(rules, digests)
    shapes = _Shapes()
    forms = _FormPages(rules)
    files: list[SessionFile] = []
    kinds: dict[tuple[tuple[str, ...], ...], PartialJourney] = {}
    shapes_seen: Counter[tuple[str, str, str]] = Counter()
    route_digests: dict[tuple[str, str, str], str] = {}
    for path in paths:
        name = str(path)
        file_drops: Counter[str] = Counter()
        routes: Counter[str] = Counter()
        kept: list[Entry] = []
        shapes.new_file()
        forms.new_file()
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
                digest = route_digests.get(route)
                if digest is None:  # a raw route may hold a secret: only its digest is kept
                    digest = route_digests[route] = digests.of("route", *route)
                routes[digest] += 1
                forms.see(entry)  # before its body is replaced by its facts
                taken = with_facts(entry, shape_wanted=shapes_seen[route] <= SHAPES_PER_ROUTE)
                if taken.facts is not None and taken.facts.shape:
                    shapes.ranks[taken.index] = (digest, routes[digest])
                kept.append(taken)
        except HarError as exc:
            failure = Failure(file=name, location=exc.location, message=exc.message)
            files.append(SessionFile(name=name, failure=failure, routes=_capped(routes)))
            continue
        finally:
            if on_file is not None:
                on_file(path)
        # A file whose every entry was noise (a lone beacon, a WebSocket) still names its site.
        party = (
            override
            or detect_first_party(kept)
            or detect_first_party(read_entries(path, large_file_bytes=large_file_bytes))
        )
        raw = [e for e in kept if is_first_party(e.host, party)]
        file_drops["third-party"] += len(kept) - len(raw)
        kept = []
        # Correlate before scrubbing (it hides the equalities), then forget the values.
        links = find_links(raw)
        ours = []
        scrubbed: Counter[tuple[str, str]] = Counter()
        scrubber.learn(raw)  # a secret the session names late is scrubbed where it came first
        for entry in raw:
            clean, found = scrubber.scrub(entry)
            scrubbed.update((f.kind, f.where) for f in found)
            ours.append(replace(clean, facts=entry.facts.without_values() if entry.facts else None))
        del raw
        files.append(
            SessionFile(
                name=name,
                entries_read=count,
                entries_kept=len(ours),
                first_party=sorted(party),
                dropped={k: v for k, v in file_drops.items() if v},
                scrubbed=[(k, w, n) for (k, w), n in sorted(scrubbed.items())],
                secrets=scrubber.take_met(),
                routes=_capped(routes),
            )
        )
        for number, journey in enumerate(
            split_journeys(ours, session=name, idle_gap_s=settings.idle_gap_s)
        ):
            occurrence = _occurrence(journey, number, shapes)
            kind = kinds.get(journey.signature)
            if kind is None:
                kinds[journey.signature] = PartialJourney(
                    steps=_first_steps(journey, links, forms.labels), occurrences=[occurrence]
                )
            else:
                kind.occurrences.append(occurrence)
    return PartialMap(
        digests=KeyCheck(keyed=digests.keyed, check=digests.check),
        settings=settings,
        files=files,
        journeys=list(kinds.values()),
        shapes=shapes.by_digest,
    )


def _capped(routes: Counter[str]) -> dict[str, int]:
    """Counts past the cap say no more (a later answer of the route is past it either way)."""
    return {route: min(n, SHAPES_PER_ROUTE) for route, n in routes.items()}
