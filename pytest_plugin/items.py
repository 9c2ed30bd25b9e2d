"""The criteria file as a pytest collector: one item per criterion (`cxe.yml::checkout conversion`),
whose outcome is the criterion's verdict."""

from __future__ import annotations

import warnings
from dataclasses import astuple
from typing import Any

import pytest

from cxe_gate.config import CriterionBase
from cxe_gate.loader import line_of
from cxe_gate.results import CriterionResult

from .messages import CxeGateWarning, item_outcome, one_line, properties
from .state import DeferredItem, GateRun, gate_run, is_worker

# xdist: where a worker tells the controller which items it left for the controller to report
DEFERRED_OUTPUT = "cxe_gate_deferred"


class GateFile(pytest.File):
    """The criteria file: one item per criterion, in the file's order."""

    def collect(self) -> list[CriterionItem]:
        run = gate_run(self.config)
        assert run is not None  # collected only when the gate runs
        return [
            CriterionItem.from_parent(
                self,
                name=criterion.name,
                criterion=criterion,
                line=line_of(run.loaded.lines, ("criteria", index)),
            )
            for index, criterion in enumerate(run.loaded.config.criteria)
        ]


class CriterionItem(pytest.Item):
    """A criterion; its outcome follows the verdict of the evaluation (see messages.item_outcome)."""

    def __init__(self, *, criterion: CriterionBase, line: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.criterion = criterion
        self.line = line
        self.extra_keyword_matches.add("cxe_gate")  # `-k cxe_gate`, `-k "not cxe_gate"`

    @property
    def deferred(self) -> bool:
        """Judged from the other tests' outcomes, so only after all ran, on the controller."""
        return not self.criterion.reads_provider

    def _result(self) -> CriterionResult:
        run = gate_run(self.config)
        result = run.result(self.name) if run else None
        if result is None:
            pytest.fail(f"{self.name}: the gate was not evaluated in this run", pytrace=False)
        return result

    def setup(self) -> None:
        if self.deferred:
            return
        result = self._result()
        self.user_properties.extend(properties(result))
        if item_outcome(result, self._policy) == "error":
            # In setup, so that pytest reports an error, as the gate does.
            pytest.fail(one_line(result), pytrace=False)

    def runtest(self) -> None:
        if self.deferred:
            return  # run silently; the controller reports it (see controller.py)
        result = self._result()
        match item_outcome(result, self._policy):
            case "fail":
                pytest.fail(one_line(result), pytrace=False)
            case "skip":
                pytest.skip(one_line(result))
            case "warn":
                warnings.warn_explicit(
                    CxeGateWarning(one_line(result)),
                    CxeGateWarning,
                    filename=str(self.path),
                    lineno=self.line,
                )

    @property
    def _policy(self) -> str:
        run = gate_run(self.config)
        return run.options.inconclusive if run else "fail"

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, self.line - 1, self.name


class GateItems:
    """Collects the criteria file wherever it lies; runs run-wide criteria last, unreported."""

    def __init__(self, run: GateRun):
        self.run = run

    def pytest_collect_file(self, file_path: Any, parent: pytest.Collector) -> GateFile | None:
        if file_path.resolve() != self.run.options.config_path:
            return None
        return GateFile.from_parent(parent, path=file_path)

    @pytest.hookimpl(tryfirst=True)  # before -k, -m and --deselect choose among the items
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[Any]) -> None:
        if any(isinstance(item, CriterionItem) for item in items):
            return  # the criteria file was among the collected paths (or named: cxe.yml::Apdex)
        # Usually the criteria file lies outside the tested paths (or in an ignored directory):
        # collect it all the same, after the tests.
        path = self.run.options.config_path
        root = session.config.rootpath
        nodeid = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
        gate_file = GateFile.from_parent(session, path=path, nodeid=nodeid.replace("\\", "/"))
        items.extend(session.genitems(gate_file))

    @pytest.hookimpl(specname="pytest_collection_modifyitems", trylast=True)
    def pytest_collection_modifyitems_after_selection(
        self, config: pytest.Config, items: list[Any]
    ) -> None:
        deferred = [i for i in items if isinstance(i, CriterionItem) and i.deferred]
        if not deferred:
            return
        # Last, so that running them silently leaves no fixture set up for a later item.
        items[:] = [i for i in items if i not in deferred] + deferred
        for item in deferred:
            self.run.deferred[item.nodeid] = DeferredItem(item.nodeid, item.location, item.name)
        if is_worker(config):
            config.workeroutput[DEFERRED_OUTPUT] = [  # type: ignore[attr-defined]
                astuple(d) for d in self.run.deferred.values()
            ]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        if not (isinstance(item, CriterionItem) and item.deferred):
            return None
        from _pytest.runner import runtestprotocol  # no public way to run an item unreported

        runtestprotocol(item, log=False, nextitem=nextitem)
        return True
