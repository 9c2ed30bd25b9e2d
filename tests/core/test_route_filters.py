"""A criterion's filter as a test of a recorded request, in each provider's own language: SQL
(file, sql, New Relic's NRQL), PromQL label matchers (prometheus), Datadog tags (datadog). Each
expected answer is worked out by hand from the request and the filter's meaning."""

from __future__ import annotations

import pytest

from cxe_gate.route_filters import Touch, filter_predicate

CHECKOUT_POST = Touch("POST", "/checkout", "/checkout")
ORDER = Touch("GET", "/orders/{id}", "/orders/42")
HOME = Touch("GET", "/", "/")


def verdicts(text: str, language: str) -> list[bool | None]:
    holds, why = filter_predicate(text, language)
    assert holds is not None, why
    return [holds(t) for t in (CHECKOUT_POST, ORDER, HOME)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Equality on the route label; a label the request does not tell (job) holds for any.
        ('route="/checkout"', [True, False, False]),
        ('job="shop", route="/checkout"', [True, False, False]),
        # Regex matchers are anchored at both ends: /orders/42 matches /orders/[0-9]+, / does not.
        ('path=~"/orders/[0-9]+"', [False, True, False]),
        ('handler!~"/orders/.*"', [True, False, True]),
        # Client libraries write methods lower-case: get is GET.
        ('method="get"', [False, True, True]),
        ('method=~"post|put"', [True, False, False]),
        # A status code says nothing of the route: only the route decides.
        ('code=~"5..", route!="/"', [True, True, False]),
        ("route='/checkout'", [True, False, False]),  # single quotes, as PromQL allows
    ],
)
def test_promql_label_matchers(text, expected):
    assert verdicts(text, "prometheus") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A web resource is its method and route, tagged lower-case with an underscore.
        ("resource_name:post_/checkout", [True, False, False]),
        # Datadog writes an id segment as ?: the order page's template.
        ("service:shop,resource_name:get_/orders/?", [False, True, False]),
        ("http.route:/orders/* env:prod", [False, True, False]),
        ("!resource_name:get_/", [True, True, False]),
        ("http.method:GET", [False, True, True]),
        # Not a web resource (a database query): may be any request.
        ("resource_name:select_users", [None, None, None]),
    ],
)
def test_datadog_tags(text, expected):
    assert verdicts(text, "datadog") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # NRQL's request.uri and request.method, as New Relic's Transaction events name them.
        ("request.uri = '/orders/42'", [False, True, False]),
        ("request.method = 'POST' AND request.uri LIKE '/check%'", [True, False, False]),
        # OpenTelemetry's http.route, as a warehouse column.
        ("http_route IN ('/checkout', '/')", [True, False, True]),
    ],
)
def test_sql_and_nrql_conditions(text, expected):
    assert verdicts(text, "newrelic") == expected


@pytest.mark.parametrize(
    ("text", "language", "why"),
    [
        ('job="shop"', "prometheus", "names no route, path or method label"),
        ("route = '/checkout' AND", "prometheus", "not PromQL label matchers"),
        ("service:shop env:prod", "datadog", "names no route, path or method tag"),
        ("service:shop OR env:prod", "datadog", "not Datadog tags"),
        ("status >= 500", "file", "names no route, path or method"),
    ],
)
def test_a_filter_without_routes_says_why(text, language, why):
    holds, reason = filter_predicate(text, language)
    assert holds is None and reason is not None and why in reason
