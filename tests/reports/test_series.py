"""Per-interval series (gate.series): the `file` and `sql` providers cut each window into 12 equal
intervals and measure each the way the window is, on logs whose counts are set by hand; the gate
pools a same-hours baseline interval by interval; the HTML report draws the series."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from pydantic import TypeAdapter

from cxe_gate.config import Criterion
from cxe_gate.measurement import Measurement, Point, TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.file import FileProvider, FileSettings
from cxe_gate.providers.sql import SqlProvider, SqlSettings
from cxe_gate.report.html import render_html
from cxe_gate.results import CriterionResult, GateReport, ReleaseReport, Verdict, WindowReport
from cxe_gate.series import series_of

DEPLOY = datetime(2026, 11, 10, 14, 0, tzinfo=UTC)
WINDOWS = [
    TimeWindow("baseline", DEPLOY - timedelta(hours=24), DEPLOY),
    TimeWindow("release", DEPLOY, DEPLOY + timedelta(hours=2)),
]


def _requests() -> list[tuple[datetime, int]]:
    """(time, status). Release: 12 intervals of 10 minutes; interval i (i < 10) holds 10 requests,
    i of them 503, at minute 10i + 5; intervals 10 and 11 hold none. Baseline: 12 intervals of 2
    hours; each holds 4 requests, one 503, 30 minutes into it."""
    rows = []
    for i in range(10):
        moment = DEPLOY + timedelta(minutes=10 * i + 5)
        rows += [(moment, 503 if k < i else 200) for k in range(10)]
    for j in range(12):
        moment = DEPLOY - timedelta(hours=24) + timedelta(hours=2 * j, minutes=30)
        rows += [(moment, 503 if k == 0 else 200) for k in range(4)]
    return rows


# Worked out from _requests: release interval i has rate i/10 on 10 requests, then two empty;
# every baseline interval has 1 error in 4 requests.
RELEASE_VALUES = [i / 10 for i in range(10)] + [None, None]
RELEASE_SAMPLES = [10] * 10 + [0, 0]
BASELINE_VALUES = [0.25] * 12
RELEASE_STARTS = [DEPLOY + timedelta(minutes=10 * i) for i in range(12)]
BASELINE_STARTS = [DEPLOY - timedelta(hours=24) + timedelta(hours=2 * j) for j in range(12)]


def _error_rate() -> MetricRequest:
    criterion = TypeAdapter(Criterion).validate_python(
        {"name": "errors", "metric": "error_rate", "max": "50%"}
    )
    return MetricRequest(criterion)


def _check(series: dict[str, tuple[Point, ...]]) -> None:
    release, baseline = series["release"], series["baseline"]
    assert [p.value for p in release] == pytest.approx(RELEASE_VALUES)
    assert [p.samples for p in release] == RELEASE_SAMPLES
    assert [p.start for p in release] == RELEASE_STARTS
    assert [p.value for p in baseline] == pytest.approx(BASELINE_VALUES)
    assert [p.samples for p in baseline] == [4] * 12
    assert [p.start for p in baseline] == BASELINE_STARTS


def test_file_provider_measures_each_interval(tmp_path: Path) -> None:
    lines = [
        f'{{"timestamp": "{t.isoformat()}", "status": {s}, "duration_ms": 10}}\n'
        for t, s in _requests()
    ]
    (tmp_path / "requests.ndjson").write_text("".join(lines))
    context = ProviderContext(name="logs", base_dir=tmp_path)
    provider = FileProvider(FileSettings.model_validate({"requests": "requests.ndjson"}), context)
    try:
        whole = provider.measure(_error_rate(), WINDOWS)
        series = provider.measure_series(_error_rate(), WINDOWS)
    finally:
        provider.close()
    # The windows' own values are untouched: 45 of 100 and 12 of 48.
    assert whole["release"].value == pytest.approx(0.45)
    assert whole["baseline"].value == pytest.approx(0.25)
    _check(series)


def test_sql_provider_measures_each_interval(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "CREATE TABLE requests (timestamp TIMESTAMPTZ, status INTEGER, duration_ms DOUBLE)"
        )
        connection.executemany(
            "INSERT INTO requests VALUES (?, ?, 10)", [(t, s) for t, s in _requests()]
        )
    context = ProviderContext(name="warehouse", base_dir=tmp_path)
    settings = SqlSettings.model_validate({"url": f"duckdb:///{path}", "requests": "requests"})
    provider = SqlProvider(settings, context)
    try:
        series = provider.measure_series(_error_rate(), WINDOWS)
    finally:
        provider.close()
    _check(series)


def test_a_same_hours_baseline_is_pooled_interval_by_interval() -> None:
    t0 = DEPLOY - timedelta(days=1)
    t1 = DEPLOY - timedelta(days=2)
    windows = [
        TimeWindow("baseline-1d", t0, t0 + timedelta(hours=1)),
        TimeWindow("baseline-2d", t1, t1 + timedelta(hours=1)),
        TimeWindow("release", DEPLOY, DEPLOY + timedelta(hours=1)),
    ]
    measured = {
        "baseline-1d": Measurement(
            0.1, 10, series=(Point(t0, 0.1, 10), Point(t0 + timedelta(minutes=30), None, 0))
        ),
        "baseline-2d": Measurement(
            0.3, 30, series=(Point(t1, 0.3, 30), Point(t1 + timedelta(minutes=30), 0.5, 2))
        ),
        "release": Measurement(0.2, 5, series=(Point(DEPLOY, 0.2, 5), Point(DEPLOY, None, 0))),
    }
    series = series_of(measured, windows)

    # Interval 0: (0.1·10 + 0.3·30) / 40 = 10/40 = 0.25; interval 1: only day 2 has data: 0.5.
    assert [p.value for p in series["baseline"]] == pytest.approx([0.25, 0.5])
    assert [p.samples for p in series["baseline"]] == [40, 2]
    # At the nearest period's times (a day back), so the points sit just before the release.
    assert [p.start for p in series["baseline"]] == [t0, t0 + timedelta(minutes=30)]
    assert [p.value for p in series["release"]] == [0.2, None]


def test_html_draws_baseline_and_release_per_interval() -> None:
    def points(values: list[float | None], start: datetime) -> list[dict[str, object]]:
        step = timedelta(minutes=10)
        return [
            {"start": start + step * i, "value": v, "samples": 0 if v is None else 10}
            for i, v in enumerate(values)
        ]

    result = CriterionResult.model_validate(
        {
            "name": "errors",
            "metric": "error_rate",
            "provider": "logs",
            "verdict": "fail",
            "severity": "fail",
            "key": False,
            "weight": 1,
            "unit": "ratio",
            "value": 0.45,
            "baseline": 0.25,
            "threshold": 0.5,
            "samples": 100,
            "p_value": None,
            "message": "m",
            "series": {
                "baseline": points([0.25] * 4, DEPLOY - timedelta(hours=1)),
                "release": points([0.0, 0.5, None, 1.0], DEPLOY),
            },
        }
    )
    report = GateReport(
        tool_version="0",
        generated_at=DEPLOY,
        config_file=None,
        verdict=Verdict.FAIL,
        score=0,
        summary="s",
        release=ReleaseReport(name="v2", deployed_at=DEPLOY),
        windows={"release": WindowReport(start=DEPLOY, end=DEPLOY + timedelta(minutes=40))},
        criteria=[result],
    )
    page = render_html(report)
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 2  # the bars, then the per-interval chart
    chart = svgs[1]
    # The release line breaks at its empty interval: a run of two points, then one dot alone.
    (release_run,) = re.findall(r'class="line line-release" points="([^"]+)"', chart)
    (baseline_run,) = re.findall(r'class="line line-baseline" points="([^"]+)"', chart)
    assert len(release_run.split()) == 2
    assert len(baseline_run.split()) == 4
    dots = re.findall(r'<circle class="dot-release" cx="([\d.]+)" cy="([\d.]+)"', chart)
    assert len(dots) == 3
    # x: interval i of 4 at its middle, (i + 0.5)/4 of the plot from 62 to 312.
    assert [float(x) for x, _ in dots] == pytest.approx(
        [62 + 250 * f for f in (1 / 8, 3 / 8, 7 / 8)], abs=0.1
    )
    # y: higher values sit higher (smaller y); 0.5 is the threshold's level too.
    ys = [float(y) for _, y in dots]
    assert ys[0] > ys[1] > ys[2]
    (threshold,) = re.findall(r'<line class="threshold"[^>]*y1="([\d.]+)"', chart)
    assert float(threshold) == pytest.approx(ys[1], abs=0.1)
    assert "release 14:00 UTC" in chart and "14:40 UTC" in chart
