"""The partial journey map: what `cxe-gate journeys --partial` writes for a shard of the HAR files, so
that merged shards (`merge.py`) give the journey map one run over all of them gives. Scrubbed like
any map: a secret appears only as a keyed digest; counts, statuses and timings are kept as samples
(exact percentiles need them all, and they are small); reading one back from a file."""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .journey_map import PARTIAL_MARKER, Body, Failure, Link, Upload, Via, read_document

# 1.0: the first partial map. A merge takes only partial maps of its own version.
PARTIAL_SCHEMA_VERSION: Literal["1.0"] = "1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyCheck(_Model):
    """Which key the digests were made with, as a check value: shards made with different keys
    cannot be matched, so a merge refuses them."""

    keyed: bool
    check: str


class Settings(_Model):
    """What the run was told; shards merge only when they were told the same."""

    first_party: list[str]  # --first-party (empty: detected per session)
    keep: list[str]
    fields: list[tuple[str, str]]
    patterns: list[tuple[str, str]]  # in the order they are tried
    trackers: str  # a digest of the tracker host list
    idle_gap_s: float
    shapes_per_route: int


class SessionFile(_Model):
    """One HAR file (a session) as one run counts it; a merge adds these up in session order."""

    name: str
    failure: Failure | None = None
    entries_read: int = 0
    entries_kept: int = 0
    first_party: list[str] = []
    dropped: dict[str, int] = {}  # reason → entries, in the order met (the map's ties keep it)
    scrubbed: list[tuple[str, str, int]] = []  # kind, where, count
    secrets: list[str] = []  # placeholders first met here, in the order met
    routes: dict[str, int] = {}  # route digest → answers read here (capped at shapes_per_route)


ShapeRef = tuple[str, str, int]  # shape digest, route digest, rank of the answer in its file
Sample = tuple[int, float | None, ShapeRef | None]  # status, time (ms), shape of one request


class Occurrence(_Model):
    """One recorded journey of a kind: where and when, and each request's status, time and shape
    (steps in order, each its page then its calls)."""

    session: str
    number: int  # the session's n-th journey (0-based)
    day: str  # UTC, ISO
    duration_ms: float
    requests: list[Sample]


class FirstRequest(_Model):
    """A request as the first journey of its kind sent it (secrets as digest placeholders)."""

    method: str
    host: str
    route: str
    path: str
    via: Via = "navigation"
    body: Body
    content_type: str | None = None
    fields: dict[str, Any] | None = None
    files: list[Upload] = []  # a multipart body's files (name, type, size; never content)
    headers: dict[str, str] = {}  # auth headers, scrubbed
    links: list[Link] = []
    labels: dict[str, str] = {}  # form field → its label on the recorded page ("": the button)
    mime: str  # the response's; "" when it had none


class FirstStep(_Model):
    page: FirstRequest
    calls: list[FirstRequest]


class PartialJourney(_Model):
    """A kind of journey (one step sequence): its first occurrence's requests, and every
    occurrence in session order."""

    steps: list[FirstStep]
    occurrences: list[Occurrence]

    @property
    def signature(self) -> tuple[tuple[str, ...], ...]:
        return tuple(
            (f"{s.page.method} {s.page.route}", *(f"{c.method} {c.route}" for c in s.calls))
            for s in self.steps
        )

    @property
    def key(self) -> tuple[tuple[str, ...], ...]:
        """Two journeys are one kind when this matches: hosts included, so sites never merge."""
        return tuple(
            (
                f"{s.page.method} {s.page.host}{s.page.route}",
                *(f"{c.method} {c.host}{c.route}" for c in s.calls),
            )
            for s in self.steps
        )


class PartialMap(_Model):
    """Files and occurrences in session order (`session_order`); shapes by digest."""

    partial: Literal[True] = True
    schema_version: Literal["1.0"] = PARTIAL_SCHEMA_VERSION
    digests: KeyCheck
    settings: Settings
    files: list[SessionFile]
    journeys: list[PartialJourney]
    shapes: dict[str, dict[str, Any]]


def session_order(name: str) -> tuple[str, ...]:
    """The order merged sessions are taken in: by path, as a directory's files are read."""
    return PurePath(name).parts


def is_partial_map(path: Path) -> bool:
    """Whether a file is a partial map (a `.json` whose first key is `"partial": true`)."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        with path.open("rb") as file:
            head = file.read(256)
    except OSError:
        return False
    return PARTIAL_MARKER.match(head.removeprefix(b"\xef\xbb\xbf")) is not None


def load_partial_map(path: Path) -> PartialMap:
    """A partial map written by `cxe-gate journeys --partial -o`."""
    return read_document(
        path, PartialMap, f"a partial journey map of version {PARTIAL_SCHEMA_VERSION}"
    )
