"""The provider contract, units: for each metric a provider serves, given the service's good answers,
the report's unit is the criterion's default_unit() or the unit the provider declares (said in the
table, with why), and values on a ratio scale lie within 0..1. The table lists every metric each
provider serves: checked here against what the provider class declares."""

from __future__ import annotations

import pytest
from contract_stand import Case, Stage, Stand, criteria_file, gate_report
from contract_table import STANDS, cases

from cxe_gate.loader import load
from cxe_gate.measurement import Unit
from cxe_gate.providers.registry import provider_class
from cxe_gate.results import Verdict

pytest_plugins = ["postgres_server"]  # the sql provider is read on a real PostgreSQL

# Every metric a provider may serve (journeys_pass_rate is judged by the pytest plugin, not read).
METRICS = {"conversion", "engagement", "error_rate", "apdex", "latency", "feedback", "custom"}
ZERO_TO_ONE = {Unit.RATIO, Unit.SCORE}


@pytest.mark.parametrize(("stand", "case"), cases(lambda stand: stand.served))
def test_each_served_metric_comes_in_its_unit(stand: Stand, case: Case, stage: Stage):
    case.serve(stage)
    (criterion,) = load(criteria_file(stand, stage, case.criterion)).config.criteria
    (result,) = gate_report(stand, stage, case.criterion).criteria
    assert result.verdict is not Verdict.ERROR, result.message
    assert result.value is not None, result.message
    unit = case.declared_unit[0] if case.declared_unit else criterion.default_unit()
    assert result.unit == str(unit)
    if unit in ZERO_TO_ONE:
        for value in (result.value, result.baseline):
            assert value is None or 0 <= value <= 1, (result.value, result.baseline)


@pytest.mark.parametrize("stand", STANDS.values(), ids=str)
def test_the_table_reads_every_metric_the_provider_serves(stand: Stand, tmp_path):
    stage = Stage(None, tmp_path)
    read = set()
    for case in stand.served.values():
        (criterion,) = load(criteria_file(stand, stage, case.criterion)).config.criteria
        read.add(criterion.metric)
    provider = provider_class(stand.type)
    assert provider is not None
    # Retention needs checkpoints days after the deploy, which the stands do not set: it is read
    # in test_retention.py and test_mixpanel_retention.py.
    assert read == set(provider.serves or METRICS) - {"retention"}
