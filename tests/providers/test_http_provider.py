"""The `http` provider against real loopback servers: a Delighted-shaped `metrics.json` and an in-house
JSON endpoint. Numbers land exactly, in our units; every failure is an error that names what to fix
and never shows a credential. Its outages, secrets, no-data disguises and units are the provider
contract's (test_contract_*.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from criteria_files import DEPLOY, NOW, WINDOWS, write_criteria
from loopback_delighted import (
    DELIGHTED_COUNTS,
    DELIGHTED_SCORE,
    EPOCH,
    KEY,
    basic,
    delighted,
)
from pydantic import TypeAdapter
from pytest_httpserver import HTTPServer
from werkzeug import Response

from cxe_gate import metrics
from cxe_gate.config import Criterion
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.http import HttpProvider, HttpProviderSettings
from cxe_gate.results import Verdict

TOKEN = "svc-token-7f1b2d"
SIGNING_KEY = "s1gn+key/7f=="  # changed by URL-encoding
ENVIRON = {"DELIGHTED_API_KEY": KEY, "SVC_TOKEN": TOKEN, "SIGNING_KEY": SIGNING_KEY}
BASIC = basic(KEY)


def delighted_settings(server: HTTPServer, **more) -> dict:
    return {
        "base_url": server.url_for("/v1"),
        "basic_auth": {"username": "${DELIGHTED_API_KEY}"},
        "time_format": "epoch",
        "timeout": "500ms",
        "backoff": "10ms",
        "retries": 2,
        **more,
    }


def service_settings(server: HTTPServer, **more) -> dict:
    return {
        "base_url": server.url_for("/"),
        "headers": {"Authorization": "Bearer ${SVC_TOKEN}", "Accept": "application/json"},
        "timeout": "500ms",
        "backoff": "10ms",
        "retries": 2,
        **more,
    }


def criterion(**fields):
    return TypeAdapter(Criterion).validate_python({"name": "c", "max_drop": "10%", **fields})


def measure(settings: dict, **fields):
    context = ProviderContext(name="feedback", base_dir=Path("."), environ=ENVIRON)
    provider = HttpProvider(HttpProviderSettings.model_validate(settings), context)
    try:
        return provider.measure(MetricRequest(criterion(**fields)), WINDOWS)
    finally:
        provider.close()


# --- numbers land exactly, in our units ---------------------------------------------------------


def test_delighted_nps_from_its_counts(api_server: HTTPServer):
    delighted(api_server)
    result = measure(
        delighted_settings(api_server), metric="feedback", scale="nps", query=DELIGHTED_COUNTS
    )
    baseline, release = result["baseline"], result["release"]
    assert baseline.value == pytest.approx((120 - 38) / 208 * 100)
    assert baseline.samples == 208
    assert baseline.variance == pytest.approx(metrics.nps(120, 50, 38).variance)
    assert (release.value, release.samples) == (10.0, 100)
    since, until = EPOCH["release"]
    assert release.query == (
        f"GET {api_server.url_for('/v1')}/metrics.json?since={since}&until={until}"
    )


def test_delighted_nps_as_the_score_it_reports(api_server: HTTPServer):
    delighted(api_server)
    result = measure(
        delighted_settings(api_server), metric="feedback", scale="nps", query=DELIGHTED_SCORE
    )
    assert (result["baseline"].value, result["baseline"].samples) == (41.0, 208)
    assert (result["release"].value, result["release"].samples) == (12.0, 100)
    assert result["release"].variance is None  # no counts, no test: the judge compares numbers


def test_an_in_house_endpoint_by_post_with_jmespath_and_a_percentage(api_server: HTTPServer):
    answers = [
        ("2026-11-09T14:00:00Z", "2026-11-10T14:00:00Z", "2.5", 4000, 100),
        ("2026-11-10T14:00:00Z", "2026-11-10T16:00:00Z", "4.0", 1000, 40),
    ]
    for start, end, percent, requests, errors in answers:
        api_server.expect_request(
            "/api/v2/errors/summary",
            method="POST",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"range": {"from": start, "to": end}, "service": "shop"},
        ).respond_with_json(
            {"data": {"error_pct": percent, "requests": requests, "errors": errors}}
        )
    query = {
        "method": "POST",
        "path": "/api/v2/errors/summary",
        "body": {"range": {"from": "${start}", "to": "${end}"}, "service": "shop"},
        "value": "data.error_pct",
        "scale": "percent",
        "samples": "data.requests",
        "successes": "data.errors",
    }
    result = measure(service_settings(api_server), metric="error_rate", query=query)
    assert result["baseline"].value == pytest.approx(0.025)
    assert (result["baseline"].samples, result["baseline"].successes) == (4000, 100)
    assert result["release"].value == pytest.approx(0.04)
    assert result["release"].query == (
        f"POST {api_server.url_for('/')}api/v2/errors/summary "
        '{"range": {"from": "2026-11-10T14:00:00Z", "to": "2026-11-10T16:00:00Z"}, '
        '"service": "shop"}'
    )


def test_latency_in_seconds_becomes_milliseconds(api_server: HTTPServer):
    for label, p95 in (("baseline", 0.4321), ("release", "0.512")):
        since, _ = EPOCH[label]
        api_server.expect_request(
            "/metrics/latency",
            query_string={"from": str(since * 1000), "q": "p95", "env": "prod"},
        ).respond_with_json({"result": [{"stat": "p95", "seconds": p95, "count": 950}]})
    query = {
        "path": "/metrics/latency",
        "params": {"from": "${start}", "q": "p${percentile}"},
        "time_format": "epoch_ms",
        "value": "$.result[?(@.stat == 'p95')].seconds",
        "samples": "$.result[0].count",
        "scale": "seconds",
    }
    result = measure(
        service_settings(api_server, params={"env": "prod"}),
        metric="latency",
        percentile=95,
        query=query,
    )
    assert result["baseline"].value == pytest.approx(432.1)
    assert result["release"].value == pytest.approx(512.0)
    assert result["release"].samples == 950
    assert result["release"].details == {"samples": 950.0, "as sent": 0.512}


def test_a_fixed_sample_count_and_apdex_t_in_the_request(api_server: HTTPServer):
    api_server.expect_request("/apdex", query_string={"t": "500"}).respond_with_json(
        {"score": 0.91}
    )
    query = {"path": "/apdex", "params": {"t": "${t_ms}"}, "value": "score", "samples": 300}
    result = measure(service_settings(api_server), metric="apdex", t="500ms", query=query)
    assert (result["release"].value, result["release"].samples) == (0.91, 300)


# --- how far the data reaches (data_end) --------------------------------------------------------


def test_data_end_from_a_timestamp_in_the_answer(api_server: HTTPServer):
    # An in-house endpoint that says when it last ingested, in ISO 8601: with a zone, or without
    # one (read as UTC).
    for label, last in (
        ("baseline", "2026-11-10T13:59:58.5+00:00"),
        ("release", "2026-11-10T15:48:12.250"),
    ):
        since, _ = EPOCH[label]
        api_server.expect_request("/csat", query_string={"from": str(since)}).respond_with_json(
            {"data": {"score": 0.82, "responses": 50}, "meta": {"last_event_at": last}}
        )
    query = {
        "path": "/csat",
        "params": {"from": "${start}"},
        "time_format": "epoch",
        "value": "data.score",
        "samples": "data.responses",
        "data_end": "meta.last_event_at",
    }
    result = measure(service_settings(api_server), metric="custom", query=query)
    # DEPLOY is 14:00: the baseline's data ends 1.5 s before it, the release's 1 h 48 min
    # 12.25 s after it (11 min 47.75 s before the release window's 16:00 end)
    assert result["baseline"].data_end == DEPLOY - timedelta(seconds=1.5)
    assert result["release"].data_end == DEPLOY + timedelta(hours=1, minutes=48, seconds=12.25)


def test_data_end_is_the_newest_of_several_unix_times(api_server: HTTPServer):
    # Survey responses stamped in Unix seconds (Delighted's created_at) or milliseconds
    release_start = int(WINDOWS[1].start.timestamp())  # 1794319200 = 2026-11-10T14:00:00Z
    answers = {
        "baseline": {"count": 2, "responses": [{"created_at": 1794315600}, {"created_at": None}]},
        "release": {
            "count": 3,
            "responses": [
                {"created_at": (release_start + 600) * 1000},
                {"created_at": (release_start + 4000) * 1000 + 125},
                {"created_at": (release_start + 30) * 1000},
            ],
        },
    }
    for label, answer in answers.items():
        since, _ = EPOCH[label]
        api_server.expect_request(
            "/responses", query_string={"since": str(since)}
        ).respond_with_json(answer)
    query = {
        "path": "/responses",
        "params": {"since": "${start}"},
        "time_format": "epoch",
        "value": "$.count",
        "data_end": "$.responses[*].created_at",
    }
    result = measure(service_settings(api_server), metric="custom", query=query)
    # 1794315600 s = 13:00; the null stamp is no time at all
    assert result["baseline"].data_end == datetime(2026, 11, 10, 13, tzinfo=UTC)
    # the newest: 14:00 + 4,000.125 s = 15:06:40.125 (milliseconds: 10^11 and more)
    assert result["release"].data_end == DEPLOY + timedelta(seconds=4000.125)


def test_without_a_data_end_path_the_answer_does_not_say(api_server: HTTPServer):
    delighted(api_server)
    result = measure(
        delighted_settings(api_server), metric="feedback", scale="nps", query=DELIGHTED_SCORE
    )
    assert [m.data_end for m in result.values()] == [None, None]


@pytest.mark.parametrize("stamp", ["last tuesday", True, {"at": 1}])
def test_a_data_end_that_is_no_time_is_an_error(api_server: HTTPServer, stamp):
    api_server.expect_request("/q").respond_with_json({"v": 1, "t": stamp})
    with pytest.raises(ProviderError, match=r"\$\.t matched .*, expected a time: ISO 8601"):
        measure(
            service_settings(api_server),
            metric="custom",
            query={"path": "/q", "value": "$.v", "data_end": "$.t"},
        )


# --- no data: its disguises are in the provider contract (test_contract_no_data.py) ------------


def test_a_status_declared_as_no_data(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_json({"error": "no data in range"}, status=404)
    result = measure(
        service_settings(api_server, no_data_statuses=[404]),
        metric="custom",
        query={"path": "/q", "value": "$.v"},
    )
    assert result["release"].value is None and result["release"].details == {"status": 404}


# --- malformed answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "query", "expected"),
    [
        ({"nps": "n/a"}, {"value": "$.nps"}, 'GET /q: $.nps matched "n/a", expected a number'),
        ({"nps": True}, {"value": "nps"}, "nps matched true, expected a number"),
        ({"nps": [41]}, {"value": "$.nps"}, "$.nps matched [41], expected a number"),
        (
            {"items": [{"s": 1}, {"s": 2}]},
            {"value": "$.items[*].s"},
            "$.items[*].s matched 2 values ([1, 2]), expected one number",
        ),
        (
            {"nps": 30},
            {"value": "$.nps", "samples": "$.responses"},
            "$.responses matched nothing while $.nps did",
        ),
        (
            {"nps": 30, "responses": 10.5},
            {"value": "$.nps", "samples": "$.responses"},
            "$.responses matched 10.5, expected a count",
        ),
        (
            {"p": 5, "d": 1},
            {"promoters": "$.p", "passives": "$.q", "detractors": "$.d"},
            "$.q matched nothing while the other counts did",
        ),
    ],
)
def test_a_malformed_answer_names_the_path_and_what_it_found(
    api_server: HTTPServer, answer: dict, query: dict, expected: str
):
    api_server.expect_request("/q").respond_with_json(answer)
    with pytest.raises(ProviderError) as caught:
        measure(
            service_settings(api_server),
            metric="feedback",
            scale="nps",
            query={"path": "/q", **query},
        )
    assert expected in str(caught.value)
    assert caught.value.query == f"GET {api_server.url_for('/')}q"


# --- the transport: credentials, retries, timeouts ----------------------------------------------


def test_401_names_the_variable_and_never_shows_the_credential(api_server: HTTPServer):
    api_server.expect_request("/v1/metrics.json").respond_with_data(
        f"<html>unknown key {KEY}</html>", status=401, content_type="text/html"
    )
    with pytest.raises(ProviderError) as caught:
        measure(
            delighted_settings(api_server), metric="feedback", scale="nps", query=DELIGHTED_COUNTS
        )
    message = str(caught.value)
    assert (
        "401 UNAUTHORIZED: the service refused the credentials; check DELIGHTED_API_KEY" in message
    )
    assert KEY not in message and KEY not in (caught.value.query or "")
    # Never retried: one request per window (the windows are read at once), and not one more.
    asked = sorted((int(r.args["since"]), int(r.args["until"])) for r, _ in api_server.log)
    assert asked == sorted(EPOCH.values())


def test_a_credential_parameter_is_shown_as_its_variable(api_server: HTTPServer):
    api_server.expect_request("/q", query_string={"api_key": TOKEN}).respond_with_json(
        {"error": f"quota exceeded for {TOKEN}"}, status=400
    )
    settings = {
        **service_settings(api_server),
        "headers": {},
        "params": {"api_key": "${SVC_TOKEN}"},
    }
    with pytest.raises(ProviderError) as caught:
        measure(settings, metric="custom", query={"path": "/q", "value": "v"})
    assert caught.value.query == f"GET {api_server.url_for('/')}q?api_key=${{SVC_TOKEN}}"
    assert "quota exceeded for ***" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_a_secret_echoed_as_a_query_string_carries_it_is_redacted(api_server: HTTPServer):
    api_server.expect_request("/q").respond_with_handler(
        lambda request: Response(f"bad signature in {request.query_string.decode()}", status=400)
    )
    settings = {**service_settings(api_server), "params": {"sig": "${SIGNING_KEY}"}}
    with pytest.raises(ProviderError) as caught:
        measure(settings, metric="custom", query={"path": "/q", "value": "v"})
    assert str(caught.value).endswith("400 BAD REQUEST: bad signature in sig=***")


# --- the criteria file --------------------------------------------------------------------------


def test_the_loader_refuses_queries_the_provider_cannot_read(tmp_path: Path):
    path = write_criteria(
        tmp_path,
        "svc: {type: http, base_url: 'https://metrics.example.com'}\n",
        """\
        - {name: text, metric: custom, max: 1, query: "SELECT 1"}
        - {name: none, metric: error_rate, max: 1%}
        - {name: no value, metric: custom, max: 1, query: {path: /q}}
        - {name: bad path, metric: custom, max: 1, query: {path: /q, value: "$.a["}}
        - {name: secret, metric: custom, max: 1, query: {path: /q, value: v, params: {k: "${API_KEY}"}}}
        - {name: rate, metric: latency, max: 1s, query: {path: /q, value: v, samples: n, successes: e}}
        - {name: body, metric: custom, max: 1, query: {path: /q, value: v, body: {a: 1}}}
        - {name: host, metric: custom, max: 1, query: {path: "https://elsewhere.example/q", value: v}}
        - {name: typo, metric: custom, max: 1, query: {path: /q, valeu: v}}
        - {name: key, metric: custom, max: 1, query: {path: /q, value: v, params: {api_key: abc}}}
        - {name: end, metric: custom, max: 1, query: {path: /q, value: v, data_end: "$.t["}}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    problems = "\n".join(caught.value.problems)
    for expected in (
        "criteria[0].query: expected a mapping with path and value for an http provider",
        "criteria[1].query: the http provider has no default query",
        "criteria[2].query: give value: a JSONPath ($.score) or JMESPath (data.score)",
        "criteria[3].query.value: '$.a[' is not a valid JSONPath",
        "criteria[4].query: unknown placeholder ${API_KEY}; a query may use ${start}, ${end}",
        "criteria[5].query.successes: successes are for rates",
        "criteria[6].query: a body needs method: POST",
        "criteria[7].query.path: expected a path under the provider's base_url, starting with /",
        "criteria[8].query.valeu: unknown key 'valeu'; did you mean 'value'?",
        "criteria[9].query.params.api_key: parameter 'api_key' carries a credential",
        "criteria[10].query.data_end: '$.t[' is not a valid JSONPath",
    ):
        assert expected in problems, problems
    assert len(caught.value.problems) == 11


def test_a_credential_written_inline_is_refused_without_echoing_it(tmp_path: Path):
    path = write_criteria(
        tmp_path,
        """\
        svc:
          type: http
          base_url: https://metrics.example.com
          headers: {X-Api-Key: inline-secret-123}
        """,
        "- {name: c, metric: custom, max: 1, query: {path: /q, value: v}}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "header 'X-Api-Key' carries a credential" in str(caught.value)
    assert "inline-secret-123" not in str(caught.value)


def test_a_gate_over_delighted_passes_then_errors_in_an_outage(
    tmp_path: Path, api_server: HTTPServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DELIGHTED_API_KEY", KEY)
    providers = f"""\
    delighted:
      type: http
      base_url: {api_server.url_for("/v1")}
      basic_auth: {{username: "${{DELIGHTED_API_KEY}}"}}
      time_format: epoch
      timeout: 500ms
      backoff: 10ms
      retries: 1
    """
    criteria = """\
    - name: NPS
      metric: feedback
      scale: nps
      min: 0
      max_drop: 40  # points
      query:
        path: /metrics.json
        params: {since: "${start}", until: "${end}"}
        promoters: $.promoter_count
        passives: $.passive_count
        detractors: $.detractor_count
    """
    path = write_criteria(tmp_path, providers, criteria)
    delighted(api_server)
    report = evaluate(load(path), now=NOW)
    result = report.criteria[0]
    assert report.verdict == Verdict.PASS, report.model_dump_json()
    assert result.value == pytest.approx(10.0)
    assert result.baseline == pytest.approx(82 / 208 * 100)
    assert result.details["release"] == {"promoters": 40, "passives": 30, "detractors": 30}

    api_server.clear()
    # A broken proxy echoes the request's credentials back in its error page: the key, and the
    # Basic login made of it, which no ${VAR} holds.
    api_server.expect_request("/v1/metrics.json").respond_with_handler(
        lambda request: Response(
            f"maintenance {KEY}; {request.headers['Authorization']}", status=503
        )
    )
    report = evaluate(load(path), now=NOW)
    assert report.verdict == Verdict.ERROR
    assert report.criteria[0].verdict == Verdict.ERROR
    assert "503 SERVICE UNAVAILABLE: maintenance ***; Basic ***" in report.criteria[0].message
    dumped = report.model_dump_json()
    assert KEY not in dumped and BASIC.split()[1] not in dumped
    assert "/metrics.json?since=" in json.loads(dumped)["criteria"][0]["queries"]["query"]
