"""The sentry provider against a loopback Sentry API: the gate's release's crash rate from release
health against the project's baseline, both readings of the crash-free scale, event counts from
Discover, partial answers, and failures that end as an error verdict. Its outages, secrets, "no
data" and units are the provider contract's (test_contract_*.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from loopback_sentry import (
    EVENTS,
    NOW,
    RELEASE_NAME,
    SESSIONS,
    TOKEN,
    WINDOWS,
    healthy,
    json_text,
    sessions,
    totals,
    window_of,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.config import CriterionBase, CustomCriterion, ErrorRateCriterion
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.sentry import SentryProvider, SentrySettings
from cxe_gate.results import Verdict


def provider(server: HTTPServer | None, environ: dict[str, str] | None = None, **settings: Any):
    options = {
        "token": "${SENTRY_AUTH_TOKEN}",
        "organization": "acme",
        "timeout": "500ms",
        "backoff": "10ms",
        **({"url": server.url_for("/")} if server else {}),
        **settings,
    }
    context = ProviderContext(
        name="sentry",
        base_dir=Path("."),
        environ={"SENTRY_AUTH_TOKEN": TOKEN, **(environ or {})},
    )
    return SentryProvider(SentrySettings.model_validate(options), context)


def for_release(criterion: CriterionBase, release: str | None = RELEASE_NAME) -> MetricRequest:
    """What the gate asks: the criterion, for its release (release.name or --release)."""
    return MetricRequest(criterion, release=release)


CRASHES = ErrorRateCriterion(name="crashes", metric="error_rate", max_rise="10%")


def test_release_crash_rate_against_the_projects_baseline(api_server):
    seen: list[Request] = []
    api_server.expect_request(SESSIONS, method="GET").respond_with_handler(
        sessions(
            {
                "release": [totals(5000, 0.996, release=RELEASE_NAME)],
                "baseline": [totals(120000, 0.9975)],
            },
            seen,
            # Sentry widens the release window to whole hours and says so in start/end.
            release={"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T13:00:00Z"},
        )
    )
    sentry = provider(api_server, project=[42], environment="production")
    criterion = ErrorRateCriterion(
        name="crashes", metric="error_rate", max_rise="10%", filter="os.name:Android"
    )
    result = sentry.measure(for_release(criterion), WINDOWS)

    release, baseline = result["release"], result["baseline"]
    assert (release.value, release.samples, release.successes) == (0.004, 5000, 20)
    assert (baseline.samples, baseline.successes) == (120000, 300)
    assert baseline.value == 0.0025
    assert release.details == {
        "sessions": 5000,
        "crashed sessions": 20,
        "successes": 20,
        "trials": 5000,
    }
    assert release.notes == ("Sentry rounded the range to whole hours: 60 minutes added",)
    assert baseline.notes == ()
    # Totals carry no time of their data (start/end are the range Sentry read, not the data's).
    assert release.data_end is None and baseline.data_end is None
    asked = {window_of(r): r.args for r in seen}
    assert asked["release"].getlist("field") == ["crash_free_rate(session)", "sum(session)"]
    assert asked["release"]["query"] == f"release:{RELEASE_NAME} os.name:Android"
    assert asked["release"]["groupBy"] == "release"
    assert (asked["release"]["start"], asked["release"]["end"]) == (
        "2026-11-23T10:30:00Z",
        "2026-11-23T12:30:00Z",
    )
    assert asked["release"]["interval"] == "1h" and asked["release"]["includeSeries"] == "0"
    assert asked["release"]["project"] == "42" and asked["release"]["environment"] == "production"
    # The baseline: every release, no grouping, ending on the hour before the deploy so Sentry's
    # rounding cannot pull the new release's first sessions in.
    assert asked["baseline"]["query"] == "os.name:Android"
    assert "groupBy" not in asked["baseline"]
    assert asked["baseline"]["end"] == "2026-11-23T10:00:00Z"
    assert release.query.startswith("GET /api/0/organizations/acme/sessions/?field=crash_free_rate")
    assert "query=release%3Aapp%402.3.0" in release.query


@pytest.mark.parametrize("rate", [0.996, 99.6], ids=["fraction", "percentage"])
def test_the_crash_free_rate_reads_the_same_on_either_scale(api_server, rate):
    api_server.expect_request(SESSIONS).respond_with_handler(
        sessions({"release": [totals(5000, rate)], "baseline": [totals(5000, rate)]})
    )
    release = provider(api_server).measure(for_release(CRASHES), WINDOWS)["release"]
    assert (release.value, release.successes) == (0.004, 20)
    percentage = ("crash_free_rate(session) came as a percentage (0-100)",)
    assert release.notes == (percentage if rate > 1 else ())


def test_crash_rate_of_users(api_server):
    seen: list[Request] = []
    api_server.expect_request(SESSIONS).respond_with_handler(
        sessions(
            {
                "release": [totals(800, 0.99, unit="user")],
                "baseline": [totals(10000, 0.995, unit="user")],
            },
            seen,
        )
    )
    criterion = ErrorRateCriterion(
        name="crashed users", metric="error_rate", max=0.02, query={"unit": "user"}
    )
    result = provider(api_server).measure(for_release(criterion), WINDOWS)
    assert (result["release"].value, result["release"].samples) == (0.01, 800)
    assert result["release"].details["crashed users"] == 8
    assert seen[0].args.getlist("field") == ["crash_free_rate(user)", "count_unique(user)"]


def test_a_named_baseline_release_is_read_and_its_groups_summed(api_server):
    seen: list[Request] = []
    api_server.expect_request(SESSIONS).respond_with_handler(
        sessions(
            {
                "release": [totals(1000, 0.99)],
                "baseline": [
                    totals(3000, 0.99, release="app@2.2.0"),
                    totals(1000, 0.98, release="my app 2"),
                ],
            },
            seen,
        )
    )
    sentry = provider(
        api_server, baseline_release=["app@2.2.0", "${PREVIOUS}"], environ={"PREVIOUS": "my app 2"}
    )
    baseline = sentry.measure(for_release(CRASHES), WINDOWS)["baseline"]
    assert (baseline.samples, baseline.successes) == (4000, 50)  # 30 + 20 crashed
    args = {window_of(r): r.args for r in seen}["baseline"]
    assert args["query"] == 'release:[app@2.2.0,"my app 2"]'
    assert args["groupBy"] == "release"
    assert args["end"] == "2026-11-23T10:30:00Z"  # a named release needs no trimming


def test_a_release_setting_overrides_the_gates_and_may_name_a_variable(api_server):
    seen: list[Request] = []
    api_server.expect_request(SESSIONS).respond_with_handler(
        sessions({"release": [totals(10, 1.0)], "baseline": [totals(10, 1.0)]}, seen)
    )
    sentry = provider(api_server, release="${CXE_RELEASE}", environ={"CXE_RELEASE": "web@9.1"})
    release = sentry.measure(for_release(CRASHES), WINDOWS)["release"]
    assert (release.value, release.samples) == (0.0, 10)  # no crashes is a real zero
    assert {window_of(r): r.args for r in seen}["release"]["query"] == "release:web@9.1"
    with pytest.raises(ConfigError, match=r"providers\.sentry\.release: environment variable NOPE"):
        provider(api_server, release="${NOPE}")


def test_without_a_release_anywhere_nothing_is_asked(api_server):
    with pytest.raises(ConfigError) as caught:
        provider(api_server).measure(for_release(CRASHES, release=None), WINDOWS)
    assert str(caught.value) == (
        "providers.sentry.release: no release to judge: name it in cxe.yml (release.name) or "
        "with --release, or give the provider a release"
    )
    assert api_server.log == []


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([totals(100, None)], r"sum\(session\) is 100 but crash_free_rate\(session\) is null"),
        ([totals(100, 150.0)], "is 150: expected a fraction 0-1"),
        ([totals(100, "0.99")], "expected crash_free_rate\\(session\\) as a number"),
        ([totals(10.5, 0.9)], "expected sum\\(session\\) as a whole count"),
        ([{"by": {}}], "expected totals in each group"),
    ],
    ids=["rate-null", "off-scale", "rate-string", "fractional-count", "no-totals"],
)
def test_partial_or_odd_answers_are_errors_not_values(api_server, groups, message):
    api_server.expect_request(SESSIONS).respond_with_handler(
        sessions({"release": groups, "baseline": groups})
    )
    with pytest.raises(ProviderError, match=message):
        provider(api_server).measure(for_release(CRASHES), WINDOWS)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"groups": [{"by": {}, "totals": {"sum(sess', "not valid JSON"),
        ('{"start": "x", "end": "y"}', "expected an object with groups"),
        ('{"groups": [1]}', "expected each group to be an object"),
    ],
    ids=["truncated", "no-groups-key", "group-not-object"],
)
def test_malformed_answers_are_errors(api_server, body, message):
    api_server.expect_request(SESSIONS).respond_with_data(body, content_type="application/json")
    with pytest.raises(ProviderError, match=message):
        provider(api_server).measure(for_release(CRASHES), WINDOWS)


ERROR_COUNT = CustomCriterion(
    name="errors",
    metric="custom",
    max=100,
    query={"endpoint": "events", "field": "count()", "query": "level:error"},
)


def test_error_counts_from_discover(api_server):
    seen: list[Request] = []

    def handle(request: Request) -> Response:
        seen.append(request)
        count = 42 if window_of(request) == "release" else "1234"  # counts may come as strings
        return Response(
            json_text({"data": [{"count()": count}], "meta": {"fields": {"count()": "integer"}}}),
            content_type="application/json",
        )

    api_server.expect_request(EVENTS).respond_with_handler(handle)
    result = provider(api_server).measure(for_release(ERROR_COUNT), WINDOWS)
    assert (result["release"].value, result["release"].samples) == (42.0, 1)
    assert result["baseline"].value == 1234.0
    # Not the newest error's time: a quiet hour is no gap in the data.
    assert result["release"].data_end is None
    args = {window_of(r): r.args for r in seen}
    assert args["release"]["query"] == f"release:{RELEASE_NAME} level:error"
    assert args["baseline"]["query"] == "level:error"
    assert args["release"]["dataset"] == "errors" and args["release"]["field"] == "count()"
    # Discover does not round to hours: the baseline keeps its own end.
    assert args["baseline"]["end"] == "2026-11-23T10:30:00Z"


def test_a_custom_crash_free_field_is_normalised(api_server):
    api_server.expect_request(SESSIONS).respond_with_handler(
        sessions({"release": [totals(10, 99.5, unit="user")], "baseline": []})
    )
    criterion = CustomCriterion(
        name="cfu",
        metric="custom",
        min=0.99,
        query={"endpoint": "sessions", "field": "crash_free_rate(user)"},
    )
    result = provider(api_server).measure(for_release(criterion), WINDOWS)
    assert result["release"].value == 0.995
    assert (result["baseline"].value, result["baseline"].samples) == (None, 0)


def test_a_refused_token_names_the_variable_and_never_the_token(api_server):
    api_server.expect_request(SESSIONS).respond_with_json(
        {"detail": f"Invalid token {TOKEN}"}, status=401
    )
    with pytest.raises(ProviderError) as caught:
        provider(api_server).measure(for_release(CRASHES), WINDOWS)
    message = str(caught.value)
    assert "401" in message and "check SENTRY_AUTH_TOKEN" in message and "org:read" in message
    assert TOKEN not in message and TOKEN not in (caught.value.query or "")
    assert len(api_server.log) == 2  # not retried: one for each window, the two read at once


# --- pages and rate limits -----------------------------------------------------------------------


def link(request: Request, cursor: str, more: bool) -> str:
    """Sentry's Link header: always a previous and a next link, `results` saying if one holds any."""
    url = request.base_url + "?" + request.query_string.decode()
    return (
        f'<{url}&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
        f'<{url}&cursor={cursor}>; rel="next"; results="{str(more).lower()}"; cursor="{cursor}"'
    )


def paged(pages: dict[str, list[list[dict]]], seen: list[Request]):
    """The sessions endpoint with each window's groups split into pages, a cursor `0:<n>:0` each."""

    def handle(request: Request) -> Response:
        seen.append(request)
        split = pages[window_of(request)]
        page = int(request.args.get("cursor", "0:0:0").split(":")[1])
        body = {"start": request.args["start"], "end": request.args["end"], "intervals": []}
        body |= {"groups": split[page], "query": request.args.get("query", "")}
        more = page + 1 < len(split)
        headers = {"Link": link(request, f"0:{page + 1}:0", more)}
        return Response(json_text(body), headers=headers, content_type="application/json")

    return handle


def test_every_page_of_session_groups_is_read(api_server):
    seen: list[Request] = []
    releases = ["app@2.0", "app@2.1", "app@2.2"]
    api_server.expect_request(SESSIONS).respond_with_handler(
        paged(
            {
                "release": [[totals(1000, 0.99, release=RELEASE_NAME)]],
                "baseline": [[totals(3000, 0.99, release=r)] for r in releases],
            },
            seen,
        )
    )
    sentry = provider(api_server, baseline_release=releases)
    result = sentry.measure(for_release(CRASHES), WINDOWS)
    assert (result["baseline"].samples, result["baseline"].successes) == (9000, 90)
    assert (result["release"].samples, result["release"].successes) == (1000, 10)
    baseline = [r.args for r in seen if window_of(r) == "baseline"]
    assert [a.get("cursor") for a in baseline] == [None, "0:1:0", "0:2:0"]
    assert all(a["query"] == "release:[app@2.0,app@2.1,app@2.2]" for a in baseline)
    assert len(seen) == 4  # the release's single page announces no more (results="false")


def test_pages_past_the_cap_are_an_error_not_a_truncated_answer(api_server):
    endless = [[totals(10, 1.0)]] * 1000
    api_server.expect_request(SESSIONS).respond_with_handler(
        paged({"release": endless, "baseline": endless}, [])
    )
    with pytest.raises(ProviderError, match=r"more than 20 pages of session groups; narrow"):
        provider(api_server).measure(for_release(CRASHES), WINDOWS)
    assert len(api_server.log) == 40  # 20 pages for each window, the two read at once


def test_a_cursor_sent_twice_is_an_error(api_server):
    def same_cursor(request: Request) -> Response:
        body = {"start": "", "end": "", "intervals": [], "groups": [totals(10, 1.0)], "query": ""}
        headers = {"Link": link(request, "0:1:0", True)}
        return Response(json_text(body), headers=headers, content_type="application/json")

    api_server.expect_request(SESSIONS).respond_with_handler(same_cursor)
    with pytest.raises(ProviderError, match=r"Sentry sent the next-page cursor '0:1:0' twice"):
        provider(api_server).measure(for_release(CRASHES), WINDOWS)
    assert len(api_server.log) == 4  # two pages for each window, the two read at once


def test_region_and_self_hosted_hosts():
    assert provider(None, region="de").client.base_url == "https://de.sentry.io"
    assert provider(None).client.base_url == "https://sentry.io"
    hosted = provider(None, url="https://sentry.example.com/")
    assert hosted.client.base_url == "https://sentry.example.com"
    with pytest.raises(ValueError, match="not both"):
        provider(None, url="https://sentry.example.com", region="de")


# --- through the loader and the gate ---------------------------------------------------------


def write(tmp_path: Path, url: str, criteria: str, release_name: str | None = RELEASE_NAME) -> Path:
    named = f'name: "{release_name}", ' if release_name else ""
    path = tmp_path / "cxe.yml"
    path.write_text(
        f"""\
release: {{{named}deployed_at: "2026-11-23T10:30:00Z"}}
windows: {{baseline: 24h, release: 2h}}
providers:
  sentry:
    type: sentry
    token: ${{SENTRY_AUTH_TOKEN}}
    organization: acme
    project: [42]
    url: {url}
    timeout: 500ms
    backoff: 10ms
    retries: 1
criteria:
{criteria}
""",
        encoding="utf-8",
    )
    return path


GOOD = """\
  - {name: crash rate, metric: error_rate, max_rise: 25%, max: 1%}
  - {name: crashed users, metric: error_rate, max: 2%, query: {unit: user}}
"""


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)


def test_good_data_for_the_gates_release_passes(api_server, tmp_path, env):
    api_server.expect_request(SESSIONS).respond_with_handler(healthy)
    report = evaluate(load(write(tmp_path, api_server.url_for("/"), GOOD)), now=NOW)
    assert report.verdict == Verdict.PASS, [r.message for r in report.criteria]
    crash = report.criteria[0]
    assert crash.value == 0.0035 and crash.samples == 2000 and crash.baseline == 0.004
    assert crash.details["release"]["crashed sessions"] == 7
    assert "release%3Aapp%402.3.0" in crash.queries["release"]


def test_the_release_named_on_the_command_line_is_the_one_read(api_server, tmp_path, env):
    api_server.expect_request(SESSIONS).respond_with_handler(healthy)
    path = write(tmp_path, api_server.url_for("/"), GOOD)
    # Another release than the file's needs its own deploy time (here the same one).
    loaded = load(path, release="app@2.4.0", deployed_at="2026-11-23T10:30:00Z")
    report = evaluate(loaded, now=NOW)
    assert report.verdict == Verdict.PASS, [r.message for r in report.criteria]
    assert "release%3Aapp%402.4.0" in report.criteria[0].queries["release"]


def test_no_release_name_is_an_error_verdict_and_nothing_is_asked(api_server, tmp_path, env):
    report = evaluate(
        load(write(tmp_path, api_server.url_for("/"), GOOD, release_name=None)), now=NOW
    )
    assert report.verdict == Verdict.ERROR
    assert "no release to judge: name it in cxe.yml (release.name)" in report.criteria[0].message
    assert api_server.log == []


def test_a_missing_release_variable_is_an_error_verdict(api_server, tmp_path, env):
    path = write(tmp_path, api_server.url_for("/"), GOOD)
    path.write_text(
        path.read_text().replace("    project: [42]\n", "    release: ${CXE_RELEASE}\n")
    )
    report = evaluate(load(path), now=NOW)
    assert report.verdict == Verdict.ERROR
    assert "environment variable CXE_RELEASE is not set" in report.criteria[0].message
    assert api_server.log == []


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        (
            "{name: l, metric: latency, max: 800ms}",
            "criteria[0].metric: a sentry provider serves error_rate and custom, not latency",
        ),
        (
            "{name: e, metric: error_rate, max: 1%, errors: 'status >= 400'}",
            "criteria[0].errors: a sentry error rate is the crash rate",
        ),
        (
            "{name: e, metric: error_rate, max: 1%, query: 'release:x'}",
            "criteria[0].query: expected a mapping such as {unit: user}",
        ),
        (
            "{name: e, metric: error_rate, max: 1%, query: {unit: device}}",
            "criteria[0].query.unit: expected session or user",
        ),
        (
            "{name: c, metric: custom, max: 1, query: {endpoint: events}}",
            "criteria[0].query.field: required",
        ),
        (
            "{name: c, metric: custom, max: 1, query: {field: count(), sort: x}}",
            "criteria[0].query.sort: unknown key",
        ),
    ],
)
def test_what_sentry_cannot_serve_is_refused_when_the_file_loads(tmp_path, criterion, message):
    path = write(tmp_path, "http://127.0.0.1:9", f"  - {criterion}\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert message in str(caught.value)


def test_url_and_region_together_are_refused_when_the_file_loads(tmp_path):
    path = write(tmp_path, "http://127.0.0.1:9", "  - {name: c, metric: error_rate, max: 1%}\n")
    path.write_text(path.read_text().replace("    project: [42]\n", "    region: de\n"))
    with pytest.raises(ConfigError, match="not both"):
        load(path)
