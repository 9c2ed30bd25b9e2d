"""One gate over expected_metrics' criteria, whichever engine a test points its provider at, and
the check that its numbers are the ones plain Python counted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from expected_metrics import CRITERIA, JOURNEYS
from tiny_logs import DEPLOY, iso

from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import GateReport, Verdict

NOW = DEPLOY + timedelta(hours=3)  # the release window (2 h) is over

Values = dict[str, tuple[float | None, float | None]]


def judge(
    directory: Path,
    provider: str,
    criteria: str = CRITERIA,
    windows: str = "{baseline: 24h, release: 2h}",
    **environ: str,
) -> GateReport:
    """Evaluate `criteria` with `provider` (a YAML flow mapping) as provider `db`; `windows` may
    carry the cohorts too (`{baseline: concurrent, release: 2h}\ncohorts: {...}`)."""
    (directory / "cxe.yml").write_text(
        f"release: {{deployed_at: {iso(DEPLOY)}}}\n"
        f"windows: {windows}\n"
        f"providers:\n  db: {provider}\n"
        f"journeys:\n  {JOURNEYS}\n"
        f"criteria:\n{criteria}"
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        return evaluate(load(directory / "cxe.yml"), now=NOW)


def values(report: GateReport) -> Values:
    """Per criterion: (baseline, release); an errored criterion fails the test with its message."""
    for criterion in report.criteria:
        assert criterion.verdict != Verdict.ERROR, f"{criterion.name}: {criterion.message}"
    return {c.name: (c.baseline, c.value) for c in report.criteria}


def assert_same(found: Values, wanted: Values) -> None:
    """The same criteria, each value equal to 1e-9 (and no data where there is none)."""
    assert found.keys() == wanted.keys()
    for name, pair in wanted.items():
        for got, want in zip(found[name], pair, strict=True):
            assert (got is None) == (want is None), f"{name}: {found[name]} != {pair}"
            if want is not None:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-9), f"{name}: {found[name]}"


def tables(prefix: str) -> str:
    """The sql provider's table settings for engine_tables' tables under `prefix`."""
    return f"events: {prefix}.events, requests: {prefix}.requests, feedback: {prefix}.feedback"
