"""Verdicts a team can trust: a failed criterion fails the release, an undecided one means what the
team chose, a provider's NaN or crash is never a pass, a window past the data is not complete, and
slips in cxe.yml are errors at `validate`.

The provider here is a third party's, installed the way pip installs a package (a module and a
.dist-info folder with a `cxe_gate.providers` entry point); its settings script what it answers."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from third_party import install_provider

from cxe_gate.cli import main
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict

SCRIPTED = '''
import math
import os
from datetime import datetime

from cxe_gate.config import Secret
from cxe_gate.measurement import Measurement
from cxe_gate.providers import Provider, ProviderSettings


class ScriptedSettings(ProviderSettings):
    """Per criterion name: release and baseline as [successes, samples], or "nan", "inf",
    "raise", "echo-secret"; data_end: ISO time of the newest data per criterion."""

    answers: dict[str, dict[str, object]]
    data_end: dict[str, str] = {}
    token: Secret | None = None


class ScriptedProvider(Provider):
    settings_model = ScriptedSettings

    def measure(self, request, windows):
        script = self.settings.answers[request.criterion.name]
        out = {}
        for window in windows:
            answer = script.get(window.label, script.get("any"))
            if answer == "raise":
                raise RuntimeError("the vendor SDK fell over")
            if answer == "echo-secret":
                secret = self.context.secret(self.settings.token, "token")
                raise KeyError(f"bad token {secret}")
            if answer in ("nan", "inf"):
                out[window.label] = Measurement(float(answer), 1000)
                continue
            successes, samples = answer
            end = self.settings.data_end.get(request.criterion.name)
            out[window.label] = Measurement(
                successes / samples,
                samples,
                successes,
                data_end=datetime.fromisoformat(end) if end and window.label == "release" else None,
            )
        return out
'''

NOW = datetime(2026, 11, 23, 13, tzinfo=UTC)  # the release window (10:00-12:00) closed an hour ago


@pytest.fixture(autouse=True)
def scripted_provider(tmp_path_factory, monkeypatch):
    install_provider(
        tmp_path_factory.mktemp("site") / "site-packages",
        monkeypatch,
        module="acme_scripted_provider",
        source=SCRIPTED,
        entry="acme-scripted = acme_scripted_provider:ScriptedProvider",
    )


def criteria_file(tmp_path: Path, answers: dict, criteria: str, *, extra: str = "") -> Path:
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: r1, deployed_at: '2026-11-23T10:00:00Z'}\n"
        + extra
        + "providers:\n  acme:\n    type: acme-scripted\n    token: ${ACME_TOKEN}\n"
        + f"    answers: {json.dumps(answers)}\n"
        + "criteria:\n"
        + textwrap.indent(textwrap.dedent(criteria), "  ")
    )
    return path


def run(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["evaluate", "-c", str(path), *args],
        env={"ACME_TOKEN": "tok-3f9a-secret-value"},
        catch_exceptions=False,
    )
    return result.exit_code, result.output


# Four error-rate criteria; the last one fails clearly (1.6% of 10,000 against max 1%:
# z = (0.016 - 0.01) / sqrt(0.01 * 0.99 / 10000) = 6.0), the others sit at 0.5%.
FOUR = {
    "a": {"any": [50, 10000]},
    "b": {"any": [50, 10000]},
    "c": {"any": [50, 10000]},
    "error rate": {"any": [160, 10000]},
}
FOUR_CRITERIA = """\
- {name: a, metric: error_rate, max: 1%}
- {name: b, metric: error_rate, max: 1%}
- {name: c, metric: error_rate, max: 1%}
- {name: error rate, metric: error_rate, max: 1%}
"""


def test_a_failed_criterion_fails_the_release_exit_1(tmp_path):
    code, output = run(criteria_file(tmp_path, FOUR, FOUR_CRITERIA))
    assert code == 1, output
    assert "failed: error rate" in output


def test_policy_score_keeps_keptn_scoring_when_asked(tmp_path):
    path = criteria_file(tmp_path, FOUR, FOUR_CRITERIA, extra="gate: {policy: score}\n")
    code, output = run(path)
    assert code == 0, output  # score 75: a warn, which exits 0 unless --fail-on warn
    assert "score 75 is below pass_score 90" in output
    (summary,) = [line for line in output.splitlines() if "score 75 is below" in line]
    assert "error rate" in summary  # the warn names the criterion
    assert output.splitlines()[-1].strip() == (
        "policy score: pass at 90 or more, warn from 75, fail below 75"
    )


# 55 conversions of 1,000 (5.5%) against max 5%: above it, but z = (0.055 - 0.05) /
# sqrt(0.05 * 0.95 / 1000) = 0.73, p ≈ 0.23 by the exact binomial test: could be noise.
UNDECIDED = {"conv": {"any": [55, 1000]}, "ok": {"any": [10, 1000]}}
UNDECIDED_CRITERIA = """\
- {name: conv, metric: error_rate, max: 5%}
- {name: ok, metric: error_rate, max: 5%}
"""


@pytest.mark.parametrize(
    ("choice", "code", "verdict"),
    [("fail", 3, "INCONCLUSIVE"), ("warn", 0, "WARN"), ("pass", 0, "PASS")],
)
def test_on_inconclusive_from_the_command_line(tmp_path, choice, code, verdict):
    path = criteria_file(tmp_path, UNDECIDED, UNDECIDED_CRITERIA)
    exit_code, output = run(path, "--on-inconclusive", choice)
    assert exit_code == code, output
    assert output.splitlines()[-1].lstrip().startswith(verdict)


def test_on_inconclusive_in_the_file(tmp_path):
    path = criteria_file(
        tmp_path, UNDECIDED, UNDECIDED_CRITERIA, extra="gate: {on_inconclusive: pass}\n"
    )
    code, output = run(path)
    assert code == 0, output
    assert "accepted by on_inconclusive: pass: conv" in output


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_or_infinity_from_a_provider_is_no_data_never_a_pass(tmp_path, value):
    path = criteria_file(
        tmp_path,
        {"p95": {"release": value, "baseline": [1, 2]}},
        "- {name: p95, metric: custom, query: q, max: 800}\n",
    )
    report = evaluate(load(path), now=NOW)
    (result,) = report.criteria
    assert result.verdict == Verdict.INCONCLUSIVE
    assert result.value is None
    assert f"the provider returned {float(value)!r} as the value: treated as no data" in " ".join(
        result.notes
    )
    assert report.verdict == Verdict.INCONCLUSIVE


def test_a_provider_that_crashes_is_an_error_verdict_exit_4(tmp_path):
    path = criteria_file(
        tmp_path, {"errors": {"any": "raise"}}, "- {name: errors, metric: error_rate, max: 1%}\n"
    )
    code, output = run(path)
    assert code == 4, output
    assert "provider 'acme' failed unexpectedly: RuntimeError: the vendor SDK fell over" in output
    assert "Traceback" not in output


def test_a_provider_that_echoes_its_secret_is_redacted_at_the_last_line(tmp_path):
    path = criteria_file(
        tmp_path,
        {"errors": {"any": "echo-secret"}},
        "- {name: errors, metric: error_rate, max: 1%}\n",
    )
    report_path = tmp_path / "report.json"
    code, output = run(path, "-o", str(report_path))
    assert code == 4, output
    assert "tok-3f9a-secret-value" not in output + report_path.read_text()
    assert "bad token ***" in output


# The release window runs 10:00-12:00; the provider's newest data point is 11:00.
PARTIAL = {"errors": {"any": [50, 10000]}}


def test_a_release_window_past_the_data_cannot_pass(tmp_path):
    path = criteria_file(tmp_path, PARTIAL, "- {name: errors, metric: error_rate, max: 1%}\n")
    text = path.read_text().replace(
        "    answers:", "    data_end: {errors: '2026-11-23T11:00:00+00:00'}\n    answers:"
    )
    path.write_text(text)
    report = evaluate(load(path), now=NOW)
    (result,) = report.criteria
    assert result.verdict == Verdict.INCONCLUSIVE
    assert result.partial
    assert (
        "release data ends 2026-11-23 11:00 UTC, window to 2026-11-23 12:00 UTC" in result.message
    )
    assert result.data_end == {"release": datetime(2026, 11, 23, 11, tzinfo=UTC)}

    path.write_text("windows: {allow_partial: true}\n" + text)
    (result,) = evaluate(load(path), now=NOW).criteria
    assert result.verdict == Verdict.PASS
    assert result.partial and "release data ends 2026-11-23 11:00 UTC" in result.message


def test_data_that_reach_the_window_end_are_complete(tmp_path):
    path = criteria_file(tmp_path, PARTIAL, "- {name: errors, metric: error_rate, max: 1%}\n")
    # 11:57 is within the five minutes of slack that random arrivals leave before the end.
    path.write_text(
        path.read_text().replace(
            "    answers:", "    data_end: {errors: '2026-11-23T11:57:00+00:00'}\n    answers:"
        )
    )
    (result,) = evaluate(load(path), now=NOW).criteria
    assert result.verdict == Verdict.PASS
    assert not result.partial


# --- slips in cxe.yml: configuration errors at validate, with the line and a suggestion ----------


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        (
            "{name: errors, metric: error_rate, max_drop: 10}",
            "max_drop: 10 on a rate is ambiguous (a change of 10 is 1000 percentage points); "
            "write 10% for a change relative to the baseline, or 10pp for percentage points",
        ),
        (
            "{name: errors, metric: error_rate, max: -1%}",
            "max: -1% is outside what a rate can be (from 0% to 100%)",
        ),
        (
            "{name: errors, metric: error_rate, max: 120%}",
            "max: 120% is outside what a rate can be (from 0% to 100%)",
        ),
        (
            "{name: errors, metric: error_rate, max: 1}",
            "max: 100% can never be exceeded; write max: 1% if you meant one percent",
        ),
        (
            "{name: apdex, metric: apdex, t: 500ms, max_drop: 5}",
            "max_drop: 5 is more than the whole range of an Apdex score (0 to 1)",
        ),
        (
            "{name: nps, metric: feedback, scale: nps, min: -150}",
            "min: -150 is outside what a NPS can be (from -100 to 100)",
        ),
        (
            "{name: errors, metric: error_rate, max_drop: 100%}",
            "max_drop: 100% allows a drop to zero or below",
        ),
    ],
)
def test_a_slip_is_a_configuration_error_at_validate(tmp_path, criterion, message):
    path = criteria_file(tmp_path, {}, f"- {criterion}\n")
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:8: criteria[0]: {message}" in result.output


def test_points_on_an_nps_and_durations_on_a_latency_stay_valid(tmp_path):
    path = criteria_file(
        tmp_path,
        {},
        """\
        - {name: nps, metric: feedback, scale: nps, max_drop: 10}
        - {name: p95, metric: latency, max_rise: 100ms, max: 2s}
        - {name: conv, metric: error_rate, max_rise: 0.5pp}
        """,
    )
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 0, result.output


def test_on_error_open_warns_and_names_what_could_not_be_read(tmp_path):
    # The case: a provider dies on one criterion; under open it used to read
    # "PASS score 100: every criterion passed".
    path = criteria_file(
        tmp_path,
        {"errors": {"any": [50, 10000]}, "uptime": {"any": "raise"}},
        "- {name: errors, metric: error_rate, max: 1%}\n"
        "- {name: uptime, metric: error_rate, max: 1%}\n",
        extra="gate: {on_error: open}\n",
    )
    code, output = run(path)
    assert code == 0, output  # a warn
    last = output.splitlines()[-1]
    assert last.lstrip().startswith("WARN")
    assert "could not read (on_error: open): uptime" in last
