"""Day-N retention from the mixpanel provider against a loopback server answering like Mixpanel's
retention query (GET /api/query/retention, docs.mixpanel.com/reference/retention-query): birth
retention on the provider's first_event, each window's users summed over its cohort days, a
cohort whose day N has not ended not yet measurable, and what Mixpanel (or Amplitude) cannot
answer in the gate's terms refused when the file loads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from loopback_mixpanel import DEPLOY, SECRET, USER, FakeMixpanel, cohort
from pytest_httpserver import HTTPServer

from cxe_gate.config import WindowSpec
from cxe_gate.config.criteria import RetentionCriterion
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import at_checkpoint, evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers import MetricRequest
from cxe_gate.providers.base import ProviderContext
from cxe_gate.providers.mixpanel import MixpanelProvider, MixpanelSettings
from cxe_gate.results import Verdict

H, D = timedelta(hours=1), timedelta(days=1)
NOWHERE = "http://127.0.0.1:9"  # for tests that must fail before sending anything


@pytest.fixture
def mixpanel(api_server: HTTPServer) -> FakeMixpanel:
    fake = FakeMixpanel()
    api_server.expect_request("/api/query/retention").respond_with_handler(fake)
    return fake


def provider(url: str, **settings: Any) -> MixpanelProvider:
    context = ProviderContext(
        name="mp", base_dir=Path("."), environ={"MP_USER": USER, "MP_SECRET": SECRET}
    )
    options = {
        "project_id": 31337,
        "username": "${MP_USER}",
        "secret": "${MP_SECRET}",
        "url": url,
        "first_event": "First Open",
        "timeout": "500ms",
        "backoff": "10ms",
        **settings,
    }
    return MixpanelProvider(MixpanelSettings.model_validate(options), context)


def day_one(**fields: Any) -> MetricRequest:
    """Day-1 retention of the users first seen in the 2 hours after the deploy (what checkpoints
    make of the gate window)."""
    criterion = RetentionCriterion.model_validate(
        {"name": "day 1", "metric": "retention", "day": 1, "max_drop": "20%", **fields}
    )
    criterion.place_cohort(WindowSpec(start=timedelta(0), end=2 * H))
    return MetricRequest(criterion=criterion)


def windows(release_end: timedelta) -> list[TimeWindow]:
    return [
        TimeWindow("baseline", DEPLOY - 48 * H, DEPLOY),
        TimeWindow("release", DEPLOY, DEPLOY + release_end),
    ]


def test_each_windows_users_are_summed_over_its_cohort_days(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    # Baseline [11-21 14:00, 11-23 14:00) touches 11-21..11-23 in UTC; 11-23 goes to the release
    # cohort [11-23 14:00, 16:00), so the baseline is born on 11-21 and 11-22. Day 1 is
    # counts[1] (interval 1: 24 to 48 hours after the born event).
    # baseline: (90 + 30) / (300 + 100) = 120 / 400 = 0.30; release: 50 / 250 = 0.20.
    mixpanel.retention[("First Open", "2026-11-21", "2026-11-23")] = {
        "2026-11-21": cohort(300, 280, 90),
        "2026-11-22": cohort(100, 95, 30),
        "2026-11-23": cohort(250, 240, 50),
    }
    measured = provider(api_server.url_for("")).measure(day_one(), windows(3 * D))

    baseline, release = measured["baseline"], measured["release"]
    assert (baseline.value, baseline.samples, baseline.successes) == (0.3, 400, 120)
    assert (release.value, release.samples, release.successes) == (0.2, 250, 50)
    assert release.details["users"] == 250 and release.details["returned"] == 50
    # One request for both windows (60 queries an hour); neither unit nor interval sent, the
    # only form for which Mixpanel documents 24 hours per interval from each user's born event.
    assert mixpanel.asked == [
        {
            "project_id": "31337",
            "retention_type": "birth",
            "born_event": "First Open",
            "from_date": "2026-11-21",
            "to_date": "2026-11-23",
            "interval_count": "2",
        }
    ]
    assert any("first First Open falls on 2026-11-23 (UTC)" in n for n in release.notes)
    assert any("day 1 is any event 24 to 48 hours after it" in n for n in release.notes)
    assert "# whole days in UTC: 2026-11-21 to 2026-11-22" in (baseline.query or "")


def test_a_cohort_whose_day_n_has_not_ended_is_not_yet_measurable(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    # Judged as of the release window's end, 11-23 14:00 + 40h = 11-25 06:00 UTC. The baseline's
    # last-born users (11-22, before 11-23 00:00) finish day 1 by 11-23 00:00 + 48h = 11-25 00:00:
    # measurable. The release's (born up to 11-24 00:00) by 11-26 00:00: not yet.
    mixpanel.retention[("First Open", "2026-11-21", "2026-11-23")] = {
        "2026-11-21": cohort(300, 280, 90),
        "2026-11-22": cohort(100, 95, 30),
        "2026-11-23": cohort(250, 240),  # Mixpanel has no interval 1 for it yet
    }
    measured = provider(api_server.url_for("")).measure(day_one(), windows(40 * H))

    assert measured["baseline"].value == 0.3
    release = measured["release"]
    assert release.value is None and release.samples == 0
    assert any(
        "not yet measurable" in n
        and "known once their day 1 has ended, at 2026-11-26 00:00 UTC" in n
        for n in release.notes
    ), release.notes


def test_a_due_cohort_mixpanel_has_not_counted_yet_is_not_yet_measurable(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    # As of 11-26 14:00 every cohort's day 1 has ended (11-26 00:00 at the latest), but Mixpanel's
    # answer stops at interval 0 for 11-23: late data, not a retention of 0.
    mixpanel.retention[("First Open", "2026-11-21", "2026-11-23")] = {
        "2026-11-21": cohort(300, 280, 90),
        "2026-11-22": cohort(100, 95, 30),
        "2026-11-23": cohort(250, 240),
    }
    release = provider(api_server.url_for("")).measure(day_one(), windows(3 * D))["release"]
    assert release.value is None
    assert any("no day-1 count yet for the users born on 2026-11-23" in n for n in release.notes), (
        release.notes
    )


def test_the_cohort_days_are_the_projects_days(api_server: HTTPServer, mixpanel: FakeMixpanel):
    # In Tokyo (UTC+9) the deploy at 14:00 UTC is 23:00 on 11-23; the release cohort [23:00,
    # 01:00) touches 11-23 and 11-24. The baseline [11-21 23:00, 11-23 23:00) local touches
    # 11-21..11-23 and gives 11-23 to the release: baseline 11-21..11-22, release 11-23..11-24.
    # baseline: 40 / 100 = 0.4; release: (10 + 20) / (50 + 50) = 0.3.
    mixpanel.retention[("First Open", "2026-11-21", "2026-11-24")] = {
        "2026-11-21": cohort(60, 50, 25),
        "2026-11-22": cohort(40, 30, 15),
        "2026-11-23": cohort(50, 45, 10),
        "2026-11-24": cohort(50, 45, 20),
    }
    measured = provider(api_server.url_for(""), timezone="Asia/Tokyo").measure(
        day_one(), windows(4 * D)
    )
    assert (measured["baseline"].value, measured["baseline"].samples) == (0.4, 100)
    assert (measured["release"].value, measured["release"].samples) == (0.3, 100)


def test_a_raw_query_names_the_born_event_and_narrows_the_cohort(
    api_server: HTTPServer, mixpanel: FakeMixpanel
):
    where = 'properties["$os"] == "iOS"'
    mixpanel.retention[("Sign Up", "2026-11-21", "2026-11-23")] = {"2026-11-23": cohort(10, 9, 4)}
    request = day_one(query={"born_event": "Sign Up", "born_where": where})
    measured = provider(api_server.url_for(""), first_event=None).measure(request, windows(3 * D))
    # no one born in the baseline days: no value, not zero
    assert measured["baseline"].value is None and measured["baseline"].samples == 0
    assert measured["release"].value == 0.4  # 4 / 10
    assert mixpanel.asked[0]["born_where"] == where


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (["2026-11-23"], "retention: expected a JSON object of cohort days, got"),
        ({"Nov 23": cohort(1, 1, 1)}, "expected a yyyy-mm-dd cohort day, got 'Nov 23'"),
        ({"2026-11-23": {"counts": [1]}}, "expected 2026-11-23 as {first: users, counts"),
        ({"2026-11-23": cohort(5, 5, 7)}, "7 users back in an interval but only 5 born"),
        ({"2026-11-23": cohort(5, 5, "many")}, "2026-11-23.counts[1]: expected a count"),
        ({"2026-11-30": cohort(5, 5, 1)}, "a cohort dated 2026-11-30 lies outside the days"),
    ],
)
def test_a_malformed_answer_is_an_error_naming_what_was_expected(
    api_server: HTTPServer, mixpanel: FakeMixpanel, answer: Any, expected: str
):
    mixpanel.retention[("First Open", "2026-11-21", "2026-11-23")] = answer
    with pytest.raises(ProviderError, match="retention") as caught:
        provider(api_server.url_for("")).measure(day_one(), windows(3 * D))
    assert expected in str(caught.value)


# --- through the gate ---------------------------------------------------------------------------


def criteria_file(tmp_path: Path, url: str, criteria: str, settings: str = "") -> Path:
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: r7, deployed_at: 2026-11-23T14:00:00Z}\n"
        "windows: {baseline: 24h}\n"
        "checkpoints: {gate: 2h, day3: 3d, week2: 14d}\n"
        "providers:\n"
        f"  mp: {{type: mixpanel, project_id: 31337, username: '${{MP_USER}}', "
        f"secret: '${{MP_SECRET}}', url: '{url}', timeout: 500ms, backoff: 10ms, retries: 1"
        f"{settings}}}\n"
        f"criteria:\n{criteria}"
    )
    return path


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("MP_USER", USER)
    monkeypatch.setenv("MP_SECRET", SECRET)
    monkeypatch.setenv("AMP_KEY", "k")
    monkeypatch.setenv("AMP_SECRET", "s")


@pytest.mark.usefixtures("credentials")
def test_a_drop_in_day_one_retention_fails_the_week_checkpoint(
    tmp_path, api_server: HTTPServer, mixpanel: FakeMixpanel
):
    # day3 judges as of 11-26 14:00. Release cohort: born 11-23 (the gate window's day); baseline:
    # the 24-hour window before the deploy, 11-22 (11-23 goes to the release).
    # baseline 200 / 400 = 0.5; release 100 / 500 = 0.2: 30 points (60%) below, beyond 20%.
    # Two-proportion z: pooled 300 / 900 = 1/3, se = sqrt(1/3 * 2/3 * (1/400 + 1/500))
    # = sqrt(0.2222 * 0.0045) = 0.0316; z = 0.3 / 0.0316 = 9.5, p far below 0.001.
    mixpanel.retention[("First Open", "2026-11-22", "2026-11-23")] = {
        "2026-11-22": cohort(400, 390, 200),
        "2026-11-23": cohort(500, 480, 100),
    }
    criteria = "  - {name: day 1, metric: retention, day: 1, max_drop: 20%, at: [day3]}\n"
    path = criteria_file(tmp_path, api_server.url_for(""), criteria, ", first_event: First Open")
    report = evaluate(at_checkpoint(load(path), "day3"), now=DEPLOY + 5 * D)
    (result,) = report.criteria
    assert (result.baseline, result.value, result.samples) == (0.5, 0.2, 500)
    assert result.verdict is Verdict.FAIL, result.message
    assert result.p_value is not None and result.p_value < 0.001
    assert len(api_server.log) == 1


def test_what_mixpanel_and_amplitude_cannot_answer_is_refused_when_the_file_loads(tmp_path):
    criteria = (
        "  - {name: within, metric: retention, within: 7d, max_drop: 10%, at: [week2],"
        " provider: mp}\n"
        "  - {name: active, metric: retention, day: 1, cohort: active, max_drop: 10%,"
        " at: [day3], provider: mp}\n"
        "  - {name: keys, metric: retention, day: 1, max_drop: 10%, at: [day3], provider: mp,"
        " query: {born_event: Sign Up, where: x}}\n"
        "  - {name: amplitude, metric: retention, day: 1, max_drop: 10%, at: [day3],"
        " provider: amp}\n"
    )
    path = criteria_file(
        tmp_path,
        NOWHERE,
        criteria,
        "}\n  amp: {type: amplitude, api_key: '${AMP_KEY}', secret_key: '${AMP_SECRET}'",
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    text = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 6, text  # nothing else: the checkpoints are late enough
    # the first two also lack first_event; the third names its born event
    assert "criteria[0].within: Mixpanel's retention query counts returns per 24-hour" in text
    assert "criteria[1].cohort: Mixpanel's recurring (compounded) retention" in text
    assert "criteria[0].metric: Mixpanel's birth retention needs the event" in text
    assert "set first_event on the mixpanel provider" in text
    assert "criteria[2].query.where: unknown key for Mixpanel retention" in text
    assert "criteria[2].metric" not in text
    assert (
        "criteria[3].metric: the amplitude provider cannot measure retention: Amplitude's" in text
    )
    assert "rounds event times down to the hour" in text
    assert "read retention from the file or sql provider" in text
