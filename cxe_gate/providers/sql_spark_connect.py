"""Spark SQL on a Spark Connect server: the sql provider's `sc://host:15002` URLs (Spark's own
Connect address, as Databricks and Spark 4 clusters serve it), with the token from `password`."""

from __future__ import annotations

import re
import threading
import uuid
import warnings
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..errors import ProviderError
from .answers import first_line
from .sql_engines import Fail, Result

if TYPE_CHECKING:
    from pyspark.sql.connect.session import SparkSession

# Spark's `;name=value` parameters after the address; the token is the one kept out of messages.
_TOKEN = re.compile(r";token=[^;?#]*")
# gRPC status names in the client's errors that mean "no server answered" or "not let in".
_UNREACHABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED")
_REFUSED = ("UNAUTHENTICATED", "PERMISSION_DENIED")


def url_token(url: str) -> str:
    """The token an sc:// url read whole from ${DATABASE_URL} carries (`/;token=…`), or ""."""
    match = _TOKEN.search(url.partition("?")[0])
    return match[0].removeprefix(";token=") if match else ""


def address_of(url: str, token: str | None) -> tuple[str, str, dict[str, str]]:
    """(the address the client dials, the address messages name, the `?spark.*` settings) of an
    sc:// url; a token from `password` takes the place of one in the url."""
    base, _, query = url.partition("?")
    shown = _TOKEN.sub("", base)
    if token:
        base = shown if ";" in shown else shown.rstrip("/") + "/"
        base += f";token={token}"
    return base, shown.rstrip("/;") or shown, dict(parse_qsl(query))


def retry_waits(timeout: float) -> int:
    """How many retries make the client's waits between attempts (50 ms doubling up to 1 s) add
    up to about `timeout`: its default policy retries for ten minutes, past any gate's timeout."""
    waits, total, wait = 0, 0.0, 0.05
    while total + wait <= timeout:
        total += wait
        waits += 1
        wait = min(wait * 2, 1.0)
    return waits


class SparkConnect:
    """A Spark Connect session of its own (never the process's default one), made on first use;
    its queries run in parallel threads, each tagged so that a timeout interrupts it."""

    def __init__(self, url: str, token: str | None, timeout: float):
        self.address, self.shown, self.settings = address_of(url, token)
        self.timeout = timeout
        self._session: SparkSession | None = None
        self._lock = threading.Lock()
        # Why the server could not be used: every later query of this evaluation fails at once
        # with it, rather than each waiting out its own timeout.
        self._unusable: str | None = None

    def _connect(self, fail: Fail) -> SparkSession:
        with self._lock:
            if self._unusable is not None:
                raise fail(self._unusable)
            if self._session is None:
                try:
                    self._session = self._start(fail)
                except ProviderError as exc:
                    self._unusable = str(exc)
                    raise
            return self._session

    def _start(self, fail: Fail) -> SparkSession:
        try:
            with warnings.catch_warnings():
                # pyspark 4's client warns on import that pandas 3 is newer than it was tested on
                warnings.simplefilter("ignore", FutureWarning)
                from pyspark.errors import PySparkException
                from pyspark.sql.connect.client import DefaultChannelBuilder
                from pyspark.sql.connect.client.retries import DefaultPolicy
                from pyspark.sql.connect.session import SparkSession
        except ImportError as exc:  # no pyspark, no gRPC, or a pyspark older than 4.0
            raise fail(
                f"sc:// urls need pyspark 4's Spark Connect client ({first_line(exc)}): pip "
                "install 'cxe-gate[spark-connect]'"
            ) from None
        # The client warns once more when it gives up retrying; the error says it already.
        warnings.filterwarnings(
            "ignore", message=r"\[RETRIES_EXCEEDED\]", module=r"pyspark\.sql\.connect"
        )
        try:
            session = SparkSession(connection=DefaultChannelBuilder(self.address))
        except PySparkException as exc:  # a malformed address: Spark's own words
            raise fail(
                f"cannot use the Spark Connect url {self.shown}: {first_line(exc)}"
            ) from None
        policy = DefaultPolicy(
            max_retries=retry_waits(self.timeout),
            backoff_multiplier=2.0,
            max_backoff=1000,
            max_server_retry_delay=1000,  # a busy server's own "retry after" is capped too
        )
        session.client.set_retry_policies([policy])
        # The first call is the first to reach the server: an absent one or a refused token
        # shows here.
        try:
            session.conf.set("spark.sql.session.timeZone", "UTC")
            for key, value in self.settings.items():
                session.conf.set(key, value)
        except _client_errors() as exc:
            session.stop()
            raise self._failure(exc, fail) from None
        return session

    def run(
        self, sql: str, params: dict[str, Any], timeout: float, fail: Fail, rows: int = 2
    ) -> Result:
        session = self._connect(fail)
        tag = f"cxe-gate-{uuid.uuid4().hex}"
        session.addTag(tag)  # this thread's operations only
        interrupted = threading.Event()

        def interrupt() -> None:
            interrupted.set()
            session.interruptTag(tag)

        timer = threading.Timer(timeout, interrupt)
        timer.start()
        try:
            frame = session.sql(sql.replace("\\:", ":"), args=params or None)
            # Arrow keeps the column names of an empty answer and hands times back in UTC.
            table = frame.limit(rows).toArrow()
        except _client_errors() as exc:
            if interrupted.is_set():
                raise fail.timed_out(
                    timeout, "timeout; Spark Connect interrupted the query"
                ) from None
            raise self._failure(exc, fail, "query failed") from None
        finally:
            timer.cancel()
            session.removeTag(tag)
        columns = list(table.column_names)
        found = list(zip(*(column.to_pylist() for column in table.columns), strict=True))
        return Result(columns, found)

    def _failure(self, exc: Exception, fail: Fail, what: str = "") -> ProviderError:
        status, message = _status(exc), _message(exc)
        if status in _REFUSED:
            return fail.refused(
                f"the Spark Connect server at {self.shown} refused the token ({status})"
            )
        if status in _UNREACHABLE:
            return fail(f"cannot reach the Spark Connect server at {self.shown}: {message}")
        return fail(f"{what or 'Spark Connect at ' + self.shown}: {message}")

    def close(self) -> None:
        # Ends this provider's session on the server and closes the channel; the server stays.
        with self._lock:
            if self._session is not None:
                self._session.stop()
            self._session = None


def _client_errors() -> tuple[type[Exception], ...]:
    """What a Connect call raises: pyspark's errors, and gRPC's own when a retry gives up."""
    import grpc  # type: ignore[import-untyped]  # grpcio ships no types
    from pyspark.errors import PySparkException

    return (PySparkException, grpc.RpcError)


def _status(exc: BaseException) -> str:
    """The gRPC status of a failed call (UNAVAILABLE, UNAUTHENTICATED, ...), or "" for an error
    the server answered with (a bad query)."""
    spark_code = getattr(exc, "getGrpcStatusCode", None)
    code = spark_code() if callable(spark_code) else None
    rpc_code = getattr(exc, "code", None)
    if code is None and callable(rpc_code):
        code = rpc_code()
    return str(getattr(code, "name", "") or "")


def _message(exc: BaseException) -> str:
    """The error's first line. The client wraps a failed call's gRPC error, whose text is its
    repr over five lines: its `details` say it in one."""
    rpc = exc if callable(getattr(exc, "details", None)) else exc.__context__
    details = getattr(rpc, "details", None)
    if callable(details) and _status(exc) and details():
        return first_line(details())
    return first_line(exc)
