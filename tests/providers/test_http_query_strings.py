"""The http provider encodes a criterion's params once per request: what a real loopback API
receives and what the report shows are both worked out by hand here. A query dict changed in
place after the loader checked it is read again, never answered from what was kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pytest_httpserver import HTTPServer

from cxe_gate.config import Criterion
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.capabilities import criterion_problems
from cxe_gate.providers.http import HttpProvider, HttpProviderSettings

TOKEN = "svc-token-7f1b2d"
WINDOW = TimeWindow(
    "release", datetime(2026, 11, 23, 10, tzinfo=UTC), datetime(2026, 11, 23, 11, tzinfo=UTC)
)


def provider(server: HTTPServer, params: dict[str, str]) -> HttpProvider:
    settings = HttpProviderSettings.model_validate(
        {"base_url": server.url_for("/"), "params": params, "retries": 0, "timeout": "2s"}
    )
    context = ProviderContext(name="api", base_dir=Path("."), environ={"SVC_TOKEN": TOKEN})
    return HttpProvider(settings, context)


def criterion(query: dict[str, Any]) -> Any:
    return TypeAdapter(Criterion).validate_python(
        {"name": "c", "metric": "custom", "max": 10, "query": query}
    )


def sent_and_shown(server: HTTPServer, settings_params: dict[str, str], query: dict[str, Any]):
    server.expect_request(query["path"]).respond_with_json({"v": 1})
    measured = provider(server, settings_params).measure(MetricRequest(criterion(query)), [WINDOW])
    (request, _), *_ = server.log
    return request.query_string.decode(), measured["release"].query


def test_the_sent_and_the_shown_query_string_as_worked_out_by_hand(api_server: HTTPServer):
    params = {"from": "${start}", "q": "sum:x{env:prod} $1", "pct": "50%:", "tags": ["a b", "é"]}
    sent, shown = sent_and_shown(
        api_server, {"api_key": "${SVC_TOKEN}"}, {"path": "/q", "params": params, "value": "v"}
    )
    # Sent: the token filled in; ':' %3A, '{' %7B, '}' %7D, '$' %24, '%' %25, a space +,
    # é the UTF-8 bytes C3 A9, a list repeating its key; the provider's params first.
    assert sent == (
        f"api_key={TOKEN}&from=2026-11-23T10%3A00%3A00Z&q=sum%3Ax%7Benv%3Aprod%7D+%241"
        "&pct=50%25%3A&tags=a+b&tags=%C3%A9"
    )
    # Shown: the token as its variable, and ${ } : left readable; '%' stays %25, so the %3A
    # that follows it in "50%25%3A" is the only ':' there.
    assert shown == (
        f"GET {api_server.url_for('/')}q?api_key=${{SVC_TOKEN}}&from=2026-11-23T10:00:00Z"
        "&q=sum:x{env:prod}+$1&pct=50%25:&tags=a+b&tags=%C3%A9"
    )


def test_a_criterion_param_replaces_the_providers_of_the_same_name(api_server: HTTPServer):
    sent, shown = sent_and_shown(
        api_server,
        {"format": "json", "region": "eu"},
        {"path": "/q", "params": {"format": "csv", "at": "${end}"}, "value": "v"},
    )
    # The provider's key keeps its place and takes the criterion's value, as {**a, **b} does.
    assert sent == "format=csv&region=eu&at=2026-11-23T11%3A00%3A00Z"
    assert shown.endswith("/q?format=csv&region=eu&at=2026-11-23T11:00:00Z")


def test_without_params_nothing_is_added(api_server: HTTPServer):
    sent, shown = sent_and_shown(api_server, {}, {"path": "/plain", "value": "v"})
    assert sent == ""
    assert shown == f"GET {api_server.url_for('/')}plain"


def test_a_query_changed_in_place_after_the_check_is_read_again(api_server: HTTPServer):
    api_server.expect_request("/first").respond_with_json({"v": 1})
    api_server.expect_request("/second").respond_with_json({"w": 7})
    api = provider(api_server, {})
    checked = criterion({"path": "/first", "value": "v"})
    settings = api.settings
    assert criterion_problems(HttpProvider, checked, settings) == []
    assert api.measure(MetricRequest(checked), [WINDOW])["release"].value == 1
    checked.query["path"] = "/second"  # the dict inside a frozen criterion can still change
    checked.query["value"] = "w"
    assert api.measure(MetricRequest(checked), [WINDOW])["release"].value == 7
    checked.query["colour"] = "red"
    problems = criterion_problems(HttpProvider, checked, settings)
    assert [place for place, _ in problems] == [("query", "colour")]
    assert [request.path for request, _ in api_server.log] == ["/first", "/second"]
