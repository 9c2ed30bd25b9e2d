"""A seeded file cut into named parts (the header, each constant, each test), so a re-seed can tell
which ones a person edited: a part is its top-level statement with the comments above it."""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass

HEADER = "(header)"  # the docstring and imports at the top
WHOLE = "(file)"  # a file that is not Python: one part


@dataclass(frozen=True)
class Part:
    key: str  # the name it defines (test, fixture, SHAPE_ constant), or HEADER / WHOLE
    start: int  # 0-based line range in its file, blank lines around it excluded
    end: int
    text: str

    @property
    def digest(self) -> str:
        return digest(self.text)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _key(node: ast.stmt, text: str) -> str:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Name):
            return target.id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return f"(code {digest(text)[:8]})"  # a statement a person added, known by its text


def _is_header(node: ast.stmt, first: bool) -> bool:
    docstring = first and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    return docstring or isinstance(node, ast.Import | ast.ImportFrom)


def _part(key: str, lines: list[str], start: int, end: int) -> Part | None:
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    if start == end:
        return None
    return Part(key, start, end, "\n".join(lines[start:end]))


def split(name: str, source: str) -> list[Part] | None:
    """The parts of a file, in order, keys unique (a repeated one gets `#2`); None when a Python
    file does not parse (a person is in the middle of an edit: keep it whole)."""
    lines = source.split("\n")
    if not name.endswith(".py"):
        found = _part(WHOLE, lines, 0, len(lines))
        return [found] if found else []
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    parts: list[Part] = []
    done = 0  # lines before this are taken
    header = 0
    while header < len(body) and _is_header(body[header], header == 0):
        header += 1
    if header:
        found = _part(HEADER, lines, 0, body[header - 1].end_lineno or 0)
        parts.extend([found] if found else [])
        done = body[header - 1].end_lineno or 0
    for node in body[header:]:
        end = node.end_lineno or node.lineno
        text = "\n".join(lines[done:end])
        found = _part(_key(node, text), lines, done, end)
        parts.extend([found] if found else [])
        done = end
    tail = _part("(tail)", lines, done, len(lines))
    parts.extend([tail] if tail else [])
    seen: dict[str, int] = {}
    unique = []
    for part in parts:
        seen[part.key] = seen.get(part.key, 0) + 1
        key = part.key if seen[part.key] == 1 else f"{part.key}#{seen[part.key]}"
        unique.append(Part(key, part.start, part.end, part.text))
    return unique
