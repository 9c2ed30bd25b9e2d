"""What `cxe-gate queries` shows for review before a gate runs against a paid warehouse: per
criterion of a criteria file, the statements its sql provider would send, written without
connecting."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from ..config import ConversionCriterion, GateConfig
from ..measurement import TimeWindow
from .base import MetricRequest, ProviderSettings
from .sql import Planned, SqlProvider
from .sql_compile import CompileError
from .sql_settings import SqlSettings


@dataclass(frozen=True)
class Review:
    """One criterion's statements, or why there are none."""

    criterion: str
    provider: str
    statements: tuple[Planned, ...] = ()
    problem: str | None = None  # the metric cannot be written in the dialect
    elsewhere: str | None = None  # the provider runs no SQL: which type it is


def review(
    config: GateConfig,
    settings: Mapping[str, ProviderSettings],
    windows: list[TimeWindow],
    dialect: str | None = None,
) -> Iterator[Review]:
    """Per criterion read from a provider, over `windows` (their cohorts attached as the gate
    attaches them), in `dialect` or each sql provider's own."""
    for criterion in config.criteria:
        if not criterion.reads_provider:
            continue
        name = config.provider_for(criterion)
        provider_settings = settings[name]
        if not isinstance(provider_settings, SqlSettings):
            yield Review(criterion.name, name, elsewhere=config.providers[name].type)
            continue
        journey = (
            config.journeys.get(criterion.journey)
            if isinstance(criterion, ConversionCriterion)
            else None
        )
        request = MetricRequest(criterion=criterion, journey=journey, release=config.release.name)
        cohorts = config.cohorts_for(criterion)
        conditions = (
            {} if cohorts is None else {"release": cohorts.release, "baseline": cohorts.baseline}
        )
        labelled = [replace(w, cohort=conditions.get(w.label)) for w in windows]
        try:
            planned = SqlProvider.statements(provider_settings, request, labelled, name, dialect)
        except CompileError as exc:
            yield Review(criterion.name, name, problem=str(exc))
            continue
        yield Review(criterion.name, name, tuple(planned))
