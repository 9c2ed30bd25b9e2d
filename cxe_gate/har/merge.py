"""Merging partial maps, and a partial map → the journey map. `combine` is associative and
order-independent (sessions are taken in `session_order`); `finish` replays what one run does
across all sessions: weights over sessions, the first journey of each kind, statuses, timings,
shapes from the first answers of each route, and placeholders numbered in the order met."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..errors import HarError
from .facts import merge_shapes
from .journey_map import (
    Failure,
    JourneyMap,
    MappedJourney,
    Request,
    Response,
    Scrubbed,
    Step,
    Summary,
)
from .partial import (
    FirstRequest,
    Occurrence,
    PartialJourney,
    PartialMap,
    SessionFile,
    Settings,
    session_order,
)
from .placeholders import numbered, renamed
from .timing import timing


def _check_alike(parts: Sequence[tuple[str, PartialMap]]) -> None:
    first_name, first = parts[0]
    for name, part in parts[1:]:
        if part.digests != first.digests:
            raise HarError(
                f"written with another CXE_GATE_MERGE_KEY than {first_name} (or one of them "
                "without): the same secret would not be recognised in both",
                file=name,
            )
        if part.settings != first.settings:
            differ = [
                field
                for field in Settings.model_fields
                if getattr(part.settings, field) != getattr(first.settings, field)
            ]
            raise HarError(
                f"written with other settings than {first_name} ({', '.join(differ)}): "
                "shards must be read with the same --first-party, --keep and --scrub-pattern",
                file=name,
            )


def combine(parts: Sequence[tuple[str, PartialMap]]) -> PartialMap:
    """One partial map of several, each named (a file name) for the errors: sessions in session
    order, journeys of one kind together, with the first occurrence's requests."""
    if not parts:
        raise ValueError("nothing to combine")
    _check_alike(parts)
    owner: dict[str, str] = {}
    files: list[SessionFile] = []
    for name, part in parts:
        for file in part.files:
            if file.name in owner:
                raise HarError(
                    f"holds {file.name}, which {owner[file.name]} holds too: give each HAR file "
                    "to one shard only",
                    file=name,
                )
            owner[file.name] = name
            files.append(file)
    files.sort(key=lambda f: session_order(f.name))
    position = {file.name: i for i, file in enumerate(files)}

    def order(occurrence: Occurrence) -> tuple[int, int]:
        return position[occurrence.session], occurrence.number

    kinds: dict[tuple[tuple[str, ...], ...], list[PartialJourney]] = {}
    for _, part in parts:
        for journey in part.journeys:
            kinds.setdefault(journey.key, []).append(journey)
    journeys = []
    for signature in sorted(kinds):
        alike = kinds[signature]
        first = min(alike, key=lambda j: order(j.occurrences[0]))
        occurrences = sorted((o for j in alike for o in j.occurrences), key=order)
        journeys.append(PartialJourney(steps=first.steps, occurrences=occurrences))
    shapes = {digest: shape for _, part in parts for digest, shape in part.shapes.items()}
    return PartialMap(
        digests=parts[0][1].digests,
        settings=parts[0][1].settings,
        files=files,
        journeys=journeys,
        shapes=dict(sorted(shapes.items())),
    )


class _Replay:
    """What one run derives from all its sessions at once, replayed from the partial map."""

    def __init__(self, partial: PartialMap) -> None:
        self.partial = partial
        self.names = numbered(token for file in partial.files for token in file.secrets)
        # Where each file's answers of a route start among the run's, to rank answers run-wide.
        self.starts: dict[tuple[str, str], int] = {}
        totals: Counter[str] = Counter()
        for file in partial.files:
            for route, count in file.routes.items():
                self.starts[(file.name, route)] = totals[route]
                totals[route] += count
        self.sessions = sum(1 for file in partial.files if file.failure is None)

    def shapes(self, occurrences: list[Occurrence], k: int) -> list[dict[str, Any]]:
        """The shapes of request k taken from the run's first answers of its route."""
        cap = self.partial.settings.shapes_per_route
        found = []
        for occurrence in occurrences:
            ref = occurrence.requests[k][2]
            if ref is not None and self.starts[(occurrence.session, ref[1])] + ref[2] <= cap:
                found.append(self.partial.shapes[ref[0]])
        return found

    def request(self, first: FirstRequest, occurrences: list[Occurrence], k: int) -> Request:
        status = Counter(o.requests[k][0] for o in occurrences).most_common(1)[0][0]
        return Request(
            method=first.method,
            host=first.host,
            route=first.route,
            path=renamed(first.path, self.names),
            via=first.via,
            status=status,
            body=first.body,
            content_type=first.content_type,
            fields=renamed(first.fields, self.names),
            files=[f.model_copy(update={"name": renamed(f.name, self.names)}) for f in first.files],
            headers=renamed(first.headers, self.names),
            links=first.links,
            labels=first.labels,
            response=Response(mime=first.mime, shape=merge_shapes(self.shapes(occurrences, k)))
            if first.mime
            else None,
            time=timing(o.requests[k][1] for o in occurrences),
        )

    def journey(self, number: int, kind: PartialJourney) -> MappedJourney:
        occurrences = kind.occurrences
        steps = []
        k = 0
        for step in kind.steps:
            page = self.request(step.page, occurrences, k)
            calls = [self.request(c, occurrences, k + 1 + i) for i, c in enumerate(step.calls)]
            k += 1 + len(step.calls)
            steps.append(Step(page=page, calls=calls))
        sessions = sorted({o.session for o in occurrences})
        return MappedJourney(
            id=f"j{number}",
            name=" → ".join(step[0] for step in kind.signature),
            weight=len(sessions),
            share=round(len(sessions) / self.sessions, 4) if self.sessions else 0.0,
            occurrences=len(occurrences),
            sessions=sessions,
            recorded=sorted({o.day for o in occurrences}),
            duration=timing(o.duration_ms for o in occurrences),
            steps=steps,
        )


def finish(partial: PartialMap) -> JourneyMap:
    """The journey map one run over the partial map's sessions, in its order, gives."""
    replay = _Replay(partial)
    failures: list[Failure] = []
    drops: Counter[str] = Counter()
    scrubbed: Counter[tuple[str, str]] = Counter()
    parties: set[str] = set()
    read = kept = 0
    for file in partial.files:
        if file.failure is not None:
            failures.append(file.failure)
            continue
        read += file.entries_read
        kept += file.entries_kept
        drops.update(file.dropped)  # in the order met: ties in `dropped` keep it
        for kind, where, count in file.scrubbed:
            scrubbed[(kind, where)] += count
        parties.update(file.first_party)
    kinds = sorted(
        partial.journeys,
        key=lambda j: (-len({o.session for o in j.occurrences}), -len(j.occurrences), j.signature),
    )
    return JourneyMap(
        first_party=sorted(parties),
        summary=Summary(
            files=len(partial.files),
            files_failed=len(failures),
            sessions=replay.sessions,
            entries_read=read,
            entries_kept=kept,
            entries_dropped=read - kept,
            journeys=len(kinds),
        ),
        journeys=[replay.journey(i, kind) for i, kind in enumerate(kinds, 1)],
        scrubbed=[Scrubbed(kind=k, where=w, count=n) for (k, w), n in sorted(scrubbed.items())],
        dropped=dict(drops.most_common()),
        placeholders=sorted(set(replay.names.values())),
        failures=failures,
    )
