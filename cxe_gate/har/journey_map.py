"""The journey map: the JSON the `journeys` command writes and the seeder reads (schema version
`SCHEMA_VERSION`, exported with `JourneyMap.model_json_schema()`), and reading it back from a file.
`pipeline.build_journey_map` builds one from HAR files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import HarError
from .model import Source, Target
from .timing import Timing

# 1.1 added path, via, response, links (all optional for 1.0 readers); later, still optional:
# headers, form fields sent several times (a multi-select, a checkbox group) as lists, and
# multipart bodies (body "multipart", their files in `files`).
SCHEMA_VERSION: Literal["1.1"] = "1.1"


# How a request sends its fields; "multipart": multipart/form-data, its text fields in `fields`.
Body = Literal["none", "form", "json", "text", "multipart"]
Via = Literal["navigation", "redirect"]  # how the browser reached a page


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Link(_Model):
    """A value this request sends that an earlier response of the journey produced: the seeder
    captures it at run time instead of replaying the recorded one."""

    target: Target
    at: list[str | int]  # path: [segment index]; query, form, header: [name]; json: key path
    step: int  # the producing step (0-based) ...
    call: int | None  # ... and call in it; None: the step's page itself
    source: Source
    key: list[str | int]  # json: key path; location: [segment index] or [query name]; else [name]


class Upload(_Model):
    """A file a multipart request sent: its field, its file name (scrubbed like a text value),
    its content type and size. Its content is never kept: a replay sends a placeholder."""

    field: str
    name: str
    type: str | None = None
    size: int = 0


class Response(_Model):
    mime: str
    shape: dict[str, Any] | None = None  # JSON Schema inferred over every recorded answer


class Request(_Model):
    """A call as the seeder replays it: method, host, templated route, an example path, and the
    body's fields with secrets already replaced by placeholders. A redirect chain is one page per
    hop: the request that answered 3xx, then each page reached `via` "redirect"."""

    method: str
    host: str
    route: str
    path: str = ""  # the first recorded path and query (scrubbed), e.g. /products/3
    via: Via = "navigation"  # pages: how the browser got there
    status: int
    body: Body
    content_type: str | None = None
    fields: dict[str, Any] | None = None  # a field sent several times: a list of its values
    files: list[Upload] = []  # body "multipart": the files it sent
    headers: dict[str, str] = {}  # recorded auth headers (Authorization, x-api-key): placeholders
    links: list[Link] = []
    # A form post: each sent field's label on the recorded page, and under "" the name of the
    # submit button pressed (page text, never a value; personal-looking labels are left out).
    labels: dict[str, str] = {}
    response: Response | None = None
    time: Timing


class Step(_Model):
    page: Request
    calls: list[Request]


class MappedJourney(_Model):
    """One entry of `journeys`: look-alike recorded journeys merged, with their weight."""

    id: str
    name: str
    weight: int  # sessions that took it
    share: float  # weight / sessions read
    occurrences: int  # journeys merged (a session may take one twice)
    sessions: list[str]
    recorded: list[str] = []  # the days (UTC, ISO) its sessions were recorded
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
    schema_version: Literal["1.0", "1.1"] = SCHEMA_VERSION
    first_party: list[str]
    summary: Summary
    journeys: list[MappedJourney]
    scrubbed: list[Scrubbed]
    dropped: dict[str, int]  # reason → entries
    placeholders: list[str]  # every placeholder used; their values are never written
    failures: list[Failure]


Document = TypeVar("Document", bound=BaseModel)
# A partial map (partial.py) says so in its first key, so a reader can tell it from the others.
PARTIAL_MARKER = re.compile(rb'^\s*\{\s*"partial"\s*:\s*true\b')


def read_document(path: Path, model: type[Document], what: str) -> Document:
    """A JSON file cxe-gate wrote, validated as `model`; a mistake names the file and the place."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HarError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(p) for p in first["loc"]) or None
        raise HarError(
            f"not {what}: {first['msg']} ({exc.error_count()} problem(s))",
            file=str(path),
            location=location,
        ) from None


def load_journey_map(path: Path) -> JourneyMap:
    """A journeys.json written by `cxe-gate journeys -o` (schema 1.0 or 1.1)."""
    try:
        with path.open("rb") as file:
            partial = PARTIAL_MARKER.match(file.read(256).removeprefix(b"\xef\xbb\xbf"))
    except OSError:
        partial = None  # reading it again says why
    if partial:
        raise HarError(
            "a partial journey map (written with --partial): merge partial maps into a journey "
            "map with `cxe-gate journeys PARTIAL.json... -o journeys.json`",
            file=str(path),
        )
    return read_document(path, JourneyMap, "a journey map")
