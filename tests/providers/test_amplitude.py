"""The amplitude provider against a loopback server answering like Amplitude's Dashboard REST API:
funnels and segmentation over whole days in the project's time zone, malformed answers and what
Amplitude's own refusals say. Its outages, secrets, no-data disguises and units are the provider
contract's (test_contract_*.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from loopback_amplitude import (
    AUTH,
    DEPLOY,
    KEY,
    NOW,
    SECRET,
    WINDOWS,
    FakeAmplitude,
    funnel,
    segmentation,
)
from pytest_httpserver import HTTPServer

from cxe_gate.config import ConversionCriterion, EngagementCriterion, JourneySpec
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers import MetricRequest
from cxe_gate.providers.amplitude import AmplitudeProvider, AmplitudeSettings
from cxe_gate.results import Verdict

NOWHERE = "http://127.0.0.1:9"  # for tests that must fail before sending anything
CHECKOUT = JourneySpec(steps=["view_item", "add_to_cart", "purchase"], unit="user")


@pytest.fixture
def amplitude(api_server: HTTPServer) -> FakeAmplitude:
    fake = FakeAmplitude()
    api_server.expect_request("/api/2/funnels").respond_with_handler(fake)
    api_server.expect_request("/api/2/events/segmentation").respond_with_handler(fake)
    return fake


def provider(url: str, **settings: Any) -> AmplitudeProvider:
    from cxe_gate.providers.base import ProviderContext

    context = ProviderContext(
        name="amp", base_dir=Path("."), environ={"AMP_KEY": KEY, "AMP_SECRET": SECRET}
    )
    options = {
        "api_key": "${AMP_KEY}",
        "secret_key": "${AMP_SECRET}",
        "url": url,
        "timeout": "500ms",
        "backoff": "10ms",
        **settings,
    }
    return AmplitudeProvider(AmplitudeSettings.model_validate(options), context)


def conversion(**fields: Any) -> MetricRequest:
    criterion = ConversionCriterion(
        name="checkout", metric="conversion", journey="checkout", max_drop="5%", **fields
    )
    return MetricRequest(criterion=criterion, journey=CHECKOUT)


def engagement(measure: str, **fields: Any) -> MetricRequest:
    return MetricRequest(
        criterion=EngagementCriterion(
            name=measure, metric="engagement", measure=measure, min=0, **fields
        )
    )


# --- conversion ---------------------------------------------------------------------------------


def test_conversion_divides_last_step_users_by_first_step_users(
    api_server: HTTPServer, amplitude: FakeAmplitude
):
    amplitude.funnels[("20261122", "20261122")] = funnel(4200, 1300, 609)
    amplitude.funnels[("20261123", "20261123")] = funnel(1000, 310, 130)
    measured = provider(api_server.url_for("")).measure(conversion(), WINDOWS)

    release, baseline = measured["release"], measured["baseline"]
    assert (release.value, release.samples, release.successes) == (0.13, 1000, 130)
    assert (baseline.value, baseline.samples, baseline.successes) == (609 / 4200, 4200, 609)
    assert release.details["step 2: add_to_cart"] == 310
    # A 2-hour window is counted as the whole day, and the report says so.
    assert release.details["hours added"] == 22
    assert release.notes == (
        "counted as whole days in UTC (2026-11-23): 22 hours outside the 2-hour window are "
        "included",
    )
    assert baseline.notes[1] == (
        "14 hours of the window fall on a day the release window also touches; they are "
        "counted there only"
    )
    assert baseline.details == {
        "step 1: view_item": 4200,
        "step 2: add_to_cart": 1300,
        "step 3: purchase": 609,
        "successes": 609,
        "trials": 4200,
        "hours added": 14,  # 22 Nov from midnight
        "hours left to the release window": 14,  # 23 Nov until the deploy
    }
    assert "# whole days in UTC: 2026-11-23 (the release window 2026-11-23 14:00" in release.query
    # The baseline touched the deploy day too; that day counts in the release window only.
    assert "# whole days in UTC: 2026-11-22 " in baseline.query
    assert "counts there only" in baseline.query

    first = amplitude.asked[0]
    assert first["e"] == [
        '{"event_type":"view_item"}',
        '{"event_type":"add_to_cart"}',
        '{"event_type":"purchase"}',
    ]
    assert (first["mode"], first["n"], first["cs"]) == (["ordered"], ["active"], ["86400"])
    assert release.query.startswith('GET /api/2/funnels?e={"event_type":"view_item"}&')


def test_days_are_the_projects_days(api_server: HTTPServer, amplitude: FakeAmplitude):
    # 14:00 UTC is 23:00 in Tokyo: the 2-hour release window runs into the next day there.
    amplitude.funnels[("20261122", "20261122")] = funnel(800, 200, 100)
    amplitude.funnels[("20261123", "20261124")] = funnel(1600, 400, 180)
    measured = provider(api_server.url_for(""), timezone="Asia/Tokyo").measure(
        conversion(), WINDOWS
    )
    assert measured["release"].value == 180 / 1600
    assert measured["release"].details["hours added"] == 46
    assert [a["cs"] for a in amplitude.asked] == [["172800"], ["172800"]]  # the release's days


def test_raw_query_and_journey_within_shape_the_funnel(
    api_server: HTTPServer, amplitude: FakeAmplitude
):
    amplitude.funnels[("20261122", "20261122")] = funnel(500, 50)
    amplitude.funnels[("20261123", "20261123")] = funnel(100, 9)
    segments = [{"prop": "country", "op": "is", "values": ["France"]}]
    query = {
        "e": [{"event_type": "ce:Browse"}, {"event_type": "purchase"}],
        "mode": "unordered",
        "s": segments,
    }
    journey = JourneySpec(steps=["view_item", "purchase"], unit="session", within="30m")
    criterion = ConversionCriterion(
        name="c", metric="conversion", journey="j", unit="user", min=0.01, query=query
    )
    measured = provider(api_server.url_for("")).measure(
        MetricRequest(criterion=criterion, journey=journey), WINDOWS
    )
    assert measured["release"].value == 0.09
    assert measured["release"].details["step 1: ce:Browse"] == 100
    asked = amplitude.asked[0]
    assert asked["e"] == ['{"event_type":"ce:Browse"}', '{"event_type":"purchase"}']
    assert (asked["mode"], asked["cs"]) == (["unordered"], ["1800"])
    assert json.loads(asked["s"][0]) == segments


def test_a_session_journey_is_refused_rather_than_read_as_users():
    request = MetricRequest(
        criterion=conversion().criterion, journey=JourneySpec(steps=["view_item", "purchase"])
    )
    with pytest.raises(ProviderError, match=r"Amplitude funnels count users.*set unit: user"):
        provider(NOWHERE).measure(request, WINDOWS)  # refused before anything is sent


def test_a_baseline_inside_the_release_day_is_an_error_not_a_comparison():
    windows = [
        TimeWindow("baseline", DEPLOY - timedelta(hours=2), DEPLOY),
        TimeWindow("release", DEPLOY, NOW),
    ]
    with pytest.raises(ProviderError, match=r"falls on the release window's day\(s\) in UTC"):
        provider(NOWHERE).measure(conversion(), windows)


# --- engagement ---------------------------------------------------------------------------------

WHOLE_DAYS = [
    TimeWindow("baseline", datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)),
    TimeWindow("release", datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)),
]


def test_active_users_are_the_windows_distinct_users_not_a_sum_of_days(
    api_server: HTTPServer, amplitude: FakeAmplitude
):
    amplitude.segments[("_active", "uniques", "20261120", "20261121")] = segmentation(
        640, [400, 380]
    )
    amplitude.segments[("_active", "uniques", "20261122", "20261123")] = segmentation(
        500, [310, 295]
    )
    measured = provider(api_server.url_for("")).measure(engagement("active_users"), WHOLE_DAYS)
    assert (measured["release"].value, measured["release"].samples) == (500.0, 500)
    assert measured["baseline"].value == 640.0
    # Whole days already: nothing widened, nothing to warn about.
    assert measured["release"].details == {"users": 500}
    assert measured["release"].notes == ()
    assert measured["release"].query.endswith("# whole days in UTC: 2026-11-22 to 2026-11-23")
    assert amplitude.asked[0]["i"] == ["1"]


def test_events_per_user_are_totals_over_active_users(
    api_server: HTTPServer, amplitude: FakeAmplitude
):
    for start, end, users, events in (
        ("20261120", "20261121", 400, 1000),
        ("20261122", "20261123", 500, 1600),
    ):
        amplitude.segments[("_active", "uniques", start, end)] = segmentation(users)
        amplitude.segments[("search", "totals", start, end)] = segmentation(
            events, [events // 2] * 2
        )
    measured = provider(api_server.url_for("")).measure(
        engagement("events_per_user", event="search"), WHOLE_DAYS
    )
    release = measured["release"]
    assert (release.value, release.samples, release.variance) == (3.2, 500, None)
    assert release.details == {"events": 1600, "users": 500}
    assert measured["baseline"].value == 2.5
    assert "m=totals" in release.query and "m=uniques" in release.query


def test_adoption_is_a_proportion_of_active_users(api_server: HTTPServer, amplitude: FakeAmplitude):
    for start, end, users, adopters in (
        ("20261120", "20261121", 400, 60),
        ("20261122", "20261123", 500, 100),
    ):
        amplitude.segments[("_active", "uniques", start, end)] = segmentation(users)
        amplitude.segments[("share", "uniques", start, end)] = segmentation(adopters)
    measured = provider(api_server.url_for("")).measure(
        engagement("adoption", event="share", unit="user"), WHOLE_DAYS
    )
    release = measured["release"]
    assert (release.value, release.samples, release.successes) == (0.2, 500, 100)
    assert measured["baseline"].successes == 60


def test_a_question_is_asked_once_per_evaluation(api_server: HTTPServer, amplitude: FakeAmplitude):
    amplitude.segments[("_active", "uniques", "20261120", "20261121")] = segmentation(640)
    amplitude.segments[("_active", "uniques", "20261122", "20261123")] = segmentation(500)
    amp = provider(api_server.url_for(""))
    amp.measure(engagement("active_users"), WHOLE_DAYS)
    amp.measure(engagement("active_users"), WHOLE_DAYS)
    assert len(api_server.log) == 2


# --- failures -----------------------------------------------------------------------------------

MALFORMED = {
    "short": (funnel(4200, 609), r"expected cumulativeRaw to hold 3 counts, one per step"),
    "not a list": ({"data": {"cumulativeRaw": [1, 2, 3]}}, r"a JSON object with a `data` list"),
    "no counts": ({"data": [{"events": ["view_item"]}]}, r"expected data\[0\]\.cumulativeRaw"),
    "text count": (funnel(100, "many", 3), r"cumulativeRaw\[1\]: expected a count, got 'many'"),
    "rising": (funnel(100, 50, 120), r"120 users reached the last step but only 100 the first"),
    "truncated": ('{"data": [{"cumulativeRaw": [4200, 13', r"not valid JSON \(cut short\?\)"),
}


def test_a_malformed_answer_is_an_error_naming_what_was_expected(
    api_server: HTTPServer, amplitude: FakeAmplitude
):
    amplitude.funnels[("20261122", "20261122")] = funnel(4200, 1300, 609)
    for case, (answer, expected) in MALFORMED.items():
        amplitude.funnels[("20261123", "20261123")] = answer
        with pytest.raises(ProviderError, match=expected) as caught:
            provider(api_server.url_for("")).measure(conversion(), WINDOWS)
        assert caught.value.query and "GET /api/2/funnels?" in caught.value.query, case


def test_refused_keys_name_the_variables_and_never_the_secret(api_server: HTTPServer):
    api_server.expect_request("/api/2/funnels").respond_with_data(
        f"<html>invalid api key {KEY} / {SECRET} ({AUTH})</html>",
        status=401,
        content_type="text/html",
    )
    with pytest.raises(ProviderError) as caught:
        provider(api_server.url_for("")).measure(conversion(), WINDOWS)
    message = str(caught.value)
    assert "401" in message and "check AMP_KEY, AMP_SECRET" in message
    assert "region is the project's" in message
    assert KEY not in message and SECRET not in message
    assert AUTH.removeprefix("Basic ") not in message  # nor the two, encoded
    assert len(api_server.log) == 2  # not retried: one for each window, the two read at once


def test_a_404_is_an_error_naming_the_url_and_the_eu_host(api_server: HTTPServer):
    # What an EU project's keys get from the US host, or a proxy from a wrong path: never "no data".
    api_server.expect_request("/api/2/funnels").respond_with_data("Not Found", status=404)
    amp = provider(None)  # type: ignore[arg-type]  # region: us
    amp.client.base_url = api_server.url_for("").rstrip("/")  # the loopback server stands in for it
    with pytest.raises(ProviderError) as caught:
        amp.measure(conversion(), WINDOWS)
    message = str(caught.value)
    assert message.startswith(f"GET {api_server.url_for('/api/2/funnels')}: 404 Not Found")
    assert "a project whose data resides in the EU is served by " in message
    assert "https://analytics.eu.amplitude.com (region: eu)" in message
    assert len(api_server.log) == 2  # not retried: one for each window, the two read at once


def test_a_404_behind_a_proxy_or_from_the_eu_host_says_what_to_check(api_server: HTTPServer):
    api_server.expect_request("/api/2/events/segmentation").respond_with_data("", status=404)
    url = api_server.url_for("")
    with pytest.raises(ProviderError, match=r"404 Not Found: .*; check url: the proxy must pass"):
        provider(url).measure(engagement("active_users"), WHOLE_DAYS)
    eu = provider(None, region="eu")  # type: ignore[arg-type]
    eu.client.base_url = url.rstrip("/")
    with pytest.raises(ProviderError, match=r"a US project is served by https://amplitude\.com"):
        eu.measure(engagement("active_users"), WHOLE_DAYS)


def test_regions_pick_the_host():
    us = provider(None)  # type: ignore[arg-type]
    eu = provider(None, region="eu")  # type: ignore[arg-type]
    assert us.client.base_url == "https://amplitude.com"
    assert eu.client.base_url == "https://analytics.eu.amplitude.com"


# --- through the gate ---------------------------------------------------------------------------


def criteria_file(tmp_path: Path, url: str, criteria: str) -> Path:
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: r7, deployed_at: 2026-11-23T14:00:00Z}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        "providers:\n"
        f"  amp: {{type: amplitude, api_key: '${{AMP_KEY}}', secret_key: '${{AMP_SECRET}}', "
        f"url: '{url}', timeout: 500ms, backoff: 10ms, retries: 1}}\n"
        "journeys:\n"
        "  checkout: {steps: [view_item, add_to_cart, purchase], unit: user}\n"
        f"criteria:\n{criteria}"
    )
    return path


GATE_CRITERIA = (
    "  - {name: checkout conversion, metric: conversion, journey: checkout, max_drop: 10%}\n"
    "  - {name: active users, metric: engagement, measure: active_users, min: 100}\n"
)


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("AMP_KEY", KEY)
    monkeypatch.setenv("AMP_SECRET", SECRET)


@pytest.mark.usefixtures("keys")
def test_good_data_passes_the_gate(tmp_path, api_server: HTTPServer, amplitude: FakeAmplitude):
    amplitude.funnels[("20261122", "20261122")] = funnel(4200, 1300, 609)
    amplitude.funnels[("20261123", "20261123")] = funnel(1000, 310, 150)
    amplitude.segments[("_active", "uniques", "20261122", "20261122")] = segmentation(4400)
    amplitude.segments[("_active", "uniques", "20261123", "20261123")] = segmentation(1050)
    report = evaluate(load(criteria_file(tmp_path, api_server.url_for(""), GATE_CRITERIA)), now=NOW)
    assert report.verdict is Verdict.PASS, report.summary
    conversion_result, users = report.criteria
    assert (conversion_result.value, conversion_result.baseline) == (0.15, 609 / 4200)
    assert conversion_result.details["release"]["hours added"] == 22
    assert users.value == 1050.0
    assert "whole days in UTC: 2026-11-23" in conversion_result.queries["release"]
    assert "release: counted as whole days in UTC (2026-11-23): 22 hours" in " ".join(
        conversion_result.notes
    )


def test_what_amplitude_cannot_serve_is_refused_when_the_file_loads(tmp_path):
    criteria = (
        "  - {name: errors, metric: error_rate, max: 1%}\n"
        "  - {name: apdex, metric: apdex, t: 300ms, min: 0.9}\n"
        "  - {name: p95, metric: latency, max: 800ms}\n"
        "  - {name: nps, metric: feedback, scale: nps, min: 30}\n"
        "  - {name: sessions, metric: engagement, measure: events_per_session, min: 2}\n"
        "  - {name: adoption, metric: engagement, measure: adoption, event: share, min: 1%}\n"
        "  - {name: by session, metric: conversion, journey: checkout, unit: session, min: 1%}\n"
        '  - {name: sql, metric: conversion, journey: checkout, min: 1%, filter: "x = 1"}\n'
        "  - {name: text, metric: conversion, journey: checkout, min: 1%, query: 'SELECT 1'}\n"
        "  - {name: keys, metric: conversion, journey: checkout, min: 1%, query: {mode: any, x: 1}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(criteria_file(tmp_path, NOWHERE, criteria))
    problems = caught.value.problems
    text = "\n".join(problems)
    for index, metric in enumerate(["error_rate", "apdex", "latency", "feedback"]):
        served = "an amplitude provider serves conversion and engagement"
        assert f"criteria[{index}].metric: {served}, not {metric}" in text
    assert "read error_rate from an APM or error-tracking provider" in text
    assert (
        "criteria[4].measure: Amplitude's Dashboard API does not count events per session" in text
    )
    assert "criteria[5].unit: Amplitude counts adoption among users: use unit: user" in text
    assert "criteria[6].journey: Amplitude funnels count users" in text
    assert "criteria[7].filter: the amplitude provider takes no SQL filter; narrow" in text
    assert "criteria[8].query: expected a mapping of Amplitude funnel parameters" in text
    assert "criteria[9].query.mode: expected ordered, unordered or sequential" in text
    assert (
        "criteria[9].query.x: unknown key for Amplitude funnel; expected e, mode, n, cs, s" in text
    )
    assert all(p.startswith(f"{tmp_path / 'cxe.yml'}:") for p in problems)


def test_journeys_amplitude_cannot_measure_are_refused_when_the_file_loads(tmp_path):
    path = tmp_path / "cxe.yml"
    path.write_text(
        "providers:\n"
        "  amp: {type: amplitude, api_key: '${AMP_KEY}', secret_key: '${AMP_SECRET}'}\n"
        "journeys:\n"
        "  browse: [view_item, purchase]\n"  # unit: session, the default
        "  checkout: {steps: [view_item, purchase], unit: user}\n"
        "  instant: {steps: [view_item, purchase], unit: user, within: 500ms}\n"
        "criteria:\n"
        "  - {name: sessions, metric: conversion, journey: browse, min: 1%}\n"
        "  - {name: per session, metric: conversion, journey: checkout, unit: session, min: 1%}\n"
        "  - {name: instant, metric: conversion, journey: instant, min: 1%}\n"
        "  - {name: as users, metric: conversion, journey: browse, unit: user, min: 1%}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    problems = caught.value.problems
    assert problems == [
        f"{path}:8: criteria[0].journey: Amplitude funnels count users, but the journey counts "
        "sessions (unit: session): set unit: user on the journey or on this criterion",
        f"{path}:9: criteria[1].journey: Amplitude funnels count users, but the journey counts "
        "sessions (unit: session): set unit: user on the journey or on this criterion",
        f"{path}:10: criteria[2].journey: within: 500ms is not a conversion window Amplitude can "
        "take: it counts whole seconds, at least 1s",
    ]  # the criterion's unit: user makes `browse` a journey of users (criteria[3])


def test_a_release_window_not_yet_begun_is_no_data_and_asks_nothing():
    # `release: {start: 10m, end: 2h}` evaluated 5 minutes after the deploy.
    release = TimeWindow("release", DEPLOY + timedelta(minutes=10), DEPLOY + timedelta(minutes=5))
    measured = provider(NOWHERE).measure(conversion(), [release])
    assert (measured["release"].value, measured["release"].samples) == (None, 0)
    assert measured["release"].query == "# the release window has not begun: nothing was asked"
    assert measured["release"].notes == ("the window has not begun; nothing was counted",)
