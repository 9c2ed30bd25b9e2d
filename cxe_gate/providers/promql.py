"""PromQL as text: label matchers parsed and negated, selectors, time and range literals, a raw
query's placeholders filled in and its brackets checked, RE2 escaping. No server needed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..measurement import TimeWindow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MATCHER = re.compile(
    r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*"""
)
_NEGATED = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)")
PLACEHOLDERS = ("window", "start", "end")


def parse_matchers(text: str) -> list[str]:
    """`job="shop", path=~"/api/.*"` (braces optional) → one normalised matcher per item; a
    ValueError says what is expected."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    found: list[str] = []
    position = 0
    while position < len(body) or not found:
        match = _MATCHER.match(body, position)
        if match is None:
            raise ValueError(
                f'expected PromQL label matchers such as job="shop", path=~"/api/.*"; got {text!r}'
            )
        label, operator, value = match.groups()
        found.append(f"{label}{operator}{value}")
        position = match.end()
        if position < len(body):
            if body[position] != ",":
                raise ValueError(
                    f"expected a comma between label matchers at {body[position:][:20]!r} in {text!r}"
                )
            position += 1
            if not body[position:].strip():
                break  # a trailing comma, as PromQL allows
    return found


def matcher_parts(matcher: str) -> tuple[str, str, str] | None:
    """`code=~"5.."` → ("code", "=~", '"5.."'); None for what is not one matcher."""
    match = _MATCHER.fullmatch(matcher)
    return (match[1], match[2], match[3]) if match else None


def negate(matcher: str) -> str:
    """`code=~"5.."` → `code!~"5.."`: the requests that are not errors."""
    match = _MATCHER.fullmatch(matcher)
    assert match  # only normalised matchers come here
    label, operator, value = match.groups()
    return f"{label}{_NEGATED[operator]}{value}"


def promql_string(text: str) -> str:
    """A PromQL double-quoted string literal holding `text` exactly."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(metric: str, matchers: list[str]) -> str:
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, the precision Prometheus keeps."""
    return round((moment - _EPOCH) / _MS)


def from_epoch_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def unix_time(moment: datetime) -> str:
    """Unix seconds with milliseconds, the precision Prometheus keeps: `1763884800.123`."""
    ms = epoch_ms(moment)
    return f"{ms // 1000}.{ms % 1000:03d}"


def duration_text(ms: int) -> str:
    """Milliseconds as a PromQL duration: `3600s`, or `1500ms` when not whole seconds."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def range_text(window: TimeWindow) -> str:
    """The window's length as a PromQL range: `3600s`, or `1500ms` when not whole seconds."""
    return duration_text(round((window.end - window.start) / _MS))


def substitute(query: str, window: TimeWindow) -> str:
    """A raw query with `$window` (the range), `$start` and `$end` (Unix seconds) filled in."""
    values = {
        "window": range_text(window),
        "start": unix_time(window.start),
        "end": unix_time(window.end),
    }
    return _PLACEHOLDER.sub(lambda m: values[m[1] or m[2]], query)


def query_problem(text: object) -> str | None:
    """What is wrong with a raw PromQL text, or None. Only what can be told without a server:
    empty text, unknown placeholders, brackets and strings left open."""
    if not isinstance(text, str) or not text.strip():
        return "expected a PromQL query as text"
    unknown = sorted({m[1] or m[2] for m in _PLACEHOLDER.finditer(text)} - set(PLACEHOLDERS))
    if unknown:
        return (
            f"unknown placeholder ${unknown[0]}; a query may use $window (the window's length as "
            "a range, e.g. 3600s), $start and $end (Unix seconds)"
        )
    closing = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in closing:
            stack.append(closing[char])
        elif char in ")]}" and (not stack or stack.pop() != char):
            return f"unbalanced {char!r} in the PromQL query"
    if quote is not None:
        return f"a string opened with {quote} is never closed in the PromQL query"
    if stack:
        return f"{stack[-1]!r} is missing: a bracket is left open in the PromQL query"
    return None


def re2_escape(text: str) -> str:
    """`text` as an RE2 pattern matching itself (Python's re.escape escapes characters, such as a
    space, that RE2 refuses to see escaped)."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)
