"""The `cxe-gate` command end to end: exit codes, reports, and clear errors instead of tracebacks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from tiny_logs import DEPLOY, iso

from cxe_gate.cli import main

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
