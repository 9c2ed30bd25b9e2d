"""Turns the plugin on: with a criteria file asked for, load it (or stop with a usage error) and
register the parts; without one, only the markers are declared and nothing else changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxe_gate.errors import ConfigError
from cxe_gate.gate import at_checkpoint, resolve_windows
from cxe_gate.loader import load
from cxe_gate.results import GateReport

from .controller import REPORT_INPUT, GateController
from .items import GateItems
from .marks import MARKERS, ReportTags
from .messages import usage_error
from .options import GateOptions
from .state import RUN, GateRun, is_worker


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:  # declared always, so --strict-markers accepts them without the gate
        config.addinivalue_line("markers", marker)
    options = GateOptions.read(config)
    if options is None:
        return
    try:
        loaded = load(options.config_path, release=options.release, deployed_at=options.deployed_at)
        # One checkpoint's criteria are the items (the first, unless one is asked for); a
        # checkpoint not reached yet is refused, as by `cxe-gate evaluate --checkpoint`.
        now = datetime.now(UTC) if options.checkpoint else None
        loaded = at_checkpoint(loaded, options.checkpoint, now=now)
        resolve_windows(loaded)  # a missing or future deploy time: say so now, not at the end
    except ConfigError as exc:
        raise usage_error(exc) from None
    run = GateRun(loaded, options)
    config.stash[RUN] = run
    config.pluginmanager.register(GateItems(run), "cxe_gate.items")
    config.pluginmanager.register(ReportTags(run), "cxe_gate.tags")
    if is_worker(config):
        run.report = GateReport.model_validate_json(config.workerinput[REPORT_INPUT])  # type: ignore[attr-defined]
    else:
        config.pluginmanager.register(GateController(run), "cxe_gate.controller")
