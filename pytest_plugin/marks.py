"""Tests that count in the gate: `@pytest.mark.cxe(...)` makes a test a criterion of its own, and
journey tests (`@pytest.mark.cxe_journey` or under `--cxe-journeys`) make up `journeys_pass_rate`.

Runs where the tests run (an xdist worker, or the only process); it tags each report with what the
controller needs (`report.cxe_gate`, a JSON-able dict that xdist ships with the report)."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from dataclasses import asdict, dataclass
from typing import Any

import pytest

from .items import CriterionItem
from .messages import CxeGateWarning
from .state import GateRun

MARKERS = (
    "cxe(name=None, *, weight=1, severity='fail', key=False): the test counts as a criterion in "
    "the cxe-gate verdict and score (with --cxe-config)",
    "cxe_journey: a journey test (e.g. a seeded Playwright test); its outcome counts in the "
    "journeys_pass_rate criterion (with --cxe-config)",
)


@dataclass(frozen=True)
class MarkedCriterion:
    name: str
    weight: float
    severity: str
    key: bool

    @classmethod
    def of(cls, item: pytest.Item) -> MarkedCriterion | None:
        """The test's `cxe` mark, or None; ValueError when it is written wrong."""
        mark = item.get_closest_marker("cxe")
        if mark is None:
            return None
        kwargs = dict(mark.kwargs)
        unknown = set(kwargs) - {"name", "weight", "severity", "key"}
        if unknown or len(mark.args) > 1:
            raise ValueError(
                "@pytest.mark.cxe takes a name and weight=, severity=, key=; "
                f"got {mark.args!r} {kwargs!r}"
            )
        name = mark.args[0] if mark.args else kwargs.get("name", item.name)
        weight = kwargs.get("weight", 1)
        severity = kwargs.get("severity", "fail")
        key = kwargs.get("key", False)
        if severity not in ("fail", "warn"):
            raise ValueError(
                f"@pytest.mark.cxe: severity must be 'fail' or 'warn', got {severity!r}"
            )
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"@pytest.mark.cxe: weight must be a number ≥ 0, got {weight!r}")
        if not isinstance(key, bool):
            raise ValueError(f"@pytest.mark.cxe: key must be True or False, got {key!r}")
        return cls(name=str(name), weight=float(weight), severity=severity, key=key)


def crash_line(report: pytest.TestReport) -> str:
    """The one line that says why a test failed or was skipped."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    message = getattr(getattr(longrepr, "reprcrash", None), "message", None)
    if message:
        return str(message).splitlines()[0]  # the exception, without assert's explanation
    lines = report.longreprtext.strip().splitlines()
    return lines[-1] if lines else report.outcome


class ReportTags:
    """Tags reports of gate items, `cxe` tests and journey tests; turns a failed `cxe` test of
    severity warn into a pass with a warning, as a warn criterion is."""

    def __init__(self, run: GateRun):
        self.run = run

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        try:
            MarkedCriterion.of(item)
        except ValueError as exc:
            pytest.fail(str(exc), pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        tag: dict[str, Any] = {}
        if isinstance(item, CriterionItem):
            tag["criterion"] = item.name
            if report.skipped and isinstance(report.longrepr, tuple):
                # Point at the criterion in cxe.yml, not at the plugin line that skipped it.
                path, line, _ = item.reportinfo()
                report.longrepr = (str(path), line + 1, report.longrepr[2])
        try:
            marked = MarkedCriterion.of(item)
        except ValueError:
            marked = None  # its setup fails and says why
        if marked is not None:
            tag["test"] = asdict(marked)
            if (
                marked.severity == "warn"
                and report.when == "call"
                and report.failed
                and not hasattr(report, "wasxfail")
            ):
                tag["warned"] = crash_line(report)
                warnings.warn_explicit(
                    CxeGateWarning(f"{marked.name}: {tag['warned']} (severity warn)"),
                    CxeGateWarning,
                    filename=str(item.path),
                    lineno=(item.location[1] or 0) + 1,
                )
                report.outcome = "passed"
                report.longrepr = None
        if item.get_closest_marker("cxe_journey") or self.run.options.is_journey(item.path):
            tag["journey"] = True
        if tag:
            report.cxe_gate = tag  # type: ignore[attr-defined]
        return report
