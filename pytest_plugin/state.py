"""What one pytest process knows about the gate: the loaded criteria file, the options and the
evaluation (made on the controller, shipped to xdist workers)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from cxe_gate.gate import resolve_windows
from cxe_gate.loader import LoadedConfig
from cxe_gate.measurement import TimeWindow
from cxe_gate.results import CriterionResult, GateReport

from .options import GateOptions


@dataclass(frozen=True)
class DeferredItem:
    """A criterion item judged on the controller after every test ran (journeys_pass_rate)."""

    nodeid: str
    location: tuple[str, int | None, str]
    criterion: str


@dataclass
class GateRun:
    loaded: LoadedConfig
    options: GateOptions
    report: GateReport | None = None
    # nodeid → item whose report the controller writes at the end of the run
    deferred: dict[str, DeferredItem] = field(default_factory=dict)

    def result(self, name: str) -> CriterionResult | None:
        if self.report is None:
            return None
        return next((c for c in self.report.criteria if c.name == name), None)

    def windows(self) -> list[TimeWindow]:
        """The evaluation's windows, so every process measures the same span."""
        if self.report is None:
            return resolve_windows(self.loaded)
        return [TimeWindow(label, w.start, w.end) for label, w in self.report.windows.items()]


RUN = pytest.StashKey[GateRun]()


def gate_run(config: pytest.Config) -> GateRun | None:
    """The gate of this run, or None when the plugin was not asked for."""
    return config.stash.get(RUN, None)


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")
