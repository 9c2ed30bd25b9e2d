"""Reading cxe.yml: YAML with line numbers, validation into GateConfig, and every mistake reported at
once as `file:line: place: what was expected`."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .config import GateConfig, Location, Problems, Release, reference_problems
from .config.suite_links import seeded_suite_problems
from .errors import ConfigError
from .moments import parse_deploy_time
from .providers import ProviderSettings, available, capabilities, provider_class
from .providers.base import DataCheck, MetricRequest, ProviderContext


@dataclass(frozen=True)
class LoadedConfig:
    """A validated criteria file, with where each part of it was written."""

    config: GateConfig
    path: Path
    provider_settings: dict[str, ProviderSettings]
    lines: dict[Location, int] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def where(self, location: Location) -> str:
        """`cxe.yml:12` for the nearest written ancestor of `location`."""
        return f"{self.path}:{line_of(self.lines, location)}"


def line_of(lines: dict[Location, int], location: Location) -> int:
    """The line where `location`, or its nearest written ancestor, is written."""
    for size in range(len(location), -1, -1):
        line = lines.get(location[:size])
        if line is not None:
            return line
    return 1


# --- YAML with positions ------------------------------------------------------------------------

# Limits no real criteria file comes near (a few kB, a few thousand values, a dozen levels), so that
# a hostile or mistaken file is refused in bounded time and memory instead of exhausting either.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_VALUES = 100_000  # as composed, and as expanded: an alias counts every value it stands for
MAX_DEPTH = 64


class _Refused(Exception):
    """The YAML is too large, too deep or circular to read; `line` is where that became clear."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


class _Loader(yaml.SafeLoader):
    """Safe YAML, but timestamps stay strings: pydantic parses them, with better messages. Counts the
    nodes it composes and how deep they nest, because PyYAML's composer recurses without limit."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._composed = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        line = self.peek_event().start_mark.line + 1
        self._composed += 1
        if self._composed > MAX_VALUES:
            raise _Refused(
                f"more than {MAX_VALUES:,} values; a criteria file has a few thousand", line
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", line)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph whose aliases expand it past the limits ("billion laughs": nine anchors
    of nine aliases each stand for 387 million values) or into itself (`&a [*a]`), by sizing each
    node once instead of expanding it."""
    sizes: dict[int, int] = {}  # id(node) -> values it stands for, itself included
    heights: dict[int, int] = {}  # id(node) -> levels it stands for
    on_path: set[int] = set()

    def visit(node: yaml.Node, depth: int) -> None:
        key, line = id(node), node.start_mark.line + 1
        if key in on_path:
            raise _Refused("an alias refers to the collection that contains it", line)
        if key not in sizes:
            if depth > MAX_DEPTH:
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels through aliases", line)
            on_path.add(key)
            children = _children(node)
            for child in children:
                visit(child, depth + 1)
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            heights[key] = 1 + max((heights[id(child)] for child in children), default=0)
            if sizes[key] > MAX_VALUES:
                raise _Refused(
                    f"its aliases expand this to more than {MAX_VALUES:,} values; a criteria file "
                    "has a few thousand, so write them out or alias less",
                    line,
                )
        if depth + heights[key] - 1 > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels through aliases", line)

    visit(root, 1)


_SCALAR_KINDS = {
    "tag:yaml.org,2002:str": "text",
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:null": "null",
}
# PyYAML resolves a plain `<<` or `=` to these tags, which only mean something as keys.
_AS_TEXT = {"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"}


@dataclass
class _Tree:
    """Turns checked YAML nodes into plain data, noting the line of each place."""

    file: str
    scalars: yaml.SafeLoader  # one per file: it turns scalar nodes into int, float, bool, str
    lines: dict[Location, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def data(self, node: yaml.Node, here: Location) -> Any:
        self.lines.setdefault(here, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(
                        f"{self.file}:{line}: {_dotted(here)}: a key must be a name, "
                        "not a list or a mapping"
                    )
                    continue
                key = key_node.value
                if key in result:
                    self.problems.append(
                        f"{self.file}:{line}: {_dotted((*here, key))}: this key is written twice"
                    )
                self.lines[(*here, key)] = line
                result[key] = self.data(value_node, (*here, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.data(item, (*here, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, here)

    def _scalar(self, node: yaml.Node, here: Location) -> Any:
        where = f"{self.file}:{node.start_mark.line + 1}: {_dotted(here)}"
        if node.tag in _AS_TEXT:
            return node.value
        kind = _SCALAR_KINDS.get(node.tag)
        if kind is None:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.problems.append(
                f"{where}: the tag {tag} means nothing in a criteria file; write the value plainly"
            )
            return None
        try:
            return self.scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, LookupError):
            # `!!int abc`, `!!bool maybe`, or an integer of more than 4,300 digits.
            shown = (
                node.value
                if len(node.value) <= 40
                else f"{node.value[:20]}… ({len(node.value)} characters)"
            )
            self.problems.append(f"{where}: cannot read {shown!r} as {kind}")
            return None


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)  # not more: the path may name a huge file
    except FileNotFoundError:
        raise ConfigError("no such criteria file", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the criteria file: {exc}", file=str(path)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(
            f"the criteria file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; a criteria "
            "file is a few kB: is this the right file?",
            file=str(path),
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read the criteria file: {exc}", file=str(path)) from None


def _read_yaml(path: Path) -> tuple[Any, dict[Location, int]]:
    text = _read_text(path)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
    except _Refused as exc:
        raise ConfigError(exc.message, file=str(path), location=str(exc.line)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML: {problem}", file=str(path), location=line) from None
    finally:
        loader.dispose()
    if node is None:
        raise ConfigError(
            "the criteria file is empty; expected providers and criteria", file=str(path)
        )
    tree = _Tree(str(path), _Loader(""))
    data = tree.data(node, ())
    if tree.problems:
        raise ConfigError("invalid YAML values", file=str(path), problems=tree.problems)
    if not isinstance(data, dict):
        raise ConfigError(
            "expected a mapping with providers and criteria at the top",
            file=str(path),
            location="1",
        )
    return data, tree.lines


# --- validation messages ------------------------------------------------------------------------


def _dotted(location: Location) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def _known_fields(root: type[BaseModel]) -> set[str]:
    """Every key the model and the models inside it accept: the vocabulary for "did you mean"."""
    names: set[str] = set()
    pending: list[type[BaseModel]] = [root]
    seen: set[type] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        names.update(model.model_fields)
        pending.extend(model.__subclasses__())
        for info in model.model_fields.values():
            for arg in _types_in(info.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    pending.append(arg)
    return names


def _types_in(annotation: Any) -> list[Any]:
    found = [annotation]
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_types_in(arg))
    for meta in getattr(annotation, "__metadata__", ()) or ():
        found.extend(_types_in(meta))
    origin = getattr(annotation, "__origin__", None)
    if origin is not None:
        found.append(origin)
    return found


def _resolve(data: Any, location: tuple[Any, ...]) -> tuple[Location, Location]:
    """Split pydantic's error location into the part that exists in the data and the rest, dropping
    the union tags pydantic inserts (e.g. `conversion` in criteria.0.conversion.max_drop)."""
    found: list[str | int] = []
    current = data
    rest: list[str | int] = []
    for part in location:
        if isinstance(current, dict) and part in current:
            found.append(part)
            current = current[part]
            rest.clear()  # what came before was a union member's tag
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            found.append(part)
            current = current[part]
            rest.clear()
        elif (
            (isinstance(part, str) and "[" in part)
            or part in ("function-after", "function-before")
            or (isinstance(current, dict) and current.get("metric") == part)
        ):
            # a validator's or a union member's name (the criterion's own metric, for a problem
            # with the whole criterion), not a place in the file
            continue
        else:
            rest.append(part)
    # Only the last missing part is a real key; union member names sit before it.
    return tuple(found), tuple(rest[-1:])


def _describe(error: Mapping[str, Any], vocabulary: set[str]) -> str:
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "extra_forbidden":
        key = error["loc"][-1] if error["loc"] else "?"
        close = difflib.get_close_matches(str(key), sorted(vocabulary), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return "required, but not given"
    if kind == "union_tag_invalid":
        context = error.get("ctx", {})
        return (
            f"unknown metric {context.get('tag')!r}; expected one of {context.get('expected_tags')}"
        )
    if kind == "union_tag_not_found":
        return (
            "say which `metric` this criterion measures (conversion, engagement, error_rate, "
            "apdex, latency, feedback, custom or journeys_pass_rate)"
        )
    given = error.get("input")
    if kind in ("value_error", "assertion_error") or isinstance(given, dict | list):
        return message
    return f"{message} (got {given!r})"


def _problems(
    error: ValidationError,
    model: type[BaseModel],
    data: Any,
    lines: dict[Location, int],
    file: str,
    prefix: Location = (),
) -> list[tuple[int, str]]:
    vocabulary = _known_fields(model)
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    for item in error.errors():
        existing, rest = _resolve(data, tuple(item["loc"]))
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            rest = ("metric",)
        location = prefix + existing
        line = line_of(lines, location + rest)
        text = f"{file}:{line}: {_dotted(location + rest)}: {_describe(item, vocabulary)}"
        if text not in seen:
            seen.add(text)
            found.append((line, text))
    return found


# --- the door -----------------------------------------------------------------------------------


def load(
    path: str | Path, *, release: str | None = None, deployed_at: str | datetime | None = None
) -> LoadedConfig:
    """Read and validate a criteria file; command-line overrides win over the file's release."""
    path = Path(path)
    data, lines = _read_yaml(path)
    file = str(path)
    problems: list[tuple[int, str]] = []
    try:
        config = GateConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc, GateConfig, data, lines, file))
        config = None

    settings: dict[str, ProviderSettings] = {}
    for name, spec in (
        (data.get("providers") or {}).items() if isinstance(data.get("providers"), dict) else ()
    ):
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            continue  # already reported by the model
        here: Location = ("providers", name)
        provider = provider_class(spec["type"])
        if provider is None:
            line = line_of(lines, (*here, "type"))
            problems.append(
                (
                    line,
                    f"{file}:{line}: providers.{name}.type: unknown provider "
                    f"{spec['type']!r}; available: {', '.join(available())}",
                )
            )
            continue
        options = {k: v for k, v in spec.items() if k != "type"}
        try:
            settings[name] = provider.settings_model.model_validate(options)
        except ValidationError as exc:
            problems.extend(
                _problems(exc, provider.settings_model, options, lines, file, prefix=here)
            )

    if config is not None:
        for location, message in [
            *reference_problems(config),
            *_query_problems(config, settings),
            *seeded_suite_problems(config.seeded, path.parent),
        ]:
            line = line_of(lines, location)
            problems.append((line, f"{file}:{line}: {_dotted(location)}: {message}"))
    if config is not None and not problems:
        # Only a file that is right otherwise is worth reading the data's shape for.
        for location, message in _data_problems(config, settings, path, lines):
            line = line_of(lines, location)
            problems.append((line, f"{file}:{line}: {_dotted(location)}: {message}"))
    if problems or config is None:
        problems.sort(key=lambda item: item[0])
        raise ConfigError("invalid criteria file", file=file, problems=[p for _, p in problems])

    _check_release_override(config, release, deployed_at, file, lines)
    config = _override_release(config, release, deployed_at)
    return LoadedConfig(config=config, path=path, provider_settings=settings, lines=lines)


def _data_problems(
    config: GateConfig,
    settings: dict[str, ProviderSettings],
    path: Path,
    lines: dict[Location, int],
) -> Problems:
    """What each provider's data refuses before a query runs (a filter's column it lacks)."""
    checks: dict[str, list[DataCheck]] = {}
    for index, criterion in enumerate(config.criteria):
        if criterion.reads_provider:
            name = config.provider_for(criterion)
            journey = config.journeys.get(getattr(criterion, "journey", None) or "")
            checks.setdefault(name, []).append(
                DataCheck(index, criterion, config.cohorts_for(criterion), journey)
            )
    problems: Problems = []
    for name, listed in checks.items():
        provider = provider_class(config.providers[name].type)
        assert provider is not None  # checked above
        context = ProviderContext(
            name=name,
            base_dir=path.parent,
            where=f"{path}:{line_of(lines, ('providers', name))}",
        )
        problems += provider.data_problems(settings[name], context, listed)
    return problems


def _query_problems(config: GateConfig, settings: dict[str, ProviderSettings]) -> Problems:
    """What each criterion's provider says it cannot serve."""
    problems: Problems = []
    if not config.providers:
        return problems  # reported already
    for index, criterion in enumerate(config.criteria):
        if not criterion.reads_provider:
            continue
        name = config.provider_for(criterion)
        spec = config.providers.get(name) if name else None
        provider = provider_class(spec.type) if spec else None
        if provider is None or name not in settings:
            continue  # reported already
        for place, message in capabilities.criterion_problems(provider, criterion, settings[name]):
            problems.append((("criteria", index, *place), message))
        cohorts = config.cohorts_for(criterion)
        if cohorts is not None:
            where: Location = (
                ("criteria", index, "cohorts") if criterion.cohorts is not None else ("cohorts",)
            )
            for message in provider.cohort_problems(cohorts, criterion, settings[name]):
                problems.append(
                    (where, f"criterion {criterion.name!r}, provider {name!r}: {message}")
                )
        journey = config.journeys.get(getattr(criterion, "journey", None) or "")
        request = MetricRequest(criterion, journey)
        for message in capabilities.journey_problems(provider, request, settings[name]):
            problems.append((("criteria", index, "journey"), message))
    return problems


def _check_release_override(
    config: GateConfig,
    name: str | None,
    deployed_at: str | datetime | None,
    file: str,
    lines: dict[Location, int],
) -> None:
    """Another release's name without its deploy time would judge it on the file's release's hours."""
    written = config.release
    if name is None or deployed_at is not None or written.deployed_at is None:
        return
    if written.name is None or written.name == name:
        return
    raise ConfigError(
        f"--release {name} differs from release.name {written.name} in the file; pass "
        f"--deployed-at too, or the release would be judged on the old deploy time "
        f"({written.deployed_at.isoformat()})",
        file=file,
        location=str(line_of(lines, ("release", "name"))),
    )


def _override_release(
    config: GateConfig, name: str | None, deployed_at: str | datetime | None
) -> GateConfig:
    updates: dict[str, Any] = {}
    if name is not None:
        updates["name"] = name
    if deployed_at is not None:
        updates["deployed_at"] = parse_time(deployed_at, what="--deployed-at")
    if updates:
        config = config.model_copy(
            update={"release": Release(**(config.release.model_dump() | updates))}
        )
    return config


def parse_time(value: str | datetime, *, what: str) -> datetime:
    """A deploy time given outside the file (`--deployed-at`), read as strictly as the file's
    `release.deployed_at`: with its time of day and zone."""
    try:
        return parse_deploy_time(value)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None
