"""The pytest plugin end to end, through pytest's own `pytester`, on the example shop's data: the gate
as test items, its summary, its errors, xdist, the `cxe_gate` fixture and journey tests."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import scipy.special  # noqa: F401 - see below
from click.testing import CliRunner

import cxe_gate.providers.file  # noqa: F401 - see below
from cxe_gate.cli import main

# In-process runs forget the modules first imported during them, and numpy (under scipy) cannot be
# imported twice in one process: what the gate imports lazily is imported here, before any run.

pytest_plugins = ["pytester"]

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"
GATE = ("--cxe-config", "cxe.yml")
REGRESSED = ("--cxe-release", "shop-1.5.0", "--cxe-deployed-at", "2026-11-17T14:00:00Z")
JOURNEYS = """
  - name: journeys pass rate
    metric: journeys_pass_rate
    min: 90%
"""


@pytest.fixture(autouse=True)
def _one_soft_assertion_scope(monkeypatch):
    """pytest-playwright wraps every test in a process-wide soft-assertion scope, and Playwright
    refuses a second one: the in-process runs below would open it again for their own tests."""
    try:
        import pytest_playwright.pytest_playwright as playwright_plugin
    except ImportError:  # the browser extra is not installed: nothing to step around
        return
    monkeypatch.setattr(playwright_plugin, "_soft_scope", None)


def write_gate(pytester: pytest.Pytester, *, edits: dict[str, str] | None = None, more: str = ""):
    """The example shop's criteria file in the pytester directory, reading the shop's data."""
    text = (SHOP / "cxe.yml").read_text().replace(" data/", f" {SHOP / 'data'}/")
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    (pytester.path / "cxe.yml").write_text(text + more)


@pytest.fixture
def shop(pytester: pytest.Pytester) -> pytest.Pytester:
    write_gate(pytester)
    return pytester


def summary_of(result: pytest.RunResult) -> list[str]:
    """The gate's section of the terminal summary."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "cxe-gate: release" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    return lines[start:end]


def test_a_good_release_passes_every_criterion_and_ends_with_the_summary(shop):
    result = shop.runpytest(*GATE, "-v")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["cxe.yml::checkout conversion PASSED*", "cxe.yml::NPS PASSED*"])
    assert summary_of(result) == [
        "========== cxe-gate: release shop-1.4.0 deployed 2026-11-10 14:00 UTC ==========",
        "PASS         checkout conversion   25.4% (baseline 25.6%)  n=1,089  [key]",
        "PASS         API error rate        0% (baseline 0%)  n=3,233  [key]",
        "PASS         checkout latency p95  459 ms (baseline 402 ms)  n=653",
        "PASS         Apdex                 0.997 (baseline 0.998)  n=7,831",
        "PASS         wishlist adoption     9.2% (baseline 8.9%)  n=1,207",
        "PASS         NPS                   53.8 (baseline 59.3)  n=52",
        "PASS         score 100: every criterion passed",
    ]


def test_a_regressed_release_fails_the_criteria_that_regressed_in_one_line(shop):
    result = shop.runpytest(*GATE, *REGRESSED)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, failed=3, warnings=1)
    failures = {r.nodeid: r.longreprtext for r in result.reprec.getfailures()}
    assert set(failures) == {
        "cxe.yml::checkout conversion",
        "cxe.yml::API error rate",
        "cxe.yml::checkout latency p95",
    }
    assert failures["cxe.yml::checkout conversion"] == (
        "value 14.4%, baseline 25.2%, threshold 22.7%, samples 928, p-value < 0.001: "
        "14.4% is below 22.7%, the allowed drop of 10%, p < 0.001"
    )
    assert failures["cxe.yml::checkout latency p95"] == (
        "value 1,562 ms, baseline 405 ms, threshold 1,500 ms, samples 506, p-value none: "
        "1,562 ms is above the maximum 1,500 ms"
    )
    assert all("\n" not in text for text in failures.values())
    # NPS is warn-only and undecided: as in the gate, it warns instead of blocking.
    result.stdout.fnmatch_lines(
        ["*CxeGateWarning: inconclusive: value 15.0, baseline 46.8,*too few to judge*"]
    )
    assert summary_of(result)[-1] == (
        "FAIL         score 22.2: key criterion failed: checkout conversion, API error rate"
    )


def test_k_x_and_node_ids_choose_criteria_like_tests(shop):
    chosen = shop.runpytest(*GATE, *REGRESSED, "-k", "Apdex or latency")
    chosen.assert_outcomes(passed=1, failed=1, deselected=4)
    # A deselected criterion does not fail the run; the summary still gives the gate's verdict.
    only_apdex = shop.runpytest(*GATE, *REGRESSED, "-k", "Apdex")
    assert only_apdex.ret == pytest.ExitCode.OK
    assert summary_of(only_apdex)[-1].startswith("FAIL         score 22.2")
    shop.runpytest(*GATE, *REGRESSED, "-x").assert_outcomes(failed=1)
    shop.runpytest("cxe.yml::NPS", *GATE).assert_outcomes(passed=1)


def test_each_item_records_its_figures_as_junit_properties(shop):
    shop.runpytest(*GATE, *REGRESSED, "--junitxml=junit.xml")
    case = ET.parse(shop.path / "junit.xml").find(".//testcase[@name='checkout conversion']")
    assert case is not None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["verdict"] == "fail"
    assert float(properties["value"]) == pytest.approx(0.144, abs=5e-4)
    assert float(properties["baseline"]) == pytest.approx(0.252, abs=5e-4)
    assert float(properties["threshold"]) == pytest.approx(0.227, abs=5e-4)
    assert properties["samples"] == "928"
    assert float(properties["p_value"]) < 0.001
    assert case.find("failure").get("message").endswith("the allowed drop of 10%, p < 0.001")


@pytest.mark.parametrize(
    ("edits", "args", "expected"),
    [
        (
            {"    max: 1%\n": "    maks: 1%\n"},
            (),
            [
                "ERROR: cxe-gate: invalid criteria file:",
                "*cxe.yml:45: criteria[[]1[]].maks: unknown key 'maks'; did you mean 'max'?",
            ],
        ),
        ({}, ("--cxe-deployed-at", "soon"), ["ERROR: cxe-gate: --deployed-at: expected an ISO*"]),
        ({}, ("--cxe-deployed-at", "2999-01-01T00:00:00Z"), ["ERROR: cxe-gate: *is in the future"]),
    ],
    ids=["unknown key", "bad deploy time", "future deploy time"],
)
def test_a_config_error_is_a_usage_error_not_an_internal_error(pytester, edits, args, expected):
    write_gate(pytester, edits=edits)
    result = pytester.runpytest(*GATE, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(expected)
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output and "Traceback" not in output


def test_a_missing_criteria_file_is_a_usage_error(pytester):
    result = pytester.runpytest("--cxe-config", "nowhere.yml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: cxe-gate: */nowhere.yml: no such criteria file"])


OUTAGE = """
from cxe_gate.errors import ProviderError
from cxe_gate.providers import Provider, register


class StatusPage(Provider):
    def measure(self, request, windows):
        raise ProviderError("HTTP 503 from the status API", provider=self.context.name)


register("status_page_test_outage", StatusPage)
"""


@pytest.fixture
def outage(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(OUTAGE)
    data = SHOP / "data"
    (pytester.path / "cxe.yml").write_text(
        f"""\
release: {{name: shop-1.4.0, deployed_at: 2026-11-10T14:00:00Z}}
providers:
  shop: {{type: file, requests: {data}/requests.parquet}}
  status: {{type: status_page_test_outage}}
criteria:
  - {{name: Apdex, provider: shop, metric: apdex, t: 500ms, min: 0.85}}
  - {{name: uptime, provider: status, metric: custom, query: up, min: 0.999}}
"""
    )
    return pytester


def test_a_provider_outage_is_an_error_item_never_a_pass(outage):
    result = outage.runpytest(*GATE)
    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["ERROR cxe.yml::uptime - Failed: provider 'status': HTTP 503 from the status API"]
    )
    # Only one of two criteria was decided: no score stands for the release.
    assert summary_of(result)[-1] == (
        "ERROR        score n/a (1 of 2 criteria decided): could not read the data for: uptime"
    )


def test_inconclusive_items_fail_by_default_or_skip(pytester):
    write_gate(pytester, edits={"    t: 500ms\n": "    t: 500ms\n    min_samples: 100000\n"})
    failed = pytester.runpytest(*GATE, "-k", "Apdex")
    failed.assert_outcomes(failed=1, deselected=5)
    failed.stdout.fnmatch_lines(
        ["*inconclusive: value 0.997,*too few to judge (min_samples 100,000)"]
    )
    skipped = pytester.runpytest(*GATE, "-k", "Apdex", "--cxe-inconclusive=skip", "-rs")
    skipped.assert_outcomes(skipped=1, deselected=5)
    assert skipped.ret == pytest.ExitCode.OK
    skipped.stdout.fnmatch_lines(["SKIPPED [[]1[]] cxe.yml:*: inconclusive: value 0.997,*"])


def test_a_warn_criterion_passes_with_a_warning(pytester):
    write_gate(pytester, edits={"    max: 1500ms\n": "    max: 1500ms\n    severity: warn\n"})
    result = pytester.runpytest(*GATE, *REGRESSED, "-k", "latency")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "cxe.yml::checkout latency p95",
            "  *cxe.yml:*: CxeGateWarning: warn: value 1,562 ms, baseline 405 ms, threshold "
            "1,500 ms, samples 506, p-value none: 1,562 ms is above the maximum 1,500 ms",
        ]
    )


def test_the_verdict_fails_the_run_even_when_no_item_failed(pytester):
    # Every regression only warns, but seven of nine weighted points warn: score 61 < warn_score 75.
    write_gate(
        pytester,
        edits={
            "    key: true\n": "    severity: warn\n",
            "    max: 1500ms\n": "    max: 1500ms\n    severity: warn\n",
            "  policy: any_fail": "  policy: score",
        },
    )
    result = pytester.runpytest(*GATE, *REGRESSED)
    result.assert_outcomes(passed=6, warnings=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert summary_of(result)[-2:] == [
        "FAIL         score 61.1: score 61.1 is below warn_score 75 (warned: checkout "
        "conversion, API error rate, checkout latency p95)",
        "the gate's verdict (fail) fails this run",
    ]


UNRELATED = """
import pytest

@pytest.fixture
def number():
    return 3

def test_passes(number):
    assert number == 3

def test_fails():
    assert 1 == 2

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known")
def test_xfails():
    assert False

@pytest.mark.parametrize("n", [1, 2])
def test_parametrized(n):
    print("output", n)
"""


def test_an_unrelated_suite_runs_unchanged_with_the_plugin_installed(pytester):
    pytester.makepyfile(test_unrelated=UNRELATED)
    pytester.makefile(".yml", cxe="not: [a criteria file")  # a cxe.yml nobody asked for

    def run(*args: str) -> tuple[int, dict[str, int], list[str]]:
        result = pytester.runpytest("-rA", "-p", "no:cacheprovider", *args)
        lines = result.outlines[
            next(i for i, x in enumerate(result.outlines) if "collected" in x) :
        ]
        return result.ret, result.parseoutcomes(), [re.sub(r" in [\d.]+s", "", x) for x in lines]

    with_plugin, without = run(), run("-p", "no:cxe_gate")
    assert with_plugin == without
    assert with_plugin[1] == {"passed": 3, "failed": 1, "skipped": 1, "xfailed": 1}


def test_xdist_gives_the_same_results_and_one_summary(shop):
    write_gate(shop, more=JOURNEYS)
    shop.makepyfile(test_journeys=JOURNEY_SUITE, test_refunds=CODED_CRITERIA)
    args = (*GATE, *REGRESSED, "--cxe-journeys", "test_journeys.py", "-p", "no:cacheprovider")
    serial = shop.runpytest(*args)
    parallel = shop.runpytest_subprocess(*args, "-n", "2")
    assert parallel.parseoutcomes() == serial.parseoutcomes()
    assert parallel.ret == serial.ret == pytest.ExitCode.TESTS_FAILED
    assert parallel.stdout.str().count("cxe-gate: release") == 1
    assert summary_of(parallel) == summary_of(serial)
    assert any(line.startswith("FAIL         journeys pass rate") for line in summary_of(parallel))


CODED_CRITERIA = """
import pytest

@pytest.mark.cxe(weight=2)
def test_api_errors_stay_low(cxe_gate):
    errors = cxe_gate.metric("error_rate", filter="path LIKE '/api/%'")
    assert errors.release.samples > 1000
    assert errors.release.value < 0.01, f"API error rate {errors.release.value:.2%}"

@pytest.mark.cxe("conversion holds within a point", severity="warn")
def test_conversion_holds(cxe_gate):
    conversion = cxe_gate.metric("checkout conversion")
    assert conversion.change > -0.01, f"conversion changed {conversion.change:.1%}"

def test_the_gate_as_data(cxe_gate):
    assert cxe_gate.config.release.name == "shop-1.5.0"
    assert cxe_gate.windows["release"].start.isoformat() == "2026-11-17T14:00:00+00:00"
    assert cxe_gate.result("Apdex").verdict == "pass"
    apdex = cxe_gate.metric("Apdex", t="250ms")
    assert apdex.release.value < cxe_gate.result("Apdex").value
    assert type(cxe_gate.provider()).__name__ == "FileProvider"
"""


def test_the_cxe_gate_fixture_and_marker_make_coded_criteria(shop):
    shop.makepyfile(test_refunds=CODED_CRITERIA)
    result = shop.runpytest(*GATE, *REGRESSED, "-k", "not cxe_gate")
    result.assert_outcomes(passed=2, failed=1, deselected=6, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*CxeGateWarning: conversion holds within a point: AssertionError: conversion changed "
            "-42.7% (severity warn)",
            "FAILED test_refunds.py::test_api_errors_stay_low - AssertionError: API error*",
        ]
    )
    summary = summary_of(result)
    assert "FAIL         test_api_errors_stay_low" in "\n".join(summary)
    assert "WARN         conversion holds within a point" in "\n".join(summary)
    # Weighted in with the criteria: (2 passed + ½ warn) / (9 + 2 + 1).
    assert summary[-1].startswith("FAIL         score 20.8")


def test_the_fixture_skips_without_a_criteria_file_and_a_bad_mark_errors(pytester):
    pytester.makepyfile(
        test_marks="""
        import pytest

        def test_needs_the_gate(cxe_gate):
            pass

        @pytest.mark.cxe(severity="maybe")
        def test_bad_mark():
            pass
        """
    )
    pytester.runpytest("-rs").stdout.fnmatch_lines(["SKIPPED*cxe_gate needs a criteria file*"])
    write_gate(pytester)
    result = pytester.runpytest(*GATE, "-k", "bad_mark")
    result.assert_outcomes(errors=1, deselected=7)
    result.stdout.fnmatch_lines(["*severity must be 'fail' or 'warn', got 'maybe'"])


JOURNEY_SUITE = """
import pytest

@pytest.mark.parametrize("journey", range(9))
def test_seeded_journey(journey):
    assert journey != 3, "payment step broken"
"""


def test_journeys_pass_rate_is_judged_after_the_journey_tests(pytester):
    write_gate(pytester, more=JOURNEYS)
    pytester.makepyfile(
        test_journeys=JOURNEY_SUITE,
        test_marked="""
            import pytest

            @pytest.mark.cxe_journey
            def test_browse():
                pass
        """,
    )
    # 9 of 10 journey tests pass: 90% meets the minimum.
    passed = pytester.runpytest(*GATE, "--cxe-journeys", "test_journeys.py", "-v")
    passed.assert_outcomes(passed=16, failed=1)
    passed.stdout.fnmatch_lines(["*::test_browse PASSED*", "cxe.yml::journeys pass rate PASSED*"])
    assert "PASS         journeys pass rate    90.0%  n=10" in summary_of(passed)
    # Without the path option the seeded suite is not counted: 1 of 1.
    pytester.runpytest(*GATE).assert_outcomes(passed=16, failed=1)
    pytester.makepyfile(
        test_marked="import pytest\n\n@pytest.mark.cxe_journey\ndef test_browse():\n    assert False\n"
    )
    failed = pytester.runpytest(*GATE, "--cxe-journeys", "test_journeys.py")
    failed.assert_outcomes(passed=14, failed=3)
    failures = {r.nodeid: r.longreprtext for r in failed.reprec.getfailures()}
    assert failures["cxe.yml::journeys pass rate"] == (
        "value 80.0%, threshold 90.0%, samples 10, p-value none: 80.0% is below the minimum 90.0%"
    )
    nothing = pytester.runpytest("cxe.yml::journeys pass rate", *GATE)
    nothing.stdout.fnmatch_lines(["*no journey test ran (mark them @pytest.mark.cxe_journey*"])
    nothing.assert_outcomes(failed=1)


def test_the_cli_cannot_measure_journeys_and_says_so(pytester):
    write_gate(pytester, more=JOURNEYS)
    result = CliRunner().invoke(main, ["evaluate", "-c", str(pytester.path / "cxe.yml")])
    assert result.exit_code == 3, result.output
    assert "journeys pass rate: measured only inside a pytest run" in result.output


def test_the_criteria_file_is_collected_from_the_ini_wherever_the_tests_are(pytester):
    write_gate(pytester)
    pytester.makeini("[pytest]\ncxe_config = cxe.yml\n")
    pytester.mkpydir("suite").joinpath("test_a.py").write_text("def test_a():\n    pass\n")
    result = pytester.runpytest("suite")
    result.assert_outcomes(passed=7)
    assert summary_of(result)[-1] == "PASS         score 100: every criterion passed"
