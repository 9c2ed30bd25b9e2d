"""The shop's requests and feedback as SQL tables (a DuckDB file, or a PostgreSQL database): rows
whose answers are computed by hand, and the queries the sql provider's criteria read them with."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from criteria_files import DEPLOY

if TYPE_CHECKING:
    from postgres_server import PostgresServer

# Requests: (count, status, duration_ms) per window. Hand-computed answers below.
BASELINE_REQUESTS = [(150, 200, 100.0), (40, 200, 600.0), (10, 500, 50.0)]
RELEASE_REQUESTS = [(60, 200, 100.0), (20, 200, 2000.0), (20, 503, 80.0)]
# Feedback scores (count, score): baseline 10 promoters, 5 passives, 5 detractors; release 4/4/12.
BASELINE_SCORES = [(10, 10), (5, 8), (5, 3)]
RELEASE_SCORES = [(4, 9), (4, 7), (12, 2)]

ERROR_RATE = """
    SELECT count(*) FILTER (WHERE status >= 500) AS successes, count(*) AS trials
    FROM requests WHERE ts >= :start AND ts < :end"""
APDEX = """
    SELECT count(*) FILTER (WHERE status < 500 AND duration_ms <= :t_ms) AS satisfied,
           count(*) FILTER (WHERE status < 500 AND duration_ms > :t_ms
                                              AND duration_ms <= 4 * :t_ms) AS tolerating,
           count(*) FILTER (WHERE status >= 500 OR duration_ms > 4 * :t_ms) AS frustrated
    FROM requests WHERE ts >= :start AND ts < :end"""
LATENCY = """
    SELECT percentile_cont(:percentile / 100.0) WITHIN GROUP (ORDER BY duration_ms) AS value,
           count(duration_ms) AS samples
    FROM requests WHERE ts >= :start AND ts < :end"""
NPS = """
    SELECT count(*) FILTER (WHERE score >= 9) AS promoters,
           count(*) FILTER (WHERE score BETWEEN 7 AND 8) AS passives,
           count(*) FILTER (WHERE score <= 6) AS detractors
    FROM feedback WHERE ts >= :start AND ts < :end"""
MEAN_DURATION = """
    SELECT avg(duration_ms) AS value, count(*) AS samples, var_samp(duration_ms) AS variance
    FROM requests WHERE ts >= :start AND ts < :end AND status < 500"""


def rows() -> tuple[list[tuple], list[tuple]]:
    """The request and feedback rows, a second apart, well inside their windows."""
    requests: list[tuple] = []
    feedback: list[tuple] = []
    for start, spec in (
        (DEPLOY - timedelta(hours=12), BASELINE_REQUESTS),
        (DEPLOY + timedelta(minutes=30), RELEASE_REQUESTS),
    ):
        ts = start
        for count, status, duration in spec:
            for _ in range(count):
                requests.append((ts, status, duration))
                ts += timedelta(seconds=1)
    for start, scores in (
        (DEPLOY - timedelta(hours=6), BASELINE_SCORES),
        (DEPLOY + timedelta(minutes=45), RELEASE_SCORES),
    ):
        ts = start
        for count, score in scores:
            for _ in range(count):
                feedback.append((ts, score))
                ts += timedelta(seconds=1)
    # Outside both windows: must never be counted.
    requests.append((DEPLOY + timedelta(hours=5), 500, 9999.0))
    feedback.append((DEPLOY - timedelta(days=3), 0))
    return requests, feedback


SCHEMA = [
    "CREATE TABLE requests (ts TIMESTAMPTZ, status INTEGER, duration_ms DOUBLE PRECISION)",
    "CREATE TABLE feedback (ts TIMESTAMPTZ, score INTEGER)",
]


def write_duckdb(path: Path) -> Path:
    """A DuckDB file at `path` holding the rows."""
    requests, feedback = rows()
    with duckdb.connect(str(path)) as connection:
        for statement in SCHEMA:
            connection.execute(statement)
        connection.executemany("INSERT INTO requests VALUES (?, ?, ?)", requests)
        connection.executemany("INSERT INTO feedback VALUES (?, ?)", feedback)
    return path


def fill_postgres(postgres: PostgresServer) -> PostgresServer:
    """The rows, in the server's database (made anew: the server is shared by the session)."""
    requests, feedback = rows()
    with postgres.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS requests, feedback")
        for statement in SCHEMA:
            connection.execute(statement)
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO requests VALUES (%s, %s, %s)", requests)
            cursor.executemany("INSERT INTO feedback VALUES (%s, %s)", feedback)
    return postgres
