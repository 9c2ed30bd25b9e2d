"""mkdocs hooks that render the reference pages at build time from the code itself (the click
commands, cxe.yml's JSON Schema from the pydantic models, the exit codes), so they cannot drift."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import click

from cxe_gate.cli import ExitCode, exit_code
from cxe_gate.cli import main as cli_group
from cxe_gate.results import Verdict
from cxe_gate.schema import GateSchema, gate_schema

# A page asks for a generated block with `<!-- cxe-gate: cli -->`, `... provider-settings file -->`.
_MARKER = re.compile(r"<!--\s*cxe-gate:\s*([\w-]+)(?:\s+([\w.-]+))?\s*-->")
_ISO_DURATION = re.compile(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?")
_HELP_WIDTH = 100  # wide enough that option help is not wrapped mid-sentence on the page

# Why a code is returned: the enum says which number, this says what a CI step should read into it.
# A new ExitCode without a line here fails the build (see _exit_codes).
_EXIT_MEANINGS = {
    "OK": "the release passed, or warned (`--fail-on warn` makes a warning exit 1)",
    "FAIL": "the release failed its criteria",
    "USAGE": "a usage or configuration error: the options or the criteria file are wrong",
    "INCONCLUSIVE": "not enough evidence either way (`--on-inconclusive warn` or `pass` accepts it)",
    "ERROR": "the data could not be read: a provider failed",
}


class ReferenceError(Exception):
    """A page asked for a block this hook does not know: the build stops (mkdocs shows it)."""


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs calls this for every page: markers become the generated Markdown."""
    return _MARKER.sub(lambda found: _block(found[1], found[2]), markdown)


def _block(kind: str, argument: str | None) -> str:
    if kind == "cli":
        return cli_reference()
    if kind == "exit-codes":
        return exit_codes_table()
    if kind == "config":
        return config_reference()
    if kind == "provider-settings" and argument:
        return provider_settings(argument)
    raise ReferenceError(f"unknown generated block <!-- cxe-gate: {kind} {argument or ''} -->")


# --- the command line ----------------------------------------------------------------------------


def commands(
    group: click.Group = cli_group, parent: click.Context | None = None
) -> Iterator[tuple[str, click.Context]]:
    """Every command under the group, depth first, with the context its --help is rendered in."""
    name = "cxe-gate" if parent is None else group.name or ""
    ctx = _context(group, name, parent)
    yield ctx.command_path, ctx
    for sub_name in group.list_commands(ctx):
        command = group.get_command(ctx, sub_name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from commands(command, ctx)
            continue
        sub = _context(command, sub_name, ctx)
        yield sub.command_path, sub


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    # The command's own context_settings (`-h` for help) apply, as when it runs.
    settings: dict[str, Any] = {**command.context_settings}
    settings |= {"terminal_width": _HELP_WIDTH, "max_content_width": _HELP_WIDTH}
    return click.Context(command, info_name=name, parent=parent, **settings)


def cli_reference() -> str:
    parts = []
    for path, ctx in commands():
        summary = ctx.command.get_short_help_str(limit=_HELP_WIDTH)
        parts.append(f"## `{path}`\n\n{summary}\n\n```text\n{ctx.get_help()}\n```\n")
    return "\n".join(parts)


def exit_codes_table() -> str:
    if set(_EXIT_MEANINGS) != {code.name for code in ExitCode}:
        raise ReferenceError(f"docs/hooks.py: describe every ExitCode: {list(ExitCode)}")
    rows = ["| exit code | verdicts | meaning |", "|---|---|---|"]
    for code in ExitCode:
        verdicts = [f"`{v.value}`" for v in Verdict if exit_code(v) == code]
        warned = [
            f"`{v.value}` with `--fail-on warn`"
            for v in Verdict
            if exit_code(v, fail_on="warn") == code and exit_code(v) != code
        ]
        cell = ", ".join(verdicts + warned) or "—"
        rows.append(f"| {code.value} | {cell} | {_EXIT_MEANINGS[code.name]} |")
    return "\n".join(rows) + "\n"


# --- cxe.yml -------------------------------------------------------------------------------------


@cache  # one schema per build: every provider page reads it
def _gate() -> GateSchema:
    return gate_schema()


def _schema() -> dict[str, Any]:
    return _gate().schema


def _anchor(def_name: str) -> str:
    return "def-" + re.sub(r"[^a-z0-9]+", "-", def_name.lower()).strip("-")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _type(prop: dict[str, Any]) -> str:
    """A property's type as a reader writes it: `2h` or a window, a list of criteria, …"""
    if "$ref" in prop:
        name = prop["$ref"].removeprefix("#/$defs/")
        return f"[{name.removeprefix('provider-')}](#{_anchor(name)})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " | ".join(f"`{json.dumps(value)}`" for value in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            options = [_type(option) for option in prop[key] if option.get("type") != "null"]
            return " or ".join(dict.fromkeys(options))
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of name → {_type(prop['additionalProperties'])}"
    if kind == "string" and "ms|s|m|h|d" in prop.get("pattern", ""):
        return "duration"
    return str(kind or "any")


def _description(prop: dict[str, Any]) -> str:
    if "description" in prop:
        return str(prop["description"])
    for option in prop.get("anyOf", []):
        if "description" in option:
            return str(option["description"])
    return ""


def _default(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" not in prop or prop["default"] is None:
        return "—"
    default = prop["default"]
    # pydantic writes a timedelta default as ISO 8601 (PT30S); cxe.yml spells it 30s.
    duration = _ISO_DURATION.fullmatch(default) if isinstance(default, str) else None
    if duration and any(duration.groups()):
        parts = zip(duration.groups(), "dhms", strict=True)
        return "`" + "".join(f"{n}{unit}" for n, unit in parts if n) + "`"
    return f"`{json.dumps(default, ensure_ascii=False)}`"


def settings_table(model: dict[str, Any]) -> str:
    """One row per key of a model: key, type, default (or required), what it means."""
    required = set(model.get("required", []))
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, prop in model.get("properties", {}).items():
        rows.append(
            f"| `{key}` | {_cell(_type(prop))} | {_cell(_default(prop, key in required))} "
            f"| {_cell(_description(prop))} |"
        )
    return "\n".join(rows) + "\n"


def config_reference() -> str:
    schema = _schema()
    defs: dict[str, Any] = schema["$defs"]
    criteria = schema["properties"]["criteria"]["items"]["discriminator"]["mapping"]
    kinds = {ref.removeprefix("#/$defs/"): metric for metric, ref in criteria.items()}
    providers = sorted(name for name in defs if name.startswith("provider-"))
    others = sorted(name for name in defs if name not in kinds and name not in providers)
    out = [
        "## The file\n",
        f"{_cell(schema['description'])}\n",
        settings_table(schema),
        "## Criteria kinds\n",
        "Each criterion picks its kind with `metric:`.\n",
    ]
    for name, metric in sorted(kinds.items(), key=lambda item: item[1]):
        out += [f"### `metric: {metric}` {{ #{_anchor(name)} }}\n", settings_table(defs[name])]
    out += ["## Provider settings\n", "Each provider picks its settings with `type:`.\n"]
    for name in providers:
        kind = name.removeprefix("provider-")
        out += [
            f"### `type: {kind}` {{ #{_anchor(name)} }}\n",
            f"More on the [{kind} provider](../providers/{kind}.md).\n",
            settings_table(defs[name]),
        ]
    for left in _gate().left_out:
        out.append(f"The `{left.name}` provider is not in this build: {_cell(left.problem)}.\n")
    out += ["## Other sections\n"]
    for name in others:
        out += [f"### {name} {{ #{_anchor(name)} }}\n", settings_table(defs[name])]
    return "\n".join(out)


def provider_settings(kind: str) -> str:
    defs = _schema()["$defs"]
    model = defs.get(f"provider-{kind}")
    if model is None:
        why = {left.name: left.problem for left in _gate().left_out}.get(kind, "not installed")
        raise ReferenceError(f"the {kind!r} provider's settings cannot be shown: {why}")
    # Links to other models point into the reference page, where every model has its table.
    table = settings_table(model).replace("](#def-", "](../reference/config.md#def-")
    return f"## Settings\n\nGenerated from the provider's settings model.\n\n{table}"
