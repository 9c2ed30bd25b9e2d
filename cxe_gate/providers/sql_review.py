"""What `cxe-gate queries` shows for review before a gate runs against a paid warehouse: per
criterion of a criteria file, the statements its sql provider would send, written without
connecting; on BigQuery, what a dry run says each would scan."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from ..config import ConversionCriterion, GateConfig
from ..errors import ProviderError
from ..measurement import TimeWindow
from .base import MetricRequest, ProviderContext, ProviderSettings
from .sql import Planned, SqlProvider
from .sql_compile import CompileError
from .sql_engines import Fail
from .sql_settings import ENV_REF, SqlSettings, scheme_of


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


def dry_run(
    settings: ProviderSettings, context: ProviderContext, statements: Sequence[Planned]
) -> list[str]:
    """Per statement, what BigQuery's dry run says of it: the bytes it would scan, and whether
    maximum_bytes_billed lets the gate run it (nothing is run, nothing billed). Empty for a
    database other than BigQuery. Raises ConfigError for a key that cannot be read."""
    if not isinstance(settings, SqlSettings) or settings.credentials is None or not statements:
        return []  # only BigQuery's settings hold a key
    url = context.secret(settings.url, "url") if ENV_REF.match(settings.url) else settings.url
    if scheme_of(url) != "bigquery":
        return []
    from .sql_bigquery import BigQuery, size

    engine = BigQuery(url, settings, context)
    said = []
    try:
        for statement in statements:
            try:
                scanned = engine.dry_run(
                    statement.sql, dict(statement.params), Fail(context, statement.sql)
                )
            except ProviderError as exc:
                said.append(f"dry run failed: {exc}")
                continue
            over = engine.over_limit(scanned)
            said.append(
                f"dry run: not run by the gate: {over}"
                if over
                else f"dry run: would scan {size(scanned)}"
            )
    finally:
        engine.close()
    return said
