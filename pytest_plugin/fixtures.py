"""The `cxe_gate` fixture: the loaded criteria file, the gate's windows and its providers, for
criteria that need code (`def test_refunds(cxe_gate): ...`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import pytest
from pydantic import TypeAdapter, ValidationError

from cxe_gate.config import ConversionCriterion, Criterion, CriterionBase, GateConfig
from cxe_gate.errors import CxeGateError
from cxe_gate.gate import build_provider
from cxe_gate.judge import relative_change
from cxe_gate.loader import LoadedConfig
from cxe_gate.measurement import Measurement, TimeWindow
from cxe_gate.providers import MetricRequest, Provider, capabilities
from cxe_gate.results import CriterionResult, GateReport

from .state import GateRun, gate_run

_CRITERION: TypeAdapter[CriterionBase] = TypeAdapter(Criterion)


def _fail(message: str) -> NoReturn:
    pytest.fail(" ".join(message.split()), pytrace=False)


@dataclass(frozen=True)
class Measurements:
    """One metric measured over the gate's windows."""

    criterion: CriterionBase
    unit: str
    release: Measurement
    baseline: Measurement | None

    @property
    def change(self) -> float | None:
        """Relative change from the baseline (-0.071 = fell 7.1%); None when not defined."""
        return relative_change(self.release.value, self.baseline.value if self.baseline else None)


class CxeGate:
    """What the `cxe_gate` fixture gives a test."""

    def __init__(self, run: GateRun):
        self._run = run
        self._providers: dict[str, Provider] = {}
        self.windows: dict[str, TimeWindow] = {w.label: w for w in run.windows()}

    @property
    def loaded(self) -> LoadedConfig:
        return self._run.loaded

    @property
    def config(self) -> GateConfig:
        return self._run.loaded.config

    @property
    def report(self) -> GateReport | None:
        """The gate's evaluation in this run (journeys and `cxe` tests are judged at the end)."""
        return self._run.report

    def result(self, name: str) -> CriterionResult:
        """A criterion's result from the gate's evaluation."""
        found = self._run.result(name)
        if found is None:
            _fail(f"cxe_gate.result({name!r}): no such criterion was evaluated")
        return found

    def provider(self, name: str | None = None) -> Provider:
        """A provider declared in the criteria file, built on first use and closed after the run."""
        name = name or self._only_provider()
        spec = self.config.providers.get(name)
        if spec is None:
            _fail(f"no provider {name!r} in the criteria file (declared: {self._declared})")
        if name not in self._providers:
            try:
                self._providers[name] = build_provider(self.loaded, name)
            except CxeGateError as exc:
                _fail(f"provider {name!r}: {exc}")
        return self._providers[name]

    def metric(
        self,
        spec: str | Mapping[str, Any] | CriterionBase,
        *,
        provider: str | None = None,
        **fields: Any,
    ) -> Measurements:
        """Measure over the baseline and release windows: a criterion of the file by name, a metric
        kind with its keys (`metric("error_rate", filter="path LIKE '/api/refunds%'")`), or a
        mapping written as in cxe.yml. `fields` override the criterion's keys; comparison rules
        may be left out (the test asserts)."""
        criterion = self._criterion(spec, fields)
        if not criterion.reads_provider:
            _fail(f"{criterion.name}: measured from this run's journey tests, not by a provider")
        name = provider or criterion.provider or self._only_provider()
        source = self.provider(name)
        settings = self.loaded.provider_settings[name]
        problems = capabilities.criterion_problems(type(source), criterion, settings)
        if problems:
            _fail("; ".join(f"{'.'.join(map(str, place))}: {text}" for place, text in problems))
        journey = None
        if isinstance(criterion, ConversionCriterion):
            journey = self.config.journeys.get(criterion.journey)
            if journey is None:
                _fail(f"journey {criterion.journey!r} is not declared under journeys")
        request = MetricRequest(
            criterion=criterion, journey=journey, release=self.config.release.name
        )
        try:
            measured = source.measure(request, list(self.windows.values()))
            unit = source.unit(request)
        except CxeGateError as exc:
            _fail(f"provider {name!r}: {source.context.redact(str(exc))}")
        release = measured.get("release")
        if release is None:
            _fail(f"provider {name!r} returned no release measurement")
        return Measurements(
            criterion=criterion, unit=str(unit), release=release, baseline=measured.get("baseline")
        )

    def _criterion(
        self, spec: str | Mapping[str, Any] | CriterionBase, fields: dict[str, Any]
    ) -> CriterionBase:
        named = {c.name: c for c in self.config.criteria}
        if isinstance(spec, str) and spec in named:
            spec = named[spec]
        if isinstance(spec, CriterionBase):
            if not fields:
                return spec
            data = spec.model_dump(exclude_unset=True) | fields
        elif isinstance(spec, str):
            data = {"name": spec, "metric": spec, **fields}
        else:
            data = {"name": str(spec.get("metric", "metric")), **spec, **fields}
        if all(data.get(rule) is None for rule in ("min", "max", "max_drop", "max_rise")):
            # A measurement needs no rule, but the model insists on one: give it one never breached.
            data["max"] = float("inf")
        try:
            return _CRITERION.validate_python(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'][1:])) or 'metric'}: {e['msg']}" for e in exc.errors()
            )
            known = ", ".join(named)
            _fail(f"cxe_gate.metric({spec!r}): {problems} (criteria in the file: {known})")

    def _only_provider(self) -> str:
        if len(self.config.providers) > 1:
            _fail(f"say which provider to read: provider= one of {self._declared}")
        return next(iter(self.config.providers))

    @property
    def _declared(self) -> str:
        return ", ".join(self.config.providers)

    def close(self) -> None:
        for provider in self._providers.values():
            provider.close()


@pytest.fixture(scope="session")
def cxe_gate(pytestconfig: pytest.Config) -> Iterator[CxeGate]:
    """The gate of this run: `cxe_gate.metric(...)`, `.windows`, `.provider(...)`, `.config`."""
    run = gate_run(pytestconfig)
    if run is None:
        pytest.skip("cxe_gate needs a criteria file: pass --cxe-config (or set cxe_config)")
    gate = CxeGate(run)
    yield gate
    gate.close()
