"""The mixpanel provider against a loopback server answering like Mixpanel's Query API: saved funnels
(each window its own query, one bucket) and segmentation over whole days in the project's time zone,
as few queries as the 60-an-hour limit calls for, malformed answers and what Mixpanel's own refusals
say. Its outages, secrets, no-data disguises and units are the provider contract's
(test_contract_*.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from loopback_mixpanel import (
    AUTH,
    BASELINE_DAY,
    DEPLOY,
    NOW,
    RELEASE_DAY,
    SECRET,
    USER,
    WINDOWS,
    FakeMixpanel,
    funnel,
    funnel_day,
    one_bucket,
    segmentation,
)
from pytest_httpserver import HTTPServer

from cxe_gate.config import ConversionCriterion, EngagementCriterion, JourneySpec
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers import MetricRequest
from cxe_gate.providers.base import ProviderContext
from cxe_gate.providers.mixpanel import MixpanelProvider, MixpanelSettings
from cxe_gate.results import Verdict

NOWHERE = "http://127.0.0.1:9"  # for tests that must fail before sending anything
CHECKOUT = JourneySpec(steps=["view_item", "purchase"], unit="user")


@pytest.fixture
def mixpanel(api_server: HTTPServer) -> FakeMixpanel:
    fake = FakeMixpanel()
    api_server.expect_request("/api/query/funnels").respond_with_handler(fake)
    api_server.expect_request("/api/query/segmentation").respond_with_handler(fake)
    return fake


def provider(url: str | None, **settings: Any) -> MixpanelProvider:
    context = ProviderContext(
        name="mp", base_dir=Path("."), environ={"MP_USER": USER, "MP_SECRET": SECRET}
    )
    options = {
        "project_id": 31337,
        "username": "${MP_USER}",
        "secret": "${MP_SECRET}",
        "url": url,
        "funnels": {"checkout": 7501},
        "active_event": "App Open",
        "timeout": "500ms",
        "backoff": "10ms",
        **settings,
    }
    return MixpanelProvider(MixpanelSettings.model_validate(options), context)


def conversion(journey: JourneySpec = CHECKOUT, **fields: Any) -> MetricRequest:
    criterion = ConversionCriterion(
        name="checkout", metric="conversion", journey="checkout", max_drop="5%", **fields
    )
    return MetricRequest(criterion=criterion, journey=journey)


def engagement(measure: str, **fields: Any) -> MetricRequest:
    return MetricRequest(
        criterion=EngagementCriterion(
            name=measure, metric="engagement", measure=measure, min=0, **fields
        )
    )


# --- conversion ---------------------------------------------------------------------------------


def test_each_window_is_its_own_funnel_query_of_one_bucket(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    windows = [TimeWindow("baseline", DEPLOY - timedelta(hours=72), DEPLOY), WINDOWS[1]]
    # 2,600 distinct users entered over the baseline's three days: summing days would count
    # those who came back on a second day twice (900 + 1000 + 1100 = 3,000).
    mixpanel.funnels[("2026-11-20", "2026-11-22")] = one_bucket("2026-11-20", 2600, 338)
    mixpanel.funnels[RELEASE_DAY] = one_bucket("2026-11-23", 500, 60)
    measured = provider(api_server.url_for("")).measure(conversion(), windows)

    baseline, release = measured["baseline"], measured["release"]
    assert (baseline.value, baseline.samples, baseline.successes) == (0.13, 2600, 338)
    assert (release.value, release.samples, release.successes) == (0.12, 500, 60)
    assert release.details["step 2: purchase"] == 60
    assert release.details["hours added"] == 22
    assert release.details["conversion window hours"] == 24
    assert "# whole days in UTC: 2026-11-20 to 2026-11-22" in baseline.query
    assert baseline.notes[1].startswith("counted as whole days in UTC (2026-11-20 to 2026-11-22)")
    common = {"project_id": "31337", "funnel_id": "7501", "length_unit": "day"}
    # The release window's days are the conversion window of both: no baseline cohort converts
    # a week later than the release's. (The windows are asked at once, in either order.)
    assert sorted(mixpanel.asked, key=lambda asked: asked["from_date"]) == [
        {
            **common,
            "from_date": "2026-11-20",
            "to_date": "2026-11-22",
            "interval": "3",
            "length": "1",
        },
        {
            **common,
            "from_date": "2026-11-23",
            "to_date": "2026-11-23",
            "interval": "1",
            "length": "1",
        },
    ]
    assert release.query.startswith("GET /api/query/funnels?project_id=31337&funnel_id=7501&")
    # what the API cannot confine, the report says
    assert (
        "Mixpanel counts a completion up to 1d after each user's first step, also after the "
        "baseline window's last day: completions until 2026-11-24 00:00 (UTC) count; the Funnels "
        "API cannot stop at to_date, so users who entered near its end may convert on events of "
        "the release window"
    ) in baseline.notes
    assert release.notes[0].endswith(
        "until 2026-11-25 00:00 (UTC) count; the Funnels API cannot stop at to_date"
    )


def test_a_window_answered_in_several_buckets_is_an_error_not_a_sum(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    windows = [TimeWindow("baseline", DEPLOY - timedelta(hours=72), DEPLOY), WINDOWS[1]]
    mixpanel.funnels[("2026-11-20", "2026-11-22")] = funnel(
        {"2026-11-20": funnel_day(900, 117), "2026-11-21": funnel_day(1000, 130)}
    )
    with pytest.raises(
        ProviderError,
        match=r"expected the baseline window's 3 day\(s\) as one bucket, got 2; users of several",
    ):
        provider(api_server.url_for("")).measure(conversion(), windows)


def test_journey_within_and_a_raw_query_shape_the_funnel(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    mixpanel.funnels[BASELINE_DAY] = one_bucket("2026-11-22", 1000, 100)
    mixpanel.funnels[RELEASE_DAY] = one_bucket("2026-11-23", 400, 30)
    journey = JourneySpec(steps=["view_item", "purchase"], unit="user", within="90m")
    query = {"funnel_id": 42, "where": 'properties["$os"] == "iOS"'}
    measured = provider(api_server.url_for(""), workspace_id=9).measure(
        conversion(journey, query=query), WINDOWS
    )
    assert measured["release"].value == 0.075
    for asked in mixpanel.asked:  # both windows, the same conversion window
        assert (asked["funnel_id"], asked["length"], asked["length_unit"]) == ("42", "90", "minute")
        assert (asked["where"], asked["workspace_id"]) == ('properties["$os"] == "iOS"', "9")
    # 90 minutes past the baseline's last day reaches into the release window's day
    assert any(
        n.endswith("may convert on events of the release window")
        for n in measured["baseline"].notes
    )
    assert measured["release"].details["conversion window hours"] == 1.5


def test_a_funnel_whose_steps_are_not_the_journey_is_an_error(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    mixpanel.funnels[BASELINE_DAY] = funnel(
        {"2026-11-22": funnel_day(1000, 100, events=("App Open", "Signed up"))}
    )
    with pytest.raises(ProviderError, match=r"funnel 7501 has the steps \['App Open', 'Signed"):
        provider(api_server.url_for("")).measure(conversion(), WINDOWS)


def test_a_session_journey_is_refused_rather_than_read_as_users():
    with pytest.raises(ProviderError, match=r"Mixpanel funnels count users.*set unit: user"):
        provider(NOWHERE).measure(conversion(JourneySpec(steps=["view_item", "purchase"])), WINDOWS)


# --- engagement ---------------------------------------------------------------------------------


def test_active_users_of_adjacent_equal_windows_come_from_one_query(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    mixpanel.segments[("App Open", "unique", "2026-11-22", "2026-11-23")] = segmentation(
        "App Open", {"2026-11-23": 310, "2026-11-22": 4400}
    )
    measured = provider(api_server.url_for("")).measure(engagement("active_users"), WINDOWS)
    assert len(api_server.log) == 1
    assert (measured["baseline"].value, measured["release"].value) == (4400.0, 310.0)
    assert measured["release"].samples == 310
    assert mixpanel.asked[0]["interval"] == "1"  # each window one bucket of its days


def test_events_per_user_over_windows_apart(api_server: HTTPServer, mixpanel: FakeMixpanel):
    # The same weekday a week before: 2 days touched, then the release's 1 day.
    windows = [
        TimeWindow("baseline", DEPLOY - timedelta(days=7), DEPLOY - timedelta(days=6)),
        WINDOWS[1],
    ]
    mixpanel.segments[("App Open", "unique", "2026-11-16", "2026-11-17")] = segmentation(
        "App Open", {"2026-11-16": 800}
    )
    mixpanel.segments[("App Open", "unique", "2026-11-23", "2026-11-23")] = segmentation(
        "App Open", {"2026-11-23": 400}
    )
    searches = {f"2026-11-{d}": 0 for d in range(16, 24)} | {
        "2026-11-16": 1000,
        "2026-11-17": 1400,
        "2026-11-20": 999,  # between the windows: not counted
        "2026-11-23": 1300,
    }
    mixpanel.segments[("Search", "general", "2026-11-16", "2026-11-23")] = segmentation(
        "Search", searches
    )
    measured = provider(api_server.url_for("")).measure(
        engagement("events_per_user", event="Search"), windows
    )
    assert len(api_server.log) == 3  # events by day in one query; users per window
    baseline, release = measured["baseline"], measured["release"]
    assert (baseline.value, baseline.samples) == (3.0, 800)
    assert (release.value, release.samples, release.variance) == (3.25, 400, None)
    assert release.details == {
        "events": 1300,
        "users": 400,
        "hours added": 22,
    }
    intervals = sorted(a["interval"] for a in mixpanel.asked if a["type"] == "unique")
    assert intervals == ["1", "2"]


def test_adoption_is_a_proportion_of_active_users(api_server: HTTPServer, mixpanel: FakeMixpanel):
    mixpanel.segments[("App Open", "unique", "2026-11-22", "2026-11-23")] = segmentation(
        "App Open", {"2026-11-22": 4000, "2026-11-23": 500}
    )
    mixpanel.segments[("Share", "unique", "2026-11-22", "2026-11-23")] = segmentation(
        "Share", {"2026-11-22": 600, "2026-11-23": 100}
    )
    measured = provider(api_server.url_for("")).measure(
        engagement("adoption", event="Share", unit="user"), WINDOWS
    )
    release = measured["release"]
    assert (release.value, release.samples, release.successes) == (0.2, 500, 100)
    assert measured["baseline"].value == 0.15
    assert len(api_server.log) == 2


def test_unique_users_split_across_buckets_are_not_added_up(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    windows = [TimeWindow("baseline", DEPLOY - timedelta(hours=48), DEPLOY), WINDOWS[1]]
    mixpanel.segments[("App Open", "unique", "2026-11-21", "2026-11-22")] = segmentation(
        "App Open", {"2026-11-21": 700, "2026-11-22": 650}
    )
    mixpanel.segments[("App Open", "unique", "2026-11-23", "2026-11-23")] = segmentation(
        "App Open", {"2026-11-23": 300}
    )
    with pytest.raises(ProviderError, match="2 day\\(s\\) as one bucket of unique users, got 2"):
        provider(api_server.url_for("")).measure(engagement("active_users"), windows)


# --- failures -----------------------------------------------------------------------------------

MALFORMED = {
    "no data": ({"meta": {}}, r"expected a JSON object with a `data` object of days"),
    "bad date": (funnel({"Monday": funnel_day(1, 1)}), r"expected a yyyy-mm-dd date, got 'Monday'"),
    "text count": (funnel({"2026-11-23": funnel_day(10, "x")}), r"expected a count, got 'x'"),
    "fraction": (funnel({"2026-11-23": funnel_day(10, 2.5)}), r"expected a whole count, got 2.5"),
    "rising": (funnel({"2026-11-23": funnel_day(10, 20)}), r"20 users completed it but only 10"),
    "truncated": ('{"data": {"2026-11-23": {"steps": [{"count": 9', r"not valid JSON \(cut short"),
    "another day": (
        one_bucket("2026-11-22", 900, 117),
        r"a bucket dated 2026-11-22 lies outside the days asked for \(2026-11-23\)",
    ),
}


def test_a_malformed_answer_is_an_error_naming_what_was_expected(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    mixpanel.funnels[BASELINE_DAY] = one_bucket("2026-11-22", 900, 117)
    for case, (answer, expected) in MALFORMED.items():
        mixpanel.funnels[RELEASE_DAY] = answer
        with pytest.raises(ProviderError, match=expected) as caught:
            provider(api_server.url_for("")).measure(conversion(), WINDOWS)
        assert "GET /api/query/funnels?project_id=31337" in (caught.value.query or ""), case


def test_refused_credentials_name_the_variables_and_never_the_secret(api_server: HTTPServer):
    api_server.expect_request("/api/query/segmentation").respond_with_json(
        {"error": f"Invalid credentials {USER}:{SECRET} in {AUTH}", "status": "error"},
        status=401,
    )
    with pytest.raises(ProviderError) as caught:
        provider(api_server.url_for("")).measure(engagement("active_users"), WINDOWS)
    message = str(caught.value)
    assert "401" in message and "check MP_SECRET, MP_USER" in message
    assert "may read project 31337" in message
    assert USER not in message and SECRET not in message
    assert AUTH.removeprefix("Basic ") not in message
    assert len(api_server.log) == 1


def test_residency_picks_the_host():
    hosts = {region: provider(None, region=region).client.base_url for region in ("us", "eu", "in")}
    assert hosts == {
        "us": "https://mixpanel.com",
        "eu": "https://eu.mixpanel.com",
        "in": "https://in.mixpanel.com",
    }


def test_days_are_the_projects_days(api_server: HTTPServer, mixpanel: FakeMixpanel):
    # 14:00 UTC is 04:00 the next day at UTC+14: the windows fall on 23 and 24 November there.
    mixpanel.funnels[("2026-11-23", "2026-11-23")] = one_bucket("2026-11-23", 900, 117)
    mixpanel.funnels[("2026-11-24", "2026-11-24")] = one_bucket("2026-11-24", 500, 60)
    measured = provider(api_server.url_for(""), timezone="Pacific/Kiritimati").measure(
        conversion(), WINDOWS
    )
    assert (measured["baseline"].value, measured["release"].value) == (0.13, 0.12)
    release_query = measured["release"].query or ""
    assert (
        "# whole days in Pacific/Kiritimati: 2026-11-24 (the release window 2026-11-24 04:00"
        in (release_query)
    )


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'; expected an IANA name"):
        provider(NOWHERE, timezone="Mars/Olympus")


# --- through the gate ---------------------------------------------------------------------------


def criteria_file(tmp_path: Path, url: str, criteria: str, settings: str = "") -> Path:
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: r7, deployed_at: 2026-11-23T14:00:00Z}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        "providers:\n"
        f"  mp: {{type: mixpanel, project_id: 31337, username: '${{MP_USER}}', "
        f"secret: '${{MP_SECRET}}', url: '{url}', timeout: 500ms, backoff: 10ms, retries: 1"
        f"{settings}}}\n"
        "journeys:\n"
        "  checkout: {steps: [view_item, purchase], unit: user}\n"
        f"criteria:\n{criteria}"
    )
    return path


GATE_SETTINGS = ", funnels: {checkout: 7501}, active_event: App Open"
GATE_CRITERIA = (
    "  - {name: checkout conversion, metric: conversion, journey: checkout, max_drop: 10%}\n"
    "  - {name: active users, metric: engagement, measure: active_users, min: 100}\n"
)


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("MP_USER", USER)
    monkeypatch.setenv("MP_SECRET", SECRET)


@pytest.mark.usefixtures("credentials")
def test_good_data_passes_the_gate_in_three_queries(
    tmp_path, api_server: HTTPServer, mixpanel: FakeMixpanel
):
    mixpanel.funnels[BASELINE_DAY] = one_bucket("2026-11-22", 4200, 609)
    mixpanel.funnels[RELEASE_DAY] = one_bucket("2026-11-23", 1000, 150)
    mixpanel.segments[("App Open", "unique", "2026-11-22", "2026-11-23")] = segmentation(
        "App Open", {"2026-11-22": 4400, "2026-11-23": 1050}
    )
    path = criteria_file(tmp_path, api_server.url_for(""), GATE_CRITERIA, GATE_SETTINGS)
    report = evaluate(load(path), now=NOW)
    assert report.verdict is Verdict.PASS, report.summary
    conversion_result, users = report.criteria
    assert (conversion_result.value, conversion_result.baseline) == (0.15, 609 / 4200)
    assert (users.value, users.baseline) == (1050.0, 4400.0)
    assert len(api_server.log) == 3  # a funnel per window, both windows' users in one
    assert any("may convert on events of the release window" in n for n in conversion_result.notes)


def test_what_mixpanel_cannot_serve_is_refused_when_the_file_loads(tmp_path):
    criteria = (
        "  - {name: errors, metric: error_rate, max: 1%}\n"
        "  - {name: p95, metric: latency, max: 800ms}\n"
        "  - {name: csat, metric: feedback, scale: csat, min: 80%}\n"
        "  - {name: no funnel, metric: conversion, journey: checkout, min: 1%}\n"
        "  - {name: no active event, metric: engagement, measure: active_users, min: 1}\n"
        "  - {name: per session, metric: engagement, measure: events_per_session, min: 1,"
        " query: {active_event: App Open}}\n"
        "  - {name: keys, metric: conversion, journey: checkout, min: 1%,"
        " query: {funnel_id: seven, on: x}}\n"
        "  - {name: apdex, metric: apdex, t: 300ms, min: 0.9}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(criteria_file(tmp_path, NOWHERE, criteria))
    text = "\n".join(caught.value.problems)
    served = "a mixpanel provider serves conversion, engagement and retention"
    for index, metric in [(0, "error_rate"), (1, "latency"), (2, "feedback"), (7, "apdex")]:
        assert f"criteria[{index}].metric: {served}, not {metric}" in text
    assert "criteria[3].journey: Mixpanel funnels are saved reports" in text
    assert "funnels: {checkout: <funnel_id>}" in text
    assert "criteria[4].measure: Mixpanel counts users of one named event: set active_event" in text
    assert "criteria[5].measure: Mixpanel's segmentation does not count events per session" in text
    assert "criteria[6].query.funnel_id: expected the saved funnel's id" in text
    assert "criteria[6].query.on: unknown key for Mixpanel funnel" in text


def test_journeys_mixpanel_cannot_measure_are_refused_when_the_file_loads(tmp_path):
    path = tmp_path / "cxe.yml"
    path.write_text(
        "providers:\n"
        "  mp: {type: mixpanel, project_id: 31337, username: '${MP_USER}', "
        "secret: '${MP_SECRET}', funnels: {browse: 1, checkout: 2, never: 3}}\n"
        "journeys:\n"
        "  browse: [view_item, purchase]\n"  # unit: session, the default
        "  checkout: {steps: [view_item, purchase], unit: user, within: 90m}\n"
        "  never: {steps: [view_item, purchase], unit: user, within: -5m}\n"
        "criteria:\n"
        "  - {name: sessions, metric: conversion, journey: browse, min: 1%}\n"
        "  - {name: as users, metric: conversion, journey: browse, unit: user, min: 1%}\n"
        "  - {name: per session, metric: conversion, journey: checkout, unit: session, min: 1%}\n"
        "  - {name: never, metric: conversion, journey: never, min: 1%}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == [
        f"{path}:8: criteria[0].journey: Mixpanel funnels count users, but the journey counts "
        "sessions (unit: session): set unit: user on the journey or on this criterion",
        f"{path}:10: criteria[2].journey: Mixpanel funnels count users, but the journey counts "
        "sessions (unit: session): set unit: user on the journey or on this criterion",
        f"{path}:11: criteria[3].journey: within: -5m is not a conversion window Mixpanel can "
        "take: it counts whole seconds, at least 1s",
    ]
