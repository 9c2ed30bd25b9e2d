"""Spark SQL through a SparkSession: the sql provider's `spark://` URLs (`sc://`, Spark Connect, is
sql_spark_connect.py).

- `spark://local` runs Spark in this process (`local[*]`; `?threads=2` for `local[2]`);
- `spark://host:7077` joins a standalone cluster as its driver.
Other `spark.*` query parameters are Spark settings. A session already running in this process
(a notebook's, a test suite's) is used as it is."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .answers import first_line
from .sql_engines import Fail, Result

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark's own defaults print a progress bar and serve a web UI: the core never prints.
_QUIET = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
}


def master_of(url: str) -> tuple[str, dict[str, str]]:
    """The master and the settings a spark:// URL names."""
    parts = urlsplit(url)
    settings = dict(parse_qsl(parts.query))
    threads = settings.pop("threads", "*")
    if parts.hostname == "local":
        return f"local[{threads}]", settings
    return f"spark://{parts.netloc}", settings


class Spark:
    """A SparkSession, made on first use (a JVM start takes seconds) or found running."""

    def __init__(self, url: str):
        self.url = url
        self._session: SparkSession | None = None
        self._lock = threading.Lock()

    def _connect(self, fail: Fail) -> SparkSession:
        with self._lock:
            if self._session is None:
                self._session = self._start(fail)
            return self._session

    def _start(self, fail: Fail) -> SparkSession:
        try:
            from pyspark.errors import PySparkException
            from pyspark.sql import SparkSession
        except ModuleNotFoundError:
            raise fail("spark:// urls need pyspark: pip install 'cxe-gate[spark]'") from None
        master, settings = master_of(self.url)
        builder = SparkSession.builder.master(master).appName("cxe-gate")
        for key, value in (_QUIET | settings).items():
            builder = builder.config(key, value)
        try:
            return builder.getOrCreate()
        except PySparkException as exc:  # no Java, a JVM that would not start
            raise fail(f"cannot start Spark ({master}): {first_line(exc)}") from None

    def run(
        self, sql: str, params: dict[str, Any], timeout: float, fail: Fail, rows: int = 2
    ) -> Result:
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]  # py4j ships no types
        from pyspark.errors import PySparkException

        session = self._connect(fail)
        tag = f"cxe-gate-{uuid.uuid4().hex}"
        cancel = self._tag(session, tag)
        interrupted = threading.Event()

        def interrupt() -> None:
            interrupted.set()
            cancel()

        timer = threading.Timer(timeout, interrupt)
        timer.start()
        try:
            frame = session.sql(sql.replace("\\:", ":"), args=params or None)
            columns = list(frame.columns)
            found = [tuple(_utc(v) for v in row) for row in frame.take(rows)]
        except (PySparkException, Py4JError) as exc:
            if interrupted.is_set():
                raise fail.timed_out(timeout, "timeout; Spark cancelled the query") from None
            raise fail(f"query failed: {_message(exc)}") from None
        finally:
            timer.cancel()
            self._untag(session, tag)
        return Result(columns, found)

    def _tag(self, session: SparkSession, tag: str) -> Callable[[], Any]:
        """Tag this thread's jobs; what cancels them. A running task is stopped only with
        interruptOnCancel (a long scan checks for no other signal)."""
        context = session.sparkContext
        context.addJobTag(tag)
        context.setInterruptOnCancel(True)
        return lambda: context.cancelJobsWithTag(tag)

    def _untag(self, session: SparkSession, tag: str) -> None:
        session.sparkContext.removeJobTag(tag)

    def close(self) -> None:
        # The session is left running for the process: a JVM start takes seconds, and it may be
        # a notebook's own.
        with self._lock:
            self._session = None


def _message(exc: Exception) -> str:
    """Spark's own first line: a JVM error arrives wrapped in py4j's "An error occurred while
    calling o38.sql." line."""
    java = getattr(exc, "java_exception", None)
    return first_line(java.getMessage() if java is not None else exc)


def _utc(value: Any) -> Any:
    """PySpark hands a TIMESTAMP back as a naive datetime in this machine's local time."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.astimezone(UTC)
    return value
