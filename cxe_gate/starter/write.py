"""YAML with comments, written safely: every key and value goes through PyYAML's safe dumper (strings
double-quoted, never spliced raw), comments lose anything that could end their line, and the text is
read back and compared with the data it was made from before anyone gets it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union, cast

import yaml

Scalar = str | int | float | bool
Value = Union[Scalar, "Node", Sequence[Union[Scalar, "Node"]]]
INDENT = "  "
COMMENT_WIDTH = 240
_PLAIN_KEY = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Item:
    """One key of a mapping, with a comment at its end of line and comment lines above it."""

    key: str
    value: Value
    comment: str = ""
    above: tuple[str, ...] = ()
    # for a list of scalars: a comment per element, at its end of line
    item_comments: tuple[str, ...] = ()


@dataclass
class Node:
    """A YAML mapping, in order."""

    items: list[Item] = field(default_factory=list)

    def add(self, key: str, value: Value, comment: str = "", **more: object) -> None:
        self.items.append(Item(key, value, comment, **more))  # type: ignore[arg-type]


def scalar(value: Scalar) -> str:
    """One scalar as YAML text: strings always double-quoted by PyYAML, on one line."""
    if isinstance(value, str):
        text = yaml.safe_dump(
            value, default_style='"', width=float("inf"), allow_unicode=False, explicit_end=False
        )
    else:
        text = yaml.safe_dump(value, explicit_end=False)
    text = text.removesuffix("\n").removesuffix("\n...")
    assert "\n" not in text, text  # width=inf and escaped strings keep it on one line
    return text


def _key(key: str) -> str:
    # The keys cxe-gate writes are plain words; anything else is quoted like any value.
    return key if _PLAIN_KEY.fullmatch(key) else scalar(key)


def comment_text(text: str) -> str:
    """A comment that stays one comment: no line breaks of any kind, no control characters,
    and no `${` (which a reader could take for a secret reference)."""
    kept = "".join(c if c.isprintable() else " " for c in text).replace("${", "$ {")
    kept = " ".join(kept.split())
    return kept if len(kept) <= COMMENT_WIDTH else kept[: COMMENT_WIDTH - 1] + "…"


def _with_comment(line: str, comment: str) -> str:
    return f"{line}  # {comment_text(comment)}" if comment else line


def _render(node: Node, depth: int, out: list[str]) -> None:
    pad = INDENT * depth
    for item in node.items:
        out.extend(f"{pad}# {comment_text(line)}" for line in item.above)
        head = f"{pad}{_key(item.key)}:"
        if isinstance(item.value, Node):
            out.append(_with_comment(head, item.comment))
            _render(item.value, depth + 1, out)
        elif isinstance(item.value, list | tuple):
            out.append(_with_comment(head, item.comment))
            comments = list(item.item_comments) + [""] * len(item.value)
            for element, note in zip(item.value, comments, strict=False):
                if isinstance(element, Node):
                    lines: list[str] = []
                    _render(element, depth + 2, lines)
                    # Comment lines above the element's first key go above its dash.
                    first = next(i for i, line in enumerate(lines) if line.lstrip()[:1] != "#")
                    out.extend(line.replace(INDENT * 2, "", 1) for line in lines[:first])
                    out.append(_with_comment(f"{pad}{INDENT}- {lines[first].lstrip()}", note))
                    out.extend(lines[first + 1 :])
                else:
                    out.append(_with_comment(f"{pad}{INDENT}- {scalar(element)}", note))
        else:
            value = cast(Scalar, item.value)
            out.append(_with_comment(f"{head} {scalar(value)}", item.comment))


def plain(value: Value) -> object:
    """The data a node stands for, as yaml.safe_load should read it back."""
    if isinstance(value, Node):
        return {item.key: plain(item.value) for item in value.items}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def render(document: Node, header: list[str]) -> str:
    """The document as YAML text, header comments first; checked by reading it back."""
    out = [f"# {comment_text(line)}" if line else "#" for line in header]
    _render(document, 0, out)
    text = "\n".join(out) + "\n"
    if yaml.safe_load(text) != plain(document):
        raise AssertionError("the written YAML does not read back as the data it was made from")
    return text
