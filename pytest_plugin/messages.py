"""How the gate reads in a pytest run: a criterion item's outcome, its one-line message, its JUnit
properties, the warning of a warn verdict and the usage error of a bad criteria file."""

from __future__ import annotations

from typing import Literal

import pytest

from cxe_gate.errors import ConfigError
from cxe_gate.measurement import format_p_value, format_value
from cxe_gate.report import wording
from cxe_gate.results import CriterionResult, Outcome, Verdict


class CxeGateWarning(UserWarning):
    """A criterion of severity warn was breached: the release may go, but someone should look."""


def one_line(c: CriterionResult) -> str:
    """'value 14.4%, baseline 25.2%, threshold 22.7%, samples 928, p-value < 0.001: 14.4% is below
    22.7%, the allowed drop of 10%' — the figures, then the rule that decided."""
    if c.verdict == Verdict.ERROR:
        return _flat(c.message)  # nothing was measured: the figures would all read "no data"
    # A criterion without a baseline window (journeys_pass_rate) says nothing about one.
    baseline = (
        ""
        if c.baseline is None and c.baseline_samples is None
        else f"baseline {format_value(c.baseline, c.unit)}, "
    )
    figures = (
        f"value {format_value(c.value, c.unit)}, {baseline}"
        f"threshold {wording.threshold(c, c.unit)}, samples {c.samples:,}, "
        f"p-value {format_p_value(c.p_value, none='none')}"
    )
    deciding = {
        Verdict.FAIL: Outcome.BREACH,
        Verdict.WARN: Outcome.BREACH,
        Verdict.INCONCLUSIVE: Outcome.UNSURE,
    }.get(c.verdict)
    note = next((k.note for k in c.checks if k.outcome == deciding), None)
    text = f"{figures}: {note or c.message}"
    if c.verdict in (Verdict.INCONCLUSIVE, Verdict.WARN):
        text = f"{c.verdict.value}: {text}"
    if c.reproduce is not None:
        text = f"{text}; {c.reproduce.hint()}"
    return _flat(text)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def properties(c: CriterionResult) -> list[tuple[str, str]]:
    """The names the JUnit report of `cxe-gate evaluate` uses, so both read alike in a dashboard."""
    return [
        ("verdict", c.verdict.value),
        ("value", _number(c.value)),
        ("baseline", _number(c.baseline)),
        ("change", _number(c.change)),
        ("threshold", _number(c.threshold)),
        ("unit", c.unit),
        ("samples", str(c.samples)),
        ("baseline_samples", _number(c.baseline_samples)),
        ("p_value", _number(c.p_value)),
        ("provider", c.provider),
        ("severity", c.severity),
        ("key", "true" if c.key else "false"),
        ("weight", _number(c.weight)),
    ]


ItemOutcome = Literal["pass", "warn", "fail", "skip", "error"]


def item_outcome(c: CriterionResult, policy: str) -> ItemOutcome:
    """What a verdict does to its test item; `policy` (--cxe-inconclusive) is fail or skip."""
    match c.verdict:
        case Verdict.PASS:
            return "pass"
        case Verdict.WARN:
            return "warn"
        case Verdict.FAIL:
            return "fail"
        case Verdict.INCONCLUSIVE if c.severity == "warn":
            return "warn"  # as in the gate: an undecided warn-only criterion only warns
        case Verdict.INCONCLUSIVE:
            return "fail" if policy == "fail" else "skip"
    return "error" if policy == "fail" else "skip"


def usage_error(exc: ConfigError) -> pytest.UsageError:
    """A criteria-file mistake as pytest's usage error: `ERROR: cxe-gate: ...`, every problem on its
    own line, no traceback."""
    if exc.problems:
        listed = "\n".join(f"  {p}" for p in exc.problems)
        return pytest.UsageError(f"cxe-gate: {exc.message}:\n{listed}")
    return pytest.UsageError(f"cxe-gate: {exc}")
