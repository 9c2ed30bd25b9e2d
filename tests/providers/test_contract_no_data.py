"""The provider contract, no data: each service's own ways of saying a window had nothing (an empty
result, null, NaN, zero samples, no rows) are read as no data, never as a zero, and the gate's
verdict is inconclusive, never pass. The disguises are each provider's, in the table."""

from __future__ import annotations

import pytest
from contract_stand import Case, Stage, Stand, gate_report
from contract_table import cases

from cxe_gate.results import Verdict

pytest_plugins = ["postgres_server"]  # the sql provider's disguises are a real PostgreSQL's


@pytest.mark.parametrize(("stand", "case"), cases(lambda stand: stand.no_data))
def test_no_data_is_no_data_never_a_zero(stand: Stand, case: Case, stage: Stage):
    case.serve(stage)
    (result,) = gate_report(stand, stage, case.criterion).criteria
    assert (result.value, result.baseline) == (None, None), result.message
    assert (result.samples, result.baseline_samples) == (0, 0)
    assert result.verdict is Verdict.INCONCLUSIVE, result.message
