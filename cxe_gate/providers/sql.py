"""The `sql` provider: any database SQLAlchemy reaches (PostgreSQL, Snowflake, Trino, Redshift...),
BigQuery through its REST API (sql_bigquery.py), DuckDB files, ClickHouse in-process (chdb) and
Spark SQL. A criterion with a `query` runs it once per window with :start and :end bound, and
reads its row in the column contract of the file provider's custom queries; one without runs the
built-in metric over the tables the settings name, compiled to the database's dialect: one
statement per criterion, a row per window."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import DEFAULT_ERRORS, Cohorts, CriterionBase, Problems
from ..errors import ConfigError, ProviderError
from ..measurement import Measurement, Point, TimeWindow
from .base import MetricRequest, Provider, ProviderContext, ProviderSettings
from .capabilities import text_query_problems
from .conditions import check_condition
from .file_metrics import table_of
from .file_tables import Table, conditions_of
from .query_contract import parameters
from .sql_compile import CompileError
from .sql_dialects import DIALECTS, supported
from .sql_engines import PARAMETER, Database, DuckDb, Fail, Result, SqlAlchemy
from .sql_metrics import newest, statement
from .sql_rows import as_sent, bound, contract, measurement, moment
from .sql_series import sql_series
from .sql_settings import ENV_REF, URL_HINT, SqlSettings, scheme_of
from .sql_tables import Tables

__all__ = ["Planned", "SqlProvider", "SqlSettings"]

# The criterion's fields holding an SQL condition the built-in metrics paste in, with an example.
_EXAMPLES = {"filter": "route = '/checkout'", "errors": "status >= 500"}


def _parameters(sql: str) -> set[str]:
    return set(PARAMETER.findall(sql))


def _available(criterion: CriterionBase) -> list[str]:
    return ["start", "end", COHORT, *parameters(criterion)]


# Not a bound value but a condition: `:cohort` is replaced by the window's cohort condition (checked
# as one SQL condition and parenthesised), or by a condition true for every row.
COHORT = "cohort"


def _with_cohort(sql: str, cohort: str | None) -> str:
    condition = f"({cohort})" if cohort else "(1 = 1)"
    return PARAMETER.sub(
        lambda m: condition if m[1] == COHORT else m[0],
        sql,
    )


def _query_needed(criterion: CriterionBase) -> str:
    """What a criterion without a query must give when no table serves its metric."""
    return (
        "the sql provider runs the criterion's own query: give `query:` with SQL selecting the "
        f"window's rows with :start and :end and returning {contract(criterion)}"
    )


def _raw_query_problems(criterion: CriterionBase, query: str) -> Problems:
    problems: Problems = []
    used = _parameters(query)
    available = _available(criterion)
    unknown = sorted(used - set(available))
    if unknown:
        problems.append(
            (
                ("query",),
                f"unknown parameter {', '.join(':' + n for n in unknown)}; this criterion's "
                f"query may use {', '.join(':' + n for n in available)} (write \\: for a "
                "literal colon)",
            )
        )
    if not {"start", "end"} <= used:
        problems.append(
            (
                ("query",),
                "the query must select each window's rows with :start and :end "
                "(e.g. WHERE ts >= :start AND ts < :end); without them both windows read "
                "the same rows",
            )
        )
    return problems


def _metric_problems(criterion: CriterionBase, settings: SqlSettings) -> Problems:
    """What stops a built-in metric over the settings' tables: no table for it, a dialect it is
    not written for, a condition that is not one."""
    table = table_of(criterion)
    if table is None or getattr(settings, table) is None:
        return [(("query",), _query_needed(criterion))]
    dialect = settings.dialect_for(settings.url)
    problems: Problems = []
    if dialect is None and not ENV_REF.match(settings.url):
        problems.append((("query",), f"{settings.unknown_dialect()}, or give `query:`"))
    if dialect is not None and not supported(dialect):
        problems.append(
            (
                ("query",),
                f"the built-in metrics are written for {', '.join(DIALECTS)}, not {dialect}: "
                "give `query:`",
            )
        )
    for field, text in conditions_of(criterion):
        if text == DEFAULT_ERRORS:
            continue
        problem = check_condition(text, dialect, example=_EXAMPLES[field])
        if problem:
            problems.append(((field,), problem))
    return problems


@dataclass(frozen=True)
class Planned:
    """A statement the provider would send for a criterion, and what it is for."""

    purpose: str  # "all windows", "the baseline window", "the newest row per window of requests"
    sql: str
    notes: tuple[str, ...] = ()  # the values bound to it, what the report will say of it
    params: tuple[tuple[str, Any], ...] = ()  # the values bound to its :names


class SqlProvider(Provider):
    settings_model = SqlSettings
    settings: SqlSettings
    narrow_instead = "it runs `query` as written: put this condition in it"
    takes_cohorts = True
    query_kind = "an SQL query"

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        assert isinstance(settings, SqlSettings)
        if criterion.query is None:
            return _metric_problems(criterion, settings)
        problems: Problems = []
        if criterion.filter is not None:  # a filter is for the built-in metrics
            problems.append(
                (("filter",), f"the sql provider takes no SQL filter; {cls.narrow_instead}")
            )
        if not isinstance(criterion.query, str):
            return problems + text_query_problems(cls, criterion)
        return problems + _raw_query_problems(criterion, criterion.query)

    @classmethod
    def cohort_problems(
        cls, cohorts: Cohorts, criterion: CriterionBase, settings: ProviderSettings
    ) -> list[str]:
        assert isinstance(settings, SqlSettings)
        problems = []
        if isinstance(criterion.query, str) and COHORT not in _parameters(criterion.query):
            problems.append(
                "the query must narrow each window to its cohort with :cohort (e.g. WHERE ts >= "
                ":start AND ts < :end AND :cohort)"
            )
        dialect = settings.dialect_for(settings.url)
        for label, text in (("release", cohorts.release), ("baseline", cohorts.baseline)):
            problem = check_condition(text, dialect, example="version = '2.0'")
            if problem:
                problems.append(f"the {label} cohort {problem}")
        return problems

    @classmethod
    def statements(
        cls,
        settings: SqlSettings,
        request: MetricRequest,
        windows: list[TimeWindow],
        provider: str,
        dialect: str | None = None,
    ) -> list[Planned]:
        """What `measure` would send for the request, without connecting: the criterion's own
        query per window, or the built-in metric in `dialect` (default: the settings') and the
        statement reading where each window's data ends. Raises CompileError when the metric
        cannot be written in the dialect."""
        criterion = request.criterion
        if isinstance(criterion.query, str):
            planned = []
            for window in windows:
                sql = _with_cohort(criterion.query, window.cohort)
                used = _parameters(sql)
                values = {"start": window.start, "end": window.end, **parameters(criterion)}
                params = {n: v for n, v in values.items() if n in used}
                notes = (bound(params),)
                planned.append(
                    Planned(f"the {window.label} window", sql, notes, tuple(params.items()))
                )
            return planned
        dialect = dialect or settings.dialect_for(settings.url)
        if dialect is None:
            raise CompileError(settings.unknown_dialect())
        tables = settings.tables(dialect)
        compiled = statement(tables, criterion, request.journey, windows, provider)
        return [
            Planned("all windows", compiled.sql, compiled.notes),
            Planned(
                f"the newest row per window of {compiled.table} (once per table)",
                newest(tables, compiled.table, windows),
            ),
        ]

    def __init__(self, settings: SqlSettings, context: ProviderContext):
        super().__init__(settings, context)
        self._url_text = settings.url
        if ENV_REF.match(settings.url):
            self._url_text = context.secret(settings.url, "url")
        self._dialect = settings.dialect_for(self._url_text)
        self._database = self._open()
        self._lock = threading.Lock()
        # (table, the windows' spans) → each window's newest row: see _data_ends
        self._ends: dict[tuple[Any, ...], tuple[datetime | None, ...]] = {}

    def _open(self) -> Database:
        scheme = scheme_of(self._url_text)
        if scheme == "duckdb":
            return DuckDb(self._path() or ":memory:")
        if scheme == "chdb":
            from .sql_chdb import Chdb

            return Chdb(self._path())
        if scheme == "bigquery":
            from .sql_bigquery import BigQuery

            return BigQuery(self._url_text, self.settings, self.context)
        if scheme == "sc":
            from .sql_spark_connect import SparkConnect, url_token

            # A token inside a url read whole from ${DATABASE_URL} is a secret of its own: the
            # address Spark's errors quote is the url without its query, so not redacted whole.
            self.context.add_secret(url_token(self._url_text))
            token = self.settings.password
            return SparkConnect(
                self._url_text,
                self.context.secret(token, "password") if token else None,
                self.settings.timeout.total_seconds(),
            )
        if scheme == "spark":
            from .sql_spark import Spark

            return Spark(self._url_text)
        return self._sqlalchemy()

    def _path(self) -> str | None:
        """The path of a duckdb:/// or chdb:/// url, relative to cxe.yml; None for none."""
        path = self._url_text.split("://", 1)[1].removeprefix("/").split("?", 1)[0]
        if path and path != ":memory:" and not Path(path).is_absolute():
            path = str(self.context.base_dir / path)
        return path or None

    def _sqlalchemy(self) -> Database:
        try:
            import sqlalchemy
            from sqlalchemy.exc import ArgumentError, NoSuchModuleError
        except ModuleNotFoundError:
            raise self._config_error(
                "type", "the sql provider needs SQLAlchemy: pip install 'cxe-gate[sql]'"
            ) from None
        try:
            url = sqlalchemy.make_url(self._url_text)
        except ArgumentError:
            raise self._config_error("url", f"expected a SQLAlchemy URL, {URL_HINT}") from None
        # A password inside a url read whole from ${DATABASE_URL} is a secret of its own, both as
        # written (percent-encoded) and as the driver sends it.
        self.context.add_secret(urlsplit(self._url_text).password or "")
        if self.settings.password is not None:
            url = url.set(password=self.context.secret(self.settings.password, "password"))
        self.context.add_secret(url.password or "")
        try:
            return SqlAlchemy(url, self.settings.timeout.total_seconds())
        except NoSuchModuleError:
            raise self._config_error(
                "url",
                f"SQLAlchemy has no dialect {url.drivername!r}; install the database's "
                "SQLAlchemy package",
            ) from None
        except ModuleNotFoundError as exc:
            raise self._config_error(
                "url",
                f"the driver for {url.drivername!r} is not installed ({exc.name}); "
                "install it (PostgreSQL: pip install 'cxe-gate[postgres]')",
            ) from None

    def _config_error(self, key: str, message: str) -> ConfigError:
        return ConfigError(
            self.context.redact(f"providers.{self.context.name}.{key}: {message}"),
            file=self.context.where or None,
        )

    def close(self) -> None:
        self._database.close()

    def _send(
        self, sql: str, params: dict[str, Any], shown: str, rows: int = 2
    ) -> tuple[Result, Fail]:
        """Run one query within the timeout, cut to what is left of the evaluation's deadline."""
        timeout = self.settings.timeout.total_seconds()
        remaining = self.context.remaining()
        fail = Fail(
            self.context, shown, cut_by_deadline=remaining is not None and remaining < timeout
        )
        if remaining is not None:
            if remaining <= 0:
                raise fail("not sent: the evaluation's deadline (gate.deadline) has passed")
            timeout = min(timeout, remaining)
        return self._database.run(sql, params, timeout, fail, rows), fail

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        criterion = request.criterion
        for window in windows:
            if window.cohort and check_condition(window.cohort, self._dialect):
                raise ProviderError(
                    f"the {window.label} cohort is not one SQL condition",
                    provider=self.context.name,
                )
        if criterion.query is None:
            return self._metric(request, windows)
        result = {}
        for window in windows:
            sql = _with_cohort(str(criterion.query), window.cohort)
            used = _parameters(sql)
            values = {"start": window.start, "end": window.end, **parameters(criterion)}
            params = {n: v for n, v in values.items() if n in used}
            shown = as_sent(sql, params)
            answer, fail = self._send(sql, params, shown)
            found = measurement(criterion, answer, shown, fail)
            result[window.label] = replace(found, details={**found.details, **answer.details})
        return result

    # --- built-in metrics -----------------------------------------------------------------------

    def _metric(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        """The criterion's metric over the settings' tables: one statement, a row per window."""
        criterion = request.criterion
        problems = _metric_problems(criterion, self.settings)
        if problems:  # checked at load time; again for requests built in code (plugin, API)
            raise ProviderError(problems[0][1], provider=self.context.name)
        try:
            compiled = statement(
                self._tables_in_dialect(), criterion, request.journey, windows, self.context.name
            )
        except CompileError as exc:
            raise ProviderError(str(exc), provider=self.context.name) from None
        answer, _ = self._send(compiled.sql, {}, compiled.sql, rows=len(windows) + 1)
        rows = {row[0]: row for row in answer.rows if row[0] is not None}
        ends = self._data_ends(compiled.table, windows)
        measured = {}
        for window in windows:
            row = rows.get(window.label)
            found = compiled.build(None if row is None else tuple(row[1:]), compiled.sql)
            measured[window.label] = replace(
                found,
                data_end=ends[window.label],
                notes=(*found.notes, *compiled.notes),
                details={
                    **found.details,
                    **answer.details,
                    "bytes fetched": answer.size(row) if row else 0,
                },
            )
        return measured

    def measure_series(
        self, request: MetricRequest, windows: list[TimeWindow]
    ) -> dict[str, tuple[Point, ...]]:
        """Each window's value per interval (gate.series): the built-in metric once more, after
        `measure` checked the request. A criterion's own query has no intervals to cut."""
        if request.criterion.query is not None:
            return {}
        try:
            return sql_series(
                self._send,
                self._tables_in_dialect(),
                request.criterion,
                request.journey,
                windows,
                self.context.name,
            )
        except CompileError as exc:
            raise ProviderError(str(exc), provider=self.context.name) from None

    def _tables_in_dialect(self) -> Tables:
        if self._dialect is None:
            raise ProviderError(self.settings.unknown_dialect(), provider=self.context.name)
        return self.settings.tables(self._dialect)

    def _data_ends(self, table: Table, windows: list[TimeWindow]) -> dict[str, datetime | None]:
        """Per window, the time of the table's newest row in it, whatever a criterion's filter
        or cohort: one statement per table, shared by every criterion (as the file provider)."""
        key = (table, tuple((w.start, w.end) for w in windows))
        with self._lock:
            known = self._ends.get(key)
        if known is None:
            sql = newest(self._tables_in_dialect(), table, windows)
            answer, fail = self._send(sql, {}, sql, rows=1)
            row = answer.rows[0] if answer.rows else (None,) * len(windows)
            known = tuple(moment("data_end", value, fail) for value in row)
            with self._lock:
                self._ends[key] = known
        return {w.label: end for w, end in zip(windows, known, strict=True)}
