"""Journey map → one k6 load script (`journeys.k6.js`): a scenario per journey weighted by its share,
a group per step, a status check per request, values captured from earlier answers and sent back,
secrets read from `-e` variables, and a p90 threshold per route from the recorded times.

HAR content is untrusted and ends up in JavaScript, so it only ever enters as a literal: strings go
through `json.dumps` (ASCII only, so no raw line or paragraph separator) with `</` escaped, and
names are reduced to `[a-z0-9_]`; comments carry only numbers. The same map gives the same bytes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from ..har.journey_map import JourneyMap, Link, MappedJourney, Request
from . import variables as suite_variables
from .codegen import main_host
from .hosts import HOST_MAP_VARIABLE
from .k6_prelude import HELPERS, IMPORTS, SETTINGS
from .names import identifier, journey_test_names
from .recorded import (
    DEFAULT_BUDGET_FACTOR,
    PLACEHOLDER,
    budget_ms,
    capture_hint,
    expected_status,
    pause_ms,
    set_at,
)

FILE_NAME = "journeys.k6.js"
CHECK_RATE = "rate>0.99"


@dataclass(frozen=True)
class K6Options:
    top: int | None = None
    budget_factor: float = DEFAULT_BUDGET_FACTOR


# --- literals: the only way a recorded value becomes JavaScript ------------------------------


@dataclass(frozen=True)
class _Js:
    """JavaScript we wrote ourselves (a captured value, a secret), already made of literals."""

    source: str


def literal(value: Any) -> str:
    """A JSON value as a JavaScript literal, as JSON.stringify would write it (non-finite numbers
    are null), in ASCII, with `</` escaped so no text of it can end an enclosing script tag."""
    text = json.dumps(_finite(value), ensure_ascii=True, allow_nan=False)
    return text.replace("</", "<\\/")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _name(text: str) -> str:
    """A check or group name: k6 refuses `::` in them (its group separator)."""
    return literal(text.replace("::", ": :"))


def _text(value: str, read: set[str], encode: bool = False) -> str:
    """A recorded string; a scrubbed secret inside it is read with env() (its name added to
    `read`), URL-encoded when `encode`."""
    pieces = PLACEHOLDER.split(value)
    parts = []
    for i, piece in enumerate(pieces):
        if i % 2:
            read.add(piece)
            call = f"env({literal(piece)})"
            parts.append(f"encodeURIComponent({call})" if encode else call)
        elif piece or len(pieces) == 1:
            parts.append(literal(piece))
    return " + ".join(parts)


def _key(name: str, read: set[str]) -> str:
    """An object key: a literal, or computed when a secret is inside it."""
    source = _text(name, read)
    return f"[{source}]" if " + " in source or source.startswith("env(") else source


def expression(value: Any, read: set[str]) -> str:
    """JavaScript for a recorded JSON value with captures (`_Js`) and secrets in it."""
    if isinstance(value, _Js):
        return value.source
    if isinstance(value, str):
        source = _text(value, read)
        return f"({source})" if " + " in source else source
    if isinstance(value, dict):
        items = (f"{_key(str(k), read)}: {expression(v, read)}" for k, v in value.items())
        return "{ " + ", ".join(items) + " }" if value else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(expression(v, read) for v in value) + "]"
    return literal(value)


# --- correlation: what each answer hands out, and where it goes back ------------------------


@dataclass
class _Captures:
    """Names for the values a journey captures, and what each producer captures."""

    names: dict[tuple[Any, ...], str] = field(default_factory=dict)
    by_producer: dict[tuple[int, int | None], list[tuple[str, Link]]] = field(default_factory=dict)

    def name_for(self, link: Link, request: Request) -> str:
        key = (link.step, link.call, link.source, tuple(link.key))
        if key not in self.names:
            base = identifier(capture_hint(link, request), "value")
            name, n = base, 1
            while name in self.names.values():
                n += 1
                name = f"{base}_{n}"
            self.names[key] = name
            self.by_producer.setdefault((link.step, link.call), []).append((name, link))
        return self.names[key]


def _url(
    request: Request,
    path_links: dict[int, str],
    query_links: dict[str, str],
    read: set[str],
    origin: str = "BASE",
) -> str:
    """`origin` (BASE, or a mapped host's) + the recorded path and query, captured values and
    secrets URL-encoded in."""
    raw_path, _, query = (request.path or request.route).partition("?")
    parts: list[str | _Js] = []
    for i, segment in enumerate(raw_path.split("/")):
        if i:
            parts.append("/")
        parts.append(
            _Js(f"encodeURIComponent(got.{path_links[i]})") if i in path_links else segment
        )
    if query:
        parts.append("?")
        for n, (name, value) in enumerate(parse_qsl(query, keep_blank_values=True)):
            parts.append(("&" if n else "") + quote(name, safe="") + "=")
            captured = query_links.get(name)
            recorded = quote(value, safe="${}", errors="surrogatepass")
            parts.append(_Js(f"encodeURIComponent(got.{captured})") if captured else recorded)
    merged: list[str | _Js] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    pieces = [origin]
    pieces.extend(p.source if isinstance(p, _Js) else _text(p, read, encode=True) for p in merged)
    return " + ".join(pieces)


# --- requests ------------------------------------------------------------------------------


class _Script:
    """What the journeys of one script share: route tags and their budgets, secrets read."""

    def __init__(self, options: K6Options, main: str | None = None) -> None:
        self.options = options
        self.main = main  # the host BASE_URL stands for; every other host is mapped
        self.hosts: dict[str, str] = {}  # another host → where a journey first calls it
        self.routes: dict[tuple[str, str], str] = {}  # (method, route) → its tag
        self.budgets: dict[str, int] = {}  # tag → the loosest budget of its requests
        self.read: dict[str, set[str]] = {}  # journey function → variables it reads

    def origin(self, request: Request, where: str) -> str:
        """BASE for the main host; for another, what CXE_SEEDED_HOST_MAP maps it to (hosts.py)."""
        if not request.host or request.host == self.main:
            return "BASE"
        self.hosts.setdefault(request.host, f"{where} {request.method} {request.route}")
        return f"origin({literal(request.host)})"

    def route_tag(self, request: Request) -> str:
        key = (request.method, request.route)
        if key not in self.routes:
            base = identifier(f"{request.method} {request.route}", "route")
            tag, n = base, 1
            while tag in self.routes.values():
                n += 1
                tag = f"{base}_{n}"
            self.routes[key] = tag
        tag = self.routes[key]
        budget = budget_ms(request, self.options.budget_factor)
        if budget is not None:
            self.budgets[tag] = max(budget, self.budgets.get(tag, 0))
        return tag


def _multipart(request: Request, fields: Any, read: set[str]) -> str:
    """A multipart body as k6 sends one: an object whose files are `http.file(...)` placeholders
    of the recorded name and type (k6 sets the Content-Type and boundary itself; it sends one
    value a name, so a field sent several times sends its first)."""
    body: dict[str, Any] = {}
    for name, value in (fields or {}).items():
        first = value[0] if isinstance(value, list) and value else value
        body[str(name)] = first if isinstance(first, str | _Js) else str(first or "")
    for sent in request.files:
        if sent.field not in body:
            name = _text(sent.name, read)
            kind = literal(sent.type or "application/octet-stream")
            body[sent.field] = _Js(f"http.file(PLACEHOLDER_FILE, {name}, {kind})")
    return expression(body, read)


def _body(request: Request, fields: Any, read: set[str]) -> tuple[str, dict[str, str]]:
    """The body argument and the content type it needs."""
    if request.body == "multipart":
        return _multipart(request, fields, read), {}
    if fields is None or request.body not in ("form", "json"):
        return "null", {}
    if request.body == "form":
        pairs = []
        for name, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                sent = "" if item is None else item
                shown = expression(sent if isinstance(sent, str | _Js) else str(sent), read)
                pairs.append(f"[{expression(str(name), read)}, {shown}]")
        return f"form([{', '.join(pairs)}])", {"Content-Type": "application/x-www-form-urlencoded"}
    body = fields[""] if list(fields) == [""] else fields
    content_type = request.content_type or "application/json"
    return f"JSON.stringify({expression(body, read)})", {"Content-Type": content_type}


def _call_lines(head: str, arguments: list[str]) -> list[str]:
    """A call on one line when it fits (in a group's body), else one argument a line."""
    one_line = f"{head}({', '.join(arguments)});"
    if len(one_line) <= 96:
        return [one_line]
    return [f"{head}(", *(f"  {a}," for a in arguments), ");"]


def _request_lines(
    request: Request,
    variable: str,
    captures: _Captures,
    produces: list[tuple[str, Link]],
    script: _Script,
    read: set[str],
    *,
    page: bool,
    where: str = "",
) -> list[str]:
    path_links: dict[int, str] = {}
    query_links: dict[str, str] = {}
    fields: Any = json.loads(json.dumps(request.fields)) if request.fields is not None else None
    headers: dict[str, Any] = dict(request.headers)
    for link in request.links:
        name = captures.name_for(link, request)
        if link.target == "path" and isinstance(link.at[0], int):
            path_links[link.at[0]] = name
        elif link.target == "query":
            query_links[str(link.at[0])] = name
        elif link.target == "header":
            headers[str(link.at[0])] = _Js(f"got.{name}")
        elif fields is not None and link.target in ("form", "json"):
            # A JSON body that is not an object is kept under the key "" (see the pipeline).
            key = ["", *link.at] if link.target == "json" and list(fields) == [""] else link.at
            with suppress(KeyError, IndexError, TypeError):  # the body changed shape: as recorded
                set_at(fields, key, _Js(f"got.{name}"))
    url = _url(request, path_links, query_links, read, script.origin(request, where))
    if page and request.via == "redirect":
        url = f"follow(page, {url})"
    body, content = _body(request, fields, read)
    label = f"{request.method} {request.route}"
    tag = script.route_tag(request)
    header_source = expression({**content, **headers}, read)
    status = expected_status(request.status)
    arguments = [
        literal(request.method),
        url,
        body,
        f"params({literal(label)}, {literal(tag)}, {header_source})",
    ]
    lines = _call_lines(f"{variable} = http.request", arguments)
    lines += [
        f"check({variable}, {{ {_name(f'{label} is {status}')}: (r) => r.status === {status} }});"
    ]
    for name, link in produces:
        spec = f"{literal(link.source)}, {literal(list(link.key))}"
        lines.append(f"got.{name} = capture({variable}, {spec});")
        gave = _name(f"{label} gave {name}")
        lines.append(f"check(got, {{ {gave}: (g) => g.{name} !== undefined }});")
    return lines


def _journey_source(name: str, journey: MappedJourney, total: int, script: _Script) -> str:
    captures = _Captures()
    for step in journey.steps:  # names first: a producer must know its captures
        for request in (step.page, *step.calls):
            for link in request.links:
                captures.name_for(link, request)
    read: set[str] = set()
    lines = [
        f"// Weight {journey.weight}: taken in {journey.weight} of {total} recorded sessions "
        f"({journey.share:.0%}).",
        f"export function {name}() {{",
        "  const got = {}; // values captured from this run's answers",
        "  let page = null;",
        "  let res = null;",
    ]
    pause = pause_ms(journey) / 1000
    for i, step in enumerate(journey.steps):
        if i and pause:
            lines.append(f"  think({pause:g});")
        where = f"{name} step {i + 1}"
        body = _request_lines(
            step.page, "page", captures, captures.by_producer.get((i, None), []), script, read,
            page=True, where=where,
        )  # fmt: skip
        for k, call in enumerate(step.calls):
            produces = captures.by_producer.get((i, k), [])
            body += _request_lines(
                call, "res", captures, produces, script, read, page=False, where=where
            )
        label = _name(f"{step.page.method} {step.page.route}")
        lines.append(f"  group({label}, function () {{")
        lines.extend(f"    {line}" for line in body)
        lines.append("  });")
    lines.append("}")
    script.read[name] = read
    return "\n".join(lines) + "\n"


# --- the script ------------------------------------------------------------------------------


def _secrets(journeys: Sequence[MappedJourney], names: Sequence[str], script: _Script) -> str:
    """SECRETS: every variable the journeys read → where it is first sent."""
    table = suite_variables.by_test(script.read, suite_variables.uses(journeys, names))
    where: dict[str, str] = {}
    for journey_name, row in table.items():
        for variable, place in row.items():
            where.setdefault(variable, f"{suite_variables.kind(variable)}: {journey_name} {place}")
    rows = [f"  {literal(v)}: {literal(where[v])}," for v in sorted(where)]
    return "const SECRETS = {\n" + "\n".join(rows) + "\n};\n" if rows else "const SECRETS = {};\n"


def _hosts(script: _Script) -> str:
    """HOSTS: every host besides the main one → where a journey first calls it."""
    rows = [f"  {literal(h)}: {literal(script.hosts[h])}," for h in sorted(script.hosts)]
    return "const HOSTS = {\n" + "\n".join(rows) + "\n};\n" if rows else "const HOSTS = {};\n"


def _options(names: Iterable[str], journeys: Iterable[MappedJourney], script: _Script) -> str:
    scenarios = [
        f"    {n}: scenario({literal(n)}, {literal(j.share)}),"
        for n, j in zip(names, journeys, strict=False)
    ]
    thresholds = [f"    checks: [{literal(CHECK_RATE)}],"]
    thresholds += [
        f"    {literal(f'http_req_duration{{cxe_route:{tag}}}')}: [{literal(f'p(90)<{ms}')}],"
        for tag, ms in script.budgets.items()
    ]
    return "\n".join(
        [
            "export const options = {",
            "  maxRedirects: 0, // a redirect is a step of its own, checked hop by hop",
            "  scenarios: {",
            *scenarios,
            "  },",
            "  // Each route's recorded p90 times the budget factor (and at least p90 + 1 s).",
            "  thresholds: {",
            *thresholds,
            "  },",
            "};",
        ]
    )


def generate_k6(journey_map: JourneyMap, options: K6Options | None = None) -> str:
    """The k6 script for the journey map's journeys (the `top` heaviest when given)."""
    options = options or K6Options()
    # The main host over the whole map, as the Playwright suite's, so --top does not change it.
    script = _Script(options, main_host(journey_map.journeys))
    journeys = journey_map.journeys[: options.top] if options.top else journey_map.journeys
    # Names over the whole map, as the Playwright suite's, so --top renames nothing.
    names = [
        "journey_" + n.removeprefix("test_")
        for n in journey_test_names(journey_map.journeys)[: len(journeys)]
    ]
    sessions = journey_map.summary.sessions
    functions = [
        _journey_source(n, j, sessions, script) for n, j in zip(names, journeys, strict=True)
    ]
    total_share = sum(j.share for j in journeys) or 1.0
    mapped = (
        f"-e {HOST_MAP_VARIABLE}=HOST=TARGET,... " if script.hosts else ""
    )  # fmt: skip
    header = (
        f"// Journeys real customers took, as a k6 script: seeded by cxe-gate from {sessions}\n"
        f"// recorded sessions ({len(journeys)} of {len(journey_map.journeys)} journeys, "
        f"budget factor {options.budget_factor:g}).\n"
        "// Run: k6 run -e BASE_URL=https://staging.example.com -e CXE_SECRET_...=... "
        f"{mapped}{FILE_NAME}\n"
    )
    return (
        "\n".join(
            [
                header + IMPORTS,
                SETTINGS,
                "// The journeys' shares of the recorded sessions weigh their scenarios.",
                f"const TOTAL_SHARE = {literal(total_share)};",
                "",
                "// Variables read in place of values scrubbed from the recordings: what each stands",
                "// for and where a journey first sends it.",
                _secrets(journeys, names, script),
                "// The recorded hosts besides the main one (which follows BASE_URL) and where a",
                f"// journey first calls each: map them with -e {HOST_MAP_VARIABLE}=HOST=TARGET,...",
                _hosts(script) + HELPERS,
                _options(names, journeys, script),
                "",
                "\n".join(functions),
            ]
        ).rstrip("\n")
        + "\n"
    )


def write_k6(directory: Path, script: str) -> Path:
    """Writes the script as `directory/journeys.k6.js` (LF endings), creating the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    path.write_text(script, encoding="utf-8", newline="\n")
    return path
