"""The databases the sql provider reaches, behind one protocol: run one query with a timeout and
return its first rows. DuckDB files through the duckdb module, any other database through
SQLAlchemy; the in-process ClickHouse and Spark are in sql_chdb.py and sql_spark.py."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from ..errors import ProviderError
from .answers import first_line
from .base import ProviderContext

if TYPE_CHECKING:
    from sqlalchemy import URL

# SQLAlchemy text()'s own rule for a bound parameter (`\:` escapes a colon; `::` is a cast).
PARAMETER = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")


@dataclass(frozen=True)
class Fail:
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
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]  # at most the rows asked for
    details: dict[str, float] = field(default_factory=dict)  # what the query cost, when told

    def size(self, row: tuple[Any, ...]) -> int:
        """The bytes a row holds, written as text: what the query brought back over the wire,
        whatever the driver's own encoding."""
        return sum(len(_text(v).encode()) for v in row)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, datetime) else str(value)


class Database(Protocol):
    def run(
        self, sql: str, params: dict[str, Any], timeout: float, fail: Fail, rows: int = 2
    ) -> Result:
        """The first `rows` rows of the query's answer, `params` bound to its :names."""

    def close(self) -> None: ...


class DuckDb:
    """A DuckDB file opened read-only through the duckdb module (no SQLAlchemy dialect needed)."""

    def __init__(self, path: str):
        self.path = path
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def _connect(self, fail: Fail) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                if self.path != ":memory:" and not Path(self.path).is_file():
                    raise fail(f"no DuckDB file at {self.path}")
                try:
                    self._connection = duckdb.connect(self.path, read_only=self.path != ":memory:")
                except duckdb.Error as exc:
                    raise fail(f"cannot open {self.path}: {first_line(exc)}") from None
            return self._connection

    def run(
        self, sql: str, params: dict[str, Any], timeout: float, fail: Fail, rows: int = 2
    ) -> Result:
        cursor = self._connect(fail).cursor()  # one per query: queries run in parallel threads
        timer = threading.Timer(timeout, cursor.interrupt)
        try:
            cursor.execute("SET TimeZone = 'UTC'")
            cursor.execute("SET enable_progress_bar = false")
            timer.start()
            cursor.execute(PARAMETER.sub(r"$\1", sql).replace("\\:", ":"), params)
            columns = [d[0] for d in cursor.description or []]
            found = cursor.fetchmany(rows)
        except duckdb.InterruptException:
            raise fail.timed_out(timeout, "timeout; the query was interrupted") from None
        except duckdb.Error as exc:
            raise fail(f"query failed: {first_line(exc)}") from None
        finally:
            timer.cancel()
            cursor.close()
        return Result(columns, found)

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


class SqlAlchemy:
    """Any other database, through a SQLAlchemy engine (a pool shared by the query threads)."""

    def __init__(self, url: URL, timeout: float):
        import sqlalchemy

        self.url = url
        self.postgres = url.get_backend_name() == "postgresql"
        connect_args: dict[str, Any] = {}
        if self.postgres and url.get_driver_name() in ("psycopg", "psycopg2"):
            connect_args["connect_timeout"] = max(2, math.ceil(timeout))  # libpq: whole seconds
        self.engine = sqlalchemy.create_engine(url, connect_args=connect_args)

    def run(
        self, sql: str, params: dict[str, Any], timeout: float, fail: Fail, rows: int = 2
    ) -> Result:
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
                    found = [tuple(row) for row in result.fetchmany(rows)]
            except DBAPIError as exc:
                message = first_line(exc.orig) if exc.orig is not None else first_line(exc)
                if _sqlstate(exc) == "57014" or "statement timeout" in message:
                    raise fail.timed_out(
                        timeout, "statement_timeout; the database cancelled the query"
                    ) from None
                raise fail(f"query failed: {message}") from None
            except SQLAlchemyError as exc:
                raise fail(f"query failed: {first_line(exc)}") from None
        return Result(columns, found)

    def close(self) -> None:
        self.engine.dispose()


def _sqlstate(exc: Any) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
