"""The gate's one evaluation and its end: on the controller (the only process without xdist).

The gate is evaluated once, here, and the report shipped to xdist workers: providers are queried
once, and every process judges the same numbers over the same windows (a release window still
filling ends at "now", which differs between processes). After the tests ran, the controller — which
receives every report — judges what needs the whole run (journeys_pass_rate, `cxe` tests), writes the
reports of the items it deferred, and prints the one summary."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import pytest

from cxe_gate.errors import ConfigError
from cxe_gate.gate import evaluate
from cxe_gate.judge import overall, score
from cxe_gate.loader import LoadedConfig
from cxe_gate.results import CriterionResult, GateReport, Verdict

from . import summary
from .items import DEFERRED_OUTPUT
from .messages import CxeGateWarning, item_outcome, one_line, properties, usage_error
from .state import DeferredItem, GateRun
from .tally import Tally

# xdist: where the controller puts the evaluation for its workers
REPORT_INPUT = "cxe_gate_report"


class GateController:
    def __init__(self, run: GateRun):
        self.run = run
        self.tally = Tally()
        self.final: GateReport | None = None
        self.blocked = False  # the verdict failed a run whose tests all passed

    def _evaluated(self) -> GateReport:
        if self.run.report is None:
            try:
                self.run.report = _with_reproductions(evaluate(self.run.loaded), self.run.loaded)
            except ConfigError as exc:
                raise usage_error(exc) from None
        return self.run.report

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not session.config.option.collectonly:
            self._evaluated()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[REPORT_INPUT] = self._evaluated().model_dump_json()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        for nodeid, location, criterion in getattr(node, "workeroutput", {}).get(
            DEFERRED_OUTPUT, []
        ):
            self.run.deferred[nodeid] = DeferredItem(nodeid, tuple(location), criterion)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tally.add(report)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        result = yield  # every test has run (an early stop, -x, raises past this)
        if self.run.report is not None:
            self._finish(session)
        return result

    def _finish(self, session: pytest.Session) -> None:
        evaluated = self.run.report
        assert evaluated is not None
        criteria = {c.name: c for c in self.run.loaded.config.criteria}
        judged = {
            name: self.tally.journeys_result(criterion)
            for name, criterion in criteria.items()
            if not criterion.reads_provider
        }
        for item in self.run.deferred.values():
            self._report_deferred(session, item, judged[item.criterion])
        results = [judged.get(c.name, c) for c in evaluated.criteria] + self.tally.test_results()
        verdict, why = overall(results, self.run.loaded.config.gate)
        self.final = evaluated.model_copy(
            update={
                "criteria": results,
                "verdict": verdict,
                "summary": why,
                "score": score(results),
            }
        )
        # Deselected criteria (-k) do not fail a run; with the whole gate run, its verdict counts
        # even where no item failed (e.g. a score below warn_score from warnings alone).
        whole_gate = self.tally.criteria_run >= set(criteria)
        if whole_gate and self._blocks(verdict) and not session.testsfailed:
            session.testsfailed += 1
            self.blocked = True

    def _blocks(self, verdict: Verdict) -> bool:
        undecided = verdict in (Verdict.INCONCLUSIVE, Verdict.ERROR)
        return verdict == Verdict.FAIL or (undecided and self._policy == "fail")

    @property
    def _policy(self) -> str:
        return self.run.options.inconclusive

    def _report_deferred(
        self, session: pytest.Session, item: DeferredItem, result: CriterionResult
    ) -> None:
        """Reports for an item no worker could judge, as if it had run here."""
        hook = session.config.hook
        text = one_line(result)
        outcome, longrepr = "passed", None
        line = (item.location[1] or 0) + 1
        path = str(self.run.options.config_path)
        match item_outcome(result, self._policy):
            case "fail" | "error":  # an error reads as a failure: the item did run
                outcome, longrepr = "failed", _failure(text)
            case "skip":
                outcome, longrepr = "skipped", (path, line, f"Skipped: {text}")
            case "warn":
                message = warnings.WarningMessage(CxeGateWarning(text), CxeGateWarning, path, line)
                hook.pytest_warning_recorded.call_historic(
                    kwargs={
                        "warning_message": message,
                        "when": "runtest",
                        "nodeid": item.nodeid,
                        "location": None,
                    }
                )
        hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for when, phase_outcome, phase_longrepr in (
            ("setup", "passed", None),
            ("call", outcome, longrepr),
            ("teardown", "passed", None),
        ):
            report = pytest.TestReport(
                item.nodeid,
                item.location,
                keywords={item.criterion: 1, "cxe_gate": 1},
                outcome=phase_outcome,  # type: ignore[arg-type]
                longrepr=phase_longrepr,
                when=when,  # type: ignore[arg-type]
                user_properties=properties(result),
                cxe_gate={"criterion": item.criterion},
            )
            hook.pytest_runtest_logreport(report=report)
        hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        report = self.final or self.run.report
        if report is None:
            return  # --collect-only: nothing was judged
        notes = []
        if self.final is None:
            notes.append("the run stopped early: journey and cxe-marked tests are not counted")
        if self.blocked:
            notes.append(f"the gate's verdict ({report.verdict.value}) fails this run")
        terminalreporter.write_sep("=", summary.title(report))
        for text, markup in summary.lines(report, notes):
            terminalreporter.write_line(text, **markup)


def _with_reproductions(report: GateReport, loaded: LoadedConfig) -> GateReport:
    """As `cxe-gate evaluate`: a criterion that did not pass names its seeded tests. Imported only
    for a file naming a suite: it brings sqlglot, which every pytest start would pay for."""
    if loaded.config.seeded is None:
        return report
    from cxe_gate.reproduce import with_reproductions

    return with_reproductions(report, loaded)


def _failure(text: str) -> Any:
    """The longrepr pytest would make of `pytest.fail(text, pytrace=False)`: one line."""
    try:
        pytest.fail(text, pytrace=False)
    except pytest.fail.Exception:
        return pytest.ExceptionInfo.from_current().getrepr(style="value")
