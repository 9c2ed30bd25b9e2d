"""The `prometheus` provider's per-interval series (gate.series) against a real Prometheus holding
backfilled samples: each window cut into 12 intervals, each read the way the window is (exact
sample differences, a born series from 0, a restarted counter sample by sample), with the
expected points worked out by hand from the samples written here.

The samples: every 30 s from 3 h before the deploy. Nothing is served in the first hour, so
each counter's value before the baseline is known. Baseline: 2 h before the deploy, 12
intervals of 10 min; release: the hour after it, 12 intervals of 5 min. All of an interval's
requests land at one scrape in its middle, so which interval a count belongs to never depends
on an edge."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from prometheus_server import backfill, running_prometheus

from cxe_gate.config import (
    ApdexCriterion,
    CriterionBase,
    CustomCriterion,
    ErrorRateCriterion,
    LatencyCriterion,
)
from cxe_gate.measurement import Measurement, Point, TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.prometheus import PrometheusProvider, PrometheusSettings

pytestmark = pytest.mark.server

SCRAPE_S = 30
RELEASE_STEP = timedelta(minutes=5)
BASELINE_STEP = timedelta(minutes=10)
BOUNDS = ("0.1", "0.25", "0.5", "1.0", "+Inf")


@dataclass(frozen=True)
class Stored:
    url: str
    deploy: datetime
    windows: list[TimeWindow]

    def provider(self) -> PrometheusProvider:
        settings = PrometheusSettings.model_validate({"url": self.url, "selector": 'job="shop"'})
        return PrometheusProvider(settings, ProviderContext(name="prom", base_dir=Path(".")))

    def served(self, handler: str) -> float:
        """How many requests Prometheus has answered on `handler` (its own counter)."""
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        prefix = f'prometheus_http_requests_total{{code="200",handler="{handler}"}} '
        lines = [line for line in text.splitlines() if line.startswith(prefix)]
        return float(lines[0].removeprefix(prefix)) if lines else 0.0


def _events(deploy: datetime) -> list[tuple[datetime, str, float]]:
    """(time, series, increment): what each interval adds, at its middle.

    Release interval i (5 min): pod a answers 100 with 200 and i with 500; pod b answers 50 with
    200; intervals 10 and 11 are quiet. Pod a's first 503s (3) come in interval 7: a series born
    there. The histogram (pod a) observes per interval 80 requests ≤ 0.1 s, 10 in (0.1, 0.25],
    i in (0.25, 0.5], 5 in (0.5, 1], 5 above 1 s. Baseline interval j (10 min): pod a 60 with
    200 and j % 3 with 500, pod b 30 with 200; the histogram 80, 10, 0, 5, 5."""
    found: list[tuple[datetime, str, float]] = []
    per_bucket = [80, 10, 0, 5, 5]
    for j in range(12):
        at = deploy - timedelta(hours=2) + BASELINE_STEP * j + BASELINE_STEP / 2
        found += [(at, 'pod="a",code="200"', 60), (at, 'pod="a",code="500"', j % 3)]
        found += [(at, 'pod="b",code="200"', 30)]
        found += [(at, f"le={le}", n) for le, n in zip(BOUNDS, per_bucket, strict=True)]
    for i in range(10):
        at = deploy + RELEASE_STEP * i + RELEASE_STEP / 2
        found += [(at, 'pod="a",code="200"', 100), (at, 'pod="a",code="500"', i)]
        found += [(at, 'pod="b",code="200"', 50)]
        per_bucket = [80, 10, i, 5, 5]
        found += [(at, f"le={le}", n) for le, n in zip(BOUNDS, per_bucket, strict=True)]
    found.append((deploy + RELEASE_STEP * 7 + RELEASE_STEP / 2, 'pod="a",code="503"', 3))
    return found


# Pod b restarts in release interval 4, one minute in: its 200s counter reads 20 from then (20
# requests since the restart), and the interval's 50 come on top: 70 in interval 4.
RESTART_AFTER = RELEASE_STEP * 4 + timedelta(minutes=1)
RESTARTED_TO = 20


def _openmetrics(deploy: datetime) -> str:
    start = deploy - timedelta(hours=3)
    scrapes = [start + timedelta(seconds=SCRAPE_S * k) for k in range(5 * 3600 // SCRAPE_S)]
    events = _events(deploy)
    counters = {
        'pod="a",code="200"': 1000.0,
        'pod="a",code="500"': 7.0,
        'pod="b",code="200"': 500.0,
    }
    buckets = dict.fromkeys(BOUNDS, 0.0)
    lines = ["# TYPE http_requests counter"]
    histogram = []
    restarted = False
    for at in scrapes:
        for when, series, n in events:
            if when != at:
                continue
            if series.startswith("le="):
                # cumulative: an observation in bucket k counts in every bucket from k up
                for le in BOUNDS[BOUNDS.index(series[3:]) :]:
                    buckets[le] += n
            else:
                counters[series] = counters.get(series, 0.0) + n
        if not restarted and at >= deploy + RESTART_AFTER:
            counters['pod="b",code="200"'] = RESTARTED_TO
            restarted = True
        stamp = f"{at.timestamp():.3f}"
        for series, value in counters.items():
            lines.append(f'http_requests_total{{job="shop",{series}}} {value:g} {stamp}')
        name = "http_request_duration_seconds"
        for le, value in buckets.items():
            histogram.append(f'{name}_bucket{{job="shop",pod="a",le="{le}"}} {value:g} {stamp}')
        histogram.append(f'{name}_count{{job="shop",pod="a"}} {buckets["+Inf"]:g} {stamp}')
    lines.append("# TYPE http_request_duration_seconds histogram")
    return "\n".join([*lines, *histogram, "# EOF", ""])


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Iterator[Stored]:
    deploy = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    workdir = tmp_path_factory.mktemp("prometheus-series")
    backfill(workdir, _openmetrics(deploy))
    windows = [
        TimeWindow("baseline", deploy - timedelta(hours=2), deploy),
        TimeWindow("release", deploy, deploy + timedelta(hours=1)),
    ]
    with running_prometheus(workdir, []) as url:
        yield Stored(url, deploy, windows)


def _both(
    stored: Stored, criterion: CriterionBase, windows: list[TimeWindow] | None = None
) -> tuple[dict[str, Measurement], dict[str, tuple[Point, ...]]]:
    provider = stored.provider()
    try:
        request = MetricRequest(criterion)
        windows = windows or stored.windows
        return provider.measure(request, windows), provider.measure_series(request, windows)
    finally:
        provider.close()


ERRORS = ErrorRateCriterion(name="errors", metric="error_rate", max=0.5)
# Release interval i < 10: 150 + i requests, i errors; plus pod b's 20 after its restart in
# interval 4 and the 3 first 503s (a born series, counted from 0) in interval 7.
RELEASE_REQUESTS = [150 + i + (20 if i == 4 else 0) + (3 if i == 7 else 0) for i in range(10)]
RELEASE_ERRORS = [i + (3 if i == 7 else 0) for i in range(10)]
BASELINE_REQUESTS = [90 + j % 3 for j in range(12)]
BASELINE_ERRORS = [j % 3 for j in range(12)]


def test_error_rate_per_interval_counts_born_and_restarted_series(stored):
    whole, series = _both(stored, ERRORS)
    release, baseline = series["release"], series["baseline"]
    assert [p.start for p in release] == [stored.deploy + RELEASE_STEP * i for i in range(12)]
    assert [p.start for p in baseline] == [
        stored.deploy - timedelta(hours=2) + BASELINE_STEP * j for j in range(12)
    ]
    assert [p.samples for p in release] == [*RELEASE_REQUESTS, 0, 0]
    expected = [e / n for e, n in zip(RELEASE_ERRORS, RELEASE_REQUESTS, strict=True)]
    assert [p.value for p in release] == pytest.approx([*expected, None, None])
    assert [p.samples for p in baseline] == BASELINE_REQUESTS
    assert [p.value for p in baseline] == pytest.approx(
        [e / n for e, n in zip(BASELINE_ERRORS, BASELINE_REQUESTS, strict=True)]
    )
    # The invariant: the intervals' requests add up to the window's, and their request-weighted
    # mean rate is the window's rate (1,568 requests and 48 errors in the release; 1,092 and 12).
    assert whole["release"].samples == sum(RELEASE_REQUESTS) == 1568
    assert whole["release"].details["errors"] == sum(RELEASE_ERRORS) == 48
    assert whole["baseline"].samples == sum(BASELINE_REQUESTS) == 1092
    for label in ("release", "baseline"):
        points = series[label]
        assert sum(p.samples for p in points) == whole[label].samples
        weighted = sum(p.value * p.samples for p in points if p.value is not None)
        assert weighted / whole[label].samples == pytest.approx(whole[label].value)


def test_apdex_and_p90_per_interval(stored):
    apdex = ApdexCriterion(name="apdex", metric="apdex", t=timedelta(milliseconds=250), min=0.5)
    whole, series = _both(stored, apdex)
    # Release interval i: satisfied 90 (≤ T), tolerating i + 5 (T to 4T), frustrated 5, of 100 + i.
    expected = [(90 + (i + 5) / 2) / (100 + i) for i in range(10)]
    assert [p.value for p in series["release"]] == pytest.approx([*expected, None, None])
    assert [p.samples for p in series["release"]] == [100 + i for i in range(10)] + [0, 0]
    # Baseline: (90 + 5 / 2) / 100 in every interval.
    assert [p.value for p in series["baseline"]] == pytest.approx([0.925] * 12)
    release = series["release"]
    assert sum(p.samples for p in release) == whole["release"].samples == 1045
    satisfied = whole["release"].details["satisfied"] + whole["release"].details["tolerating"] / 2
    weighted = sum(p.value * p.samples for p in release if p.value is not None)
    assert weighted == pytest.approx(satisfied)

    p90 = LatencyCriterion.model_validate(
        {"name": "p90", "metric": "latency", "percentile": 90, "max": "1s"}
    )
    _, series = _both(stored, p90)
    # Rank 0.9 · (100 + i) = 90 + 0.9 i among cumulative counts 80, 90, 90 + i, 95 + i, 100 + i:
    # i = 0 reaches 90 at the 0.25 s bound (0.1 + 0.15 · 10/10 = 0.25 s); i ≥ 1 falls in
    # (0.25, 0.5], 0.9 i of its i: 0.25 + 0.25 · 0.9 = 0.475 s.
    assert [p.value for p in series["release"]] == pytest.approx(
        [250.0] + [475.0] * 9 + [None, None]
    )
    assert [p.value for p in series["baseline"]] == pytest.approx([250.0] * 12)


def _requests_made(stored: Stored, run: Callable[[], object]) -> tuple[float, float]:
    """(instant, range) queries Prometheus answered while `run` ran, from its own counters."""
    before = [stored.served(h) for h in ("/api/v1/query", "/api/v1/query_range")]
    run()
    after = [stored.served(h) for h in ("/api/v1/query", "/api/v1/query_range")]
    return after[0] - before[0], after[1] - before[1]


def test_one_range_query_per_count_and_the_same_points_interval_by_interval(stored):
    provider = stored.provider()
    request = MetricRequest(ERRORS)
    found: dict[str, dict[str, tuple[Point, ...]]] = {}
    # A release window 1 ms longer: its 12 intervals do not end on whole milliseconds, so each
    # is asked on its own; its requests land at the same scrapes, so its points are the same.
    longer = [
        stored.windows[0],
        TimeWindow("release", stored.deploy, stored.deploy + timedelta(hours=1, milliseconds=1)),
    ]
    try:
        ranged = _requests_made(
            stored,
            lambda: found.setdefault("ranged", provider.measure_series(request, stored.windows)),
        )
        single = _requests_made(
            stored, lambda: found.setdefault("single", provider.measure_series(request, longer))
        )
    finally:
        provider.close()
    # Per window, two counts (requests, errors), each a range query of what each series added
    # and one of the series that restarted: 8 range queries. Pod b's restart in release
    # interval 4 is read from its raw samples: its value before, and its samples (2 queries).
    assert ranged == (2, 8)
    # The longer release window, interval by interval: requests and errors, each what the series
    # added and which restarted, in intervals 0-9 (10 × 4); requests only in the quiet 10 and 11
    # (2 × 2); the restart's 2: 46 instant queries. Its baseline still takes 4 range queries.
    assert single == (46, 4)
    for label in ("release", "baseline"):
        assert [(p.value, p.samples) for p in found["single"][label]] == [
            (p.value, p.samples) for p in found["ranged"][label]
        ]


def test_a_cohort_narrows_each_interval(stored):
    # The release cohort is pod b only: 50 requests per interval, 70 in interval 4, no errors.
    windows = [replace(stored.windows[1], cohort='pod="b"')]
    _, series = _both(stored, ERRORS, windows)
    release = series["release"]
    assert [p.samples for p in release] == [50] * 4 + [70] + [50] * 5 + [0, 0]
    assert [p.value for p in release] == pytest.approx([0.0] * 10 + [None, None])


def test_a_window_that_has_not_begun_has_no_series(stored):
    later = stored.deploy + timedelta(days=1)
    windows = [stored.windows[0], TimeWindow("release", later, later)]
    _, series = _both(stored, ERRORS, windows)
    assert "release" not in series
    assert len(series["baseline"]) == 12


def test_a_raw_query_is_asked_once_per_interval_with_the_intervals_placeholders(stored):
    origin = stored.deploy - timedelta(hours=2)
    text = f"vector(($start - {origin.timestamp():.0f}) / 60 + ($end - $start) / 6000)"
    custom = CustomCriterion(name="minutes", metric="custom", query=text, min=0)
    provider = stored.provider()
    found: dict[str, tuple[Point, ...]] = {}
    try:
        made = _requests_made(
            stored,
            lambda: found.update(provider.measure_series(MetricRequest(custom), stored.windows)),
        )
    finally:
        provider.close()
    # Minutes from the baseline's start to the interval's, plus its length in minutes / 100:
    # baseline interval j starts at 10 j and lasts 10 min; release interval i at 120 + 5 i, 5 min.
    assert [p.value for p in found["baseline"]] == pytest.approx([10 * j + 0.1 for j in range(12)])
    assert [p.value for p in found["release"]] == pytest.approx(
        [120 + 5 * i + 0.05 for i in range(12)]
    )
    assert made == (24, 0)  # one instant query per interval of each window
