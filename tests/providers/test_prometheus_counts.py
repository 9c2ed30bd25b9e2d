"""The counts the `prometheus` provider reads from a real Prometheus, against the request log of the
app it scraped (tests/metrics_app.py), an app that behaves like most: a label set appears when it
is first observed, so a rare error code's series is born inside a window; at the deploy one pod is
restarted in place (its counters reset) and the other is replaced by a new pod (new series). The
samples are backfilled, so every birth and reset is at a known time.

`increase()` misses here: it needs two samples in the range, so each series born inside a window
loses its first count, and it extrapolates to the window's edges. The provider counts sample
differences instead, and must agree with the log to 1%."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from metrics_app import DEFAULT_BUCKETS_S, App, Process, quantile
from prometheus_server import backfill, running_prometheus

from cxe_gate.config import ApdexCriterion, ErrorRateCriterion, LatencyCriterion
from cxe_gate.errors import ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers import prometheus_counts
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.prometheus import PrometheusProvider, PrometheusSettings
from cxe_gate.results import Verdict

pytestmark = pytest.mark.server

HISTOGRAM = "http_request_duration_milliseconds"  # as many apps name it: not in seconds
BASELINE_ERRORS = {500: 0.0040, 502: 0.0007}  # 0.47% of requests
RELEASE_ERRORS = {500: 0.0180, 503: 0.0015}  # 1.95%, with a rare 503 new in the release


@dataclass(frozen=True)
class Deploy:
    app: App
    url: str
    at: float  # Unix seconds
    windows: dict[str, TimeWindow]

    def provider(self, **options) -> PrometheusProvider:
        settings = {"url": self.url, "selector": 'job="shop"', "status_label": "status"}
        settings |= {"duration_histogram": HISTOGRAM, **options}
        return PrometheusProvider(
            PrometheusSettings.model_validate(settings),
            ProviderContext(name="prom", base_dir=Path(".")),
        )

    def served(self, window: str) -> list:
        w = self.windows[window]
        return self.app.truth(w.start.timestamp(), w.end.timestamp())


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.fixture(scope="module")
def deploy(tmp_path_factory) -> Iterator[Deploy]:
    """Two pods serve 5 requests a second each for 70 minutes; then the deploy: both are drained,
    pod a is restarted in place 25 s later (same labels: its counters reset) and pod b is
    replaced by pod c (new series). Prometheus scrapes every 15 s, each pod at its own offset.
    Windows end a second after the scrapes, as they would anywhere."""
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=8)
    t0 = first.timestamp()
    at = t0 + 70 * 60
    end = at + 45 * 60
    app = App(
        [
            Process("a", t0, at + 20, offset=0.25, drained=at),
            Process("b", t0, at + 20, offset=0.5, drained=at),
            Process("a", at + 25, end, offset=0.25),
            Process("c", at + 5, end, offset=0.75),
        ],
        status_label="status",
        histogram=HISTOGRAM,
        buckets=tuple(bound * 1000 for bound in DEFAULT_BUCKETS_S),
        scale=1000,
    )
    rng = random.Random(16)
    app.serve(rng, t0, at, per_second=5, errors=BASELINE_ERRORS)
    app.serve(rng, at, end, per_second=5, errors=RELEASE_ERRORS)
    workdir = tmp_path_factory.mktemp("prometheus-counts")
    backfill(workdir, app.openmetrics())
    windows = {
        "baseline": (at - 3600 + 1, at + 1),
        "release": (at + 1, at + 1801),
        "release-10m": (at + 1, at + 601),
        "release-30s": (at + 121, at + 151),
    }
    with running_prometheus(workdir, []) as url:
        yield Deploy(
            app,
            url,
            at,
            {k: TimeWindow(k, _moment(s), _moment(e)) for k, (s, e) in windows.items()},
        )


def _errors(served: list) -> int:
    return sum(s.status >= 500 for s in served)


def _error_rate(deploy: Deploy, **options) -> dict:
    criterion = ErrorRateCriterion(name="errors", metric="error_rate", max=0.01)
    windows = list(deploy.windows.values())
    return deploy.provider(**options).measure(MetricRequest(criterion), windows)


def _increase(deploy: Deploy, selector: str, window: str) -> float:
    """What `sum(increase(...[window]))` says: the count most dashboards show."""
    w = deploy.windows[window]
    seconds = round((w.end - w.start).total_seconds())
    answer = requests.post(
        f"{deploy.url}/api/v1/query",
        data={"query": f"sum(increase({selector}[{seconds}s]))", "time": w.end.timestamp()},
        timeout=5,
    ).json()
    return float(answer["data"]["result"][0]["value"][1])


@pytest.mark.parametrize("window", ["baseline", "release", "release-10m", "release-30s"])
def test_requests_and_errors_match_the_log(deploy, window):
    measured = _error_rate(deploy)[window]
    served = deploy.served(window)
    requests_, errors = measured.details["requests"], measured.details["errors"]
    assert abs(requests_ - len(served)) <= 0.01 * len(served), (requests_, len(served))
    assert abs(errors - _errors(served)) <= 0.01 * _errors(served), (errors, _errors(served))


def test_increase_would_have_missed_the_errors_of_series_born_in_the_window(deploy):
    # What the provider read before it counted samples: the 503 series of the release are born
    # in it, and increase() drops each one's first count.
    for window in ("release-10m", "release-30s"):
        truth = _errors(deploy.served(window))
        estimate = _increase(deploy, 'http_requests_total{job="shop", status=~"5.."}', window)
        assert abs(estimate - truth) > 0.05 * truth, (window, estimate, truth)


def test_born_and_restarted_series_are_noted(deploy):
    measured = _error_rate(deploy)
    # the baseline's rare 502s: a series is born the first time a pod answers one on a route
    (changes,) = measured["baseline"].notes
    assert changes.startswith("series of http_requests_total: ")
    assert "began inside the window (counted from 0)" in changes
    release = measured["release"].notes
    # pod c's series and the 503s are new; pod a's counters restarted from 0 (per route and status)
    (changes,) = [n for n in release if n.startswith("series of http_requests_total:")]
    assert "began inside the window (counted from 0)" in changes
    assert "restarted their counters (a reset: read sample by sample)" in changes
    assert not any("scrape(s)" in n for n in release)  # 120 scrapes: its edges are sound


def test_a_window_of_two_scrapes_is_noted(deploy):
    notes = _error_rate(deploy)["release-30s"].notes
    assert (
        "the window holds only 2 scrape(s) of http_requests_total (about one every 15 s): its "
        "counts run from the last scrape at or before its start to its last scrape, so up to a "
        "scrape interval of requests at each edge may belong to the neighbouring window. Make the "
        "window longer"
    ) in notes


def test_reading_restarted_series_in_parts_changes_nothing(deploy, monkeypatch):
    whole = {k: m.details for k, m in _error_rate(deploy).items()}
    # at most 7 raw samples per answer: the window is cut, and its parts with a restart cut again
    monkeypatch.setattr(prometheus_counts, "_RAW_SAMPLES", 7)
    assert {k: m.details for k, m in _error_rate(deploy).items()} == whole


def test_apdex_counts_match_the_log(deploy):
    criterion = ApdexCriterion(name="apdex", metric="apdex", t="250ms", min=0.5)
    windows = [deploy.windows["baseline"], deploy.windows["release"]]
    measured = deploy.provider().measure(MetricRequest(criterion), windows)
    for label, m in measured.items():
        served = [s.duration_ms for s in deploy.served(label)]
        satisfied = sum(d <= 250 for d in served)
        tolerating = sum(250 < d <= 1000 for d in served)
        assert abs(m.details["satisfied"] - satisfied) <= 0.01 * satisfied
        assert abs(m.details["tolerating"] - tolerating) <= 0.01 * tolerating
        truth = (satisfied + tolerating / 2) / len(served)
        assert m.value == pytest.approx(truth, abs=0.002)


def test_p95_of_a_histogram_in_milliseconds_is_in_milliseconds_and_said_to_be_interpolated(
    deploy,
):
    criterion = LatencyCriterion(name="p95", metric="latency", max="1s")
    release = deploy.provider().measure(MetricRequest(criterion), [deploy.windows["release"]])
    measured = release["release"]
    exact = quantile([s.duration_ms for s in deploy.served("release")], 0.95)
    # Read as seconds, this histogram's p95 was 1,000 times too high (~413,000 ms).
    assert 250 < exact <= 500 and 250 < measured.value <= 500
    # Linear interpolation inside the 250-500 ms bucket overshoots this distribution's p95 by ~16%
    assert 1.10 < measured.value / exact < 1.25, (measured.value, exact)
    assert (
        "p95 is interpolated from bucket counts (as histogram_quantile() does): linearly inside "
        "the bucket 250–500 ms that holds it, so the exact p95 can lie anywhere in that bucket"
    ) in measured.notes


def test_a_misspelled_metric_is_an_error_naming_the_likely_one(deploy):
    with pytest.raises(ProviderError) as caught:
        _error_rate(deploy, requests_counter="http_request_total")
    assert "metric http_request_total not found" in str(caught.value)
    assert "did you mean requests_counter: http_requests_total?" in str(caught.value)


@pytest.mark.parametrize(
    ("status_label", "verdict", "said"),
    [
        # The default status label `code` is on no series: an error that names the labels there
        # are. Before, code=~"5.." matched nothing: 0 errors both times, and the release passed.
        (None, Verdict.ERROR, "its labels are: job, pod, route, status"),
        ("status", Verdict.FAIL, "rose"),
    ],
)
def test_the_gate_fails_a_release_whose_errors_rose_from_0_47_to_1_95_percent(
    deploy, tmp_path, status_label, verdict, said
):
    deployed = _moment(deploy.at + 1).isoformat(timespec="milliseconds")
    label = f"\n    status_label: {status_label}" if status_label else ""
    path = tmp_path / "cxe.yml"
    path.write_text(
        f"""
release: {{name: v2, deployed_at: "{deployed}"}}
windows: {{baseline: 1h, release: 30m}}
gate: {{deadline: 30s}}
providers:
  prom:
    type: prometheus
    url: {deploy.url}
    selector: 'job="shop"'{label}
criteria:
  - {{name: errors, metric: error_rate, max_rise: 0.5pp}}
"""
    )
    (result,) = evaluate(load(path), now=_moment(deploy.at + 7200)).criteria
    assert result.verdict == verdict, result.message
    assert said in result.message
    if verdict == Verdict.FAIL:
        baseline, release = (_errors(deploy.served(k)) for k in ("baseline", "release"))
        assert result.details["baseline"]["errors"] == pytest.approx(baseline, abs=1)
        assert result.details["release"]["errors"] == pytest.approx(release, abs=3)
        assert result.baseline == pytest.approx(0.0047, abs=0.0005)
        assert result.value == pytest.approx(0.0195, abs=0.002)
