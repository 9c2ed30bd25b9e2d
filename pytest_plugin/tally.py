"""On the controller: the outcomes of journey tests and `cxe` tests, read from their reports (which
xdist workers send there), turned into criterion results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from cxe_gate.config import CriterionBase
from cxe_gate.judge import judge
from cxe_gate.measurement import Measurement, Unit
from cxe_gate.results import CriterionResult, Verdict

from .marks import crash_line


@dataclass
class _TestOutcome:
    criterion: dict[str, Any]
    verdict: Verdict = Verdict.PASS
    message: str = "passed"


def _phase_outcome(report: pytest.TestReport) -> str | None:
    """passed, failed or skipped for the test as a whole, or None when this phase says nothing."""
    if report.when == "call":
        return "skipped" if report.skipped else report.outcome  # an xfail counts as skipped
    if report.failed:
        return "failed"
    if report.skipped and report.when == "setup":
        return "skipped"
    return None


@dataclass
class Tally:
    journeys: dict[str, str] = field(default_factory=dict)  # nodeid → passed, failed, skipped
    tests: dict[str, _TestOutcome] = field(default_factory=dict)
    criteria_run: set[str] = field(default_factory=set)  # names of gate items that reported

    def add(self, report: pytest.TestReport) -> None:
        tag: dict[str, Any] | None = getattr(report, "cxe_gate", None)
        if not tag:
            return
        if "criterion" in tag:
            self.criteria_run.add(tag["criterion"])
        outcome = _phase_outcome(report)
        if outcome is None:
            return
        if tag.get("journey") and self.journeys.get(report.nodeid) != "failed":
            self.journeys[report.nodeid] = outcome
        if "test" in tag:
            self._add_test(report, tag, outcome)

    def _add_test(self, report: pytest.TestReport, tag: dict[str, Any], outcome: str) -> None:
        test = self.tests.setdefault(report.nodeid, _TestOutcome(tag["test"]))
        if test.verdict in (Verdict.ERROR, Verdict.FAIL):
            return  # a later phase cannot undo a failure
        if outcome == "failed":
            test.verdict = Verdict.FAIL if report.when == "call" else Verdict.ERROR
            test.message = f"{report.when} failed: {crash_line(report)}"
        elif outcome == "skipped":
            test.verdict = Verdict.INCONCLUSIVE
            test.message = f"skipped: {crash_line(report)}"
        elif "warned" in tag:
            test.verdict = Verdict.WARN
            test.message = f"failed (severity warn): {tag['warned']}"

    def test_results(self) -> list[CriterionResult]:
        """One result per `cxe` test, in the order they reported."""
        return [
            CriterionResult(
                name=t.criterion["name"],
                metric="test",
                provider="pytest",
                verdict=t.verdict,
                severity=t.criterion["severity"],
                key=t.criterion["key"],
                weight=t.criterion["weight"],
                unit="",
                value=None,
                baseline=None,
                threshold=None,
                samples=1,
                p_value=None,
                message=f"{nodeid} {t.message}",
            )
            for nodeid, t in self.tests.items()
        ]

    def journeys_result(self, criterion: CriterionBase) -> CriterionResult:
        """journeys_pass_rate: passed / (passed + failed) journey tests; skips are left out."""
        counts = {o: sum(1 for v in self.journeys.values() if v == o) for o in ("passed", "failed")}
        counts["skipped"] = len(self.journeys) - counts["passed"] - counts["failed"]
        tried = counts["passed"] + counts["failed"]
        release = Measurement(
            value=counts["passed"] / tried if tried else None,
            samples=tried,
            successes=counts["passed"],
            details={k: float(v) for k, v in counts.items()},
        )
        result = judge(
            criterion, provider="pytest", unit=Unit.RATIO, release=release, baseline=None
        )
        if not tried:
            result = result.model_copy(
                update={
                    "message": f"{criterion.name}: no journey test ran (mark them "
                    "@pytest.mark.cxe_journey or pass --cxe-journeys PATH)"
                }
            )
        return result
