"""Journey map → the files of a pytest-playwright suite: `conftest.py`, `test_journeys.py` (one
test per journey, heaviest first, named after its pages: names.py), `.env.example` and an
`__init__.py` (a package, so two suites collect in one pytest run). A request to another host
than the suite's main one carries its recorded `host=`, which the suite maps (--host-map).

HAR content is untrusted and ends up in code, so it only ever enters as a literal: every value goes
through `repr()` (which escapes quotes, newlines, backslashes, unicode line separators and null
bytes) or is reduced to `[a-z0-9_]` (test names); comments carry only numbers, dates, sanitized
file names and form field names as printable-ASCII literals (never a field's value). The same
journey map always gives byte-identical files."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qsl, quote

from ..har.form_labels import BUTTON
from ..har.journey_map import JourneyMap, Link, MappedJourney, Request
from ..har.multipart import MULTIPART
from . import variables as suite_variables
from .conftest_source import conftest
from .hosts import hosts_example
from .names import identifier, journey_key, journey_test_names
from .recorded import (
    DEFAULT_BUDGET_FACTOR,
    PLACEHOLDER,
    budget_ms,
    capture_hint,
    expected_status,
    pause_ms,
    set_at,
)


@dataclass(frozen=True)
class SeedOptions:
    mode: str = "browser"
    top: int | None = None
    budget_factor: float = DEFAULT_BUDGET_FACTOR
    think_time: str = "none"  # recorded: pause between steps as the customers did (capped)


# --- literals: the only way a recorded value becomes code ----------------------------------


@dataclass(frozen=True)
class _Code:
    """Code we wrote ourselves (a marker call), already made of literals."""

    source: str


def _string(value: str, variables: set[str] | None = None) -> str | _Code:
    """A recorded string; a scrubbed secret inside it becomes an environment variable (its name
    added to `variables`)."""
    pieces = PLACEHOLDER.split(value)
    if len(pieces) == 1:
        return value
    if variables is not None:
        variables.update(pieces[1::2])
    parts = [repr(p) if i % 2 == 0 else f"env({p!r})" for i, p in enumerate(pieces) if p or i % 2]
    if len(parts) == 1:
        return _Code(parts[0])
    return _Code(f"text({', '.join(parts)})")


def literal(value: Any, variables: set[str] | None = None) -> str:
    """Python source for a JSON value (or a marker); always a valid expression. The environment
    variables it reads are added to `variables`."""
    if isinstance(value, _Code):
        return value.source
    if isinstance(value, str):
        found = _string(value, variables)
        return found.source if isinstance(found, _Code) else repr(found)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, dict):
        items = (f"{literal(str(k), variables)}: {literal(v, variables)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v, variables) for v in value) + "]"
    raise TypeError(f"no literal for {type(value).__name__}")


def pretty(
    value: Any, indent: str = "", width: int = 100, variables: set[str] | None = None
) -> str:
    """`literal`, broken over lines (one key or item per line) where it would be too long."""
    flat = literal(value, variables)
    if len(indent) + len(flat) <= width or not isinstance(value, dict | list | tuple) or not value:
        return flat
    inner = indent + "    "
    if isinstance(value, dict):
        items = [
            f"{inner}{literal(str(k), variables)}: {pretty(v, inner, width, variables)},"
            for k, v in value.items()
        ]
        return "{\n" + "\n".join(items) + f"\n{indent}}}"
    items = [f"{inner}{pretty(v, inner, width, variables)}," for v in value]
    return "[\n" + "\n".join(items) + f"\n{indent}]"


# --- names ---------------------------------------------------------------------------------


_identifier = identifier


def _unique(base: str, taken: Iterable[str]) -> str:
    """`base`, or `base_2`, `base_3`, ... when it is taken."""
    used = set(taken)
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    return name


def _file_name(session: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", PurePath(session).name)[:60]


def _shape_base(route: str) -> str:
    return "SHAPE_" + _identifier(route.split("?", 1)[0], "root").upper()


# --- correlation: captures on producers, refs on consumers ----------------------------------


@dataclass
class _Captures:
    names: dict[tuple[Any, ...], str] = field(default_factory=dict)
    by_producer: dict[tuple[int, int | None], dict[str, str]] = field(default_factory=dict)

    def name_for(self, link: Link, hint: str) -> str:
        key = (link.step, link.call, link.source, tuple(link.key))
        if key not in self.names:
            name = _unique(_identifier(hint, "value"), self.names.values())
            self.names[key] = name
            spec = ", ".join([repr(link.source), *(repr(k) for k in link.key)])
            self.by_producer.setdefault((link.step, link.call), {})[name] = f"capture({spec})"
        return self.names[key]


def _path_source(
    path: str, links: dict[int, str], query_links: dict[str, str], variables: set[str]
) -> str:
    """The request's path as code: a plain literal, or url(...) when parts are captured or
    secret. Parts are recorded text (str) or marker code (_Code); neighbouring text is joined."""
    raw_path, _, query = path.partition("?")
    parts: list[str | _Code] = []
    for i, segment in enumerate(raw_path.split("/")):
        if i:
            parts.append("/")
        parts.append(_Code(f"ref({links[i]!r})") if i in links else _string(segment, variables))
    if query:
        parts.append("?")
        for n, (name, value) in enumerate(parse_qsl(query, keep_blank_values=True)):
            parts.append(("&" if n else "") + quote(name, safe="") + "=")
            captured = query_links.get(name)
            recorded = quote(value, safe="${}")
            parts.append(_Code(f"ref({captured!r})") if captured else _string(recorded, variables))
    merged: list[str | _Code] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    if len(merged) == 1 and isinstance(merged[0], str):
        return repr(merged[0])
    return f"url({', '.join(literal(p, variables) for p in merged)})"


# --- requests → keyword arguments -----------------------------------------------------------


class _Module:
    """What the tests of one module share: the recorded response shapes, written once as SHAPE_
    constants, and the environment variables their values read."""

    def __init__(self, options: SeedOptions, main_host: str | None = None) -> None:
        self.options = options
        self.main_host = main_host  # requests to another host say which (host=)
        self.shape_names: dict[str, str] = {}
        self.shape_sources: list[str] = []
        self.variables: set[str] = set()
        self.read: dict[str, set[str]] = {}  # test → the environment variables it reads
        self._planned: dict[str, str] = {}

    def plan_shapes(self, journeys: Iterable[MappedJourney]) -> None:
        """Names for every shape the journeys check, fixed before any test is written so that a
        name depends on the shapes alone, never on the order of the journeys: a route's name, and
        a hash of the shape when one route has several."""
        bases: dict[str, str] = {}
        for journey in journeys:
            for step in journey.steps:
                for request in (step.page, *step.calls):
                    response = request.response
                    if response is None or response.shape is None or "json" not in response.mime:
                        continue
                    key = json.dumps(response.shape, sort_keys=True)
                    base = _shape_base(request.route)
                    bases[key] = min(base, bases.get(key, base))
        counts = Counter(bases.values())
        for key, base in bases.items():
            digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:6].upper()
            self._planned[key] = base if counts[base] == 1 else f"{base}_{digest}"

    def shape_name(self, route: str, shape: dict[str, Any]) -> str:
        key = json.dumps(shape, sort_keys=True)
        if key not in self.shape_names:
            planned = self._planned.get(key)
            name = planned or _unique(_shape_base(route), self.shape_names.values())
            self.shape_names[key] = name
            self.shape_sources.append(f"{name} = {pretty(shape, variables=self.variables)}")
        return self.shape_names[key]


def _arguments(
    request: Request, captures: _Captures, produces: dict[str, str], module: _Module, *, page: bool
) -> list[str]:
    path_links: dict[int, str] = {}
    query_links: dict[str, str] = {}
    fields: Any = json.loads(json.dumps(request.fields)) if request.fields is not None else None
    # Recorded auth headers (placeholders: their variables); a captured value wins over one.
    headers: dict[str, Any] = dict(request.headers)
    for link in request.links:
        name = captures.name_for(link, capture_hint(link, request))
        if link.target == "path" and isinstance(link.at[0], int):
            path_links[link.at[0]] = name
        elif link.target == "query":
            query_links[str(link.at[0])] = name
        elif link.target == "header":
            headers[str(link.at[0])] = _Code(f"ref({name!r})")
        elif fields is not None and link.target in ("form", "json"):
            # A JSON body that is not an object is kept under the key "" (see the pipeline).
            key = ["", *link.at] if link.target == "json" and list(fields) == [""] else link.at
            # If the body changed shape between occurrences, the recorded value stays.
            with suppress(KeyError, IndexError, TypeError):
                set_at(fields, key, _Code(f"ref({name!r})"))
    variables = module.variables
    path = _path_source(request.path or request.route, path_links, query_links, variables)
    arguments = [repr(request.method), path]
    if request.host and request.host != module.main_host:
        arguments.append(f"host={request.host!r}")
    arguments.append(f"route={request.route!r}")
    arguments.append(f"status={expected_status(request.status)!r}")
    if page and request.via != "navigation":
        arguments.append(f"via={request.via!r}")
    if (
        request.response is not None
        and request.response.shape is not None
        and "json" in request.response.mime
    ):
        arguments.append(f"shape={module.shape_name(request.route, request.response.shape)}")
    budget = budget_ms(request, module.options.budget_factor)
    if budget is not None:
        arguments.append(f"budget_ms={budget}")
    if request.body == "form" and fields is not None:
        arguments.append(f"form={pretty(fields, ' ' * 8, variables=variables)}")
    elif request.body == "multipart":
        body = _with_uploads(fields or {}, request, variables)
        arguments.append(f"multipart={pretty(body, ' ' * 8, variables=variables)}")
    elif request.body == "json" and fields is not None:
        body = fields[""] if list(fields) == [""] else fields
        arguments.append(f"json={pretty(body, ' ' * 8, variables=variables)}")
    if headers:
        arguments.append(f"headers={literal(headers, variables)}")
    labels = _labels(request)
    if page and labels:
        arguments.append(f"labels={pretty(labels, ' ' * 8)}")
    if produces:
        arguments.append("capture={" + ", ".join(f"{k!r}: {v}" for k, v in produces.items()) + "}")
    return arguments


def _with_uploads(fields: dict[str, Any], request: Request, variables: set[str]) -> dict[str, Any]:
    """A multipart body's fields with its files added as `upload(name, type)` calls (the file
    name a literal, or its variable when it was scrubbed); several files of a field: a list."""
    body: dict[str, Any] = dict(fields)
    for sent in request.files:
        call = _Code(f"upload({literal(sent.name, variables)}, {literal(sent.type)})")
        if sent.field not in body:
            body[sent.field] = call
        elif isinstance(body[sent.field], list):
            body[sent.field].append(call)
        else:
            body[sent.field] = [body[sent.field], call]
    return body


def _labels(request: Request) -> dict[str, str]:
    """Form field name → the label (or button text) it had when recorded, and `BUTTON` → the
    name of the submit button pressed; only for fields the request sends."""
    sent = {**(request.fields or {}), **{f.field: f.name for f in request.files}}
    return {
        str(k): str(v)
        for k, v in request.labels.items()
        if (k in sent or k == BUTTON) and isinstance(v, str)
    }


def _form_comments(request: Request, indent: str) -> list[str]:
    """What the customer did on the form this page submits, a line per field: its name and label,
    and where a value comes from when it is not the recorded one (never a value)."""
    if request.body == "none" and request.content_type == MULTIPART:
        return [
            f"{indent}# The recording kept no body of this multipart form post (Chromium records",
            f"{indent}# none for a post carrying a file): add its fields as multipart={{...}}.",
        ]
    if request.body not in ("form", "multipart") or not (request.fields or request.files):
        return []
    captured = {str(link.at[0]) for link in request.links if link.target == "form" and link.at}
    labels = _labels(request)
    lines = [f"{indent}# The customer fills in the form and sends it:"]
    for name, value in (request.fields or {}).items():
        line = f"{indent}#   {suite_variables.printable(name)!r}"
        if name in labels:
            line += f", labelled {suite_variables.printable(labels[name])!r}"
        found = sorted(set(PLACEHOLDER.findall(json.dumps(value))))
        if name in captured:
            line += ": the value an earlier answer handed out"
        elif found:
            line += f": from {', '.join(found)}"
        lines.append(line)
    for sent in request.files:  # what was uploaded, never its name (it may be a person's)
        line = f"{indent}#   {suite_variables.printable(sent.field)!r}"
        if sent.field in labels:
            line += f", labelled {suite_variables.printable(labels[sent.field])!r}"
        kind = f"{suite_variables.printable(sent.type)} file" if sent.type else "file"
        lines.append(f"{line}: a placeholder for the {kind} uploaded ({sent.size} bytes)")
    if labels.get(BUTTON):
        lines.append(f"{indent}#   click button {suite_variables.printable(labels[BUTTON])!r}")
    return lines


def _call_source(arguments: list[str], indent: str, head: str) -> str:
    one_line = f"{indent}{head}({', '.join(arguments)})"
    if len(one_line) <= 100:
        return one_line
    inner = indent + "    "
    return f"{indent}{head}(\n" + "".join(f"{inner}{a},\n" for a in arguments) + f"{indent})"


def _def_line(name: str) -> str:
    one_line = f"def {name}(journey: SeededJourney) -> None:"
    if len(one_line) <= 100:
        return one_line
    return f"def {name}(\n    journey: SeededJourney,\n) -> None:"


def _test_source(name: str, journey: MappedJourney, module: _Module) -> str:
    captures = _Captures()
    # Names first (a producer must know its captures before it is written).
    for step in journey.steps:
        for request in (step.page, *step.calls):
            for link in request.links:
                captures.name_for(link, capture_hint(link, request))
    files = ", ".join(_file_name(s) for s in journey.sessions[:5])
    more = f" and {len(journey.sessions) - 5} more" if len(journey.sessions) > 5 else ""
    recorded = " to ".join(dict.fromkeys([journey.recorded[0], journey.recorded[-1]])) or "?"
    lines = [
        f"# Weight {journey.weight}: taken in {journey.weight} of the recorded sessions "
        f"({journey.share:.0%}); recorded {recorded}.",
        f"# Sources: {files}{more}.",
        _def_line(name),
        f"    {journey.name!r}",
    ]
    pause = pause_ms(journey) if module.options.think_time == "recorded" else 0
    for i, step in enumerate(journey.steps):
        if i and pause:
            lines.append(f"    journey.think({pause})")
        call_lines = []
        for k, call in enumerate(step.calls):
            produces = captures.by_producer.get((i, k), {})
            arguments = _arguments(call, captures, produces, module, page=False)
            call_lines.append(_call_source(arguments, " " * 12, "Call") + ",")
        produces = captures.by_producer.get((i, None), {})
        arguments = _arguments(step.page, captures, produces, module, page=True)
        lines.extend(_form_comments(step.page, "    "))
        if call_lines:
            arguments.append("calls=[\n" + "\n".join(call_lines) + "\n        ]")
            head = "    journey.page(\n"
            body = "".join(f"        {a},\n" for a in arguments)
            lines.append(head + body + "    )")
        else:
            lines.append(_call_source(arguments, "    ", "journey.page"))
    return "\n".join(lines) + "\n"


# --- files ---------------------------------------------------------------------------------


def _tests_module(journey_map: JourneyMap, module: _Module, names: list[str]) -> str:
    options = module.options
    journeys = journey_map.journeys[: options.top] if options.top else journey_map.journeys
    module.plan_shapes(journeys)
    tests = []
    everything: set[str] = set()
    for name, journey in zip(names, journeys, strict=False):
        module.variables = set()  # each test's own, for the variables table
        tests.append(_test_source(name, journey, module))
        module.read[name] = module.variables
        everything |= module.variables
    module.variables = everything
    summary = journey_map.summary
    header = [
        '"""Journeys real customers took, as regression tests: seeded by cxe-gate from '
        f"{summary.sessions} recorded sessions",
        f"({len(journeys)} of {len(journey_map.journeys)} journeys, heaviest first; "
        f"budget factor {options.budget_factor:g}; think time {options.think_time}).",
        "",
        "Run: pytest THIS_DIRECTORY --base-url https://staging.example.com",
        "Each step checks the status class, the JSON shape, the time budget, and in the browser",
        "no uncaught page errors and no failed requests. Edit freely: a re-seed rewrites only the",
        "tests and constants nobody edited (seed-manifest.json says what was seeded) and writes",
        'the seeded versions of edited ones to reseed.diff."""',
        "",
        "from cxe_gate.seed.runtime import Call, SeededJourney, capture, env, ref, text, upload, url"
        "  # noqa: F401",
        "",
    ]
    shapes = module.shape_sources
    body = "\n\n".join(shapes) + ("\n\n" if shapes else "")
    return "\n".join(header) + "\n" + body + "\n" + "\n\n".join(tests)


def main_host(journeys: Sequence[MappedJourney]) -> str | None:
    """The host most of the recorded sessions started on (ties: the heaviest journey's): its
    requests follow --base-url, every other host is mapped."""
    weights: Counter[str] = Counter()
    for journey in journeys:
        if journey.steps:
            weights[journey.steps[0].page.host] += journey.weight
    return weights.most_common(1)[0][0] if weights else None


def other_hosts(
    journeys: Sequence[MappedJourney], names: Sequence[str], main: str | None
) -> dict[str, dict[str, str]]:
    """test → each host besides `main` it calls → where it first does (`step 2 GET /v1/cart`)."""
    table: dict[str, dict[str, str]] = {}
    for journey, name in zip(journeys, names, strict=False):
        for number, step in enumerate(journey.steps, 1):
            for request in (step.page, *step.calls):
                if request.host and request.host != main:
                    where = suite_variables.printable(f"{request.method} {request.route}")
                    table.setdefault(name, {}).setdefault(request.host, f"step {number} {where}")
    return table


PACKAGE = '"""A suite seeded by cxe-gate (a package, so several suites collect in one run)."""\n'


def seeded_tests(journey_map: JourneyMap, options: SeedOptions | None = None) -> dict[str, str]:
    """Test name → the key of the journey it replays (names.journey_key), for the tests `generate`
    writes: what the manifest records so reports can name the tests of a route."""
    top = (options or SeedOptions()).top
    journeys = journey_map.journeys[:top] if top else journey_map.journeys
    names = journey_test_names(journey_map.journeys)
    return {name: journey_key(j) for name, j in zip(names, journeys, strict=False)}


def generate(journey_map: JourneyMap, options: SeedOptions | None = None) -> dict[str, str]:
    """File name → content of the seeded suite."""
    options = options or SeedOptions()
    if options.mode not in ("browser", "api"):
        raise ValueError(f"mode must be browser or api, got {options.mode!r}")
    if options.think_time not in ("none", "recorded"):
        raise ValueError(f"think time must be none or recorded, got {options.think_time!r}")
    # The main host over the whole map, so --top does not change it.
    main = main_host(journey_map.journeys)
    module = _Module(options, main)
    # Names over the whole map, so --top changes none of them.
    names = journey_test_names(journey_map.journeys)
    tests = _tests_module(journey_map, module, names)
    journeys = journey_map.journeys[: options.top] if options.top else journey_map.journeys
    uses = suite_variables.uses(journeys, names[: len(journeys)])
    table = suite_variables.by_test(module.read, uses)
    hosts = other_hosts(journeys, names[: len(journeys)], main)
    return {
        ".env.example": suite_variables.env_example(table) + hosts_example(main, hosts),
        "__init__.py": PACKAGE,
        "conftest.py": conftest(options.mode, pretty(table), repr(main), pretty(hosts)),
        "test_journeys.py": tests,
    }
