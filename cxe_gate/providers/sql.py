"""The `sql` provider: any database SQLAlchemy reaches (PostgreSQL, MySQL, Snowflake, BigQuery...) and
DuckDB files. Each criterion is one SQL query, run once per window with :start and :end bound, that
returns one row in the column contract of the file provider's custom queries."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import duckdb
from pydantic import Field, field_validator

from .. import metrics
from ..config import (
    ApdexCriterion,
    Cohorts,
    ConversionCriterion,
    CriterionBase,
    Duration,
    EngagementCriterion,
    ErrorRateCriterion,
    FeedbackCriterion,
    LatencyCriterion,
    Problems,
    Secret,
)
from ..errors import ConfigError, ProviderError
from ..measurement import Measurement, TimeWindow
from .answers import first_line
from .base import MetricRequest, Provider, ProviderContext, ProviderSettings
from .capabilities import text_query_problems
from .conditions import check_condition, dialect_for_backend
from .query_contract import COUNTS, counts_problem, from_counts, parameters

if TYPE_CHECKING:
    from sqlalchemy import URL

# SQLAlchemy text()'s own rule for a bound parameter (`\:` escapes a colon; `::` is a cast).
_PARAMETER = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")
_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_URL_HINT = "e.g. postgresql+psycopg://gate@db.internal:5432/analytics or duckdb:///events.duckdb"

_COLUMNS = frozenset(
    {"value", "samples", "variance", "successes", "trials", *COUNTS["nps"], *COUNTS["apdex"]}
)


class SqlSettings(ProviderSettings):
    url: str = Field(
        description="a SQLAlchemy URL: ${DATABASE_URL}, or written out without a password (give "
        "it in `password`); duckdb:///path/to/file.duckdb for a DuckDB file (relative to cxe.yml)"
    )
    password: Secret | None = Field(None, description="the database password, as ${VAR}")
    timeout: Duration = Field(
        timedelta(seconds=30),
        description="per query (PostgreSQL's statement_timeout; DuckDB is interrupted) and to "
        "connect; the evaluation's deadline cuts it shorter",
    )
    max_concurrency: int | None = Field(
        4, ge=1, description="queries in flight at once (connections held)"
    )

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, url: str) -> str:
        url = url.strip()
        if _ENV_REF.match(url):
            return url
        # Never echo the URL: it may hold the password pasted inline.
        try:
            parts = urlsplit(url)
            password = parts.password
        except ValueError:
            raise ValueError(f"expected a SQLAlchemy URL, {_URL_HINT}") from None
        if not parts.scheme or "://" not in url:
            raise ValueError(f"expected a SQLAlchemy URL, {_URL_HINT}")
        if password:
            raise ValueError(
                "the url holds a password: give it as `password: ${DB_PASSWORD}`, or the whole "
                "url as ${DATABASE_URL}, never inline"
            )
        return url


# --- load-time checks ---------------------------------------------------------------------------


def _parameters(sql: str) -> set[str]:
    return set(_PARAMETER.findall(sql))


def _available(criterion: CriterionBase) -> list[str]:
    return ["start", "end", COHORT, *parameters(criterion)]


# Not a bound value but a condition: `:cohort` is replaced by the window's cohort condition (checked
# as one SQL condition and parenthesised), or by a condition true for every row.
COHORT = "cohort"


def _with_cohort(sql: str, cohort: str | None) -> str:
    condition = f"({cohort})" if cohort else "(1 = 1)"
    return _PARAMETER.sub(
        lambda m: condition if m[1] == COHORT else m[0],
        sql,
    )


def _dialect(url: str) -> str | None:
    """The SQLGlot dialect of a URL written out (postgresql+psycopg://...); None when it is only
    known at run time (${DATABASE_URL})."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return dialect_for_backend(scheme.split("+", 1)[0])


def _contract(criterion: CriterionBase) -> str:
    """The columns a query for this criterion returns."""
    rate = "successes and trials"
    if isinstance(criterion, ConversionCriterion):
        return f"{rate} (units that completed the journey, of units that started it)"
    if isinstance(criterion, ErrorRateCriterion):
        return f"{rate} (failed requests, of requests)"
    if isinstance(criterion, ApdexCriterion):
        return "satisfied, tolerating and frustrated (counts of requests)"
    if isinstance(criterion, LatencyCriterion):
        return "value (milliseconds) and samples (requests)"
    if isinstance(criterion, FeedbackCriterion):
        if criterion.scale == "nps":
            return "promoters, passives and detractors (counts of answers)"
        return f"{rate} (4-5 answers, of answers)"
    if isinstance(criterion, EngagementCriterion):
        if criterion.measure == "adoption":
            return f"{rate} (units that sent the event, of active units)"
        if criterion.measure == "active_users":
            return "value and samples (distinct users)"
        return "value, samples and variance (of the per-unit counts)"
    return "value (and optionally samples and variance), or successes and trials"


def _query_needed(criterion: CriterionBase) -> str:
    """What a criterion without a query must give: this provider has no default one."""
    return (
        "the sql provider runs the criterion's own query: give `query:` with SQL selecting the "
        f"window's rows with :start and :end and returning {_contract(criterion)}"
    )


# --- the databases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fail:
    """Makes the ProviderError for one query: redacted, carrying the query as sent."""

    context: ProviderContext
    query: str
    cut_by_deadline: bool = False  # the timeout was shortened to the evaluation's deadline

    def __call__(self, message: str) -> ProviderError:
        redact = self.context.redact
        return ProviderError(redact(message), provider=self.context.name, query=redact(self.query))

    def refused(self, message: str) -> ProviderError:
        variables = ", ".join(self.context.secret_variables) or "the url's user and password"
        return self(f"{message}; check {variables}")

    def timed_out(self, timeout: float, how: str) -> ProviderError:
        message = f"no answer within {timeout:g} s ({how})"
        if self.cut_by_deadline:
            message += "; the evaluation's deadline (gate.deadline) cut it short"
        return self(message)


@dataclass(frozen=True)
class _Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]  # at most two: one is expected


class _Database(Protocol):
    def run(self, sql: str, params: dict[str, Any], timeout: float, fail: _Fail) -> _Result: ...

    def close(self) -> None: ...


class _DuckDb:
    """A DuckDB file opened read-only through the duckdb module (no SQLAlchemy dialect needed)."""

    def __init__(self, path: str):
        self.path = path
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def _connect(self, fail: _Fail) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                if self.path != ":memory:" and not Path(self.path).is_file():
                    raise fail(f"no DuckDB file at {self.path}")
                try:
                    self._connection = duckdb.connect(self.path, read_only=self.path != ":memory:")
                except duckdb.Error as exc:
                    raise fail(f"cannot open {self.path}: {first_line(exc)}") from None
            return self._connection

    def run(self, sql: str, params: dict[str, Any], timeout: float, fail: _Fail) -> _Result:
        cursor = self._connect(fail).cursor()  # one per query: queries run in parallel threads
        timer = threading.Timer(timeout, cursor.interrupt)
        try:
            cursor.execute("SET TimeZone = 'UTC'")
            cursor.execute("SET enable_progress_bar = false")
            timer.start()
            cursor.execute(_PARAMETER.sub(r"$\1", sql).replace("\\:", ":"), params)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(2)
        except duckdb.InterruptException:
            raise fail.timed_out(timeout, "timeout; the query was interrupted") from None
        except duckdb.Error as exc:
            raise fail(f"query failed: {first_line(exc)}") from None
        finally:
            timer.cancel()
            cursor.close()
        return _Result(columns, rows)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# Signs of a refused login in the drivers' own words (PostgreSQL, MySQL, SQL Server, Snowflake).
_AUTH_FAILED = re.compile(
    r"password authentication failed|authentication failed|access denied|login failed|"
    r"incorrect username or password|28P01|28000",
    re.IGNORECASE,
)


class _SqlAlchemy:
    """Any other database, through a SQLAlchemy engine (a pool shared by the query threads)."""

    def __init__(self, url: URL, timeout: float):
        import sqlalchemy

        self.url = url
        self.postgres = url.get_backend_name() == "postgresql"
        connect_args: dict[str, Any] = {}
        if self.postgres and url.get_driver_name() in ("psycopg", "psycopg2"):
            connect_args["connect_timeout"] = max(2, math.ceil(timeout))  # libpq: whole seconds
        self.engine = sqlalchemy.create_engine(url, connect_args=connect_args)

    def run(self, sql: str, params: dict[str, Any], timeout: float, fail: _Fail) -> _Result:
        import sqlalchemy
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        where = self.url.host or "localhost"
        if self.url.port:
            where += f":{self.url.port}"
        try:
            connection = self.engine.connect()
        except DBAPIError as exc:
            message = first_line(exc.orig) if exc.orig is not None else first_line(exc)
            if _AUTH_FAILED.search(message) or _sqlstate(exc).startswith("28"):
                raise fail.refused(
                    f"the database at {where} refused the credentials of user "
                    f"{self.url.username!r}: {message}"
                ) from None
            raise fail(f"cannot connect to the database at {where}: {message}") from None
        except SQLAlchemyError as exc:
            raise fail(f"cannot connect to the database at {where}: {first_line(exc)}") from None
        with connection:
            try:
                with connection.begin():
                    if self.postgres:
                        # Local to this transaction: the pooled connection keeps no state.
                        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                        connection.exec_driver_sql(
                            f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}"
                        )
                        connection.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
                    result = connection.execute(sqlalchemy.text(sql), params)
                    columns = list(result.keys())
                    rows = [tuple(row) for row in result.fetchmany(2)]
            except DBAPIError as exc:
                message = first_line(exc.orig) if exc.orig is not None else first_line(exc)
                if _sqlstate(exc) == "57014" or "statement timeout" in message:
                    raise fail.timed_out(
                        timeout, "statement_timeout; the database cancelled the query"
                    ) from None
                raise fail(f"query failed: {message}") from None
            except SQLAlchemyError as exc:
                raise fail(f"query failed: {first_line(exc)}") from None
        return _Result(columns, rows)

    def close(self) -> None:
        self.engine.dispose()


def _sqlstate(exc: Any) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


# --- reading the row ----------------------------------------------------------------------------


def _number(column: str, value: Any, fail: _Fail) -> float | None:
    """A column's value as a float; None for NULL and NaN (no data)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        raise fail(f"column {column} is {shown} ({type(value).__name__}), expected a number")
    number = float(value)
    return None if math.isnan(number) else number


def _count(column: str, value: float | None, fail: _Fail) -> int:
    if value is None:
        return 0
    if value < 0 or value != int(value):
        raise fail(f"column {column} is {value:g}, expected a count (a whole number ≥ 0)")
    return int(value)


def _moment(column: str, value: Any, fail: _Fail) -> datetime | None:
    """A column's time as an aware UTC datetime. Without a zone it is UTC (PostgreSQL's session
    runs in UTC); SQLite keeps times as ISO 8601 text."""
    if value is None:
        return None
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if not isinstance(moment, datetime):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        raise fail(
            f"column {column} is {shown} ({type(value).__name__}), expected a timestamp "
            "such as max(ts)"
        )
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _measurement(criterion: CriterionBase, result: _Result, shown: str, fail: _Fail) -> Measurement:
    """One window's row as a Measurement, the way the file provider reads a custom query. An
    optional data_end column (the time of the window's newest row) becomes its data_end."""
    columns = [c.lower() for c in result.columns]
    if "data_end" not in columns:
        return _values(criterion, result, shown, fail)
    at = columns.index("data_end")
    newest = _moment("data_end", result.rows[0][at], fail) if result.rows else None
    rest = _Result(
        [c for i, c in enumerate(result.columns) if i != at],
        [tuple(v for i, v in enumerate(row) if i != at) for row in result.rows],
    )
    return replace(_values(criterion, rest, shown, fail), data_end=newest)


def _values(criterion: CriterionBase, result: _Result, shown: str, fail: _Fail) -> Measurement:
    columns = [c.lower() for c in result.columns]
    unknown = [c for c in columns if c not in _COLUMNS]
    if unknown or not columns:
        raise fail(
            f"unexpected column(s) {', '.join(unknown) or '(none)'}; this criterion's query "
            f"returns {_contract(criterion)}, and optionally data_end (its newest row's time)"
        )
    if len(result.rows) > 1:
        raise fail("the query returned more than one row; expected one row per window")
    if not result.rows:
        return Measurement(value=None, samples=0, query=shown)
    values = {c: _number(c, v, fail) for c, v in zip(columns, result.rows[0], strict=True)}
    details = {c: v for c, v in values.items() if v is not None}

    for kind, names in COUNTS.items():
        if not set(names) & set(columns):
            continue
        missing = [n for n in names if n not in columns]
        if missing:
            raise fail(f"give all of {', '.join(names)} (missing: {', '.join(missing)})")
        problem = counts_problem(kind, criterion)
        if problem:
            raise fail(f"{problem}; return {_contract(criterion)}")
        return from_counts(kind, [_count(n, values[n], fail) for n in names], query=shown)

    if "successes" in columns or "trials" in columns:
        if not {"successes", "trials"} <= set(columns):
            raise fail("give both successes and trials")
        successes = _count("successes", values["successes"], fail)
        trials = _count("trials", values["trials"], fail)
        if successes > trials:
            raise fail(f"successes ({successes}) exceed trials ({trials})")
        return metrics.proportion(successes, trials, query=shown)

    if "value" not in columns:
        raise fail(f"no value column; this criterion's query returns {_contract(criterion)}")
    value = values["value"]
    samples = _count("samples", values.get("samples"), fail) if "samples" in columns else 1
    if value is None or samples == 0:
        return Measurement(value=None, samples=0, details=details, query=shown)
    return Measurement(
        value=value, samples=samples, variance=values.get("variance"), details=details, query=shown
    )


def _shown(sql: str, params: dict[str, Any]) -> str:
    """The query as sent: the SQL and, after it, the values bound to its parameters."""
    bound = ", ".join(
        f":{name} = {value.isoformat() if isinstance(value, datetime) else value!r}"
        for name, value in sorted(params.items())
    )
    return f"{sql.strip()}\n-- {bound}" if bound else sql.strip()


# --- the provider -------------------------------------------------------------------------------


class SqlProvider(Provider):
    settings_model = SqlSettings
    settings: SqlSettings
    takes_filter = False
    narrow_instead = "it runs `query` as written: put this condition in it"
    takes_cohorts = True
    query_kind = "an SQL query"

    @classmethod
    def criterion_problems(cls, criterion: CriterionBase, settings: ProviderSettings) -> Problems:
        if criterion.query is None:
            return [(("query",), _query_needed(criterion))]
        if not isinstance(criterion.query, str):
            return text_query_problems(cls, criterion)
        problems: Problems = []
        used = _parameters(criterion.query)
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
        dialect = _dialect(settings.url)
        for label, text in (("release", cohorts.release), ("baseline", cohorts.baseline)):
            problem = check_condition(text, dialect, example="version = '2.0'")
            if problem:
                problems.append(f"the {label} cohort {problem}")
        return problems

    def __init__(self, settings: SqlSettings, context: ProviderContext):
        super().__init__(settings, context)
        self._url_text = settings.url
        if _ENV_REF.match(settings.url):
            self._url_text = context.secret(settings.url, "url")
        self._database = self._open()

    def _open(self) -> _Database:
        scheme = self._url_text.split("://", 1)[0].lower() if "://" in self._url_text else ""
        if scheme == "duckdb":
            path = self._url_text.split("://", 1)[1].removeprefix("/").split("?", 1)[0]
            if path and path != ":memory:" and not Path(path).is_absolute():
                path = str(self.context.base_dir / path)
            return _DuckDb(path or ":memory:")
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
            raise self._config_error("url", f"expected a SQLAlchemy URL, {_URL_HINT}") from None
        # A password inside a url read whole from ${DATABASE_URL} is a secret of its own, both as
        # written (percent-encoded) and as the driver sends it.
        self.context.add_secret(urlsplit(self._url_text).password or "")
        if self.settings.password is not None:
            url = url.set(password=self.context.secret(self.settings.password, "password"))
        self.context.add_secret(url.password or "")
        try:
            return _SqlAlchemy(url, self.settings.timeout.total_seconds())
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

    def measure(self, request: MetricRequest, windows: list[TimeWindow]) -> dict[str, Measurement]:
        criterion = request.criterion
        result = {}
        for window in windows:
            if window.cohort and check_condition(window.cohort, _dialect(self._url_text)):
                raise ProviderError(
                    f"the {window.label} cohort is not one SQL condition",
                    provider=self.context.name,
                )
            sql = _with_cohort(str(criterion.query), window.cohort)
            used = _parameters(sql)
            bound = {"start": window.start, "end": window.end, **parameters(criterion)}
            params = {n: v for n, v in bound.items() if n in used}
            shown = _shown(sql, params)
            timeout = self.settings.timeout.total_seconds()
            remaining = self.context.remaining()
            fail = _Fail(
                self.context, shown, cut_by_deadline=remaining is not None and remaining < timeout
            )
            if remaining is not None:
                if remaining <= 0:
                    raise fail("not sent: the evaluation's deadline (gate.deadline) has passed")
                timeout = min(timeout, remaining)
            answer = self._database.run(sql, params, timeout, fail)
            result[window.label] = _measurement(criterion, answer, shown, fail)
        return result
