"""The sql provider on the in-process engines: ClickHouse through chdb (`chdb:///dir`) and Spark SQL
through a local SparkSession (`spark://local`). The same criteria on the same rows give the numbers
plain Python counts, as on DuckDB and PostgreSQL; raw queries bind :start and :end; a slow query is
stopped at the timeout; errors name what failed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from engine_gate import assert_same, judge, tables, values
from engine_tables import (
    TINY,
    Logs,
    ga4_rows,
    generated,
    write_chdb,
    write_files,
    write_ga4_chdb,
    write_ga4_spark,
    write_spark,
)
from expected_metrics import WINDOWS, expected
from test_sql_dialects import EVENT_CRITERIA_YAML, events_only

from cxe_gate.errors import ProviderError
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.sql import SqlProvider, SqlSettings
from cxe_gate.providers.sql_spark import master_of

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytest_plugins = ["spark_session"]

LOGS = {"tiny": TINY, "generated": generated(11)}
ERRORS = (
    "SELECT count(*) FILTER (WHERE status >= 500) AS successes, count(*) AS trials "
    "FROM {requests} WHERE timestamp >= :start AND timestamp < :end"
)
SLOW = "SELECT count(*) AS value FROM {big} WHERE :start < :end"


def provider(url: str, base_dir: Path = Path("/"), **settings) -> SqlProvider:
    context = ProviderContext(name="engine", base_dir=base_dir, environ={}, where="cxe.yml:3")
    return SqlProvider(SqlSettings.model_validate({"url": url, **settings}), context)


def measure(sql: SqlProvider, **fields):
    from pydantic import TypeAdapter

    from cxe_gate.config import Criterion

    criterion = TypeAdapter(Criterion).validate_python({"name": "c", "max_rise": "50%", **fields})
    windows = [TimeWindow(label, start, end) for label, (start, end) in WINDOWS.items()]
    return sql.measure(MetricRequest(criterion), windows)


def newest(rows: Logs, window: str) -> datetime:
    start, end = WINDOWS[window]
    return max(r[0] for r in rows.requests if start <= r[0] < end)


@pytest.fixture(scope="module")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A chdb data directory per set of logs."""
    return {
        name: write_chdb(rows, tmp_path_factory.mktemp(f"chdb-{name}"))
        for name, rows in LOGS.items()
    }


@pytest.fixture(scope="module")
def spark_views(spark: SparkSession) -> dict[str, str]:
    """The view prefix of each set of logs in the shared session."""
    return {name: write_spark(rows, spark) for name, rows in LOGS.items()}


# --- the same numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("logs", sorted(LOGS))
def test_clickhouse_in_process_gives_the_same_numbers(tmp_path: Path, chdb_dir, logs: str):
    url = f"chdb:///{chdb_dir[logs]}"  # chdb:/// + an absolute path, as duckdb:////abs
    report = judge(tmp_path, f"{{type: sql, url: '{url}', {tables('logs')}}}")
    assert_same(values(report), expected(LOGS[logs]))


@pytest.mark.slow
@pytest.mark.parametrize("logs", sorted(LOGS))
def test_spark_gives_the_same_numbers(tmp_path: Path, spark_views, logs: str):
    prefix = spark_views[logs]
    names = ", ".join(f"{t}: {prefix}_{t}" for t in ("events", "requests", "feedback"))
    report = judge(tmp_path, f"{{type: sql, url: 'spark://local', timeout: 5m, {names}}}")
    assert_same(values(report), expected(LOGS[logs]))


def test_clickhouse_reads_the_ga4_export(tmp_path: Path):
    write_ga4_chdb(ga4_rows(LOGS["generated"]), tmp_path / "ga4")
    provider = "{type: sql, url: 'chdb:///ga4', events: analytics.events, preset: ga4}"
    report = judge(tmp_path, provider, EVENT_CRITERIA_YAML)
    assert_same(values(report), events_only(LOGS["generated"]))


@pytest.mark.slow
def test_spark_reads_the_ga4_export(tmp_path: Path, spark: SparkSession):
    view = write_ga4_spark(ga4_rows(TINY), spark)  # the tiny logs: Spark is slow to plan GA4's
    provider = f"{{type: sql, url: 'spark://local', timeout: 5m, events: {view}, preset: ga4}}"
    report = judge(tmp_path, provider, EVENT_CRITERIA_YAML)
    assert_same(values(report), events_only(TINY))


def test_the_file_provider_agrees_on_the_same_logs(tmp_path: Path):
    rows = LOGS["generated"]
    write_files(rows, tmp_path)
    files = (
        "{type: file, events: events.ndjson, requests: requests.ndjson, feedback: feedback.ndjson}"
    )
    assert_same(values(judge(tmp_path, files)), expected(rows))


# --- what each engine's adapter does ------------------------------------------------------------


def test_chdb_binds_a_raw_query_s_window_and_says_where_the_data_ends(chdb_dir):
    sql = provider(f"chdb:///{chdb_dir['tiny']}", requests="logs.requests")
    try:
        raw = measure(sql, metric="error_rate", query=ERRORS.format(requests="logs.requests"))
        built = measure(sql, metric="error_rate")
    finally:
        sql.close()
    assert (raw["baseline"].value, raw["release"].value) == (0.25, 0.2)
    assert built["release"].data_end == newest(TINY, "release")
    assert built["release"].details["bytes fetched"] < 40  # a label and two counts, never rows
    assert "SETTINGS join_use_nulls = 1" not in (built["release"].query or "")  # no join here


def test_a_relative_chdb_path_is_relative_to_the_criteria_file(chdb_dir):
    directory = chdb_dir["tiny"]
    sql = provider(f"chdb:///{directory.name}", base_dir=directory.parent, requests="logs.requests")
    try:
        assert measure(sql, metric="error_rate")["baseline"].value == 0.25
    finally:
        sql.close()


def test_a_slow_chdb_query_is_stopped_at_the_timeout():
    sql = provider("chdb://", timeout="300ms")
    big = "numbers(100000000000)"
    try:
        with pytest.raises(ProviderError) as caught:
            measure(
                sql, metric="custom", query=SLOW.format(big=big) + " AND sipHash64(number) % 7 = 3"
            )
    finally:
        sql.close()
    assert str(caught.value) == (
        "no answer within 0.3 s (max_execution_time; ClickHouse stopped the query)"
    )


def test_chdb_errors_name_the_directory_or_give_the_first_line(tmp_path: Path, chdb_dir):
    sql = provider(f"chdb:///{tmp_path / 'absent'}")
    with pytest.raises(ProviderError, match=r"no chdb data directory at .*/absent"):
        measure(sql, metric="custom", query="SELECT 1 AS value WHERE :start < :end")
    sql = provider(f"chdb:///{chdb_dir['tiny']}")
    try:
        with pytest.raises(ProviderError) as caught:
            measure(
                sql,
                metric="custom",
                query="SELECT nope AS value FROM logs.requests WHERE :start < :end",
            )
    finally:
        sql.close()
    assert str(caught.value).startswith("query failed: Code: 47. DB::Exception: Unknown expression")
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_spark_binds_a_raw_query_s_window_and_says_where_the_data_ends(spark_views):
    requests = f"{spark_views['tiny']}_requests"
    sql = provider("spark://local", requests=requests)
    raw = measure(sql, metric="error_rate", query=ERRORS.format(requests=requests))
    built = measure(sql, metric="error_rate")
    sql.close()
    assert (raw["baseline"].value, raw["release"].value) == (0.25, 0.2)
    assert built["release"].data_end == newest(TINY, "release")
    assert built["baseline"].data_end == newest(TINY, "baseline")


@pytest.mark.slow
def test_a_slow_spark_query_is_cancelled_at_the_timeout(spark_views):
    sql = provider("spark://local", timeout="1500ms")
    # 8 billion pairs: seconds of work on any machine (800 million finished in 1.5 s on one run)
    big = "range(200000) a CROSS JOIN range(40000) b"
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="custom", query=SLOW.format(big=big) + " AND (a.id * b.id) % 7 = 3")
    assert str(caught.value) == "no answer within 1.5 s (timeout; Spark cancelled the query)"
    # The session is usable again, once the cancelled tasks have stopped (an interrupted task
    # finishes its current batch first: seconds on a busy runner, hence the longer timeout).
    again = provider("spark://local", timeout="60s")
    assert (
        measure(again, metric="custom", query="SELECT 2 AS value WHERE :start < :end")[
            "release"
        ].value
        == 2.0
    )


@pytest.mark.slow
def test_a_spark_error_gives_its_first_line(spark_views):
    sql = provider("spark://local")
    with pytest.raises(ProviderError) as caught:
        measure(
            sql, metric="custom", query="SELECT nope AS value FROM range(3) WHERE :start < :end"
        )
    assert str(caught.value).startswith("query failed: [UNRESOLVED_COLUMN.WITH_SUGGESTION]")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "master", "settings"),
    [
        ("spark://local", "local[*]", {}),
        ("spark://local?threads=2", "local[2]", {}),
        (
            "spark://local?spark.sql.shuffle.partitions=4",
            "local[*]",
            {"spark.sql.shuffle.partitions": "4"},
        ),
        ("spark://spark-master.internal:7077", "spark://spark-master.internal:7077", {}),
    ],
)
def test_spark_url_forms(url: str, master: str, settings: dict):
    assert master_of(url) == (master, settings)


def test_a_spark_connect_token_is_never_written_in_the_url():
    with pytest.raises(ValueError, match="the url holds a password"):
        SqlSettings(url="sc://spark-connect.internal:15002/;token=abc123")


def test_a_spark_connect_token_in_a_url_read_whole_is_redacted(tmp_path: Path):
    # Spark quotes the url without its query, which redacting the whole url would miss.
    url = "sc://spark-connect.internal:15002/;token=abc123?spark.sql.shuffle.partitions=4"
    context = ProviderContext(name="wh", base_dir=tmp_path, environ={"DATABASE_URL": url})
    SqlProvider(SqlSettings(url="${DATABASE_URL}"), context)
    quoted = "cannot start Spark (sc://spark-connect.internal:15002/;token=abc123)"
    assert (
        context.redact(quoted)
        == "cannot start Spark (sc://spark-connect.internal:15002/;token=***)"
    )
