"""Baselines that see the same hours: the release window against its clock hours on earlier days,
with the spread between those days, so time of day cannot block a good release or hide a bad one.

Real data paths: event and request logs written to disk and read by the `file` provider (DuckDB);
the expected numbers come from the generator's own counts and from the formulas worked by hand."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cxe_gate.cli import main
from cxe_gate.errors import ConfigError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict

# --- a shop whose conversion swings ±30% with the hour of day ------------------------------------

DEPLOY = datetime(2026, 11, 10, 3, tzinfo=UTC)  # a night deploy: conversion is at its lowest
SESSIONS_PER_HOUR = 1000
BASE_RATE = 0.10
# Relative day-to-day jitter of the 7 days before the deploy (day 1 is the day before).
JITTER = {1: 0.02, 2: -0.01, 3: 0.0, 4: 0.03, 5: -0.02, 6: 0.01, 7: -0.03}


def hourly_rate(moment: datetime) -> float:
    """10% on average over a day, 13% at 15:00 and 7% at 03:00: 10% × (1 + 0.3 cos(2π(h-15)/24))."""
    return BASE_RATE * (1 + 0.3 * math.cos(2 * math.pi * (moment.hour - 15) / 24))


def conversions(hour_start: datetime, release_change: float) -> int:
    day = (DEPLOY.date() - hour_start.date()).days
    if hour_start >= DEPLOY:
        factor = 1 + release_change
    else:
        factor = 1 + JITTER.get(day if hour_start.hour >= DEPLOY.hour else day + 1, 0.0)
    return round(SESSIONS_PER_HOUR * hourly_rate(hour_start) * factor)


def write_shop_events(path: Path, release_change: float = 0.0) -> dict[datetime, int]:
    """Eight days of sessions up to 05:00 on the deploy day; returns conversions per hour."""
    rows: dict[str, list] = {"timestamp": [], "event": [], "session_id": [], "user_id": []}
    converted = {}
    start = DEPLOY - timedelta(days=8)
    hour = start
    while hour < DEPLOY + timedelta(hours=2):
        done = conversions(hour, release_change)
        converted[hour] = done
        for i in range(SESSIONS_PER_HOUR):
            moment = hour + timedelta(seconds=i * 3600 / SESSIONS_PER_HOUR)
            session = f"{hour:%Y%m%d%H}-{i}"
            rows["timestamp"].append(moment)
            rows["event"].append("view_product")
            rows["session_id"].append(session)
            rows["user_id"].append(session)
            if i < done:
                rows["timestamp"].append(moment + timedelta(seconds=1))
                rows["event"].append("purchase")
                rows["session_id"].append(session)
                rows["user_id"].append(session)
        hour += timedelta(hours=1)
    table = pa.table(
        {
            "timestamp": pa.array(rows["timestamp"], pa.timestamp("us", tz="UTC")),
            "event": rows["event"],
            "session_id": rows["session_id"],
            "user_id": rows["user_id"],
        }
    )
    pq.write_table(table, path)
    return converted


def shop_criteria(directory: Path, baseline: str) -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{name: night, deployed_at: '{DEPLOY.isoformat()}'}}\n"
        f"windows: {{baseline: {baseline}, release: 2h}}\n"
        "providers:\n  shop: {type: file, events: events.parquet}\n"
        "journeys:\n  buy: [view_product, purchase]\n"
        "criteria:\n"
        "  - {name: conversion, metric: conversion, journey: buy, max_drop: 10%}\n"
    )
    return path


NOW = DEPLOY + timedelta(hours=3)


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory) -> tuple[Path, dict[datetime, int]]:
    directory = tmp_path_factory.mktemp("unchanged")
    return directory, write_shop_events(directory / "events.parquet")


def test_a_day_long_baseline_blocks_a_good_night_deploy(unchanged):
    # The trap, kept as the reason for same hours: 03:00-05:00 converts at about 7%, the
    # day before at 10% on average, so an unchanged release "fell" 30%.
    directory, _ = unchanged
    (result,) = evaluate(load(shop_criteria(directory, "24h")), now=NOW).criteria
    assert result.verdict == Verdict.FAIL
    assert result.p_value < 1e-4


def test_the_same_hours_on_seven_days_pass_the_good_night_deploy(unchanged):
    directory, converted = unchanged
    report = evaluate(load(shop_criteria(directory, "{same_hours: 7}")), now=NOW)
    (result,) = report.criteria
    assert result.verdict == Verdict.PASS, result.message
    # The baseline is the 03:00-05:00 hours of the 7 days before, pooled, from the generator.
    hours = [DEPLOY - timedelta(days=d) + timedelta(hours=h) for d in range(1, 8) for h in (0, 1)]
    expected = sum(converted[h] for h in hours) / (len(hours) * SESSIONS_PER_HOUR)
    assert result.baseline == pytest.approx(expected, rel=1e-12)
    release = sum(converted[DEPLOY + timedelta(hours=h)] for h in (0, 1)) / 2000
    assert result.value == pytest.approx(release, rel=1e-12)
    assert report.design == (
        "same hours: the release window against the same clock hours (03:00–05:00 UTC) on each "
        "of the 7 days before, with the spread between them"
    )
    # Every part is in the report: its window, and its value and sessions in the details.
    parts = [label for label in report.windows if label.startswith("baseline-")]
    assert parts == [f"baseline-{d}d" for d in range(1, 8)]
    assert report.windows["baseline-7d"].start == DEPLOY - timedelta(days=7)
    day_one = converted[DEPLOY - timedelta(days=1)] + converted[DEPLOY - timedelta(hours=23)]
    assert result.details["baseline-1d"]["value"] == pytest.approx(day_one / 2000)
    assert result.details["baseline-1d"]["samples"] == 2000


def test_the_same_weekday_over_weeks_needs_the_weeks_of_data(unchanged):
    directory, _ = unchanged
    # Only 8 days of data: of 3 weekly periods, one has data; the spread needs three.
    report = evaluate(load(shop_criteria(directory, "{same_hours: 3, every: 7d}")), now=NOW)
    (result,) = report.criteria
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "no data in baseline-14d, baseline-21d: left out of the baseline" in result.notes[0]
    assert "only 1 of 3 baseline periods have data" in " ".join(result.notes)
    assert "same weekday and hours (03:00–05:00 UTC) in each of the 3 weeks before" in (
        report.design
    )


def test_a_real_regression_at_night_still_fails_against_the_same_hours(tmp_path):
    # Conversion 25% below the same hours: about 5.25% on 2,000 sessions against about 7.0%.
    write_shop_events(tmp_path / "events.parquet", release_change=-0.25)
    (result,) = evaluate(load(shop_criteria(tmp_path, "{same_hours: 7}")), now=NOW).criteria
    assert result.verdict == Verdict.FAIL, result.message
    assert result.p_value < 0.01


# --- the spread between days, worked by hand ------------------------------------------------------

HAND_DEPLOY = datetime(2026, 11, 10, 14, tzinfo=UTC)


def write_requests(path: Path, errors_by_day: dict[int, int]) -> None:
    """1,000 requests in 14:00-16:00 of each day (0 = the release window), `errors` of them 500s."""
    with path.open("w") as out:
        for day, errors in errors_by_day.items():
            start = HAND_DEPLOY - timedelta(days=day)
            for i in range(1000):
                moment = start + timedelta(seconds=i * 7.2)
                status = 500 if i < errors else 200
                out.write(
                    json.dumps(
                        {
                            "timestamp": moment.isoformat(),
                            "status": status,
                            "duration_ms": 100,
                            "route": "/checkout",
                        }
                    )
                    + "\n"
                )


def hand_criteria(directory: Path, baseline: str) -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: '{HAND_DEPLOY.isoformat()}'}}\n"
        f"windows: {{baseline: {baseline}, release: 2h}}\n"
        "providers:\n  api: {type: file, requests: requests.ndjson}\n"
        "criteria:\n  - {name: errors, metric: error_rate, max_rise: 10%}\n"
    )
    return path


def test_a_jittery_baseline_widens_the_test_by_its_day_to_day_spread(tmp_path):
    # Error rates 10%, 12%, 14% on the three days before (1,000 requests each), 15% after.
    # Pooled baseline 360/3000 = 12%; threshold 12% × 1.1 = 13.2%: 15% is beyond it.
    # Spread between days: s² = (0.02² + 0 + 0.02²) / 2 = 0.0004.
    # Sampling of a day: mean of p(1-p)/1000 = (0.09 + 0.1056 + 0.1204) / 3 / 1000 = 0.00010533.
    # Day-to-day movement beyond sampling: τ² = 0.0004 - 0.00010533 = 0.00029467.
    # Release sampling at the baseline's rate: 0.12 × 0.88 / 1000 = 0.0001056.
    # Variance of the difference: 0.0001056 + 0.00029467 + 0.0004 / 3 = 0.0005336; SD 0.023100.
    # t = 0.03 / 0.023100 = 1.29871; Satterthwaite: estimated part 0.00042800 on 2 degrees of
    # freedom, df = 0.0005336² / (0.000428² / 2) = 3.1087; one-sided p = 0.14099.
    write_requests(tmp_path / "requests.ndjson", {3: 140, 2: 120, 1: 100, 0: 150})
    (result,) = evaluate(
        load(hand_criteria(tmp_path, "{same_hours: 3}")), now=HAND_DEPLOY + timedelta(hours=3)
    ).criteria
    assert result.baseline == pytest.approx(0.12)
    assert result.threshold == pytest.approx(0.132)
    assert result.p_value == pytest.approx(0.14099, abs=5e-5)
    assert result.verdict == Verdict.INCONCLUSIVE  # beyond the limit, but the days move that much
    assert "could be noise" in result.message
    # The same numbers as one pooled window (sampling noise only) would have failed it: the
    # two-proportion z-test gives p = 0.0047 (z = 2.60).


def test_a_missing_day_is_left_out_and_named(tmp_path):
    # Day 2 has no requests at all: the baseline is days 1, 3 and 4 (10%, 10%, 10%).
    write_requests(tmp_path / "requests.ndjson", {4: 100, 3: 100, 1: 100, 0: 100})
    (result,) = evaluate(
        load(hand_criteria(tmp_path, "{same_hours: 4}")), now=HAND_DEPLOY + timedelta(hours=3)
    ).criteria
    assert result.verdict == Verdict.PASS, result.message
    assert "no data in baseline-2d: left out of the baseline" in result.notes[0]
    assert sorted(k for k in result.details if k.startswith("baseline-")) == [
        "baseline-1d",
        "baseline-3d",
        "baseline-4d",
    ]


def test_a_release_window_longer_than_the_period_is_refused(tmp_path):
    path = hand_criteria(tmp_path, "{same_hours: 7}").read_text()
    path_file = tmp_path / "cxe.yml"
    path_file.write_text(path.replace("release: 2h", "release: 25h"))
    with pytest.raises(ConfigError, match=r"a release window of 25h does not fit in one period"):
        load(path_file)
    path_file.write_text(path.replace("{same_hours: 7}", "{same_hours: 2}"))
    result = CliRunner().invoke(main, ["validate", "-c", str(path_file)])
    assert result.exit_code == 2
    assert "greater than or equal to 3" in result.output


def test_evaluate_prints_the_design_it_used(tmp_path):
    write_requests(tmp_path / "requests.ndjson", {3: 100, 2: 100, 1: 100, 0: 100})
    path = hand_criteria(tmp_path, "{same_hours: 3}")
    result = CliRunner().invoke(
        main, ["evaluate", "-c", str(path), "--deployed-at", HAND_DEPLOY.isoformat()]
    )
    assert "design: same hours: the release window against the same clock hours" in result.output
