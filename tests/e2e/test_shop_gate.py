"""The whole story on generated data: customers shop through the example shop, the shop writes its
logs, and `cxe-gate evaluate` judges the release. A good release passes; each injected regression
fails the criterion that watches it; tiny traffic is inconclusive."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cxe_gate.cli import main
from examples.shop.simulate import export_parquet, simulate

REPO = Path(__file__).resolve().parents[2]
DEPLOY = datetime(2026, 11, 10, 14, tzinfo=UTC)
SESSIONS_PER_HOUR = 300


@pytest.fixture(scope="module")
def baseline_logs(tmp_path_factory) -> Path:
    """The day before the deploy, on the good release: shared by every scenario."""
    logs = tmp_path_factory.mktemp("baseline") / "logs"
    simulate(
        logs,
        start=DEPLOY - timedelta(hours=24),
        end=DEPLOY,
        sessions_per_hour=SESSIONS_PER_HOUR,
        seed=7,
    )
    return logs


def release(
    tmp_path: Path,
    baseline_logs: Path,
    regressions: tuple[str, ...] = (),
    sessions_per_hour: float = SESSIONS_PER_HOUR,
) -> Path:
    """The baseline day plus two hours after the deploy with `regressions`, exported as Parquet
    beside a copy of the example's criteria file."""
    logs = tmp_path / "logs"
    shutil.copytree(baseline_logs, logs)
    simulate(
        logs,
        start=DEPLOY,
        end=DEPLOY + timedelta(hours=2),
        sessions_per_hour=sessions_per_hour,
        regressions_from=DEPLOY,
        regressions=regressions,
        seed=11,
    )
    export_parquet(logs, tmp_path / "data")
    shutil.copy(REPO / "examples/shop/cxe.yml", tmp_path / "cxe.yml")
    return tmp_path / "cxe.yml"


def evaluate(config: Path) -> tuple[int, dict, str]:
    report_path = config.parent / "report.json"
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "-c",
            str(config),
            "--deployed-at",
            DEPLOY.isoformat(),
            "-o",
            str(report_path),
        ],
    )
    assert "Traceback" not in result.output, result.output
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return result.exit_code, report, result.output


def verdicts(report: dict) -> dict[str, str]:
    return {c["name"]: c["verdict"] for c in report["criteria"]}


@pytest.mark.slow
def test_a_good_release_passes(tmp_path, baseline_logs):
    code, report, output = evaluate(release(tmp_path, baseline_logs))
    assert code == 0, output
    assert report["verdict"] == "pass", output
    assert set(verdicts(report).values()) == {"pass"}, output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("regression", "failing"),
    [
        ("slow_checkout", "checkout latency p95"),
        ("cart_errors", "API error rate"),
        ("broken_payment", "checkout conversion"),
    ],
)
def test_each_regression_fails_the_criterion_that_watches_it(
    tmp_path, baseline_logs, regression, failing
):
    code, report, output = evaluate(release(tmp_path, baseline_logs, (regression,)))
    assert verdicts(report)[failing] == "fail", output
    assert report["verdict"] in ("fail", "warn"), output
    assert code in (0, 1) and (code == 1) == (report["verdict"] == "fail")
    failed = next(c for c in report["criteria"] if c["name"] == failing)
    assert failed["value"] is not None and failed["baseline"] is not None
    assert failed["threshold"] is not None


@pytest.mark.slow
def test_a_broken_payment_step_shows_in_conversion_not_in_errors(tmp_path, baseline_logs):
    _, report, output = evaluate(release(tmp_path, baseline_logs, ("broken_payment",)))
    assert verdicts(report)["API error rate"] == "pass", output
    assert report["verdict"] == "fail"  # checkout conversion is a key criterion


@pytest.mark.slow
def test_tiny_traffic_is_inconclusive(tmp_path, baseline_logs):
    code, report, output = evaluate(
        release(tmp_path, baseline_logs, ("cart_errors",), sessions_per_hour=4)
    )
    assert code == 3, output
    assert report["verdict"] == "inconclusive"
    assert "inconclusive" in verdicts(report).values()
