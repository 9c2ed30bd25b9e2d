"""The `ga4` provider against a loopback GA4: a token endpoint that verifies the service account's
signed assertion, and Data API report endpoints answering in the documented shape (values as text;
funnel answers with sampling metadata and no time zone, as runFunnelReport's are). Its outages,
secrets, no-data disguises and units are the provider contract's (test_contract_*.py)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from loopback_ga4 import (
    CHECKOUT,
    DEPLOY,
    EMAIL,
    FUNNEL,
    PROPERTY,
    REPORT,
    WEEKS,
    Ga4,
    json_reply,
    pem,
    start,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.config import ConversionCriterion, CustomCriterion, EngagementCriterion, JourneySpec
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.ga4 import Ga4Provider, Ga4Settings
from cxe_gate.results import Verdict


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The service account's key, and a stranger's key the token endpoint will not accept."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
def ga4(api_server: HTTPServer, keys) -> Ga4:
    return start(api_server, keys[0])


def provider(ga4: Ga4, tmp_path: Path, *, key: str | None = None, **settings: Any) -> Ga4Provider:
    options = {
        "property_id": PROPERTY,
        "credentials": "${GA4_KEY}",
        "base_url": ga4.server.url_for("/").rstrip("/"),
        "timeout": "500ms",
        "backoff": "10ms",
        "retries": 1,
        **settings,
    }
    context = ProviderContext(name="ga", base_dir=tmp_path, environ={"GA4_KEY": key or ga4.key()})
    return Ga4Provider(Ga4Settings.model_validate(options), context)


def conversion(**fields: Any) -> MetricRequest:
    criterion = ConversionCriterion(
        name="checkout", metric="conversion", journey="checkout", max_drop="5%", **fields
    )
    return MetricRequest(criterion, CHECKOUT)


def engagement(measure: str, **fields: Any) -> MetricRequest:
    return MetricRequest(
        EngagementCriterion(name=measure, metric="engagement", measure=measure, min=0, **fields)
    )


# --- what lands in the report -------------------------------------------------------------------


def test_conversion_is_last_step_users_over_first_step_users_per_window(ga4: Ga4, tmp_path):
    ga4.funnels = {"baseline": ["900", "400", "135"], "release": ["1000", "380", "120"]}
    measured = provider(ga4, tmp_path).measure(conversion(), WEEKS)

    release, baseline = measured["release"], measured["baseline"]
    assert (release.value, release.samples, release.successes) == (0.12, 1000, 120)
    assert (baseline.value, baseline.samples, baseline.successes) == (0.15, 900, 135)
    assert release.details["step 2: add_to_cart (users)"] == 380
    assert release.details["quota tokens left this hour"] == 39900
    # one closed funnel per window, one step per journey event, whole days: no hour filter
    sent = [body for path, body in ga4.bodies if path == FUNNEL]
    assert [b["dateRanges"] for b in sent] == [
        [{"startDate": "2026-11-09", "endDate": "2026-11-15", "name": "baseline"}],
        [{"startDate": "2026-11-16", "endDate": "2026-11-22", "name": "release"}],
    ]
    assert sent[1]["funnel"]["isOpenFunnel"] is False
    assert sent[1]["funnel"]["steps"][2] == {
        "name": "purchase",
        "filterExpression": {"funnelEventFilter": {"eventName": "purchase"}},
    }
    assert "dimensionFilter" not in sent[1] and sent[1]["returnPropertyQuota"] is True
    assert release.query is not None and release.query.startswith(
        f"POST {ga4.server.url_for(FUNNEL)} {{"
    )
    assert len(ga4.tokens) == 1  # the token is cached across calls


def test_engagement_reads_both_windows_in_one_report_with_named_date_ranges(ga4: Ga4, tmp_path):
    ga4.data = {
        "all": {
            "release": {
                "activeUsers": "1830",
                "sessions": "2500",
                "eventCount": "45750",
                "engagementRate": "0.6412",
                "userEngagementDuration": "219600",
            },
            "baseline": {"activeUsers": "1795", "sessions": "2500", "eventCount": "43080"},
        }
    }
    gate = provider(ga4, tmp_path)
    per_user = gate.measure(engagement("events_per_user"), WEEKS)
    per_session = gate.measure(engagement("events_per_session"), WEEKS)
    users = gate.measure(engagement("active_users"), WEEKS)

    assert (per_user["release"].value, per_user["release"].samples) == (25.0, 1830)
    assert per_user["baseline"].value == 24.0
    assert (per_session["release"].value, per_session["release"].samples) == (18.3, 2500)
    assert (users["release"].value, users["release"].samples) == (1830.0, 1830)
    assert per_user["release"].details == {
        "active users": 1830,
        "sessions": 2500,
        "events": 45750,
        "engagement rate": 0.6412,
        "engagement seconds per user": 120.0,
        "quota tokens left this hour": 39950,
        "quota tokens left today": 199850,
    }
    # three criteria, one report: release and baseline in one call, asked once
    assert len(ga4.bodies) == 1
    body = ga4.bodies[0][1]
    assert [r["name"] for r in body["dateRanges"]] == ["baseline", "release"]
    assert [m["name"] for m in body["metrics"]] == [
        "activeUsers",
        "sessions",
        "eventCount",
        "engagementRate",
        "userEngagementDuration",
    ]


def test_adoption_is_sessions_with_the_event_among_all_sessions(ga4: Ga4, tmp_path):
    ga4.data = {
        "all": {"release": {"activeUsers": "1000", "sessions": "1600"}},
        "add_to_wishlist": {
            "release": {"activeUsers": "300", "sessions": "400", "eventCount": "520"}
        },
    }
    gate = provider(ga4, tmp_path)
    adoption = gate.measure(engagement("adoption", event="add_to_wishlist"), WEEKS)
    by_user = gate.measure(engagement("adoption", event="add_to_wishlist", unit="user"), WEEKS)
    events = gate.measure(engagement("events_per_user", event="add_to_wishlist"), WEEKS)

    release = adoption["release"]
    assert (release.value, release.samples, release.successes) == (0.25, 1600, 400)
    assert (by_user["release"].value, by_user["release"].successes) == (0.3, 300)
    assert events["release"].value == 0.52  # wishlist events over all active users
    assert adoption["baseline"].value is None and adoption["baseline"].samples == 0
    filtered = [b for _, b in ga4.bodies if "dimensionFilter" in b]
    assert filtered[0]["dimensionFilter"] == {
        "filter": {
            "fieldName": "eventName",
            "stringFilter": {"matchType": "EXACT", "value": "add_to_wishlist"},
        }
    }
    assert len(ga4.bodies) == 2  # totals and the event's report, each shared by the criteria
    assert release.query is not None and release.query.count("POST ") == 2


# --- windows and time zones ---------------------------------------------------------------------


def test_a_two_hour_release_is_cut_to_the_hour_in_the_property_time_zone(ga4: Ga4, tmp_path):
    ga4.zone = "Europe/Berlin"
    ga4.data = {"all": {"release": {"activeUsers": "200"}, "baseline": {"activeUsers": "180"}}}
    deploy = datetime(2026, 11, 16, 13, 30, tzinfo=UTC)  # 14:30 in Berlin
    windows = [  # the same two hours a week before, and the two hours after the deploy
        TimeWindow("baseline", deploy - timedelta(days=7), deploy - timedelta(hours=166)),
        TimeWindow("release", deploy, deploy + timedelta(hours=2)),
    ]
    measured = provider(ga4, tmp_path, timezone="Europe/Berlin").measure(
        engagement("active_users"), windows
    )

    assert measured["release"].value == 200
    assert measured["release"].details["hours added"] == 1.0  # 14:30-16:30 read as 14:00-17:00
    assert measured["release"].notes == (
        "counted as whole hours in Europe/Berlin (2026-11-16 14:00 to 2026-11-16 17:00): 1 hour "
        "outside the 2-hour window is included",
    )
    [(_, body)] = ga4.bodies  # the windows' days are apart: still one call
    assert body["dateRanges"] == [
        {"startDate": "2026-11-09", "endDate": "2026-11-09", "name": "baseline"},
        {"startDate": "2026-11-16", "endDate": "2026-11-16", "name": "release"},
    ]
    assert body["dimensionFilter"] == {
        "orGroup": {
            "expressions": [
                {
                    "filter": {
                        "fieldName": "dateHour",
                        "inListFilter": {"values": [f"20261109{h}" for h in ("14", "15", "16")]},
                    }
                },
                {
                    "filter": {
                        "fieldName": "dateHour",
                        "inListFilter": {"values": [f"20261116{h}" for h in ("14", "15", "16")]},
                    }
                },
            ]
        }
    }


def test_windows_sharing_a_day_are_read_in_separate_calls(ga4: Ga4, tmp_path):
    ga4.data = {"all": {"release": {"activeUsers": "90"}, "baseline": {"activeUsers": "1000"}}}
    deploy = datetime(2026, 11, 16, 14, tzinfo=UTC)
    windows = [
        TimeWindow("baseline", deploy - timedelta(hours=24), deploy),
        TimeWindow("release", deploy, deploy + timedelta(hours=2)),
    ]
    measured = provider(ga4, tmp_path).measure(engagement("active_users"), windows)

    assert (measured["baseline"].value, measured["release"].value) == (1000, 90)
    baseline, release = (body for _, body in ga4.bodies)
    assert baseline["dateRanges"] == [
        {"startDate": "2026-11-15", "endDate": "2026-11-16", "name": "baseline"}
    ]
    hours = baseline["dimensionFilter"]["filter"]["inListFilter"]["values"]
    assert (len(hours), hours[0], hours[-1]) == (24, "2026111514", "2026111613")
    assert release["dimensionFilter"]["filter"]["inListFilter"]["values"] == [
        "2026111614",
        "2026111615",
    ]
    assert "hours added" not in measured["release"].details
    assert measured["release"].notes == measured["baseline"].notes == ()


def test_widen_mode_reads_whole_days_and_says_how_much_more(ga4: Ga4, tmp_path):
    ga4.funnels = {"baseline": ["500", "200", "100"], "release": ["400", "150", "60"]}
    windows = [
        TimeWindow(
            "baseline",
            DEPLOY - timedelta(days=7) + timedelta(hours=10),
            DEPLOY - timedelta(days=7) + timedelta(hours=12),
        ),
        TimeWindow("release", DEPLOY + timedelta(hours=10), DEPLOY + timedelta(hours=12)),
    ]
    measured = provider(ga4, tmp_path, partial_days="widen").measure(conversion(), windows)

    assert measured["release"].value == 0.15
    assert measured["release"].details["hours added"] == 22.0
    assert measured["release"].notes == (
        "counted as whole days in UTC (2026-11-16): 22 hours outside the 2-hour window are "
        "included",
    )
    sent = [b for _, b in ga4.bodies]
    assert sent[1]["dateRanges"][0] == {
        "startDate": "2026-11-16",
        "endDate": "2026-11-16",
        "name": "release",
    }
    assert all("dimensionFilter" not in b for b in sent)


def test_widen_mode_counts_a_day_both_windows_touch_in_the_release_window_only(ga4: Ga4, tmp_path):
    ga4.funnels = {"baseline": ["500", "200", "100"], "release": ["400", "150", "60"]}
    deploy = datetime(2026, 11, 16, 14, tzinfo=UTC)
    windows = [
        TimeWindow("baseline", deploy - timedelta(hours=24), deploy),
        TimeWindow("release", deploy, deploy + timedelta(hours=2)),
    ]
    measured = provider(ga4, tmp_path, partial_days="widen").measure(conversion(), windows)

    baseline, release = (b["dateRanges"][0] for _, b in ga4.bodies)
    assert (baseline["startDate"], baseline["endDate"]) == ("2026-11-15", "2026-11-15")
    assert (release["startDate"], release["endDate"]) == ("2026-11-16", "2026-11-16")
    assert measured["baseline"].details["hours left to the release window"] == 14
    assert measured["baseline"].notes[1] == (
        "14 hours of the window fall on a day the release window also touches; they are counted "
        "there only"
    )


def test_widen_mode_refuses_a_baseline_with_no_day_of_its_own(ga4: Ga4, tmp_path):
    deploy = datetime(2026, 11, 16, 14, tzinfo=UTC)
    windows = [
        TimeWindow("baseline", deploy - timedelta(hours=2), deploy),
        TimeWindow("release", deploy, deploy + timedelta(hours=2)),
    ]
    with pytest.raises(ProviderError, match=r"falls on the release window's day\(s\) in UTC"):
        provider(ga4, tmp_path, partial_days="widen").measure(conversion(), windows)
    assert ga4.bodies == []


def test_an_hour_both_windows_touch_is_read_in_the_release_window_only(ga4: Ga4, tmp_path):
    ga4.data = {"all": {"release": {"activeUsers": "90"}, "baseline": {"activeUsers": "1000"}}}
    deploy = datetime(2026, 11, 16, 13, 30, tzinfo=UTC)
    windows = [
        TimeWindow("baseline", deploy - timedelta(hours=24), deploy),
        TimeWindow("release", deploy, deploy + timedelta(hours=2)),
    ]
    measured = provider(ga4, tmp_path).measure(engagement("active_users"), windows)

    baseline, release = (body["dimensionFilter"]["filter"] for _, body in ga4.bodies)
    hours = baseline["inListFilter"]["values"]
    assert (len(hours), hours[0], hours[-1]) == (24, "2026111513", "2026111612")
    assert release["inListFilter"]["values"] == ["2026111613", "2026111614", "2026111615"]
    assert measured["baseline"].value == 1000
    details = measured["baseline"].details
    assert (details["hours added"], details["hours left to the release window"]) == (0.5, 0.5)
    assert "they are counted there only" in measured["baseline"].notes[-1]


def test_a_release_window_not_yet_begun_is_no_data_and_asks_nothing(ga4: Ga4, tmp_path):
    # `release: {start: 10m, end: 2h}` evaluated 5 minutes after the deploy.
    release = TimeWindow("release", DEPLOY + timedelta(minutes=10), DEPLOY + timedelta(minutes=5))
    for mode in ("hours", "widen"):
        measured = provider(ga4, tmp_path, partial_days=mode).measure(conversion(), [release])
        assert (measured["release"].value, measured["release"].samples) == (None, 0)
        assert measured["release"].notes == ("the window has not begun; nothing was counted",)
    assert ga4.bodies == []


def test_a_property_in_another_time_zone_is_an_error_not_a_shifted_answer(ga4: Ga4, tmp_path):
    ga4.zone = "America/New_York"
    ga4.data = {"all": {"release": {"activeUsers": "10"}}}
    ga4.funnels = {"baseline": ["900", "400", "135"], "release": ["1000", "380", "120"]}
    gate = provider(ga4, tmp_path)
    wrong_zone = r"reports days in America/New_York, but providers\.ga\.timezone is UTC"
    with pytest.raises(ProviderError, match=wrong_zone):
        gate.measure(engagement("active_users"), WEEKS)
    # Funnel answers carry no time zone: the property's is read from a core report first, and
    # no funnel is asked for on the wrong midnights.
    ga4.bodies.clear()
    with pytest.raises(ProviderError, match=wrong_zone) as caught:
        gate.measure(conversion(), WEEKS)
    assert ga4.bodies == [] and len(ga4.probes) == 1
    assert caught.value.query is not None and '"startDate":"yesterday"' in caught.value.query


def test_a_funnels_time_zone_is_checked_once_and_said_when_ga4_gives_none(ga4: Ga4, tmp_path):
    ga4.funnels = {"baseline": ["900", "400", "135"], "release": ["1000", "380", "120"]}
    gate = provider(ga4, tmp_path)
    for _ in range(2):  # two criteria, one question about the time zone
        measured = gate.measure(conversion(), WEEKS)
    assert len(ga4.probes) == 1 and ga4.probes[0]["metrics"] == [{"name": "activeUsers"}]
    assert measured["release"].notes == ()
    assert "# the property's time zone, read with: POST" in (measured["release"].query or "")

    ga4.zone = None  # a runReport answer without metadata.timeZone
    measured = provider(ga4, tmp_path).measure(conversion(), WEEKS)
    assert measured["release"].value == 0.12
    assert measured["release"].notes == (
        "GA4 did not say the property's time zone (a runReport answer without metadata.timeZone): "
        "the windows are cut at midnight in UTC (providers.ga.timezone), unchecked",
    )


def test_a_sampled_funnel_is_said_and_judged_on_the_users_ga4_read(ga4: Ga4, tmp_path):
    ga4.funnels = {"baseline": ["900", "400", "135"], "release": ["1000", "380", "120"]}
    ga4.sampled = {"release": ("250000", "1000000")}  # int64 as text, as GA4 sends them
    measured = provider(ga4, tmp_path).measure(conversion(), WEEKS)
    release, baseline = measured["release"], measured["baseline"]

    # a quarter of the events read: 1000 users reported are about 250 seen; 0.12 of 250 is 30
    assert (release.value, release.samples, release.successes) == (0.12, 250, 30)
    assert release.details["step 1: view_item (users)"] == 1000
    assert release.details["effective samples"] == 250
    assert release.notes == (
        "sampled: GA4 read 25.0% of the events (250,000 of 1,000,000) and scaled its counts up; "
        "the conversion is judged as a proportion of the 250 users that share holds, not of the "
        "1,000 reported",
    )
    assert (baseline.samples, baseline.notes) == (900, ())  # not sampled: as it was


def test_a_sampled_core_report_is_said_and_not_silently_widened(ga4: Ga4, tmp_path):
    ga4.data = {"all": {"baseline": {"activeUsers": "1795"}, "release": {"activeUsers": "1830"}}}
    ga4.sampled = {"release": ("5000", "20000")}
    measured = provider(ga4, tmp_path).measure(engagement("active_users"), WEEKS)
    assert (measured["release"].value, measured["release"].samples) == (1830, 1830)
    assert measured["release"].notes == (
        "sampled: GA4 read 25.0% of the events (5,000 of 20,000) and scaled its counts up; the "
        "values are estimates, and the tests here are not widened for the sampling",
    )
    assert measured["baseline"].notes == ()


# --- credentials --------------------------------------------------------------------------------


def test_an_expired_token_is_renewed_once(ga4: Ga4, tmp_path):
    ga4.data = {"all": {"release": {"activeUsers": "50"}}}
    gate = provider(ga4, tmp_path)
    gate.measure(engagement("active_users"), WEEKS)
    ga4.revoked.add(ga4.tokens[0])  # Google ended the token early
    ga4.data["add_to_cart"] = {"release": {"eventCount": "60"}}  # a report not yet cached
    measured = gate.measure(engagement("events_per_user", event="add_to_cart"), WEEKS)

    assert measured["release"].value == 1.2
    assert len(ga4.tokens) == 2
    assert [path for path, _ in ga4.bodies] == [REPORT, REPORT, REPORT]


def test_a_refused_credential_names_the_variable_and_never_shows_the_token(ga4: Ga4, tmp_path):
    ga4.answer = lambda request, body: (
        ga4._authorized(request)
        or json_reply(
            {
                "error": {
                    "code": 401,
                    "message": f"bad {request.headers['Authorization']}",
                    "status": "UNAUTHENTICATED",
                }
            },
            401,
        )
    )
    with pytest.raises(ProviderError) as caught:
        provider(ga4, tmp_path).measure(engagement("active_users"), WEEKS)

    message = str(caught.value)
    assert "401" in message and "check GA4_KEY" in message
    assert f"that {EMAIL} has Viewer access to GA4 property {PROPERTY}" in message
    assert len(ga4.tokens) == 2  # renewed once, then given up
    for token in ga4.tokens:
        assert token not in message and token not in (caught.value.query or "")
    assert "PRIVATE KEY" not in message


def test_a_key_the_token_endpoint_refuses_is_reported_without_the_key(ga4: Ga4, keys, tmp_path):
    stranger = pem(keys[1])  # a key Google never issued to this service account
    with pytest.raises(ProviderError) as caught:
        provider(ga4, tmp_path, key=ga4.key(stranger)).measure(conversion(), WEEKS)

    message = str(caught.value)
    assert (
        f"the token endpoint {ga4.token_uri} refused the service account key (400: invalid_grant"
        in message
    )
    assert "check GA4_KEY" in message
    assert "PRIVATE KEY" not in message and stranger[40:80] not in message
    assert [path for path, _ in ga4.bodies] == []  # no report was asked for without a token


def test_the_key_may_be_a_path_to_the_key_file(ga4: Ga4, tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ga4-key.json").write_text(ga4.key())
    ga4.data = {"all": {"release": {"activeUsers": "77"}}}
    measured = provider(ga4, tmp_path, key="secrets/ga4-key.json").measure(
        engagement("active_users"), WEEKS
    )
    assert measured["release"].value == 77


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            '{"type": "service_account", "private_key": "-----BEGIN',
            r"GA4_KEY is not valid JSON \(line 1\)",
        ),
        ('{"type": "authorized_user", "client_id": "x"}', "is a 'authorized_user' credential"),
        ('{"type": "service_account", "client_email": "a@b"}', "GA4_KEY lacks private_key"),
        ("missing/key.json", "names the key file"),
    ],
)
def test_a_bad_key_is_a_config_error_that_never_quotes_it(ga4: Ga4, tmp_path, key, expected):
    with pytest.raises(ConfigError, match=expected) as caught:
        provider(ga4, tmp_path, key=key)
    assert "BEGIN" not in str(caught.value)


# --- the service misbehaving --------------------------------------------------------------------


def exhausted(message: str, **headers: str) -> Response:
    """GA4's answer when a property quota is used up."""
    body = {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED"}}
    return json_reply(body, 429, **headers)


def test_a_busy_property_is_retried_as_asked_then_read(ga4: Ga4, tmp_path):
    """Too many requests at once: a quota that frees up within seconds."""
    throttled: list[float] = []

    def once_throttled(request: Request, body: dict[str, Any]) -> Response | None:
        if not throttled:
            throttled.append(time.monotonic())
            return exhausted("Exhausted concurrent requests quota.", **{"Retry-After": "0.3"})
        throttled.append(time.monotonic())
        return None

    ga4.answer = once_throttled
    ga4.data = {"all": {"release": {"activeUsers": "1830"}}}
    measured = provider(ga4, tmp_path).measure(engagement("active_users"), WEEKS)

    assert measured["release"].value == 1830
    assert throttled[1] - throttled[0] >= 0.3  # waited as asked, not the 10 ms backoff


@pytest.mark.parametrize(
    ("message", "quota", "refills"),
    [
        ("Exhausted property tokens per hour.", "tokensPerHour", "within the hour"),
        ("Exhausted property tokens per day.", "tokensPerDay", "within a day"),
        (
            "Exhausted property tokens for a project per hour.",
            "tokensPerProjectPerHour",
            "within the hour",
        ),
        (
            "Exhausted potentially thresholded requests quota.",
            "potentiallyThresholdedRequestsPerHour",
            "within the hour",
        ),
    ],
)
def test_a_used_up_hourly_or_daily_quota_is_named_and_not_retried(
    ga4: Ga4, tmp_path, message, quota, refills
):
    ga4.answer = lambda request, body: exhausted(message, **{"Retry-After": "0.01"})
    gate = provider(ga4, tmp_path, retries=3)
    for request in (engagement("active_users"), conversion()):
        with pytest.raises(ProviderError) as caught:
            gate.measure(request, WEEKS)
        assert str(caught.value).startswith(
            f"429 RESOURCE_EXHAUSTED: GA4 property {PROPERTY} has used up its {quota} quota, "
            f"which refills {refills} ({message}); not retried"
        )
        assert caught.value.query is not None and ":runReport" in caught.value.query
    # one request each, however many retries are allowed: waiting seconds cannot help
    assert len(ga4.bodies) + len(ga4.probes) == 2


def test_a_429_that_is_no_used_up_quota_is_retried(ga4: Ga4, tmp_path):
    answers = iter([json_reply({"error": "slow down"}, 429), None])  # a proxy's, say
    ga4.answer = lambda request, body: next(answers)
    ga4.data = {"all": {"release": {"activeUsers": "12"}}}
    assert provider(ga4, tmp_path).measure(engagement("active_users"), WEEKS)["release"].value == 12
    assert len(ga4.bodies) == 2


def test_500_is_retried_then_reported(ga4: Ga4, tmp_path):
    ga4.answer = lambda request, body: json_reply(
        {"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}},
        500,
    )
    with pytest.raises(
        ProviderError,
        match=r"500 INTERNAL SERVER ERROR.*Internal error encountered.*after 2 attempts",
    ):
        provider(ga4, tmp_path).measure(engagement("active_users"), WEEKS)
    assert len(ga4.bodies) == 2


@pytest.mark.parametrize(
    ("path", "reply", "expected"),
    [
        (
            REPORT,
            Response('{"rows": [{"metricValues": [{"va', content_type="application/json"),
            r"not valid JSON \(cut short\?\)",
        ),
        (
            REPORT,
            json_reply(
                {
                    "rows": [{"dimensionValues": [{"value": "release"}]}],
                    "dimensionHeaders": [{"name": "dateRange"}],
                    "metricHeaders": [{"name": "activeUsers"}],
                }
            ),
            "expected 1 metricValues per row",
        ),
        (
            REPORT,
            json_reply(
                {
                    "rows": [{"metricValues": [{"value": "5"}]}],
                    "metricHeaders": [{"name": "activeUsers"}],
                }
            ),
            "expected a dateRange dimension telling baseline and release rows apart",
        ),
        (
            REPORT,
            json_reply({"rows": [{"metricValues": [{"value": "5"}]}]}),
            "expected metricHeaders",
        ),
        (
            REPORT,
            json_reply(
                {
                    "dimensionHeaders": [{"name": "dateRange"}],
                    "metricHeaders": [{"name": "activeUsers"}],
                    "rows": [
                        {
                            "dimensionValues": [{"value": "release"}],
                            "metricValues": [{"value": "lots"}],
                        }
                    ],
                }
            ),
            "release activeUsers is 'lots'; expected a number",
        ),
        (REPORT, json_reply([1, 2]), "expected a runReport answer"),
        (
            FUNNEL,
            json_reply({"kind": "analyticsData#runFunnelReport"}),
            "expected a runFunnelReport answer with a funnelTable",
        ),
        (
            FUNNEL,
            json_reply(
                {
                    "funnelTable": {
                        "dimensionHeaders": [{"name": "funnelStepName"}],
                        "metricHeaders": [{"name": "activeUsers"}],
                        "rows": [
                            {
                                "dimensionValues": [{"value": "1. view_item"}],
                                "metricValues": [{"value": "10"}],
                            }
                        ],
                    }
                }
            ),
            "no row for step 2. add_to_cart, 3. purchase",
        ),
        (
            FUNNEL,
            json_reply(
                {
                    "funnelTable": {
                        "dimensionHeaders": [{"name": "funnelStepName"}],
                        "metricHeaders": [{"name": "activeUsers"}],
                        "rows": [
                            {
                                "dimensionValues": [{"value": "1. view_item"}],
                                "metricValues": [{"value": "2.5"}],
                            }
                        ],
                    }
                }
            ),
            "expected a count",
        ),
    ],
)
def test_malformed_or_partial_answers_are_errors(ga4: Ga4, tmp_path, path, reply, expected):
    ga4.answer = lambda request, body: reply
    request = conversion() if path == FUNNEL else engagement("active_users")
    with pytest.raises(ProviderError, match=expected):
        provider(ga4, tmp_path).measure(request, WEEKS)


def test_a_journey_time_limit_cannot_be_applied_by_a_ga4_funnel(ga4: Ga4, tmp_path):
    criterion = conversion().criterion
    journey = JourneySpec(steps=["view_item", "purchase"], within="30m")
    with pytest.raises(
        ProviderError, match="GA4 funnels bound only the time between one step and the next"
    ):
        provider(ga4, tmp_path).measure(MetricRequest(criterion, journey), WEEKS)


# --- raw queries --------------------------------------------------------------------------------


def test_a_raw_report_reads_the_named_metric_within_the_windows(ga4: Ga4, tmp_path):
    ga4.data = {
        "/checkout": {
            "release": {"engagementRate": "0.71", "activeUsers": "640"},
            "baseline": {"engagementRate": "0.69", "activeUsers": "610"},
        },
        "all": {},
    }
    page = {
        "filter": {
            "fieldName": "pagePath",
            "stringFilter": {"matchType": "EXACT", "value": "/checkout"},
        }
    }
    criterion = CustomCriterion(
        name="checkout engagement",
        metric="custom",
        min=0.5,
        query={
            "report": {
                "metrics": [{"name": "engagementRate"}, {"name": "activeUsers"}],
                "dimensionFilter": page,
            },
            "metric": "engagementRate",
            "samples": "activeUsers",
        },
    )
    measured = provider(ga4, tmp_path).measure(MetricRequest(criterion), WEEKS)

    assert (measured["release"].value, measured["release"].samples) == (0.71, 640)
    assert (measured["baseline"].value, measured["baseline"].samples) == (0.69, 610)
    [(_, body)] = ga4.bodies
    assert body["dimensionFilter"] == page  # whole days: nothing added to the team's filter


def test_a_raw_report_can_give_a_rate_from_two_counts(ga4: Ga4, tmp_path):
    ga4.data = {"all": {"release": {"sessions": "2000", "keyEvents": "150"}}}
    criterion = CustomCriterion(
        name="key events",
        metric="custom",
        min=0.05,
        query={
            "report": {"metrics": [{"name": "sessions"}, {"name": "keyEvents"}]},
            "successes": "keyEvents",
            "trials": "sessions",
        },
    )
    release = provider(ga4, tmp_path).measure(MetricRequest(criterion), WEEKS)["release"]
    assert (release.value, release.samples, release.successes) == (0.075, 2000, 150)


# --- through the front door ---------------------------------------------------------------------


def write_gate(directory: Path, ga4: Ga4, criteria: str) -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"""\
release: {{name: "2.3.0", deployed_at: "2026-11-16T00:00:00Z"}}
windows:
  baseline: {{start: -7d, end: 0m}}
  release: 7d
providers:
  analytics:
    type: ga4
    property_id: "{PROPERTY}"
    credentials: ${{GA4_KEY}}
    base_url: {ga4.server.url_for("/").rstrip("/")}
    timeout: 500ms
    backoff: 10ms
    retries: 1
journeys:
  checkout: [view_item, add_to_cart, purchase]
criteria:
{criteria}"""
    )
    return path


def test_criteria_ga4_cannot_serve_are_refused_when_the_file_is_loaded(ga4: Ga4, tmp_path):
    path = write_gate(
        tmp_path,
        ga4,
        """\
  - {name: errors, metric: error_rate, max: 1%}
  - {name: apdex, metric: apdex, t: 300ms, min: 0.9}
  - {name: p95, metric: latency, max: 800ms}
  - {name: nps, metric: feedback, scale: nps, min: 30}
  - {name: sliced, metric: engagement, measure: active_users, min: 1, filter: "country = 'DE'"}
  - {name: per session, metric: conversion, journey: checkout, unit: session, min: 0.1}
  - {name: raw text, metric: custom, query: "SELECT 1", min: 0}
  - name: raw dates
    metric: custom
    min: 0
    query: {report: {metrics: [{name: sessions}], dateRanges: []}, metric: sessions}
  - {name: raw metric, metric: custom, min: 0, query: {report: {metrics: [{name: sessions}]}, metric: activeUsers}}
""",
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    problems = "\n".join(caught.value.problems)
    assert (
        "criteria[0].metric: the ga4 provider cannot measure error_rate: GA4 counts analytics events"
        in problems
    )
    assert "criteria[1].metric: the ga4 provider cannot measure apdex" in problems
    assert "criteria[2].metric: the ga4 provider cannot measure latency" in problems
    assert "criteria[3].metric: the ga4 provider cannot measure feedback" in problems
    assert "criteria[4].filter: the ga4 provider takes no SQL filter" in problems
    assert "criteria[5].journey: GA4 funnels count users, not sessions" in problems
    assert (
        "criteria[6].query: the ga4 provider takes no query text; expected a mapping {report:"
        in problems
    )
    assert "criteria[7].query.report.dateRanges: leave dateRanges out" in problems
    assert (
        "criteria[8].query.metric: 'activeUsers' is not among the report's metrics (sessions)"
        in problems
    )
    assert len(caught.value.problems) == 9


def test_journeys_ga4_funnels_cannot_measure_are_refused_when_the_file_is_loaded(
    ga4: Ga4, tmp_path
):
    path = tmp_path / "cxe.yml"
    path.write_text(
        """\
providers:
  analytics: {type: ga4, property_id: "123456", credentials: "${GA4_KEY}"}
journeys:
  browse: [view_item, purchase]
  visits: {steps: [view_item, purchase], unit: session}
  quick: {steps: [view_item, purchase], unit: user, within: 30m}
criteria:
  - {name: browse, metric: conversion, journey: browse, min: 1%}
  - {name: visits, metric: conversion, journey: visits, min: 1%}
  - {name: visitors, metric: conversion, journey: visits, unit: user, min: 1%}
  - {name: quick, metric: conversion, journey: quick, min: 1%}
"""
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    # A journey at the default unit is read as users; one that says sessions is refused.
    assert caught.value.problems == [
        f"{path}:9: criteria[1].journey: GA4 funnels count users, not sessions; set unit: user on "
        "the criterion (or the journey) to judge users",
        f"{path}:11: criteria[3].journey: the journey has `within`, but GA4 funnels bound only "
        "the time between one step and the next, not from first to last; drop `within` or read "
        "this journey from another provider",
    ]


def test_end_to_end_good_data_passes_an_outage_is_an_error_and_no_secret_leaks(
    ga4: Ga4, tmp_path, monkeypatch
):
    key = ga4.key()
    monkeypatch.setenv("GA4_KEY", key)
    ga4.funnels = {"baseline": ["4000", "1500", "600"], "release": ["4100", "1560", "620"]}
    ga4.data = {
        "all": {
            "baseline": {"activeUsers": "3000", "sessions": "5000", "eventCount": "72000"},
            "release": {"activeUsers": "3050", "sessions": "5100", "eventCount": "74420"},
        }
    }
    path = write_gate(
        tmp_path,
        ga4,
        """\
  - {name: checkout conversion, metric: conversion, journey: checkout, max_drop: 5%}
  - {name: events per user, metric: engagement, measure: events_per_user, max_drop: 10%}
""",
    )
    now = datetime(2026, 11, 24, tzinfo=UTC)
    report = evaluate(load(path), now=now)

    assert report.verdict == Verdict.PASS, report.summary
    conversion_result, per_user = report.criteria
    assert (conversion_result.value, conversion_result.baseline) == (
        pytest.approx(620 / 4100),
        0.15,
    )
    assert (per_user.value, per_user.baseline) == (pytest.approx(74420 / 3050), 24.0)
    assert per_user.unit == "per user"
    assert len(ga4.tokens) == 1  # criteria queried at once share one token

    ga4.answer = lambda request, body: json_reply(
        {"error": {"code": 503, "status": "UNAVAILABLE"}}, 503
    )
    outage = evaluate(load(path), now=now)
    assert outage.verdict == Verdict.ERROR
    assert {c.verdict for c in outage.criteria} == {Verdict.ERROR}
    assert "503" in outage.criteria[0].message

    for dumped in (report.model_dump_json(), outage.model_dump_json()):
        assert "PRIVATE KEY" not in dumped and key not in dumped
        assert not any(token in dumped for token in ga4.tokens)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'; expected an IANA name"),
        ({"property_id": "G-4XYZ12345"}, "providers.analytics.property_id: String should match"),
        ({"credentials": "-----BEGIN PRIVATE KEY-----"}, "secrets must be written as"),
    ],
)
def test_settings_are_checked_when_the_file_is_loaded(tmp_path, option, expected):
    settings = {"type": "ga4", "property_id": "123456", "credentials": "${GA4_KEY}", **option}
    path = tmp_path / "cxe.yml"
    path.write_text(
        f"providers:\n  analytics: {json.dumps(settings)}\n"
        "criteria:\n  - {name: users, metric: engagement, measure: active_users, min: 1}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert expected in str(caught.value)
    assert "BEGIN PRIVATE" not in str(caught.value)


def test_the_property_may_be_written_as_a_resource_name():
    settings = Ga4Settings.model_validate(
        {"property_id": "properties/123456", "credentials": "${K}"}
    )
    assert (settings.property_id, settings.max_concurrency, Ga4Provider.max_concurrency) == (
        "123456",
        None,
        10,
    )
