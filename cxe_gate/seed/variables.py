"""The environment variables a seeded suite reads in place of scrubbed values: where each journey
uses them (for `.env.example` and the conftest), and at run time one message naming every one the
selected tests need that is not set. Only names and places, never a value."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ..har.journey_map import MappedJourney, Request
from .recorded import PLACEHOLDER

_KIND = re.compile(r"^CXE_SECRET_(.+?)(?:_[0-9A-Z]*[0-9][0-9A-Z]*)?$")
_MAX_LABEL = 60


@dataclass(frozen=True, order=True)
class Use:
    """One place a journey sends a variable: the test, the step and the field."""

    variable: str
    test: str
    step: int  # 1-based, as a failing step is numbered
    request: str  # "POST /checkout"
    field: str  # "form field email", "query parameter q", "path"

    def where(self) -> str:
        """Where in its test: `step 4 POST /checkout, form field email`."""
        return f"step {self.step} {self.request}, {self.field}"


def printable(text: str) -> str:
    """Recorded text fit for a comment line: printable ASCII, no line breaks, short, and a
    placeholder only as its variable's name."""
    text = PLACEHOLDER.sub(lambda m: m[1], text)
    kept = "".join(c if " " <= c <= "~" else "?" for c in text)
    return kept if len(kept) <= _MAX_LABEL else kept[: _MAX_LABEL - 3] + "..."


def kind(variable: str) -> str:
    """What a variable stands for, from its name: CXE_SECRET_CARD_NUMBER_1 → card number."""
    found = _KIND.match(variable)
    return (found[1] if found else variable).lower().replace("_", " ")


def _found(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)


def _in_value(value: Any, path: str) -> Iterable[tuple[str, str]]:
    """(variable, key path) for each placeholder in a JSON value."""
    if isinstance(value, str):
        yield from ((v, path) for v in _found(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _in_value(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _in_value(item, f"{path}[{index}]")


def _in_request(request: Request) -> Iterable[tuple[str, str]]:
    """(variable, field) for each placeholder the request sends as recorded (a field the journey
    captures from an earlier answer sends that instead)."""
    linked = {(link.target, str(link.at[0])) for link in request.links if link.at}
    raw_path, _, query = (request.path or request.route).partition("?")
    for index, segment in enumerate(raw_path.split("/")):
        if ("path", str(index)) not in linked:
            yield from ((v, "path") for v in _found(segment))
    for name, value in parse_qsl(query, keep_blank_values=True):
        if ("query", name) not in linked:
            yield from ((v, f"query parameter {name}") for v in _found(value))
    # Recorded auth headers, where the journey map has them (schema 1.2).
    headers: dict[str, Any] = getattr(request, "headers", None) or {}
    for name, value in headers.items():
        if ("header", str(name)) not in linked:
            yield from ((v, f"header {name}") for v in _found(str(value)))
    for sent in request.files:  # a scrubbed file name (multipart bodies)
        yield from (
            (v, f"file name in {request.body} field {sent.field}") for v in _found(sent.name)
        )
    if request.fields is not None:
        fields = request.fields
        if request.body == "json" and list(fields) == [""]:  # a body that is not an object
            yield from ((v, f"JSON body{p}") for v, p in _in_value(fields[""], ""))
            return
        what = "JSON field" if request.body == "json" else f"{request.body} field"
        target = "form" if request.body == "multipart" else request.body  # a link's target
        for key, value in fields.items():
            if (target, str(key)) not in linked:
                yield from ((v, f"{what} {p}") for v, p in _in_value({key: value}, ""))


def uses(journeys: Sequence[MappedJourney], names: Sequence[str]) -> list[Use]:
    """Every place the journeys (their tests named `names`) send a variable, sorted."""
    found: set[Use] = set()
    for journey, test in zip(journeys, names, strict=True):
        for number, step in enumerate(journey.steps, 1):
            for request in (step.page, *step.calls):
                label = printable(f"{request.method} {request.route}")
                for variable, field in _in_request(request):
                    found.add(Use(variable, test, number, label, printable(field)))
    return sorted(found)


def by_test(read: Mapping[str, Iterable[str]], found: Iterable[Use]) -> dict[str, dict[str, str]]:
    """test → variable → where in the test it is first sent: the table a suite's conftest holds.
    `read` is what each test's code reads (the truth); `found` says where, when it can."""
    places: dict[tuple[str, str], str] = {}
    for use in found:
        places.setdefault((use.test, use.variable), use.where())
    return {
        test: {v: places.get((test, v), "a value scrubbed from the recordings") for v in sorted(vs)}
        for test, vs in read.items()
        if vs
    }


def env_example(table: Mapping[str, Mapping[str, str]]) -> str:
    """`.env.example`: every variable with a comment saying what it is and where it is used."""
    places: dict[str, list[str]] = {}
    for test, row in table.items():
        for variable, where in row.items():
            places.setdefault(variable, []).append(f"{test}, {where}")
    lines = [
        "# Environment variables the seeded journeys read in place of values scrubbed from the",
        "# recorded sessions. Set them to a test account's values (e.g. from CI secrets); keep real",
        "# values out of this file and out of version control.",
    ]
    if not places:
        lines.append("# (none: no recorded value was scrubbed)")
    for variable in sorted(places):
        lines.append("")
        lines.append(f"# {kind(variable)}: {places[variable][0]}")
        lines.extend(f"#   also {p}" for p in places[variable][1:3])
        if len(places[variable]) > 3:
            lines.append(f"#   and {len(places[variable]) - 3} more")
        lines.append(f"{variable}=")
    return "\n".join(lines) + "\n"


def missing_message(
    table: Mapping[str, Mapping[str, str]],
    tests: Iterable[str],
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """One message naming every variable the given tests read that is not set (None: all set)."""
    environ = os.environ if environ is None else environ
    selected = set(tests)
    missing: dict[str, str] = {}
    for test in sorted(selected & set(table)):
        for variable, where in table[test].items():
            if variable not in environ:
                missing.setdefault(variable, f"{test}, {where}")
    if not missing:
        return None
    lines = [
        f"{len(missing)} environment variable(s) the selected journeys read are not set (they "
        "replace values scrubbed from the recorded sessions; see .env.example):"
    ]
    lines.extend(f"  - {v} ({kind(v)}): {missing[v]}" for v in sorted(missing))
    return "\n".join(lines)
