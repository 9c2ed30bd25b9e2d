"""The sql provider's sc:// urls on a real Spark Connect server (its own process on 127.0.0.1, a
token required): the same criteria on the same rows give DuckDB's numbers and the ones plain Python
counts; a raw query binds its window; a slow query is interrupted at the timeout; an unreachable
server or a wrong token is an error naming the url, never the token, never a pass."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from engine_gate import assert_same, judge, tables, values
from engine_tables import _TYPES, COLUMNS, TABLES, TINY, Logs, generated, write_duckdb
from expected_metrics import WINDOWS, expected

from cxe_gate.errors import ProviderError
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.sql import SqlProvider, SqlSettings
from cxe_gate.providers.sql_spark_connect import address_of, retry_waits, url_token
from cxe_gate.results import Verdict

if TYPE_CHECKING:
    from pyspark.sql.connect.session import SparkSession
    from spark_connect_server import ConnectServer

pytest_plugins = ["spark_connect_server"]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.server,
    # pyspark 4.3's Connect client, imported by the fixture, warns that pandas 3 is untested
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

LOGS = {"tiny": TINY, "generated": generated(11)}
TOKEN_VARIABLE = "SPARK_CONNECT_TOKEN"
ERRORS = (
    "SELECT count(*) FILTER (WHERE status >= 500) AS successes, count(*) AS trials "
    "FROM {requests} WHERE timestamp >= :start AND timestamp < :end"
)


def write_views(logs: Logs, session: SparkSession, prefix: str) -> None:
    """The logs as global temporary views `global_temp.<prefix>_<table>`: seen by every session
    of the server (a plain temporary view is its own session's only)."""
    for table in TABLES:
        schema = ", ".join(f"{column} {_TYPES['spark'][kind]}" for column, kind in COLUMNS[table])
        frame = session.createDataFrame(logs.rows(table), schema=schema)
        frame.createOrReplaceGlobalTempView(f"{prefix}_{table}")


@pytest.fixture(scope="module")
def views(spark_connect: ConnectServer) -> Iterator[dict[str, str]]:
    """Each set of logs on the server, written through a Connect session of the test's own; the
    table prefix of each."""
    from pyspark.sql.connect.client import DefaultChannelBuilder
    from pyspark.sql.connect.session import SparkSession

    address = f"{spark_connect.url}/;token={spark_connect.token}"
    session = SparkSession(connection=DefaultChannelBuilder(address))
    # Names of this worker's own: the xdist workers share the server.
    prefixes = {name: f"{name}_{uuid.uuid4().hex[:8]}" for name in LOGS}
    try:
        for name, rows in LOGS.items():
            write_views(rows, session, prefixes[name])
        yield {name: f"global_temp.{prefix}" for name, prefix in prefixes.items()}
    finally:
        session.stop()


def connect_provider(url: str, timeout: str = "5m") -> str:
    """The sql provider's settings (a YAML flow mapping) for a Spark Connect url, the token from
    the environment."""
    return f"{{type: sql, url: '{url}', password: '${{{TOKEN_VARIABLE}}}', timeout: {timeout}"


def provider(server: ConnectServer, timeout: str = "5m", **settings: str) -> SqlProvider:
    context = ProviderContext(
        name="connect",
        base_dir=Path("/"),
        environ={TOKEN_VARIABLE: server.token},
        where="cxe.yml:3",
    )
    password = f"${{{TOKEN_VARIABLE}}}"
    fields = {"url": server.url, "password": password, "timeout": timeout, **settings}
    return SqlProvider(SqlSettings.model_validate(fields), context)


def measure(sql: SqlProvider, **fields: str):
    from pydantic import TypeAdapter

    from cxe_gate.config import Criterion

    criterion = TypeAdapter(Criterion).validate_python({"name": "c", "max_rise": "50%", **fields})
    windows = [TimeWindow(label, start, end) for label, (start, end) in WINDOWS.items()]
    return sql.measure(MetricRequest(criterion), windows)


# --- the same numbers ---------------------------------------------------------------------------


def test_spark_connect_gives_duckdb_s_numbers(
    tmp_path: Path, spark_connect: ConnectServer, views: dict[str, str]
):
    # The generated logs only (a few thousand rows, rows outside the windows, missing values):
    # a gate over the tiny ones costs 13 s more on a one-core server and adds no case.
    logs = "generated"
    duckdb = write_duckdb(LOGS[logs], tmp_path / "warehouse.duckdb")
    on_duckdb = values(
        judge(tmp_path, f"{{type: sql, url: 'duckdb:///{duckdb}', {tables('logs')}}}")
    )
    names = ", ".join(f"{t}: {views[logs]}_{t}" for t in TABLES)
    settings = connect_provider(spark_connect.url) + f", {names}}}"
    report = judge(tmp_path, settings, **{TOKEN_VARIABLE: spark_connect.token})
    on_connect = values(report)
    # expected() counts each metric in plain Python, apart from any SQL engine.
    assert_same(on_connect, expected(LOGS[logs]))
    assert_same(on_connect, on_duckdb)
    assert spark_connect.token not in report.model_dump_json()


def test_a_raw_query_binds_its_window_and_the_data_end_is_read(
    spark_connect: ConnectServer, views: dict[str, str]
):
    requests = f"{views['tiny']}_requests"
    sql = provider(spark_connect, requests=requests)
    try:
        raw = measure(sql, metric="error_rate", query=ERRORS.format(requests=requests))
        built = measure(sql, metric="error_rate")
    finally:
        sql.close()
    # tiny_logs' requests: 1 of 4 failed in the baseline window, 1 of 5 in the release window.
    assert (raw["baseline"].value, raw["release"].value) == (0.25, 0.2)
    release_start, release_end = WINDOWS["release"]
    newest = max(r[0] for r in TINY.requests if release_start <= r[0] < release_end)
    assert built["release"].data_end == newest
    # A window's label and two counts come back ("release", "1", "5": 9 bytes), never the rows.
    assert built["release"].details["bytes fetched"] == len("release") + len("1") + len("5")


# --- what goes wrong ----------------------------------------------------------------------------


def test_an_unreachable_server_is_an_error_naming_the_url(tmp_path: Path, unused_port: int):
    url = f"sc://127.0.0.1:{unused_port}"
    began = time.monotonic()
    report = judge(
        tmp_path,
        connect_provider(url, timeout="2s") + ", requests: logs_requests}",
        criteria="  - {name: errors, metric: error_rate, max: 90%, min_samples: 1, test: none}\n"
        "  - {name: p95, metric: latency, percentile: 95, max: 100s, min_samples: 1}\n",
        **{TOKEN_VARIABLE: "tok-never-shown"},
    )
    took = time.monotonic() - began
    assert report.verdict != Verdict.PASS
    assert [c.verdict for c in report.criteria] == [Verdict.ERROR, Verdict.ERROR]
    for criterion in report.criteria:
        assert f"cannot reach the Spark Connect server at {url}: " in (criterion.message or "")
    assert "tok-never-shown" not in report.model_dump_json()
    # Retries stop at about the 2 s timeout, and the second criterion does not wait again
    # (the client's own policy retries for minutes; 4 s of imports on a cold process).
    assert took < 15


def test_a_wrong_token_is_refused_and_never_shown(tmp_path: Path, spark_connect: ConnectServer):
    report = judge(
        tmp_path,
        connect_provider(spark_connect.url, timeout="10s") + ", requests: logs_requests}",
        criteria="  - {name: errors, metric: error_rate, max: 90%, min_samples: 1, test: none}\n",
        **{TOKEN_VARIABLE: "wrong-token-value"},
    )
    (criterion,) = report.criteria
    assert criterion.verdict == Verdict.ERROR
    assert criterion.message == (
        f"provider 'db': the Spark Connect server at {spark_connect.url} refused the token (UNAUTHENTICATED); "
        f"check {TOKEN_VARIABLE}"
    )
    assert "wrong-token-value" not in report.model_dump_json()


def test_a_query_error_gives_spark_s_first_line(spark_connect: ConnectServer):
    sql = provider(spark_connect, timeout="60s")
    try:
        with pytest.raises(ProviderError) as caught:
            measure(
                sql,
                metric="custom",
                query="SELECT nope AS value FROM range(3) WHERE :start < :end",
            )
    finally:
        sql.close()
    assert str(caught.value).startswith("query failed: [UNRESOLVED_COLUMN.WITH_SUGGESTION]")
    assert "\n" not in str(caught.value)


def test_a_slow_query_is_interrupted_at_the_timeout(spark_connect: ConnectServer, views):
    sql = provider(spark_connect, timeout="1500ms")
    # 8 billion pairs: seconds of work on any machine (the local Spark test's own measure)
    slow = (
        "SELECT count(*) AS value FROM range(200000) a CROSS JOIN range(40000) b "
        "WHERE :start < :end AND (a.id * b.id) % 7 = 3"
    )
    try:
        with pytest.raises(ProviderError) as caught:
            measure(sql, metric="custom", query=slow)
    finally:
        sql.close()
    assert str(caught.value) == (
        "no answer within 1.5 s (timeout; Spark Connect interrupted the query)"
    )
    # The server is usable again once the interrupted tasks finish their batch.
    again = provider(spark_connect, timeout="60s")
    try:
        found = measure(again, metric="custom", query="SELECT 2 AS value WHERE :start < :end")
    finally:
        again.close()
    assert found["release"].value == 2.0


# --- the url ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "token", "dialled", "shown", "settings"),
    [
        ("sc://h:15002", None, "sc://h:15002", "sc://h:15002", {}),
        ("sc://h:15002", "t0k", "sc://h:15002/;token=t0k", "sc://h:15002", {}),
        (
            "sc://h:443/;use_ssl=true;token=inurl?spark.sql.shuffle.partitions=4",
            None,
            "sc://h:443/;use_ssl=true;token=inurl",
            "sc://h:443/;use_ssl=true",
            {"spark.sql.shuffle.partitions": "4"},
        ),
        (  # the `password` setting wins over a token in the url
            "sc://h:443/;token=inurl;use_ssl=true",
            "fromenv",
            "sc://h:443/;use_ssl=true;token=fromenv",
            "sc://h:443/;use_ssl=true",
            {},
        ),
    ],
)
def test_the_address_dialled_and_the_address_shown(url, token, dialled, shown, settings):
    assert address_of(url, token) == (dialled, shown, settings)


def test_the_token_of_a_url_read_whole():
    assert url_token("sc://h:443/;use_ssl=true;token=abc-123?spark.x=1") == "abc-123"
    assert url_token("sc://h:443/;use_ssl=true") == ""


def test_retries_wait_about_the_timeout():
    # 50 + 100 + 200 + 400 + 800 ms = 1.55 s fit in 2 s; the next wait (1 s) would not.
    assert retry_waits(2.0) == 5
    # then 1 s each: 1.55 + 8 × 1 = 9.55 s fit in 10 s
    assert retry_waits(10.0) == 13
