"""The dynatrace provider against a real loopback server answering like the Metrics API v2: counts
become rates with their counts, microseconds become milliseconds and percentages ratios, pages are
followed, and failures become errors that never show the token. Its outages, secrets, no-data
disguises and units are the provider contract's (test_contract_*.py)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from loopback_dynatrace import (
    APP,
    B0,
    B1,
    BASELINE,
    NOW,
    P95,
    PATH,
    R0,
    R1,
    RELEASE,
    SERVICE,
    answer,
    query,
    series,
)
from pytest_httpserver import HTTPServer

from cxe_gate.config import ApdexCriterion, CustomCriterion, ErrorRateCriterion, LatencyCriterion
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import Unit
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.dynatrace import (
    APDEX_CATEGORIES,
    ERRORS,
    REQUESTS,
    DynatraceProvider,
    DynatraceSettings,
)
from cxe_gate.results import Verdict

TOKEN = "dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX.0123456789abcdef0123456789abcdef"


def provider(url: str, **settings) -> DynatraceProvider:
    context = ProviderContext(name="dt", base_dir=Path("."), environ={"DT_API_TOKEN": TOKEN})
    options = {
        "url": url,
        "token": "${DT_API_TOKEN}",
        "entity_selector": SERVICE,
        "timeout": "500ms",
        "backoff": "10ms",
        **settings,
    }
    return DynatraceProvider(DynatraceSettings.model_validate(options), context)


def error_rate(**fields) -> MetricRequest:
    return MetricRequest(ErrorRateCriterion(name="errors", metric="error_rate", max=0.01, **fields))


def latency(**fields) -> MetricRequest:
    return MetricRequest(LatencyCriterion(name="p95", metric="latency", max=300, **fields))


# --- numbers land exactly -----------------------------------------------------------------------


def test_error_rate_is_the_error_count_of_the_request_count(api_server: HTTPServer):
    selector = f"{ERRORS},{REQUESTS}"
    api_server.expect_request(
        PATH,
        method="GET",
        query_string=query(selector, R0, R1),
        headers={"Authorization": f"Api-Token {TOKEN}"},
    ).respond_with_json(answer([series(12.0)], [series(4000.0)]))
    # No failed request in the baseline: Dynatrace sends no data point for the error count.
    api_server.expect_request(PATH, query_string=query(selector, B0, B1)).respond_with_json(
        answer([], [series(9000.0)])
    )
    measured = provider(api_server.url_for("")).measure(error_rate(), [BASELINE, RELEASE])
    release, baseline = measured["release"], measured["baseline"]
    assert (release.value, release.samples, release.successes) == (0.003, 4000, 12)
    assert (baseline.value, baseline.samples, baseline.successes) == (0.0, 9000, 0)
    assert release.details["requests"] == 4000 and release.details["errors"] == 12
    assert release.query == (
        f"metricSelector={selector}&from={R0}&to={R1}&resolution=Inf&entitySelector={SERVICE}"
    )
    # One slot for the whole window, stamped with its end (R1) whatever the data: it cannot say
    # how far the data reaches.
    assert release.data_end is None and baseline.data_end is None


def test_latency_microseconds_become_milliseconds(api_server: HTTPServer):
    selector = f"builtin:service.response.time:splitBy():percentile(99.9),{REQUESTS}"
    api_server.expect_request(PATH, query_string=query(selector, R0, R1)).respond_with_json(
        answer([series(182_345.6)], [series(2500.0)])
    )
    release = provider(api_server.url_for("")).measure(latency(percentile=99.9), [RELEASE])[
        "release"
    ]
    assert release.value == pytest.approx(182.3456)
    assert release.samples == 2500
    assert release.details["p99.9 as sent (us)"] == 182_345.6


def test_apdex_is_computed_from_the_action_counts_per_category(api_server: HTTPServer):
    key = "Apdex category"
    api_server.expect_request(
        PATH, query_string=query(APDEX_CATEGORIES, R0, R1, entity=APP)
    ).respond_with_json(
        answer(
            [
                series(900.0, dimensions={key: "SATISFIED"}),
                series(80.0, dimensions={key: "TOLERATING"}),
                series(20.0, dimensions={key: "FRUSTRATED"}),
                series(7.0, dimensions={key: "UNKNOWN"}),
            ]
        )
    )
    criterion = ApdexCriterion(name="apdex", metric="apdex", t="3s", min=0.85)
    dt = provider(api_server.url_for(""), application_selector=APP, apdex_t="3s")
    release = dt.measure(MetricRequest(criterion), [RELEASE])["release"]
    assert release.value == pytest.approx(0.94)  # (900 + 80 / 2) / 1000
    assert release.samples == 1000
    mean = 0.94
    expected = (900 * (1 - mean) ** 2 + 80 * (0.5 - mean) ** 2 + 20 * mean**2) / 999
    assert release.variance == pytest.approx(expected)
    assert release.details["satisfied"] == 900
    assert release.details["actions without an Apdex category (left out)"] == 7


def test_a_custom_percent_metric_becomes_a_ratio(api_server: HTTPServer):
    selector = "builtin:service.errors.total.rate:splitBy():avg"
    api_server.expect_request(
        PATH, query_string=query(selector, R0, R1, entity=SERVICE)
    ).respond_with_json(answer([series(0.42)]))
    criterion = CustomCriterion(
        name="rate",
        metric="custom",
        query={"metricSelector": selector, "unit": "percent", "entitySelector": SERVICE},
        max=0.01,
    )
    dt = provider(api_server.url_for(""))
    release = dt.measure(MetricRequest(criterion), [RELEASE])["release"]
    assert release.value == pytest.approx(0.0042)
    assert release.details["as sent (percent)"] == 0.42
    assert release.samples == 1
    assert dt.unit(MetricRequest(criterion)) == Unit.RATIO


def test_pages_are_followed_with_the_page_key_alone(api_server: HTTPServer):
    errors = "builtin:service.errors.total.count:sum"  # no splitBy: one series per service
    requests = "builtin:service.requestCount.total:sum"
    api_server.expect_ordered_request(
        PATH, query_string=query(f"{errors},{requests}", R0, R1, entity="type(SERVICE)")
    ).respond_with_json(answer([series(5.0)], [series(1000.0)], next_page="page-2-key"))
    api_server.expect_ordered_request(
        PATH, query_string={"nextPageKey": "page-2-key"}
    ).respond_with_json(answer([series(3.0)], [series(500.0), series(None)]))
    criterion = error_rate(
        query={"errors": errors, "requests": requests, "entitySelector": "type(SERVICE)"}
    )
    release = provider(api_server.url_for("")).measure(criterion, [RELEASE])["release"]
    assert (release.successes, release.samples) == (8, 1500)
    assert len(api_server.log) == 2


def test_a_management_zone_goes_with_every_query(api_server: HTTPServer):
    params = query(f"{P95},{REQUESTS}", R0, R1) | {"mzSelector": 'mzName("checkout")'}
    api_server.expect_request(PATH, query_string=params).respond_with_json(
        answer([series(100_000.0)], [series(10.0)])
    )
    dt = provider(api_server.url_for(""), mz_selector='mzName("checkout")')
    assert dt.measure(latency(), [RELEASE])["release"].value == 100.0


# --- failures are errors, never values ----------------------------------------------------------


def test_401_names_the_token_variable_and_never_the_token(api_server: HTTPServer):
    api_server.expect_request(PATH).respond_with_json(
        {"error": {"code": 401, "message": f"Token {TOKEN} authentication failed"}}, status=401
    )
    with pytest.raises(ProviderError) as caught:
        provider(api_server.url_for("")).measure(error_rate(), [RELEASE])
    message = str(caught.value)
    assert "401" in message and "check DT_API_TOKEN and that the token has the metrics.read" in (
        message
    )
    assert TOKEN not in message and TOKEN not in (caught.value.query or "")
    assert len(api_server.log) == 1


def test_a_reset_past_the_deadline_is_an_error_at_once(api_server: HTTPServer):
    in_an_hour = int((time.time() + 3600) * 1_000_000)
    api_server.expect_request(PATH).respond_with_json(
        {"error": {"code": 429, "message": "Too many requests"}},
        status=429,
        headers={"X-RateLimit-Reset": str(in_an_hour)},
    )
    context = ProviderContext(
        name="dt",
        base_dir=Path("."),
        environ={"DT_API_TOKEN": TOKEN},
        deadline=time.monotonic() + 5,
    )
    settings = DynatraceSettings.model_validate(
        {"url": api_server.url_for(""), "token": "${DT_API_TOKEN}"}
    )
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        DynatraceProvider(settings, context).measure(error_rate(), [RELEASE])
    assert time.monotonic() - started < 1.0 and len(api_server.log) == 1
    message = str(caught.value)
    assert "the rate limit resets at" in message
    assert re.search(r"\(in 3,(599|600) s, per X-RateLimit-Reset\)", message), message
    assert "after the evaluation's deadline (gate.deadline): not waited" in message


def test_500_is_retried_then_reported(api_server: HTTPServer):
    api_server.expect_request(PATH).respond_with_json(
        {"error": {"code": 500, "message": "internal"}}, status=500
    )
    with pytest.raises(ProviderError) as caught:
        provider(api_server.url_for(""), retries=2).measure(latency(), [RELEASE])
    assert len(api_server.log) == 3
    assert "500 INTERNAL SERVER ERROR" in str(caught.value)
    assert "after 3 attempts" in str(caught.value)
    assert caught.value.query.startswith(f"metricSelector={P95},")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"totalCount": 0}, "expected an object with result as a list"),
        (answer([series(1.0)]), "expected 2 metric results \\(one per selector\\), got 1"),
        ({"result": [{"metricId": "a"}, {"metricId": "b"}]}, "expected result\\[\\].data"),
        (answer([series("12")], [series(1.0)]), "expected values as numbers or null, got '12'"),
    ],
)
def test_a_malformed_answer_says_what_was_expected(api_server: HTTPServer, body, expected):
    api_server.expect_request(PATH).respond_with_json(body)
    with pytest.raises(ProviderError, match=expected):
        provider(api_server.url_for("")).measure(error_rate(), [RELEASE])


def test_several_latency_series_are_refused_rather_than_guessed(api_server: HTTPServer):
    api_server.expect_request(PATH).respond_with_json(
        answer([series(1.0, dimensions={"s": "A"}), series(2.0, dimensions={"s": "B"})], [])
    )
    with pytest.raises(ProviderError, match=r"got 2 \(one per dimension\); add :splitBy\(\)"):
        provider(api_server.url_for("")).measure(
            latency(query="builtin:service.response.time:percentile(95)"), [RELEASE]
        )


def test_a_rejected_selector_shows_dynatraces_reason(api_server: HTTPServer):
    api_server.expect_request(PATH).respond_with_json(
        {
            "error": {
                "code": 400,
                "message": "Constraints violated.",
                "constraintViolations": [
                    {"path": "metricSelector", "message": "unknown transformation", "location": "1"}
                ],
            }
        },
        status=400,
    )
    custom = CustomCriterion(name="c", metric="custom", query="builtin:x:nope()", max=1)
    with pytest.raises(
        ProviderError,
        match=r"rejected the query: Constraints violated. \(metricSelector: unknown transformation\)",
    ):
        provider(api_server.url_for("")).measure(MetricRequest(custom), [RELEASE])


def test_a_page_key_that_repeats_is_an_error(api_server: HTTPServer):
    api_server.expect_request(PATH).respond_with_json(
        answer([series(1.0)], [series(2.0)], next_page="same")
    )
    with pytest.raises(ProviderError, match="same nextPageKey twice"):
        provider(api_server.url_for("")).measure(error_rate(), [RELEASE])


# --- settings and what a criterion may ask ------------------------------------------------------


def test_an_environment_id_is_a_saas_url_and_one_place_is_required():
    settings = {"token": "${DT_API_TOKEN}"}
    saas = DynatraceSettings.model_validate(settings | {"environment": "abc12345"})
    assert saas.base_url == "https://abc12345.live.dynatrace.com"
    managed = DynatraceSettings.model_validate(settings | {"url": "https://dt.example.com/e/env1"})
    assert managed.base_url == "https://dt.example.com/e/env1"
    with pytest.raises(ValueError, match="give either url"):
        DynatraceSettings.model_validate(settings)
    with pytest.raises(ValueError, match="give either url"):
        DynatraceSettings.model_validate(
            settings | {"environment": "abc12345", "url": "https://x.live.dynatrace.com"}
        )


def write(tmp_path: Path, url: str, criteria: str, provider_extra: str = "") -> Path:
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: r42, deployed_at: 2026-11-23T10:00:00Z}\n"
        "windows: {baseline: 2h, release: 1h}\n"
        "providers:\n"
        "  apm:\n"
        "    type: dynatrace\n"
        f"    url: '{url}'\n"
        "    token: ${DT_API_TOKEN}\n"
        f"    entity_selector: '{SERVICE}'\n"
        "    timeout: 500ms\n"
        "    backoff: 10ms\n"
        "    retries: 1\n"
        f"{provider_extra}"
        f"criteria:\n{criteria}"
    )
    return path


def test_criteria_dynatrace_cannot_serve_are_refused_when_loading(tmp_path: Path):
    path = write(
        tmp_path,
        "http://127.0.0.1:9",
        """\
  - {name: nps, metric: feedback, scale: nps, min: 30}
  - {name: apdex, metric: apdex, t: 500ms, min: 0.8}
  - {name: rate, metric: error_rate, max: 1%, query: "builtin:service.errors.total.rate"}
  - {name: scoped, metric: latency, max: 300ms, filter: "route = '/checkout'"}
  - {name: unit, metric: custom, max: 1, query: {metricSelector: "a", unit: "percentage"}}
""",
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    text = str(caught.value)
    assert "criteria[0].metric: a dynatrace provider serves error_rate, latency, apdex" in text
    assert "criteria[1].t: Dynatrace rates each user action by the Apdex thresholds" in text
    assert "criteria[2].query: expected a mapping {errors: …, requests: …}" in text
    assert (
        "criteria[3].filter: the dynatrace provider takes no SQL filter; it narrows by entity"
        in text
    )
    assert "criteria[4].query.unit: expected one of ms, s, us, µs, percent" in text


def test_apdex_with_another_t_than_the_applications_is_refused(tmp_path: Path):
    path = write(
        tmp_path,
        "http://127.0.0.1:9",
        "  - {name: a, metric: apdex, t: 500ms, min: 0.8}\n",
        provider_extra="    apdex_t: 3s\n",
    )
    with pytest.raises(ConfigError, match=r"t = 500ms, but Dynatrace rates this application's"):
        load(path)


# --- end to end ---------------------------------------------------------------------------------


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("DT_API_TOKEN", TOKEN)


CRITERIA = """\
  - {name: checkout errors, metric: error_rate, max: 1%, max_rise: 50%}
  - {name: checkout p95, metric: latency, max: 400ms, max_rise: 20%}
"""


@pytest.mark.usefixtures("token")
def test_gate_passes_a_healthy_release(tmp_path: Path, api_server: HTTPServer):
    counts = f"{ERRORS},{REQUESTS}"
    p95 = f"{P95},{REQUESTS}"
    for selector, start, end, body in (
        (counts, B0, B1, answer([series(30.0)], [series(12_000.0)])),
        (counts, R0, R1, answer([series(14.0)], [series(6_000.0)])),
        (p95, B0, B1, answer([series(240_000.0)], [series(12_000.0)])),
        (p95, R0, R1, answer([series(236_500.0)], [series(6_000.0)])),
    ):
        api_server.expect_request(PATH, query_string=query(selector, start, end)).respond_with_json(
            body
        )
    report = evaluate(load(write(tmp_path, api_server.url_for(""), CRITERIA)), now=NOW)
    errors, latency_ = report.criteria
    assert report.verdict is Verdict.PASS, report.summary
    assert (errors.value, errors.baseline) == (14 / 6000, 0.0025)
    assert (latency_.value, latency_.baseline) == (236.5, 240.0)
    assert latency_.unit == "ms" and latency_.samples == 6000


@pytest.mark.usefixtures("token")
def test_an_outage_gives_error_never_pass_and_no_token_in_the_report(
    tmp_path: Path, api_server: HTTPServer
):
    api_server.expect_request(PATH).respond_with_data(
        f"<html>503 gateway: bad upstream for Api-Token {TOKEN}</html>",
        status=503,
        content_type="text/html",
    )
    report = evaluate(load(write(tmp_path, api_server.url_for(""), CRITERIA)), now=NOW)
    assert report.verdict is Verdict.ERROR
    assert all(c.verdict is Verdict.ERROR for c in report.criteria)
    assert "503" in report.criteria[0].message
    assert TOKEN not in report.model_dump_json()
