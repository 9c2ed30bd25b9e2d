"""`evaluate --wait`: polling the example shop's release window as it fills, on its real logs, with
a clock that moves only when the loop sleeps; then the stop rules one by one, and how each report
shows the polls."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxe_gate.config import JourneysPassRateCriterion
from cxe_gate.errors import ConfigError
from cxe_gate.gate import at_checkpoint
from cxe_gate.loader import LoadedConfig, load
from cxe_gate.polling import stop_reason, wait_for_verdict
from cxe_gate.report import render_json
from cxe_gate.report.html import render_html
from cxe_gate.report.markdown import render_markdown
from cxe_gate.report.polls import span, sparkline
from cxe_gate.report.terminal import render_poll_line, render_poll_table, render_terminal
from cxe_gate.results import (
    CriterionResult,
    GateReport,
    Poll,
    PollCriterion,
    ReleaseReport,
    StopReason,
    Verdict,
    WaitReport,
    WindowReport,
)

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"
GOOD = ("shop-1.4.0", "2026-11-10T14:00:00Z")
REGRESSED = ("shop-1.5.0", "2026-11-17T14:00:00Z")
# The shop's logs end at 16:00 on the 17th: a deploy then has a full baseline and no release data.
SILENT = ("shop-1.6.0", "2026-12-05T16:00:00Z")  # after the last of the example's data
WAIT, INTERVAL = timedelta(hours=2), timedelta(minutes=5)


class FakeClock:
    """The wall clock of a wait: it moves only when the loop sleeps, so a two-hour wait runs in
    the time its polls take."""

    def __init__(self, now: datetime):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a sleep of nothing would spin"
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def shop(release: tuple[str, str]) -> LoadedConfig:
    """The example shop as judged at its first checkpoint (the one a wait polls)."""
    name, deployed_at = release
    return at_checkpoint(load(SHOP / "cxe.yml", release=name, deployed_at=deployed_at))


def wait_from(loaded: LoadedConfig, after_deploy: timedelta, **options) -> tuple[GateReport, list]:
    """Wait for the gate's verdict from `after_deploy` on; also returns what the display got."""
    assert loaded.config.release.deployed_at is not None
    clock = FakeClock(loaded.config.release.deployed_at + after_deploy)
    shown: list[GateReport] = []
    options = {"wait": WAIT, "interval": INTERVAL, **options}
    report = wait_for_verdict(
        loaded, clock=clock, sleep=clock.sleep, on_poll=shown.append, **options
    )
    return report, shown


# --- on the shop's logs --------------------------------------------------------------------------


def test_a_regressed_release_fails_fast_long_before_the_deadline() -> None:
    report, shown = wait_from(shop(REGRESSED), timedelta(minutes=5))

    assert report.verdict == Verdict.FAIL
    assert report.wait is not None and report.wait.stopped == StopReason.REGRESSION
    # The broken payment step shows in checkout conversion within the first hour of a two-hour
    # wait; the gate does not sit out the rest.
    assert report.polls[-1].at - report.wait.started_at <= timedelta(hours=1)
    assert len(report.polls) < 25
    failed = {c.name for c in report.criteria if c.verdict == Verdict.FAIL}
    assert failed & {"API error rate", "checkout conversion"}  # the key criteria
    # Each poll is judged as the look it is: the last report names its look.
    conversion = next(c for c in report.criteria if c.name == "checkout conversion")
    assert f"group-sequential test, look {len(report.polls)}, " in conversion.message
    # The display saw every poll, and only the last one as the end of the wait.
    assert [len(r.polls) for r in shown] == list(range(1, len(report.polls) + 1))
    assert [r.wait.stopped for r in shown if r.wait] == [None] * (len(shown) - 1) + [
        StopReason.REGRESSION
    ]


def test_each_poll_reads_the_release_window_as_far_as_it_has_filled() -> None:
    report, _ = wait_from(shop(SILENT), timedelta(minutes=1), wait=timedelta(minutes=30))
    deployed = report.release.deployed_at

    assert [p.at - deployed for p in report.polls] == [
        timedelta(minutes=m) for m in (1, 6, 11, 16, 21, 26, 31)
    ]
    assert all(p.release_end == p.at for p in report.polls)
    assert report.windows["release"].end == report.polls[-1].at


def test_each_criterion_s_path_follows_the_growing_window() -> None:
    report, _ = wait_from(shop(GOOD), timedelta(minutes=5), wait=timedelta(minutes=20))
    paths = {
        name: [c for p in report.polls for c in p.criteria if c.name == name]
        for name in ("API error rate", "Apdex")
    }

    for name, path in paths.items():
        samples = [c.samples for c in path]
        assert samples == sorted(samples) and samples[0] < samples[-1], name
        assert all(c.baseline == path[0].baseline for c in path), "the baseline does not move"
    final = {c.name: c for c in report.criteria}
    assert paths["API error rate"][-1].value == final["API error rate"].value
    assert paths["API error rate"][-1].verdict == final["API error rate"].verdict


def test_a_good_release_is_never_failed_and_passes_only_once_decided() -> None:
    report, shown = wait_from(
        shop(GOOD), timedelta(minutes=5), wait=timedelta(hours=2), interval=timedelta(minutes=10)
    )

    assert report.wait is not None
    seen = [c for p in report.polls for c in p.criteria]
    assert Verdict.FAIL not in {c.verdict for c in seen} | {p.verdict for p in report.polls}
    # Apdex (0.997 against a minimum of 0.85) is settled from the first poll on.
    assert {c.verdict for c in seen if c.name == "Apdex"} == {Verdict.PASS}
    if report.wait.stopped == StopReason.DECIDED:
        assert report.verdict == Verdict.PASS
        assert report.count(Verdict.INCONCLUSIVE) == 0
    else:
        # Two hours of the shop's traffic need not be enough to exclude a 10% drop in conversion:
        # then the wait runs out, and an undecided criterion is never a pass.
        assert report.wait.stopped == StopReason.DEADLINE
        assert report.polls[-1].at == report.wait.deadline
        assert len(report.polls) == 13
        undecided = [c for c in report.criteria if c.verdict == Verdict.INCONCLUSIVE]
        assert undecided and all("not decided yet" in c.message for c in undecided)
        # A percentile has no sequential test: undecided at every look but the last, where it
        # is judged once, the fixed way.
        latency = [c for p in report.polls for c in p.criteria if c.name == "checkout latency p95"]
        assert [c.verdict for c in latency[:-1]] == [Verdict.INCONCLUSIVE] * (len(latency) - 1)
        final = next(c for c in report.criteria if c.name == "checkout latency p95")
        assert final.verdict == Verdict.PASS
        assert "judged once, at the last look" in final.message
        assert report.verdict in (Verdict.INCONCLUSIVE, Verdict.WARN)
    assert len(shown) == len(report.polls)


def test_the_wait_ends_once_the_release_window_has_closed() -> None:
    # A 2h release window polled for up to 4h: the first look after it closed is the last (no
    # more data can come), and the percentile criterion is judged then, once.
    report, _ = wait_from(
        shop(GOOD), timedelta(minutes=5), wait=timedelta(hours=4), interval=timedelta(minutes=10)
    )
    assert report.wait is not None and report.wait.stopped == StopReason.WINDOW_CLOSED
    deployed = shop(GOOD).config.release.deployed_at
    assert report.polls[-1].at == deployed + timedelta(hours=2, minutes=5)
    assert report.polls[-1].at < report.wait.deadline
    assert report.polls[-2].release_end < deployed + timedelta(hours=2)
    final = next(c for c in report.criteria if c.name == "checkout latency p95")
    assert final.verdict == Verdict.PASS and "judged once, at the last look" in final.message
    assert report.verdict != Verdict.PASS or report.count(Verdict.INCONCLUSIVE) == 0


def test_a_release_without_data_is_inconclusive_at_the_deadline_never_a_pass() -> None:
    report, _ = wait_from(
        shop(SILENT), timedelta(minutes=5), wait=timedelta(hours=1), interval=timedelta(minutes=10)
    )

    assert report.verdict == Verdict.INCONCLUSIVE
    assert report.wait is not None and report.wait.stopped == StopReason.DEADLINE
    assert report.polls[-1].at == report.wait.deadline  # the last poll reads up to the deadline
    assert len(report.polls) == 7  # at 5m, 15m, … 55m and the deadline, 1h after the start
    assert {c.verdict for p in report.polls for c in p.criteria} == {Verdict.INCONCLUSIVE}
    assert all(c.value is None and c.samples == 0 for c in report.criteria)


def test_the_first_poll_waits_for_the_release_window_to_open(tmp_path: Path) -> None:
    config = (SHOP / "cxe.yml").read_text().replace("data/", f"{SHOP / 'data'}/")
    # The first checkpoint's window: the last 90 minutes before 2h, i.e. from 30m to 2h.
    config = config.replace("  release: 2h ", "  release: {after: 2h, window: 90m} ")
    (tmp_path / "cxe.yml").write_text(config)
    loaded = load(tmp_path / "cxe.yml", release=SILENT[0], deployed_at=SILENT[1])

    report, _ = wait_from(loaded, timedelta(minutes=1), wait=timedelta(minutes=45))

    deployed = report.release.deployed_at
    # Nothing to read before 30m; the first poll reads the window's first interval.
    assert [p.at - deployed for p in report.polls] == [
        timedelta(minutes=m) for m in (35, 40, 45, 46)
    ]
    assert report.windows["release"].start == deployed + timedelta(minutes=30)


def _unreadable(tmp_path: Path, on_error: str) -> LoadedConfig:
    """The shop's criteria over logs that are not there: every criterion is an error."""
    (tmp_path / "cxe.yml").write_text(
        (SHOP / "cxe.yml")
        .read_text()
        .replace("data/", "missing/")
        .replace("warn_score: 75", f"warn_score: 75\n  on_error: {on_error}")
    )
    return load(tmp_path / "cxe.yml", release=GOOD[0], deployed_at=GOOD[1])


def test_an_error_under_on_error_closed_ends_the_wait_at_error(tmp_path: Path) -> None:
    report, _ = wait_from(_unreadable(tmp_path, "closed"), timedelta(minutes=5))

    assert report.count(Verdict.ERROR) == len(report.criteria)
    assert report.verdict == Verdict.ERROR
    assert report.wait is not None and report.wait.stopped == StopReason.DECIDED
    assert len(report.polls) == 1


def test_an_error_under_on_error_open_keeps_the_gate_waiting(tmp_path: Path) -> None:
    # Left out of the verdict, an unread criterion must not let the wait stop early at a pass: it
    # is polled again until the deadline, in case the data become readable.
    report, _ = wait_from(_unreadable(tmp_path, "open"), timedelta(minutes=5))

    assert report.wait is not None and report.wait.stopped == StopReason.DEADLINE
    assert len(report.polls) == 25
    assert report.count(Verdict.ERROR) == len(report.criteria)
    assert report.verdict == Verdict.ERROR  # nothing was decided, so nothing passed


def test_a_deploy_in_the_future_is_refused_before_waiting() -> None:
    loaded = shop(GOOD)
    clock = FakeClock(datetime(2026, 11, 10, 13, tzinfo=UTC))

    with pytest.raises(ConfigError, match="in the future"):
        wait_for_verdict(loaded, wait=WAIT, interval=INTERVAL, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_the_report_json_keeps_every_poll() -> None:
    report, _ = wait_from(shop(REGRESSED), timedelta(minutes=1))
    data = json.loads(render_json(report))

    assert data["schema_version"] == "1.0"
    assert data["wait"]["wait"] == "2h" and data["wait"]["interval"] == "5m"
    assert data["wait"]["stopped"] == "regression"
    assert len(data["polls"]) == len(report.polls) >= 2
    first = data["polls"][0]
    assert set(first) == {"at", "release_end", "verdict", "criteria"}
    assert [c["name"] for c in first["criteria"]] == [c.name for c in report.criteria]
    assert set(first["criteria"][0]) == {
        "name",
        "verdict",
        "value",
        "baseline",
        "threshold",
        "samples",
    }
    assert GateReport.model_validate_json(render_json(report)) == report


def test_a_report_without_polls_reads_as_before() -> None:
    report = _report(polls=[], wait=None)
    data = json.loads(render_json(report))
    del data["polls"], data["wait"]  # a 1.0 report written before --wait existed

    old = GateReport.model_validate(data)
    assert old.polls == [] and old.wait is None
    assert json.loads(render_json(old))["polls"] == []


# --- the stop rules --------------------------------------------------------------------------------

SHOP_NAMES = [
    "checkout conversion",  # key, weight 3
    "API error rate",  # key, weight 2
    "checkout latency p95",  # weight 2
    "Apdex",
    "wishlist adoption",  # severity warn
    "NPS",  # severity warn
]


def _results(loaded: LoadedConfig, **verdicts: Verdict) -> list[CriterionResult]:
    """The shop's criteria, each pass unless named (spaces as underscores)."""
    results = []
    for criterion in loaded.config.criteria:
        verdict = verdicts.get(criterion.name.replace(" ", "_"), Verdict.PASS)
        results.append(
            CriterionResult(
                name=criterion.name,
                metric=criterion.metric,
                provider="shop",
                verdict=verdict,
                severity=criterion.severity,
                key=criterion.key,
                weight=criterion.weight,
                unit="ratio",
                value=None,
                baseline=None,
                threshold=None,
                samples=0,
                p_value=None,
                message="m",
            )
        )
    return results


NOON = datetime(2026, 11, 10, 12, tzinfo=UTC)


def _stop(
    loaded: LoadedConfig,
    results: list[CriterionResult],
    *,
    on_error: str = "closed",
    policy: str = "any_fail",
    late=False,
):
    settings = loaded.config.gate.model_copy(update={"on_error": on_error, "policy": policy})
    deadline = NOON + timedelta(hours=1)
    return stop_reason(
        results,
        loaded.config.criteria,
        settings,
        at=deadline if late else NOON,
        deadline=deadline,
    )


@pytest.fixture(scope="module")
def loaded() -> LoadedConfig:
    loaded = shop(GOOD)
    assert [c.name for c in loaded.config.criteria] == SHOP_NAMES
    return loaded


def test_every_criterion_decided_stops(loaded: LoadedConfig) -> None:
    assert _stop(loaded, _results(loaded)) == StopReason.DECIDED
    warned = _results(loaded, NPS=Verdict.WARN, Apdex=Verdict.FAIL)
    assert _stop(loaded, warned) == StopReason.DECIDED


def test_an_undecided_criterion_keeps_waiting_until_the_deadline(loaded: LoadedConfig) -> None:
    for name in ("Apdex", "NPS", "checkout_conversion"):  # warn-only ones too: they stop a pass
        results = _results(loaded, **{name: Verdict.INCONCLUSIVE})
        assert _stop(loaded, results) is None, name
        assert _stop(loaded, results, late=True) == StopReason.DEADLINE, name


def test_a_failed_key_criterion_fails_fast(loaded: LoadedConfig) -> None:
    results = _results(
        loaded,
        API_error_rate=Verdict.FAIL,
        checkout_conversion=Verdict.INCONCLUSIVE,
        NPS=Verdict.INCONCLUSIVE,
    )
    assert _stop(loaded, results) == StopReason.REGRESSION


def test_any_failed_criterion_fails_fast_by_default(loaded: LoadedConfig) -> None:
    results = _results(
        loaded,
        checkout_latency_p95=Verdict.FAIL,
        checkout_conversion=Verdict.INCONCLUSIVE,
        API_error_rate=Verdict.INCONCLUSIVE,
    )
    assert _stop(loaded, results) == StopReason.REGRESSION


def test_under_policy_score_a_failure_the_undecided_criteria_could_outweigh_waits(
    loaded: LoadedConfig,
) -> None:
    # Latency (weight 2) failed, conversion (3) and error rate (2) undecided: should both pass, the
    # score is 8/10 → 80 ≥ warn_score 75, a warn rather than a fail. Keep waiting.
    results = _results(
        loaded,
        checkout_latency_p95=Verdict.FAIL,
        checkout_conversion=Verdict.INCONCLUSIVE,
        API_error_rate=Verdict.INCONCLUSIVE,
    )
    assert _stop(loaded, results, policy="score") is None
    # Apdex failing too puts even the best case at 7/10 → 70: the release fails whatever comes.
    results = _results(
        loaded,
        checkout_latency_p95=Verdict.FAIL,
        Apdex=Verdict.FAIL,
        checkout_conversion=Verdict.INCONCLUSIVE,
        API_error_rate=Verdict.INCONCLUSIVE,
    )
    assert _stop(loaded, results, policy="score") == StopReason.REGRESSION


def test_an_error_is_decided_only_when_on_error_is_closed(loaded: LoadedConfig) -> None:
    results = _results(loaded, Apdex=Verdict.ERROR)
    assert _stop(loaded, results, on_error="closed") == StopReason.DECIDED
    assert _stop(loaded, results, on_error="open") is None
    assert _stop(loaded, results, on_error="open", late=True) == StopReason.DEADLINE


def test_a_criterion_only_pytest_can_judge_does_not_hold_up_the_wait(loaded: LoadedConfig) -> None:
    journeys = JourneysPassRateCriterion(name="journeys", metric="journeys_pass_rate", min="95%")
    criteria = [*loaded.config.criteria, journeys]
    results = [
        *_results(loaded),
        _results(loaded, Apdex=Verdict.INCONCLUSIVE)[3].model_copy(update={"name": "journeys"}),
    ]
    stopped = stop_reason(
        results, criteria, loaded.config.gate, at=NOON, deadline=NOON + timedelta(hours=1)
    )
    assert stopped == StopReason.DECIDED


def test_an_interval_too_short_for_the_wait_is_lengthened() -> None:
    loaded = shop(REGRESSED)
    assert loaded.config.release.deployed_at is not None
    clock = FakeClock(loaded.config.release.deployed_at + timedelta(minutes=1))
    report = wait_for_verdict(
        loaded, wait=timedelta(hours=30), interval=timedelta(minutes=1), clock=clock,
        sleep=clock.sleep,
    )  # fmt: skip
    # 1,800 one-minute looks would be too many: at most MAX_LOOKS (300), first and last included,
    # so 30 h / 298 = 362.4 s, in whole seconds.
    assert clock.sleeps[0] == 363
    assert report.wait is not None and report.wait.interval == "363s"


def test_wait_and_interval_must_be_positive(loaded: LoadedConfig) -> None:
    with pytest.raises(ValueError, match="positive"):
        wait_for_verdict(loaded, wait=timedelta(0), interval=INTERVAL)


# --- the reports ---------------------------------------------------------------------------------

START = datetime(2026, 11, 10, 14, 5, tzinfo=UTC)


def _criterion(name: str, verdict: Verdict, value: float | None, **fields) -> CriterionResult:
    base = {
        "metric": "conversion",
        "provider": "shop",
        "severity": "fail",
        "key": False,
        "weight": 1.0,
        "unit": "ratio",
        "baseline": 0.25,
        "threshold": 0.225,
        "samples": 900,
        "p_value": None,
        "message": f"{name} message",
    }
    return CriterionResult.model_validate(
        {**base, **fields, "name": name, "verdict": verdict, "value": value}
    )


def _poll(minutes: int, *seen: tuple[str, Verdict, float | None]) -> Poll:
    at = START + timedelta(minutes=minutes)
    return Poll(
        at=at,
        release_end=at,
        verdict=Verdict.INCONCLUSIVE,
        criteria=[
            PollCriterion(
                name=name,
                verdict=verdict,
                value=value,
                baseline=0.25,
                threshold=0.225,
                samples=100 * (minutes + 1),
            )
            for name, verdict, value in seen
        ],
    )


def _report(**fields) -> GateReport:
    criteria = [
        _criterion("conversion <b>", Verdict.PASS, 0.26),
        _criterion("errors", Verdict.FAIL, 0.2, threshold=0.01, baseline=0.001),
    ]
    polls = [
        _poll(
            0, ("conversion <b>", Verdict.INCONCLUSIVE, None), ("errors", Verdict.INCONCLUSIVE, 0.1)
        ),
        _poll(
            5,
            ("conversion <b>", Verdict.INCONCLUSIVE, 0.21),
            ("errors", Verdict.INCONCLUSIVE, 0.16),
        ),
        _poll(10, ("conversion <b>", Verdict.PASS, 0.26), ("errors", Verdict.FAIL, 0.2)),
    ]
    wait = WaitReport(
        wait="2h",
        interval="5m",
        started_at=START,
        deadline=START + timedelta(hours=2),
        stopped=StopReason.DECIDED,
    )
    values = {
        "tool_version": "0.1.0",
        "generated_at": START + timedelta(minutes=10),
        "config_file": "cxe.yml",
        "verdict": Verdict.FAIL,
        "score": 50.0,
        "summary": "score 50 is below warn_score 75",
        "release": ReleaseReport(name="v2", deployed_at=START - timedelta(minutes=5)),
        "windows": {
            "baseline": WindowReport(start=START - timedelta(days=1), end=START),
            "release": WindowReport(start=START, end=START + timedelta(minutes=10)),
        },
        "criteria": criteria,
        "wait": wait,
        "polls": polls,
    }
    return GateReport(**{**values, **fields})


def test_the_sentence_and_the_sparkline() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([None, 2.0, 2.0]) == " ▅▅"
    assert sparkline([None]) == " "
    assert sparkline([-1e308, 1e308, math.inf]) == "▁█ "
    assert span(timedelta(hours=1, minutes=35, seconds=12)) == "1h35m12s"
    assert span(timedelta(0)) == "0s"


def test_markdown_shows_each_criterion_s_path_and_each_poll() -> None:
    markdown = render_markdown(_report())
    section = markdown.split("### Polls", 1)[1]

    assert (
        "Waited 10m of up to 2h, polling every 5m: 3 polls; stopped because every criterion"
        in section
    )
    assert "| conversion &#60;b&#62; | ` ▁█` | no data ❔ | 26.0% ✅ |" in section
    assert "| errors | `▁▅█` | 10.0% ❔ | 20.0% ❌ |" in section
    rows = [
        line
        for line in section.split("<summary>Each poll</summary>")[1].splitlines()
        if line.startswith("| ")
    ]
    # The failed criterion first, as everywhere in the report.
    assert rows[0] == "| Poll | Time | Release window to | errors | conversion &#60;b&#62; |"
    assert rows[1] == (
        "| 1 | 2026-11-10 14:05 UTC | 2026-11-10 14:05 UTC | 10.0% ❔ | no data ❔ |"
    )
    assert len(rows) == 4
    assert section.count("<details>") == section.count("</details>")


def test_reports_without_polls_are_unchanged() -> None:
    plain = _report(polls=[], wait=None)
    assert "Polls" not in render_markdown(plain)
    assert "Waited" not in render_html(plain)
    assert render_html(plain).count("<svg") == 2
    assert "Waited" not in render_terminal(plain)


def _path_svgs(page: str) -> list[str]:
    return re.findall(r'<svg class="chart" viewBox="0 0 320 120".*?</svg>', page, re.S)


def test_html_draws_each_criterion_s_path_with_its_threshold() -> None:
    page = render_html(_report())
    errors, conversion = _path_svgs(page)  # the failed criterion's card first

    assert page.count("<svg") == 4  # the bar chart and the path, per criterion
    assert "<script" not in page and "://" not in page
    assert "conversion &lt;b&gt; over 3 polls: 21.0% to 26.0%, threshold 22.5%" in conversion
    # The poll without a value gets no dot, and the line does not bridge it.
    assert conversion.count("<circle") == 2
    assert conversion.count("<polyline") == 1
    assert errors.count("<circle") == 3
    assert len(re.findall(r'<line class="threshold"', errors)) == 1
    assert 'class="point v-fail"' in errors and 'class="point v-inconclusive"' in errors
    # Time runs left to right; a higher error rate is drawn higher (smaller y).
    xs = [float(x) for x in re.findall(r'cx="([^"]+)"', errors)]
    ys = [float(y) for y in re.findall(r'cy="([^"]+)"', errors)]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True)
    assert "Waited 10m of up to 2h" in page.split("</header>")[0]


_values = st.none() | st.floats()


@settings(max_examples=60, deadline=None)
@given(values=st.lists(_values, min_size=1, max_size=5), threshold=_values)
def test_html_path_stays_inside_its_box(
    values: list[float | None], threshold: float | None
) -> None:
    polls = [
        Poll(
            at=START + timedelta(minutes=5 * i),
            release_end=START,
            verdict=Verdict.INCONCLUSIVE,
            criteria=[
                PollCriterion(
                    name="c",
                    verdict=Verdict.INCONCLUSIVE,
                    value=v,
                    baseline=None,
                    threshold=threshold,
                    samples=1,
                )
            ],
        )
        for i, v in enumerate(values)
    ]
    report = _report(criteria=[_criterion("c", Verdict.INCONCLUSIVE, values[-1])], polls=polls)
    (svg,) = _path_svgs(render_html(report))

    for name, number in re.findall(r'\b(x|y|x1|x2|y1|y2|cx|cy)="([^"]+)"', svg):
        assert math.isfinite(float(number)), (name, number)
        limit = 120 if name.startswith(("y", "cy")) else 320
        assert 0 <= float(number) <= limit, (name, number)
    for point in re.findall(r'points="([^"]*)"', svg):
        for pair in point.split():
            px, py = (float(n) for n in pair.split(","))
            assert 0 <= px <= 320 and 0 <= py <= 120
    known = [v for v in values if v is not None and math.isfinite(v)]
    assert svg.count("<circle") == len(known)
    assert ("no data" in svg) == (not known)


def test_terminal_summary_live_table_and_log_line() -> None:
    report = _report()
    summary = render_terminal(report)
    assert "Waited 10m of up to 2h, polling every 5m: 3 polls" in summary
    assert re.search(r"conversion <b>\s+ ▁█  no data → 26.0%", summary)
    assert re.search(r"errors\s+▁▅█  10.0% → 20.0%", summary)

    table = render_poll_table(report)
    assert table.splitlines()[0].startswith(
        "poll 3 at 2026-11-10 14:15 UTC: release window read to"
    )
    assert re.search(r"fail\s+errors\s+20.0% \(baseline 0.1%\)\s+n=900", table)

    running = report.model_copy(
        update={
            "wait": report.wait.model_copy(update={"stopped": None}),
            "criteria": [report.criteria[0].model_copy(update={"verdict": Verdict.INCONCLUSIVE})],
        }
    )
    line = render_poll_line(running)
    assert line == (
        "poll 3 at 2026-11-10 14:15 UTC, release window read to 2026-11-10 14:15 UTC: "
        "1 undecided (conversion <b>)"
    )
    assert render_poll_line(report).endswith("; stopped: every criterion was decided")


def _requests_until(path: Path, deploy: datetime, last: timedelta) -> None:
    """100 requests an hour from a day before the deploy up to `last` after it, 1% of them 500s."""
    with path.open("w") as out:
        moment, i = deploy - timedelta(hours=24), 0
        while moment <= deploy + last:
            status = 500 if i % 100 == 0 else 200
            out.write(json.dumps({"timestamp": moment.isoformat(), "status": status}) + "\n")
            moment, i = moment + timedelta(seconds=36), i + 1


def test_a_closed_window_whose_data_lag_is_not_the_last_look(tmp_path: Path) -> None:
    # The release window (10:00-12:00) has closed when the wait starts at 12:05, but the request
    # log only reaches 11:00 (an ingestion lag). That look is not the last: the wait goes on, and
    # once the log reaches the window's end, the next look is the last one.
    deploy = datetime(2026, 11, 10, 10, tzinfo=UTC)
    log = tmp_path / "requests.ndjson"
    _requests_until(log, deploy, timedelta(hours=1))
    (tmp_path / "cxe.yml").write_text(
        f"release: {{deployed_at: '{deploy.isoformat()}'}}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        "providers:\n  api: {type: file, requests: requests.ndjson}\n"
        "criteria:\n  - {name: errors, metric: error_rate, max_rise: 50%}\n"
    )
    clock = FakeClock(deploy + timedelta(hours=2, minutes=5))

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 2:  # 20 minutes later the lagging hour arrives
            _requests_until(log, deploy, timedelta(hours=1, minutes=59, seconds=59))

    report = wait_for_verdict(
        load(tmp_path / "cxe.yml"),
        wait=timedelta(hours=1),
        interval=timedelta(minutes=10),
        clock=clock,
        sleep=sleep,
    )
    assert report.wait is not None and report.wait.stopped == StopReason.WINDOW_CLOSED
    assert len(report.polls) == 3  # 12:05 and 12:15 partial, 12:25 complete and last
    (errors,) = report.criteria
    assert not errors.partial
    assert errors.samples == 200  # the whole window: 100 requests an hour for 2 hours
