"""`cxe-gate plan` and `cxe-gate queries` at a checkpoint: the release window of the checkpoint
named (default the first) and only the criteria judged at it; retention's SQL reads the gate
window's cohort at every checkpoint. Numbers worked out by hand in the comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cxe_gate.cli import main
from cxe_gate.loader import load
from cxe_gate.plan import plan

DEPLOY = datetime(2026, 11, 10, 14, tzinfo=UTC)


def write_requests(path: Path) -> None:
    """100 requests an hour over the 24 h before the deploy, every tenth a 500: 10% errors."""
    with path.open("w") as out:
        for i in range(2400):
            moment = DEPLOY - timedelta(hours=24) + timedelta(seconds=i * 36)
            status = 500 if i % 10 == 0 else 200
            out.write(json.dumps({"timestamp": moment.isoformat(), "status": status}) + "\n")


def write_plan_config(directory: Path) -> Path:
    write_requests(directory / "requests.ndjson")
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: '{DEPLOY.isoformat()}'}}\n"
        "windows: {baseline: 24h}\n"
        "checkpoints: {gate: 2h, day1: 24h}\n"
        "providers:\n  api: {type: file, requests: requests.ndjson}\n"
        "criteria:\n"
        "  - {name: errors, metric: error_rate, max_rise: 20%, at: [gate, day1]}\n"
        "  - {name: late errors, metric: error_rate, max: 50%, at: [day1]}\n"
    )
    return path


def test_the_plan_of_each_checkpoint_uses_its_own_release_window(tmp_path: Path):
    path = write_plan_config(tmp_path)
    # r = 100 requests/h, σ² = 0.1 × 0.9 = 0.09, 2,400 baseline requests, z_0.95 + z_0.8 =
    # 2.4864749. gate (2 h): V = 0.09/200 + 0.09/2400 = 0.0004875, detectable = 2.4864749 ×
    # √0.0004875 / 0.1 = 54.90%. day1 (24 h): V = 0.09/2400 + 0.09/2400 = 0.000075, detectable
    # = 2.4864749 × √0.000075 / 0.1 = 21.53%.
    gate = plan(load(path), now=DEPLOY)
    assert [p.name for p in gate] == ["errors"]  # late errors is judged at day1 only
    assert gate[0].detectable == pytest.approx(0.548999, rel=1e-5)
    day1 = plan(load(path), now=DEPLOY, checkpoint="day1")
    assert [p.name for p in day1] == ["errors", "late errors"]
    assert day1[0].detectable == pytest.approx(0.215335, rel=1e-5)

    result = CliRunner().invoke(main, ["plan", "-c", str(path), "--checkpoint", "day1"])
    assert result.exit_code == 0, result.output
    assert "detects a change of 21.5%" in result.output


def test_plan_refuses_a_checkpoint_not_declared(tmp_path: Path):
    result = CliRunner().invoke(
        main, ["plan", "-c", str(write_plan_config(tmp_path)), "--checkpoint", "week1"]
    )
    assert result.exit_code == 2
    assert "--checkpoint week1: not declared under checkpoints (declared: gate, day1)" in (
        result.output
    )
    assert "Traceback" not in result.output


def write_queries_config(directory: Path, deployed_at: str = f"'{DEPLOY.isoformat()}'") -> Path:
    # No database: `queries` writes the SQL without connecting.
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: {deployed_at}}}\n"
        "windows: {baseline: 24h}\n"
        "checkpoints: {gate: 2h, week1: 7d}\n"
        "providers:\n  db: {type: sql, url: 'duckdb:///absent.duckdb', events: logs.events,"
        " requests: logs.requests}\n"
        "criteria:\n"
        "  - {name: errors, metric: error_rate, max: 5%, at: [gate, week1]}\n"
        "  - {name: back, metric: retention, within: 6d, max_drop: 10%, at: [week1]}\n"
    )
    return path


def stamp(moment: datetime) -> str:
    return f"CAST('{moment:%Y-%m-%d %H:%M:%S}.000000+00:00' AS TIMESTAMPTZ)"


def test_queries_are_written_for_the_checkpoint_named(tmp_path: Path):
    path = write_queries_config(tmp_path)
    first = CliRunner().invoke(main, ["queries", "-c", str(path)])
    assert first.exit_code == 0, first.output
    # gate: the release window ends 2 h after the deploy; `back` is judged at week1 only.
    assert f"ts < {stamp(DEPLOY + timedelta(hours=2))}" in first.output
    assert "-- back:" not in first.output

    week1 = CliRunner().invoke(main, ["queries", "-c", str(path), "--checkpoint", "week1"])
    assert week1.exit_code == 0, week1.output
    errors, back = week1.output.split("-- back: all windows", 1)
    # errors over week1's window: the deploy to 7 days after it.
    assert f"ts < {stamp(DEPLOY + timedelta(days=7))}" in errors
    # back: the cohorts are the gate window's new users (14:00-16:00) and the baseline's last
    # 2 hours (12:00-14:00), read up to the follow-up's end and a day: 16:00 + 6 d + 1 d.
    assert f"WHEN ts >= {stamp(DEPLOY - timedelta(hours=2))}" in back
    assert f"AND ts < {stamp(DEPLOY + timedelta(hours=2))}\n        THEN 'release'" in back
    assert f"timestamp < {stamp(DEPLOY + timedelta(days=7, hours=2))}" in back
    assert "INTERVAL '518400' SECONDS" in back  # 6 d = 518,400 s


def test_queries_for_a_deploy_not_made_yet_place_the_checkpoint_from_now(tmp_path: Path):
    path = write_queries_config(tmp_path, deployed_at="null")
    before = datetime.now(UTC)
    result = CliRunner().invoke(main, ["queries", "-c", str(path), "--checkpoint", "week1"])
    assert result.exit_code == 0, result.output
    # The release window of week1 runs from now to now + 7 d; read back its end, to the second.
    ends = [
        datetime.fromisoformat(line.split("CAST('")[1].split("' AS")[0])
        for line in result.output.splitlines()
        if "THEN 'release'" not in line and "AND ts < CAST(" in line
    ]
    assert any(
        before + timedelta(days=7) - timedelta(seconds=1)
        <= end
        <= before + timedelta(days=7, minutes=1)
        for end in ends
    ), result.output


def write_retention_plan_config(directory: Path) -> Path:
    """240 users first seen over the 24 h before the deploy, one every 6 minutes; every other one
    comes back 25 h later (day 1 after first seen): day-1 retention 1/2. A late visitor makes the
    log reach past every baseline user's day 1."""
    with (directory / "events.ndjson").open("w") as out:
        for i in range(240):
            first = DEPLOY - timedelta(hours=24) + timedelta(minutes=6 * i)
            visits = [first, first + timedelta(hours=25)] if i % 2 == 0 else [first]
            for moment in visits:
                row = {"timestamp": moment.isoformat(), "event": "page_view", "user_id": f"u{i}"}
                out.write(json.dumps(row) + "\n")
        late = {"timestamp": (DEPLOY + timedelta(days=2)).isoformat(), "user_id": "late"}
        out.write(json.dumps({**late, "event": "page_view"}) + "\n")
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: '{DEPLOY.isoformat()}'}}\n"
        "windows: {baseline: 24h}\n"
        "checkpoints: {gate: 2h, day3: 3d}\n"
        "providers:\n  logs: {type: file, events: events.ndjson}\n"
        "criteria:\n"
        "  - {name: day-1 return, metric: retention, day: 1, max_drop: 20%, at: [day3]}\n"
    )
    return path


def test_retention_is_planned_on_its_cohort_s_window_not_the_checkpoint_s(tmp_path: Path):
    # At day3 the release cohort is still the users first seen in the gate window (2 h), not in
    # the 72 h of day3's window; the baseline's cohort is 2 h of its window too (12:00-14:00):
    # users 220-239, 20 in 2 h (r = 10 users/h), the even ten came back: σ² = 0.5 × 0.5 = 0.25.
    # V = 0.25/(10 × 2) + 0.25/20 = 0.025; detectable = 2.4864749 × √0.025 / 0.5 = 78.63%.
    # (Over day3's 72 h at 20/24 users/h it would read 0.25/60 + 0.0125 → 64.2%.)
    (day3,) = plan(load(write_retention_plan_config(tmp_path)), now=DEPLOY, checkpoint="day3")
    assert day3.per_hour == pytest.approx(10)
    assert day3.detectable == pytest.approx(0.786304, rel=1e-4)
    assert "at 10 new users/h, the 2.0 h cohort window detects a change of 78.6%" in day3.sentence
