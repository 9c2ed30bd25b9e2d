"""`cxe-gate plan`: from the baseline's traffic and spread, what the release window can detect and
how long the declared tolerance needs. Numbers worked by hand from the formulas in the comments."""

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


def criteria(directory: Path, rule: str = "max_rise: 20%") -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: '{DEPLOY.isoformat()}'}}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        "providers:\n  api: {type: file, requests: requests.ndjson}\n"
        f"criteria:\n  - {{name: errors, metric: error_rate, {rule}}}\n"
    )
    return path


def test_the_plan_of_a_rate_against_a_day_long_baseline(tmp_path):
    write_requests(tmp_path / "requests.ndjson")
    (errors,) = plan(load(criteria(tmp_path)), now=DEPLOY)
    # r = 100 requests/h, σ² = 0.1 × 0.9 = 0.09, 2,400 baseline requests.
    # V(2 h) = 0.09 / 200 + 0.09 / 2400 = 0.0004875; z_0.95 + z_0.8 = 2.4864749;
    # detectable = 2.4864749 × √0.0004875 / 0.1 = 54.90%.
    assert errors.per_hour == pytest.approx(100)
    assert errors.detectable == pytest.approx(0.548999, rel=1e-5)
    # max_rise 20% of 10% = 0.02: V* = (0.02 / 2.4864749)² = 6.4698e-5;
    # T = (0.09 / 100) / (6.4698e-5 - 0.09 / 2400) = 33.09 h; cohorts 50/50:
    # T = (0.09 / 50 + 0.09 / 50) / 6.4698e-5 = 55.64 h.
    assert errors.wait.total_seconds() / 3600 == pytest.approx(33.0905, rel=1e-4)
    assert errors.cohorts_wait.total_seconds() / 3600 == pytest.approx(55.643, rel=1e-4)
    assert errors.sentence == (
        "errors: at 100 samples/h, the 2.0 h release window detects a change of 54.9% (80% "
        "power, α = 0.05); max_rise 20% needs a release window of about 33.1 h, or cohorts "
        "50/50 for 2.3 days"
    )


def test_a_tolerance_the_baseline_alone_cannot_resolve_says_so(tmp_path):
    write_requests(tmp_path / "requests.ndjson")
    # 1% of 10% = 0.001: V* = (0.001 / 2.4865)² = 1.6e-7, below the baseline's own 3.75e-5.
    (errors,) = plan(load(criteria(tmp_path, "max_rise: 1%")), now=DEPLOY)
    assert errors.wait is None
    assert "cannot be detected at any length with this baseline" in errors.sentence
    assert errors.cohorts_wait is not None  # cohorts have no fixed part: a long wait does it


def test_plan_on_the_command_line(tmp_path):
    write_requests(tmp_path / "requests.ndjson")
    result = CliRunner().invoke(main, ["plan", "-c", str(criteria(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "max_rise 20% needs a release window of about 33.1 h" in result.output
