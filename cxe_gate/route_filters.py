"""A criterion's filter read as a test of a recorded request (its method, route and path), in the
language its provider speaks: SQL conditions (file, sql, New Relic's NRQL), PromQL label matchers
(prometheus) and Datadog tags (datadog). Anything else a filter says (a status, a country) may
hold for any request: such a request may be among the rows measured."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from .providers.promql import matcher_parts, parse_matchers

_TEMPLATE = re.compile(r"\{[^/{}]*\}")
_UNNAMED = re.compile(r"(?<=/)\?(?=/|$)")
# The names a log, a metric's labels or a span's tags give a request's parts (OpenTelemetry's
# http.route and http.target, New Relic's request.uri, Prometheus client libraries' handler).
_ROUTE = frozenset({"route", "http_route", "handler", "endpoint", "path_group"})
_PATH = frozenset({"path", "uri", "request_uri", "url_path", "target", "http_target"})
_METHOD = frozenset({"method", "http_method", "request_method", "verb"})
_HTTP_METHODS = "get|head|post|put|patch|delete|options"


@dataclass(frozen=True)
class Touch:
    """One first-party request a seeded test makes."""

    method: str
    route: str  # templated: /products/{id}
    path: str  # an example, without its query: /products/3


# True: the filter holds for the request; False: it does not; None: it depends on something a
# recorded request does not tell.
Predicate = Callable[[Touch], bool | None]


def same_route(written: str, touch: Touch) -> bool:
    """A route as the log writes it against a recorded request: the template's names may differ
    (/orders/{id} and /orders/{hash}), and a concrete path matches a template."""
    # Datadog writes an id segment as `?` (GET /orders/?): a placeholder too.
    written = _UNNAMED.sub("{}", written)
    if _TEMPLATE.sub("{}", written) == _TEMPLATE.sub("{}", touch.route):
        return True
    return written == touch.path or _matches_template(written, touch.route)


def filter_predicate(text: str, language: str) -> tuple[Predicate | None, str | None]:
    """The filter as a test of a request, or why it cannot be one. `language`: the provider's
    type (prometheus and datadog have their own; every other provider's filter is SQL)."""
    if language == "prometheus":
        return _promql(text)
    if language == "datadog":
        return _datadog(text)
    return _sql(text)


def _kind(name: str) -> str | None:
    """route, path or method for a column, label or tag naming that part of a request."""
    key = name.lower().replace(".", "_").removeprefix("http_url_details_")
    if key in _METHOD:
        return "method"
    if key in _ROUTE:
        return "route"
    return "path" if key in _PATH else None


def _matches_template(path: str, route: str) -> bool:
    pattern = "".join(
        "[^/]+" if _TEMPLATE.fullmatch(p) else re.escape(p)
        for p in re.split(r"(\{[^/{}]*\})", route)
    )
    return re.fullmatch(pattern, path) is not None


def _equals(kind: str, value: str, touch: Touch) -> bool:
    if kind == "method":
        return value.upper() == touch.method
    if kind == "route":
        return same_route(value, touch)
    return value == touch.path or _matches_template(value, touch.route)


def _all(found: list[bool | None]) -> bool | None:
    """Several conditions that must all hold."""
    return False if False in found else (True if all(found) else None)


# --- SQL --------------------------------------------------------------------------------------


def _sql(text: str) -> tuple[Predicate | None, str | None]:
    try:
        condition = sqlglot.parse_one(text)
    except SqlglotError:
        return None, "its filter is not an SQL condition; only SQL filters name routes"
    if not any(_kind(c.name) for c in condition.find_all(exp.Column)):
        return None, "its filter names no route, path or method"
    return (lambda touch: _holds(condition, touch)), None


def _holds(node: exp.Expr, touch: Touch) -> bool | None:
    if isinstance(node, exp.Paren):
        return _holds(node.this, touch)
    if isinstance(node, exp.And | exp.Or):
        left, right = _holds(node.left, touch), _holds(node.right, touch)
        if isinstance(node, exp.And):
            return _all([left, right])
        return True if True in (left, right) else (False if left is right is False else None)
    if isinstance(node, exp.Not):
        inner = _holds(node.this, touch)
        return None if inner is None else not inner
    found = _compare(node, touch)
    # SQLGlot writes `x NOT LIKE y` and `x NOT IN (...)` as the comparison negated.
    return None if found is None else found != bool(node.args.get("negate"))


def _column(node: exp.Expr) -> str | None:
    return _kind(node.name) if isinstance(node, exp.Column) else None


def _text(node: exp.Expr) -> str | None:
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


def _compare(node: exp.Expr, touch: Touch) -> bool | None:
    if isinstance(node, exp.EQ | exp.NEQ | exp.Like | exp.ILike):
        kind, value = _column(node.left), _text(node.right)
        if kind is None or value is None:
            return None
        if isinstance(node, exp.Like | exp.ILike):
            fold = str.lower if isinstance(node, exp.ILike) else str
            subjects = [touch.method] if kind == "method" else [touch.path, touch.route]
            return any(_like(fold(value), fold(s)) for s in subjects)
        same = _equals(kind, value, touch)
        return same if isinstance(node, exp.EQ) else not same
    if isinstance(node, exp.In):
        kind = _column(node.this)
        values = [_text(v) for v in node.expressions]
        if kind is None or not values or None in values:
            return None
        return any(_equals(kind, v, touch) for v in values if v is not None)
    return None


def _like(pattern: str, value: str) -> bool:
    regex = "".join(
        ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern
    )  # fmt: skip
    return re.fullmatch(regex, value, re.DOTALL) is not None


# --- PromQL label matchers --------------------------------------------------------------------


def _promql(text: str) -> tuple[Predicate | None, str | None]:
    try:
        matchers = [matcher_parts(m) for m in parse_matchers(text)]
    except ValueError:
        return None, "its filter is not PromQL label matchers"
    named = [(kind, op, _promql_string(value)) for label, op, value in filter(None, matchers)
             if (kind := _kind(label))]  # fmt: skip
    if not named:
        return None, "its filter names no route, path or method label"
    return (lambda touch: _all([_label_holds(m, touch) for m in named])), None


def _promql_string(quoted: str) -> str:
    """A PromQL string literal's text (Go's escapes; JSON's for the common ones)."""
    if quoted.startswith("'"):
        quoted = '"' + quoted[1:-1].replace('\\"', '"').replace('"', '\\"') + '"'
    try:
        return str(json.loads(quoted))
    except ValueError:
        return quoted[1:-1]


def _label_holds(matcher: tuple[str, str, str], touch: Touch) -> bool | None:
    kind, operator, value = matcher
    if operator in ("=", "!="):
        same = _equals(kind, value, touch)
        return same if operator == "=" else not same
    try:  # RE2 as Prometheus reads it, anchored at both ends; a method's case may differ
        regex = re.compile(value, re.IGNORECASE if kind == "method" else 0)
    except re.error:
        return None
    subjects = [touch.method] if kind == "method" else [touch.path, touch.route]
    found = any(regex.fullmatch(s) for s in subjects)
    return found if operator == "=~" else not found


# --- Datadog tags -----------------------------------------------------------------------------

_TAG = re.compile(r"(!|-)?([\w.@/-]+):(\S+)")


def _datadog(text: str) -> tuple[Predicate | None, str | None]:
    """`resource_name:post_/checkout` (a web resource is its method and route), `http.route:…`,
    `http.method:…`, `!tag:value`, `*` wildcards; tags are ANDed, as in a metric's scope."""
    tags = []
    for token in re.split(r"[\s,]+", text.strip().strip("{}")):
        if not token or token.upper() == "AND":
            continue
        match = _TAG.fullmatch(token)
        if match is None:
            return None, "its filter is not Datadog tags such as resource_name:get_/checkout"
        tags.append((bool(match[1]), match[2].lower(), match[3]))
    named = [t for t in tags if t[1] == "resource_name" or _kind(t[1])]
    if not named:
        return None, "its filter names no route, path or method tag"
    return (lambda touch: _all([_tag_holds(t, touch) for t in named])), None


def _tag_holds(tag: tuple[bool, str, str], touch: Touch) -> bool | None:
    negated, key, value = tag
    checks: list[tuple[str, str]] = []
    if key == "resource_name":
        # Datadog writes a web resource as `GET /checkout`, tagged lower-cased as get_/checkout.
        split = re.fullmatch(rf"({_HTTP_METHODS})[_ ](/.*)", value, re.IGNORECASE)
        if split is None:
            return None  # a resource that is not a web request's (a query, a job)
        checks = [("method", split[1]), ("route", split[2])]
    else:
        kind = _kind(key)
        assert kind is not None  # only such tags are kept
        checks = [(kind, value)]
    found = _all([_glob(kind, wanted, touch) for kind, wanted in checks])
    return None if found is None else found != negated


def _glob(kind: str, pattern: str, touch: Touch) -> bool:
    """A tag value against the request: `*` matches anything; tag values are lower-case."""
    if "*" not in pattern:
        if kind == "method":
            return _equals(kind, pattern, touch)
        return _equals(kind, pattern, touch) or pattern in (touch.path.lower(), touch.route.lower())
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    subjects = [touch.method] if kind == "method" else [touch.path, touch.route]
    return any(re.fullmatch(regex, s, re.IGNORECASE) for s in subjects)
