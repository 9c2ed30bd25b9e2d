"""ClickHouse in-process, through chdb: the sql provider's `chdb://` URLs. `chdb://` is a fresh
session (tables read through table functions such as file() or s3()), `chdb:///path/to/dir` a
session over a chdb data directory, its databases and tables included."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answers import first_line
from .sql_compile import moment_literal
from .sql_engines import PARAMETER, Fail, Result

if TYPE_CHECKING:
    from chdb.session import Session

_TIMEOUT = 159  # ClickHouse's TIMEOUT_EXCEEDED


def literal(value: Any) -> str:
    """A value of our own (a window's bound, a criterion's T or percentile) as a ClickHouse
    literal: chdb's sessions bind no :name parameters."""
    if isinstance(value, datetime):
        return moment_literal(value).sql(dialect="clickhouse")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"cannot bind {value!r}")
    return repr(value)


class Chdb:
    """One chdb session; its queries run one at a time (a session is not shared by threads)."""

    def __init__(self, path: str | None):
        self.path = path
        self._session: Session | None = None
        self._lock = threading.Lock()

    def _connect(self, fail: Fail) -> Session:
        if self._session is None:
            try:
                from chdb.session import Session
            except ModuleNotFoundError:
                raise fail(
                    "chdb:// urls run ClickHouse in-process with chdb: pip install "
                    "'cxe-gate[clickhouse]'"
                ) from None
            if self.path and not Path(self.path).is_dir():
                raise fail(f"no chdb data directory at {self.path}")
            self._session = Session(self.path) if self.path else Session()
        return self._session

    def run(
        self, sql: str, params: dict[str, Any], timeout: float, fail: Fail, rows: int = 2
    ) -> Result:
        from chdb import ChdbError

        text = PARAMETER.sub(lambda m: literal(params[m[1]]), sql).replace("\\:", ":")
        with self._lock:
            session = self._connect(fail)
            try:
                session.query(f"SET max_execution_time = {max(timeout, 0.001)!r}")
                session.query("SET session_timezone = 'UTC'")
                table = session.query(text, "ArrowTable")
            # A session raises chdb._exceptions.ChdbError, a RuntimeError; chdb.query the other.
            except (ChdbError, RuntimeError) as exc:
                if f"Code: {_TIMEOUT}." in str(exc):
                    raise fail.timed_out(
                        timeout, "max_execution_time; ClickHouse stopped the query"
                    ) from None
                raise fail(f"query failed: {first_line(exc)}") from None
        found = [tuple(row.values()) for row in table.slice(0, rows).to_pylist()]
        return Result(list(table.column_names), found)

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
