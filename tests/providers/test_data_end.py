"""data_end: the time of the newest row a provider saw in each window. For the file provider it is
the log's own reach, whatever a criterion's filter (a rare route's newest request says nothing about
what is missing). Hand-built logs for the file provider, and a real PostgreSQL (and SQLite, and
DuckDB) for the sql provider, whose own queries may return it."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from criteria_files import WINDOWS
from pydantic import TypeAdapter
from tiny_logs import write_ndjson

from cxe_gate.config import Criterion, JourneySpec
from cxe_gate.errors import DataError, ProviderError
from cxe_gate.measurement import Measurement
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.file import FileProvider, FileSettings
from cxe_gate.providers.sql import SqlProvider, SqlSettings

if TYPE_CHECKING:
    from postgres_server import PostgresServer

pytest_plugins = ["postgres_server"]

# The windows (criteria_files.DEPLOY is 2026-11-10 14:00Z): baseline 2026-11-09 14:00 → 2026-11-10
# 14:00, release 14:00 → 16:00, each end exclusive.


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- the file provider --------------------------------------------------------------------------

REQUESTS = [  # (timestamp as written, route, status, duration_ms)
    ("2026-11-10T09:12:00Z", "/checkout", 200, 120),
    ("2026-11-10T13:59:59.250Z", "/checkout", 200, 80),  # the baseline's newest
    ("2026-11-10T14:05:00Z", "/checkout", 200, 150),
    ("2026-11-10T16:37:12+02:00", "/checkout", 503, 40),  # 14:37:12Z: the newest checkout
    ("2026-11-10T15:10:00Z", "/health", 200, 2),  # the release's newest request
    ("2026-11-10T16:00:00Z", "/checkout", 200, 90),  # the release window's end: not in it
    ("2026-11-10T18:20:00Z", "/checkout", 200, 90),  # after the window
]
CHECKOUT = "route = '/checkout'"


def requests_file(directory: Path, kind: str) -> str:
    rows = [{"timestamp": t, "route": r, "status": s, "duration_ms": d} for t, r, s, d in REQUESTS]
    if kind == "ndjson":
        write_ndjson(directory / "requests.ndjson", rows)
        return "requests.ndjson"
    with (directory / "requests.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return "requests.csv"


def file_provider(directory: Path, **files: str) -> FileProvider:
    return FileProvider(FileSettings(**files), ProviderContext(name="logs", base_dir=directory))


def measure(provider, steps: JourneySpec | None = None, **fields) -> dict[str, Measurement]:
    criterion = TypeAdapter(Criterion).validate_python({"name": "c", "max_rise": "50%", **fields})
    return provider.measure(MetricRequest(criterion, journey=steps), WINDOWS)


def data_ends(measured: dict[str, Measurement]) -> tuple[datetime | None, datetime | None]:
    return measured["baseline"].data_end, measured["release"].data_end


@pytest.mark.parametrize("kind", ["ndjson", "csv"])
def test_request_metrics_end_at_the_log_s_newest_request_of_each_window(tmp_path, kind):
    provider = file_provider(tmp_path, requests=requests_file(tmp_path, kind))
    # The health check at 15:10 is the release's newest request, filtered out or not.
    expected = (utc("2026-11-10T13:59:59.250+00:00"), utc("2026-11-10T15:10:00+00:00"))
    for fields in (
        {"metric": "error_rate"},
        {"metric": "error_rate", "filter": CHECKOUT},
        {"metric": "apdex", "t": "100ms", "filter": CHECKOUT},
        {"metric": "latency", "percentile": 95, "filter": CHECKOUT},
    ):
        measured = measure(provider, **fields)
        assert data_ends(measured) == expected, fields
        assert measured["release"].data_end.tzinfo is UTC
    provider.close()


def test_the_counts_are_those_of_the_same_rows(tmp_path):
    provider = file_provider(tmp_path, requests=requests_file(tmp_path, "ndjson"))
    release = measure(provider, metric="error_rate", filter=CHECKOUT)["release"]
    assert (release.successes, release.samples) == (1, 2)  # 14:05 and 14:37:12 (503)
    provider.close()


EVENTS = [  # (timestamp, session, user, event)
    ("2026-11-10T10:00:00Z", "s1", "u1", "view"),
    ("2026-11-10T10:01:00Z", "s1", "u1", "buy"),
    ("2026-11-10T11:30:00Z", "s2", "u2", "view"),  # the baseline's newest
    ("2026-11-10T14:10:00Z", "s3", "u3", "view"),
    ("2026-11-10T14:12:30Z", "s3", "u3", "buy"),
    ("2026-11-10T14:50:05Z", "s4", "u4", "wishlist_add"),  # the release's newest: not a step
    ("2026-11-10T16:00:00Z", "s5", "u5", "view"),  # the release window's end: not in it
]


def test_event_metrics_end_at_the_newest_event_of_any_kind(tmp_path):
    write_ndjson(
        tmp_path / "events.ndjson",
        [{"timestamp": t, "session_id": s, "user_id": u, "event": e} for t, s, u, e in EVENTS],
    )
    provider = file_provider(tmp_path, events="events.ndjson")
    expected = (utc("2026-11-10T11:30Z"), utc("2026-11-10T14:50:05Z"))
    journey = JourneySpec.model_validate({"steps": ["view", "buy"]})
    conversion = measure(provider, journey, metric="conversion", journey="shop")
    assert data_ends(conversion) == expected
    assert (conversion["release"].successes, conversion["release"].samples) == (1, 1)
    for measure_ in ("active_users", "events_per_session", "events_per_user"):
        assert data_ends(measure(provider, metric="engagement", measure=measure_)) == expected
    adoption = measure(provider, metric="engagement", measure="adoption", event="wishlist_add")
    assert data_ends(adoption) == expected
    # A filter narrows what is counted, not how far the log reaches.
    views = measure(provider, metric="engagement", measure="active_users", filter="event = 'view'")
    assert data_ends(views) == expected
    provider.close()


def test_events_without_a_unit_are_still_data(tmp_path):
    rows = [
        {"timestamp": "2026-11-10T14:10:00Z", "session_id": "s1", "user_id": "u1", "event": "a"},
        # a server-side event: no session, newest of the window
        {"timestamp": "2026-11-10T14:20:00Z", "session_id": None, "user_id": "u1", "event": "a"},
    ]
    write_ndjson(tmp_path / "events.ndjson", rows)
    provider = file_provider(tmp_path, events="events.ndjson")
    per_session = measure(provider, metric="engagement", measure="events_per_session")
    assert per_session["release"].samples == 1  # s1; the event without a session is in no unit
    assert per_session["release"].data_end == utc("2026-11-10T14:20Z")
    assert per_session["baseline"].data_end is None
    provider.close()


def test_feedback_ends_at_its_newest_answer_and_an_empty_window_has_no_end(tmp_path):
    answers = [
        ("2026-11-10T14:03:00Z", "nps", 9),
        ("2026-11-10T14:44:44Z", "nps", 10),
        ("2026-11-10T15:30:00Z", "csat", 4),  # the newest answer
    ]
    write_ndjson(
        tmp_path / "feedback.ndjson",
        [{"timestamp": t, "survey": s, "score": n, "user_id": "u"} for t, s, n in answers],
    )
    provider = file_provider(tmp_path, feedback="feedback.ndjson")
    nps = measure(provider, metric="feedback", scale="nps", filter="survey = 'nps'")
    # No baseline answers at all; the release's newest answer is the CSAT one, for either survey.
    assert data_ends(nps) == (None, utc("2026-11-10T15:30Z"))
    assert not nps["baseline"].has_data
    csat = measure(provider, metric="feedback", scale="csat", filter="survey = 'csat'")
    assert data_ends(csat) == (None, utc("2026-11-10T15:30Z"))
    provider.close()


def test_a_custom_query_may_return_its_data_end(tmp_path):
    provider = file_provider(tmp_path, requests=requests_file(tmp_path, "ndjson"))
    with_end = measure(
        provider,
        metric="custom",
        query="SELECT count(*) AS value, count(*) AS samples, max(ts) AS data_end FROM requests "
        "WHERE ts >= $start AND ts < $end AND status >= 500",
    )
    assert data_ends(with_end) == (None, utc("2026-11-10T14:37:12Z"))
    without = measure(
        provider,
        metric="custom",
        query="SELECT count(*) AS value FROM requests WHERE ts >= $start AND ts < $end",
    )
    assert data_ends(without) == (None, None)
    with pytest.raises(DataError, match=r"data_end is 'yesterday' \(str\), expected a timestamp"):
        measure(
            provider,
            metric="custom",
            query="SELECT 1 AS value, 'yesterday' AS data_end WHERE $start < $end",
        )
    provider.close()


# --- the sql provider: the query's own data_end column ------------------------------------------

# The release window's requests: the newest at 14:37:12Z; one at the window's end and one after.
SQL_ROWS = [
    ("2026-11-10T13:58:30+00:00", 200),
    ("2026-11-10T14:05:00+00:00", 200),
    ("2026-11-10T14:37:12+00:00", 503),
    ("2026-11-10T16:00:00+00:00", 500),
    ("2026-11-10T17:45:00+00:00", 500),
]
ERRORS_WITH_END = """
    SELECT count(*) FILTER (WHERE status >= 500) AS successes, count(*) AS trials,
           max(ts) AS data_end
    FROM {table} WHERE ts >= :start AND ts < :end"""


def sql_provider(url: str, environ: dict[str, str] | None = None, **settings) -> SqlProvider:
    context = ProviderContext(name="warehouse", base_dir=Path("/"), environ=environ or {})
    return SqlProvider(SqlSettings.model_validate({"url": url, **settings}), context)


@pytest.fixture(scope="module")
def pg(postgres: PostgresServer) -> PostgresServer:
    with postgres.connect() as connection:
        connection.execute("CREATE SCHEMA data_end")
        connection.execute("CREATE TABLE data_end.requests (ts TIMESTAMPTZ, status INTEGER)")
        # The same rows in a column without a zone: the session's UTC is their zone.
        connection.execute("CREATE TABLE data_end.local_requests (ts TIMESTAMP, status INTEGER)")
        with connection.cursor() as cursor:
            for table in ("requests", "local_requests"):
                cursor.executemany(
                    f"INSERT INTO data_end.{table} VALUES (%s, %s)",
                    [
                        (utc(t) if table == "requests" else utc(t).replace(tzinfo=None), s)
                        for t, s in SQL_ROWS
                    ],
                )
    return postgres


@pytest.mark.server
@pytest.mark.parametrize("table", ["data_end.requests", "data_end.local_requests"])
def test_postgresql_data_end_is_the_query_s_own_column_in_utc(pg: PostgresServer, table: str):
    sql = sql_provider(pg.url, {"PG_PASSWORD": pg.password}, password="${PG_PASSWORD}")
    try:
        measured = measure(sql, metric="error_rate", query=ERRORS_WITH_END.format(table=table))
    finally:
        sql.close()
    assert data_ends(measured) == (utc("2026-11-10T13:58:30Z"), utc("2026-11-10T14:37:12Z"))
    assert measured["release"].data_end.tzinfo is UTC
    assert (measured["release"].successes, measured["release"].samples) == (1, 2)


@pytest.mark.server
def test_postgresql_without_a_data_end_column_says_nothing_of_coverage(pg: PostgresServer):
    sql = sql_provider(pg.url, {"PG_PASSWORD": pg.password}, password="${PG_PASSWORD}")
    query = (
        "SELECT count(*) FILTER (WHERE status >= 500) AS successes, count(*) AS trials "
        "FROM data_end.requests WHERE ts >= :start AND ts < :end"
    )
    empty = (
        "SELECT count(*) AS value, count(*) AS samples, max(ts) AS data_end "
        "FROM data_end.requests WHERE ts >= :start AND ts < :end AND status = 418"
    )
    try:
        assert data_ends(measure(sql, metric="error_rate", query=query)) == (None, None)
        no_rows = measure(sql, metric="custom", query=empty)  # max() over no rows is NULL
        assert data_ends(no_rows) == (None, None)
        assert not no_rows["release"].has_data
    finally:
        sql.close()


def test_a_duckdb_file_and_sqlite_give_the_same_data_end(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        connection.execute("CREATE TABLE requests (ts TIMESTAMPTZ, status INTEGER)")
        connection.executemany(
            "INSERT INTO requests VALUES (?, ?)", [(utc(t), s) for t, s in SQL_ROWS]
        )
    import sqlite3

    with sqlite3.connect(tmp_path / "w.sqlite") as connection:  # SQLite keeps times as text
        connection.execute("CREATE TABLE requests (ts TEXT, status INTEGER)")
        connection.executemany(
            "INSERT INTO requests VALUES (?, ?)",
            [(utc(t).strftime("%Y-%m-%d %H:%M:%S"), s) for t, s in SQL_ROWS],
        )
    sqlite_query = """
        SELECT sum(status >= 500) AS successes, count(*) AS trials, max(ts) AS data_end
        FROM requests WHERE ts >= strftime('%Y-%m-%d %H:%M:%S', :start)
                        AND ts < strftime('%Y-%m-%d %H:%M:%S', :end)"""
    for url, query in (
        (f"duckdb:///{tmp_path / 'w.duckdb'}", ERRORS_WITH_END.format(table="requests")),
        (f"sqlite:///{tmp_path / 'w.sqlite'}", sqlite_query),
    ):
        sql = sql_provider(url)
        measured = measure(sql, metric="error_rate", query=query)
        sql.close()
        assert data_ends(measured) == (utc("2026-11-10T13:58:30Z"), utc("2026-11-10T14:37:12Z"))
        assert measured["release"].samples == 2, url


def test_a_data_end_that_is_not_a_time_is_an_error_naming_the_column(tmp_path: Path):
    sql = sql_provider("duckdb:///:memory:")
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="custom", query="SELECT 1 AS value, 42 AS data_end WHERE :start < :end")
    assert "column data_end is 42 (int), expected a timestamp such as max(ts)" in str(caught.value)
    sql.close()
