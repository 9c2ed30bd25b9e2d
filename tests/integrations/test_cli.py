"""The `cxe-gate` command end to end: exit codes, reports, and clear errors instead of tracebacks."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_logs import DEPLOY, iso

from cxe_gate.cli import main
from cxe_gate.cli.gate_commands import _LiveDisplay
from cxe_gate.loader import load
from cxe_gate.polling import wait_for_verdict

CONFIG = """\
release: {{name: v1, deployed_at: {deployed}}}
providers:
  local: {{type: file, events: events.ndjson, requests: requests.ndjson, feedback: feedback.ndjson}}
journeys:
  checkout: [a, b, c]
criteria:
{criteria}
"""
# On the tiny logs: conversion 50% → 33%, error rate 25% → 20%, Apdex 0.375 → 0.7.
PASSING = """\
  - {name: errors, metric: error_rate, max_rise: 10%, min_samples: 1, test: none}
  - {name: apdex, metric: apdex, t: 200ms, max_drop: 10%, min_samples: 1, test: none}
"""
FAILING_KEY = (
    PASSING
    + """\
  - {name: conversion, metric: conversion, journey: checkout, max_drop: 10%, min_samples: 1, test: none, key: true}
"""
)


def run(directory, criteria, *args, deployed=None):
    deployed = deployed or iso(DEPLOY)
    (directory / "cxe.yml").write_text(CONFIG.format(deployed=deployed, criteria=criteria))
    return CliRunner().invoke(main, ["evaluate", "-c", str(directory / "cxe.yml"), *args])


def test_a_passing_release_exits_0_and_explains_each_criterion(shop_files):
    result = run(shop_files, PASSING)
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output
    assert "errors fell 20.0% (25.0% → 20.0%) on 5 requests" in result.output


def test_a_failed_key_criterion_exits_1(shop_files):
    result = run(shop_files, FAILING_KEY)
    assert result.exit_code == 1, result.output
    assert "key criterion failed: conversion" in result.output


def test_warn_exits_0_unless_fail_on_warn(shop_files):
    warned = PASSING + (
        "  - {name: conversion, metric: conversion, journey: checkout, max_drop: 10%,"
        " min_samples: 1, test: none, severity: warn}\n"
    )
    assert run(shop_files, warned).exit_code == 0
    assert run(shop_files, warned, "--fail-on", "warn").exit_code == 1


def test_tiny_traffic_is_inconclusive_exit_3(shop_files):
    # the default min_samples (100) is far above the tiny logs' traffic
    result = run(shop_files, "  - {name: errors, metric: error_rate, max_rise: 10%}\n")
    assert result.exit_code == 3, result.output
    assert "too few to judge" in result.output


def test_unreadable_data_exits_4(shop_files):
    (shop_files / "requests.ndjson").write_text("not json at all\n")
    result = run(shop_files, PASSING)
    assert result.exit_code == 4, result.output
    assert "requests.ndjson" in result.output
    assert "Traceback" not in result.output


def test_dry_run_reports_the_verdict_but_exits_0(shop_files):
    result = run(shop_files, FAILING_KEY, "--dry-run")
    assert result.exit_code == 0
    assert "FAIL" in result.output and "dry run" in result.output


def test_reports_by_extension(shop_files):
    out = shop_files / "out"
    result = run(
        shop_files,
        FAILING_KEY,
        "-o",
        str(out / "r.json"),
        "-o",
        str(out / "r.md"),
        "-o",
        str(out / "r.html"),
        "-o",
        str(out / "junit.xml"),
    )
    assert result.exit_code == 1, result.output
    report = json.loads((out / "r.json").read_text())
    assert report["schema_version"] == "1.0"
    assert report["verdict"] == "fail"
    assert [c["name"] for c in report["criteria"]] == ["errors", "apdex", "conversion"]
    conversion = report["criteria"][2]
    assert conversion["value"] == pytest.approx(1 / 3)
    assert conversion["baseline"] == 0.5
    assert conversion["threshold"] == pytest.approx(0.45)
    assert conversion["samples"] == 3 and conversion["p_value"] is None
    assert "conversion" in (out / "r.md").read_text()
    assert "<svg" in (out / "r.html").read_text()
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.find(".//testcase[@name='conversion']/failure") is not None


def test_unknown_report_format_is_a_usage_error_before_any_work(shop_files):
    result = run(shop_files, PASSING, "-o", "report.pdf")
    assert result.exit_code == 2
    assert "unknown report format '.pdf'" in result.output


def test_config_errors_exit_2_with_every_problem_and_no_traceback(shop_files):
    result = run(shop_files, "  - {name: errors, metric: error_rate, maks: 1%, provider: nope}\n")
    assert result.exit_code == 2
    assert "cxe.yml:7: criteria[0].maks: unknown key 'maks'; did you mean 'max'?" in result.output
    assert "Traceback" not in result.output


def test_overrides_from_the_command_line(shop_files):
    result = run(shop_files, PASSING, "--release", "v9", "--deployed-at", iso(DEPLOY))
    assert "release v9 deployed 2026-11-10 14:00 UTC" in result.output
    result = run(shop_files, PASSING, "--deployed-at", "soon")
    assert result.exit_code == 2
    assert "--deployed-at: expected an ISO 8601 time" in result.output


def test_validate_and_schema(shop_files):
    (shop_files / "cxe.yml").write_text(CONFIG.format(deployed=iso(DEPLOY), criteria=PASSING))
    runner = CliRunner()
    result = runner.invoke(main, ["validate", "-c", str(shop_files / "cxe.yml")])
    assert result.exit_code == 0
    assert "valid (2 criteria, 1 providers, 1 journeys)" in result.output
    result = runner.invoke(main, ["validate", "-c", str(shop_files / "missing.yml")])
    assert result.exit_code == 2 and "no such criteria file" in result.output
    schema = json.loads(runner.invoke(main, ["schema"]).output)
    assert schema["title"] == "cxe-gate success criteria"


# --- evaluate --wait -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "5m"], "--interval: needs --wait"),
        (["--wait", "5m", "--interval", "10m"], "--interval: must not be longer than --wait"),
        (["--wait", "soon"], "expected a duration such as 500ms, 30m, 2h"),
        (["--wait", "0s"], "must be longer than zero"),
        (["--wait", "2h", "--interval", "-5m"], "must be longer than zero"),
    ],
)
def test_wait_and_interval_are_checked_before_any_work(shop_files, args, message):
    result = run(shop_files, PASSING, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and "poll 1" not in result.output


SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "cxe.yml"


def test_wait_stops_at_the_first_poll_that_settles_a_regression(tmp_path):
    # shop-1.5.0's window closed long ago: the first poll has all of it, and its regressions settle
    # the verdict at once, so a two-hour wait ends without sleeping.
    report_path = tmp_path / "report.json"
    args = ["evaluate", "-c", str(SHOP), "--release", "shop-1.5.0"]
    args += ["--deployed-at", "2026-11-17T14:00:00Z", "--wait", "2h", "--interval", "5m"]
    result = CliRunner().invoke(main, [*args, "-o", str(report_path), "-o", str(tmp_path / "r.md")])
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("poll ")]
    assert line.startswith("poll 1 at ")
    assert line.endswith("; stopped: the release fails whatever the undecided criteria still show")
    assert "release window read to 2026-11-17 16:00 UTC" in line
    report = json.loads(report_path.read_text())
    assert report["verdict"] == "fail"
    assert report["wait"]["wait"] == "2h" and report["wait"]["stopped"] == "regression"
    assert len(report["polls"]) == 1
    assert {c["name"] for c in report["polls"][0]["criteria"]} == {
        c["name"] for c in report["criteria"]
    }
    assert "Waited 0s of up to 2h, polling every 5m: 1 poll" in result.stdout
    assert "### Polls" in (tmp_path / "r.md").read_text()


def test_wait_on_a_closed_release_window_looks_once_and_never_passes_for_lack_of_data(shop_files):
    # The release window closed long ago: no more data will come, so the gate takes one look at
    # all of it (the fixed way) instead of waiting. The tiny logs stay far below min_samples
    # (100): inconclusive, never a pass.
    out = shop_files / "r.json"
    result = run(
        shop_files,
        "  - {name: errors, metric: error_rate, max_rise: 10%}\n",
        "--wait",
        "600ms",
        "--interval",
        "200ms",
        "-o",
        str(out),
    )
    assert result.exit_code == 3, result.output
    report = json.loads(out.read_text())
    assert report["verdict"] == "inconclusive"
    assert report["wait"] == {
        **report["wait"],
        "wait": "600ms",
        "interval": "200ms",
        "stopped": "window_closed",
    }
    assert len(report["polls"]) == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("poll ")]
    assert len(lines) == 1 and "1 undecided (errors)" in lines[0]


def test_on_a_terminal_the_live_table_is_redrawn_in_place(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")  # no line wraps: each takes one row
    loaded = load(SHOP, release="shop-1.6.0", deployed_at="2026-11-17T16:00:00Z")  # no data yet
    now = [datetime(2026, 11, 17, 16, 5, tzinfo=UTC)]

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    report = wait_for_verdict(
        loaded,
        wait=timedelta(minutes=10),
        interval=timedelta(minutes=5),
        clock=lambda: now[0],
        sleep=sleep,
        on_poll=_LiveDisplay(tty=True, colour=False),
    )
    err = capsys.readouterr().err
    assert len(report.polls) == 3
    # A header and six criteria: each redraw goes back seven rows and clears below.
    assert err.count("\x1b[7F\x1b[J") == 2 and err.count("\x1b[") == 4
    last = err.rsplit("\x1b[J", 1)[1].splitlines()
    assert last[0].startswith("poll 3 at 2026-11-17 16:15 UTC")
    assert re.match(
        r"  undecided\s+checkout conversion\s+no data \(baseline 23.9%\)\s+n=0", last[1]
    )
    assert last[-1].startswith(
        "Waited 10m of up to 10m, polling every 5m: 3 polls; stopped because"
    )
