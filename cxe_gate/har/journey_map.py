"""The journey map: the JSON the `journeys` command writes and the seeder reads (schema version
`SCHEMA_VERSION`, exported with `JourneyMap.model_json_schema()`), and the run that builds it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict

from ..errors import HarError
from . import cluster as clustering
from .journeys import IDLE_GAP_S, Call, split_journeys
from .load import LARGE_FILE_BYTES, expand, read_entries
from .model import Entry
from .noise import TRACKER_HOSTS, detect_first_party, drop_reason, is_first_party
from .scrub import Finding, Scrubber, ScrubRules

SCHEMA_VERSION = "1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timing(_Model):
    count: int
    min_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    max_ms: float | None
    mean_ms: float | None


class Request(_Model):
    """A call as the seeder replays it: method, host, templated route, and the body's fields with
    secrets already replaced by placeholders."""

    method: str
    host: str
    route: str
    status: int
    body: Literal["none", "form", "json", "text"]
    fields: dict[str, Any] | None = None
    time: Timing


class Step(_Model):
    page: Request
    calls: list[Request]


class Journey(_Model):
    id: str
    name: str
    weight: int  # sessions that took it
    share: float  # weight / sessions read
    occurrences: int  # journeys merged (a session may take one twice)
    sessions: list[str]
    duration: Timing
    steps: list[Step]


class Scrubbed(_Model):
    kind: str
    where: str
    count: int


class Failure(_Model):
    file: str
    location: str | None
    message: str


class Summary(_Model):
    files: int
    files_failed: int
    sessions: int
    entries_read: int
    entries_kept: int
    entries_dropped: int
    journeys: int


class JourneyMap(_Model):
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    first_party: list[str]
    summary: Summary
    journeys: list[Journey]
    scrubbed: list[Scrubbed]
    dropped: dict[str, int]  # reason → entries
    placeholders: list[str]  # every placeholder used; their values are never written
    failures: list[Failure]


def _timing(values: Iterable[float | None]) -> Timing:
    t = clustering.timing(values)
    return Timing(
        count=t.count,
        min_ms=t.min_ms,
        p50_ms=t.p50_ms,
        p90_ms=t.p90_ms,
        max_ms=t.max_ms,
        mean_ms=t.mean_ms,
    )


def _body(entry: Entry) -> tuple[Literal["none", "form", "json", "text"], dict[str, Any] | None]:
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


def _request(calls: list[Call]) -> Request:
    first = calls[0]
    body, fields = _body(first.entry)
    status = Counter(c.status for c in calls).most_common(1)[0][0]
    return Request(
        method=first.method,
        host=first.host,
        route=first.route,
        status=status,
        body=body,
        fields=fields,
        time=_timing(c.time_ms for c in calls),
    )


def _journey(number: int, found: clustering.Cluster, sessions: int) -> Journey:
    steps = []
    for i, step in enumerate(found.journeys[0].steps):
        same = [j.steps[i] for j in found.journeys]
        calls = [_request([s.calls[k] for s in same]) for k in range(len(step.calls))]
        steps.append(Step(page=_request([s.page for s in same]), calls=calls))
    name = " → ".join(s.page.signature for s in found.journeys[0].steps)
    return Journey(
        id=f"j{number}",
        name=name,
        weight=found.weight,
        share=round(found.weight / sessions, 4) if sessions else 0.0,
        occurrences=len(found.journeys),
        sessions=found.sessions,
        duration=_timing(j.duration_ms for j in found.journeys),
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
                clean, found = scrubber.scrub(entry)
                findings.extend(found)
                kept.append(clean)
        except HarError as exc:
            failures.append(Failure(file=str(path), location=exc.location, message=exc.message))
            continue
        finally:
            if on_file is not None:
                on_file(path)
        party = override or detect_first_party(kept)
        parties |= party
        ours = [e for e in kept if is_first_party(e.host, party)]
        file_drops["third-party"] += len(kept) - len(ours)
        read += count
        kept_total += len(ours)
        sessions += 1
        drops.update({k: v for k, v in file_drops.items() if v})
        for f in findings:
            scrubbed[(f.kind, f.where)] += 1
            placeholders.add(f.placeholder)
        journeys.extend(split_journeys(ours, session=str(path), idle_gap_s=idle_gap_s))
    clusters = clustering.cluster(journeys)
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
        journeys=[_journey(i, c, sessions) for i, c in enumerate(clusters, 1)],
        scrubbed=[Scrubbed(kind=k, where=w, count=n) for (k, w), n in sorted(scrubbed.items())],
        dropped=dict(drops.most_common()),
        placeholders=sorted(placeholders),
        failures=failures,
    )
