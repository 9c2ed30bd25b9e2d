"""Checkpoints of a release's life: each judges its own release window and the criteria `at` it;
a checkpoint not yet reached is refused with the time it will be; a same-hours baseline is
lag-matched to the checkpoint so that it never reads days the release was live on.

Real data paths: a request log on disk read by the `file` provider; every value below is worked
out by hand from the rows tests/release_life.py writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from release_life import CHECKPOINTS, DEPLOY, write_life

from cxe_gate.baseline import windows_for
from cxe_gate.cli import main
from cxe_gate.config import GateConfig
from cxe_gate.errors import ConfigError
from cxe_gate.gate import at_checkpoint, evaluate
from cxe_gate.loader import load
from cxe_gate.polling import wait_for_verdict
from cxe_gate.results import Verdict

AFTER_A_WEEK = DEPLOY + timedelta(days=8)


def test_each_checkpoint_judges_its_own_window_and_its_own_criteria(tmp_path: Path):
    loaded = load(write_life(tmp_path))
    gate = evaluate(at_checkpoint(loaded, "gate"), now=AFTER_A_WEEK)
    day1 = evaluate(at_checkpoint(loaded, "day1"), now=AFTER_A_WEEK)
    week1 = evaluate(at_checkpoint(loaded, "week1"), now=AFTER_A_WEEK)

    # gate: 0–2 h, only `errors` (slow is at day1 only): 0 errors of 40 requests.
    assert [c.name for c in gate.criteria] == ["errors"]
    assert (gate.criteria[0].value, gate.criteria[0].samples) == (0.0, 40)
    assert gate.windows["release"].end == DEPLOY + timedelta(hours=2)
    assert gate.verdict == Verdict.PASS
    # day1: 0–24 h, 80 requests, no error; p95 of 40 × 100 ms and 40 × 1000 ms is 1000 ms, above
    # 800 ms: a breach of a warn criterion (a percentile has no test), so the release warns.
    assert [c.name for c in day1.criteria] == ["errors", "slow"]
    assert (day1.criteria[0].value, day1.criteria[0].samples) == (0.0, 80)
    assert day1.criteria[1].value == pytest.approx(1000)
    assert day1.verdict == Verdict.WARN
    # week1: its own 24 h window, 6–7 d: 20 errors of 40 = 50% (the whole week would give
    # 60 of 160 = 37.5%); P(X ≥ 20 | n = 40, p = 10%) is about 1e-8, far below alpha: fail.
    assert week1.windows["release"].start == DEPLOY + timedelta(days=6)
    assert week1.windows["release"].end == DEPLOY + timedelta(days=7)
    assert (week1.criteria[0].value, week1.criteria[0].samples) == (0.5, 40)
    assert week1.verdict == Verdict.FAIL
    # The baseline stays where it is written: the 24 hours before the deploy, for every checkpoint.
    for report in (gate, day1, week1):
        assert report.windows["baseline"].start == DEPLOY - timedelta(hours=24)
        assert report.windows["baseline"].end == DEPLOY


def test_the_report_names_its_checkpoint_and_the_file_it_was_judged_by(tmp_path: Path):
    loaded = load(write_life(tmp_path))
    day1 = evaluate(at_checkpoint(loaded, "day1"), now=AFTER_A_WEEK)
    week1 = evaluate(at_checkpoint(loaded, "week1"), now=AFTER_A_WEEK)
    assert day1.checkpoint is not None and week1.checkpoint is not None
    assert (day1.checkpoint.name, day1.checkpoint.after) == ("day1", "1d")
    assert day1.checkpoint.reached_at == DEPLOY + timedelta(days=1)
    assert week1.checkpoint.checkpoints == {"gate": "2h", "day1": "1d", "week1": "1w"}
    assert day1.checkpoint.config_digest == week1.checkpoint.config_digest
    # Another deploy time (another release) keeps the digest; another threshold changes it.
    other_release = load(tmp_path / "cxe.yml", deployed_at="2026-10-20T10:00:00Z")
    assert (
        evaluate(at_checkpoint(other_release, "gate"), now=AFTER_A_WEEK).checkpoint.config_digest  # type: ignore[union-attr]
        == day1.checkpoint.config_digest
    )
    path = tmp_path / "cxe.yml"
    path.write_text(path.read_text().replace("max: 10%", "max: 12%"))
    changed = evaluate(at_checkpoint(load(path), "gate"), now=AFTER_A_WEEK)
    assert changed.checkpoint is not None
    assert changed.checkpoint.config_digest != day1.checkpoint.config_digest


def test_without_a_checkpoint_named_the_first_is_judged(tmp_path: Path):
    report = evaluate(load(write_life(tmp_path)), now=AFTER_A_WEEK)
    assert report.checkpoint is not None and report.checkpoint.name == "gate"
    assert report.windows["release"].end == DEPLOY + timedelta(hours=2)


def test_a_file_without_checkpoints_is_judged_as_before(tmp_path: Path):
    path = write_life(tmp_path)
    text = path.read_text().replace(CHECKPOINTS, "").replace(", at: [gate, day1, week1]", "")
    path.write_text(text.replace(", at: [day1]", "").replace("{baseline: 24h}", "{release: 2h}"))
    report = evaluate(load(path), now=AFTER_A_WEEK)
    assert report.checkpoint is None
    assert [c.name for c in report.criteria] == ["errors", "slow"]
    assert report.windows["release"].end == DEPLOY + timedelta(hours=2)
    with pytest.raises(ConfigError, match="declares no checkpoints"):
        at_checkpoint(load(path), "day1")


def test_the_cli_judges_a_named_checkpoint_and_writes_it_in_the_report(tmp_path: Path):
    path = write_life(tmp_path)
    out = tmp_path / "week1.json"
    result = CliRunner().invoke(
        main, ["evaluate", "-c", str(path), "--checkpoint", "week1", "-o", str(out), "--no-notify"]
    )
    assert result.exit_code == 1, result.output  # fail
    written = json.loads(out.read_text())
    assert written["checkpoint"]["name"] == "week1"
    assert written["verdict"] == "fail"


def test_a_checkpoint_not_yet_reached_is_refused_with_the_time_it_will_be(tmp_path: Path):
    deploy = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    path = write_life(tmp_path, deploy)
    result = CliRunner().invoke(
        main, ["evaluate", "-c", str(path), "--checkpoint", "week1", "--no-notify"]
    )
    assert result.exit_code == 2, result.output
    reached = (deploy + timedelta(days=7)).isoformat()
    assert f"checkpoint week1 (1w after the deploy) is reached at {reached};" in result.output
    # The day1 checkpoint has been reached: it is judged.
    result = CliRunner().invoke(
        main, ["evaluate", "-c", str(path), "--checkpoint", "day1", "--no-notify"]
    )
    assert result.exit_code == 0, result.output  # warn


def test_an_unknown_checkpoint_is_a_usage_error(tmp_path: Path):
    result = CliRunner().invoke(
        main, ["evaluate", "-c", str(write_life(tmp_path)), "--checkpoint", "month1"]
    )
    assert result.exit_code == 2
    assert "--checkpoint month1: not declared under checkpoints (declared: gate, day1, week1)" in (
        result.output
    )


# --- the file's checks ---------------------------------------------------------------------------


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(path)
    return caught.value.problems


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("at: [day1]", "at: [day7]"),
            "cxe.yml:8: criteria[1].at: checkpoint 'day7' is not declared under checkpoints "
            "(declared: gate, day1, week1)",
        ),
        (
            ("at: [day1]", "at: []"),
            "cxe.yml:8: criteria[1].at: name at least one checkpoint (declared: gate, day1, week1)",
        ),
        (
            ("{baseline: 24h}", "{baseline: 24h, release: 2h}"),
            "cxe.yml:2: windows.release: with checkpoints, each checkpoint sets its own release "
            "window; remove windows.release",
        ),
        (
            ("day1: 24h, week1", "day1: 24h, early: 1h, week1"),
            "cxe.yml:3: checkpoints.early: checkpoints are written earliest first: early (1h) "
            "comes after day1 (1d)",
        ),
        (
            ("{baseline: 24h}", "{baseline: {start: 3h, end: 4h}}"),
            "cxe.yml:3: checkpoints.day1: the baseline window overlaps this checkpoint's release "
            "window",
        ),
    ],
)
def test_checkpoint_mistakes_are_named_at_their_line(tmp_path: Path, change, expected):
    path = write_life(tmp_path)
    path.write_text(path.read_text().replace(*change))
    found = problems_of(path)
    assert any(p.startswith(f"{tmp_path}/{expected}") for p in found), found


def test_at_without_checkpoints_is_refused(tmp_path: Path):
    path = write_life(tmp_path)
    path.write_text(path.read_text().replace(CHECKPOINTS, ""))
    found = problems_of(path)
    assert f"{path}:6: criteria[0].at: at names checkpoints: declare them under checkpoints:" in (
        found
    )


def test_a_checkpoint_window_longer_than_its_after_is_refused(tmp_path: Path):
    path = write_life(tmp_path)
    path.write_text(path.read_text().replace("{after: 7d, window: 24h}", "{after: 7d, window: 8d}"))
    assert any("no longer than after (1w)" in p for p in problems_of(path))


# --- same-hours baselines, lag-matched -----------------------------------------------------------


def same_hours_config(checkpoints: str) -> GateConfig:
    return GateConfig.model_validate(
        {
            "windows": {"baseline": {"same_hours": 3}},
            "checkpoints": json.loads(checkpoints),
            "providers": {"api": {"type": "file"}},
            "criteria": [{"name": "errors", "metric": "error_rate", "max_rise": "10%"}],
        }
    )


def test_a_same_hours_baseline_mirrors_a_late_checkpoint_before_the_deploy():
    config = same_hours_config('{"gate": "2h", "week1": {"after": "7d", "window": "24h"}}')
    week1 = config.windows.model_copy(update={"release": config.checkpoints["week1"].release})
    parts = windows_for(week1, DEPLOY, DEPLOY + timedelta(days=7))
    # The release window is 6–7 d after the deploy; mirrored 1 day back it would be 5–6 d, when
    # the release was live. The nearest periods before the deploy are 7, 8 and 9 days back:
    # -1 d..0, -2 d..-1 d, -3 d..-2 d, the same clock hours (14:00 to 14:00).
    assert [(w.label, w.start, w.end) for w in parts[:-1]] == [
        ("baseline-7d", DEPLOY - timedelta(days=1), DEPLOY),
        ("baseline-8d", DEPLOY - timedelta(days=2), DEPLOY - timedelta(days=1)),
        ("baseline-9d", DEPLOY - timedelta(days=3), DEPLOY - timedelta(days=2)),
    ]
    gate = config.windows.model_copy(update={"release": config.checkpoints["gate"].release})
    parts = windows_for(gate, DEPLOY, DEPLOY + timedelta(hours=2))
    # The first checkpoint is mirrored as before: 1, 2 and 3 days back.
    assert [w.start for w in parts[:-1]] == [DEPLOY - timedelta(days=k) for k in (1, 2, 3)]


def test_a_checkpoint_longer_than_a_same_hours_period_is_refused(tmp_path: Path):
    path = write_life(tmp_path)
    text = path.read_text().replace("{baseline: 24h}", "{baseline: {same_hours: 3}}")
    path.write_text(text.replace("{after: 7d, window: 24h}", "7d"))
    assert any(
        "checkpoints.week1: a release window of 1w does not fit in one period of the same-hours "
        "baseline (every: 1d); give the checkpoint a window of its own, e.g. {after: 1w, "
        "window: 1d}" in p
        for p in problems_of(path)
    )


def test_a_wait_polls_the_named_checkpoint_s_window(tmp_path: Path):
    # Five minutes after day1 is reached its window (0–24 h) has closed: the wait takes one look,
    # the fixed way, and reports the checkpoint (p95 1000 ms above 800 ms: warn).
    moment = DEPLOY + timedelta(days=1, minutes=5)
    report = wait_for_verdict(
        at_checkpoint(load(write_life(tmp_path)), "day1"),
        wait=timedelta(hours=1),
        interval=timedelta(minutes=5),
        clock=lambda: moment,
        sleep=lambda seconds: None,
    )
    assert report.checkpoint is not None and report.checkpoint.name == "day1"
    assert report.windows["release"].end == DEPLOY + timedelta(days=1)
    assert [c.name for c in report.criteria] == ["errors", "slow"]
    assert (len(report.polls), report.verdict) == (1, Verdict.WARN)


def test_a_wait_that_ends_before_the_checkpoint_is_refused(tmp_path: Path):
    deploy = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=20)
    path = write_life(tmp_path, deploy)
    # day1 is reached 4 hours from now: a 1-hour wait cannot reach it.
    result = CliRunner().invoke(
        main, ["evaluate", "-c", str(path), "--checkpoint", "day1", "--wait", "1h"]
    )
    assert result.exit_code == 2, result.output
    reached = (deploy + timedelta(days=1)).isoformat()
    assert f"checkpoint day1 (1d after the deploy) is reached at {reached};" in result.output
