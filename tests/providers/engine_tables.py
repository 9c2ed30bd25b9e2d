"""One set of event, request and feedback logs written to every engine the sql provider reaches (a
DuckDB file, a PostgreSQL schema, a chdb data directory, Spark views) and as the file provider's
NDJSON files, under the same columns, so that one criteria file can be judged on each.

The logs come in two sizes: TINY (tests/tiny_logs.py, whose answers test_file_provider counts by
hand) and `generated(seed)`, a few thousand rows whose answers expected_metrics.py computes in
plain Python."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiny_logs import DEPLOY, EVENTS, FEEDBACK, REQUESTS, at, iso

if TYPE_CHECKING:
    from postgres_server import PostgresServer
    from pyspark.sql import SparkSession

TABLES = ("events", "requests", "feedback")
# Each table's columns and their kinds, in the order its rows hold them.
COLUMNS = {
    "events": (("timestamp", "ts"), ("session_id", "text"), ("user_id", "text"), ("event", "text")),
    "requests": (
        ("timestamp", "ts"),
        ("route", "text"),
        ("status", "int"),
        ("duration_ms", "float"),
    ),
    "feedback": (("timestamp", "ts"), ("survey", "text"), ("score", "int")),
}
_TYPES = {
    "duckdb": {"ts": "TIMESTAMPTZ", "text": "VARCHAR", "int": "INTEGER", "float": "DOUBLE"},
    "postgres": {
        "ts": "TIMESTAMPTZ",
        "text": "TEXT",
        "int": "INTEGER",
        "float": "DOUBLE PRECISION",
    },
    "clickhouse": {
        "ts": "DateTime64(6, 'UTC')",
        "text": "Nullable(String)",
        "int": "Nullable(Int32)",
        "float": "Nullable(Float64)",
    },
    "spark": {"ts": "TIMESTAMP", "text": "STRING", "int": "INT", "float": "DOUBLE"},
}
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Logs:
    """Rows per table, in COLUMNS' order."""

    events: list[Row]
    requests: list[Row]
    feedback: list[Row]

    def rows(self, table: str) -> list[Row]:
        return getattr(self, table)


TINY = Logs(
    events=[(at(m), s, u, e) for m, s, u, e in EVENTS],
    requests=[(at(m), "/api/x", st, float(d)) for m, st, d in REQUESTS],
    feedback=[(at(m), sv, sc) for m, sv, sc in FEEDBACK],
)
STEPS = ("a", "b", "c")


def generated(seed: int, *, sessions: int = 400, requests: int = 3000) -> Logs:
    """Random logs over a day before the deploy and two hours after, and a few rows outside."""
    rng = random.Random(seed)

    def moment() -> datetime:
        # as much in the release window as in the baseline's day, a few rows outside both
        minutes = rng.choice(
            (rng.uniform(-24 * 60, 0), rng.uniform(0, 120), rng.uniform(-26 * 60, 4 * 60))
        )
        return DEPLOY + timedelta(microseconds=round(minutes * 60e6))

    events = []
    for n in range(sessions):
        start = moment()
        user = f"u{rng.randrange(sessions // 2)}"
        session = None if rng.random() < 0.05 else f"s{n}"  # a few server-side, sessionless
        # half the sessions walk the journey, maybe stopping or wandering on the way
        names = list(STEPS[: rng.randrange(1, 4)]) if rng.random() < 0.5 else []
        names += [rng.choice((*STEPS, "wishlist_add", "search")) for _ in range(rng.randrange(4))]
        elapsed = 0.0
        for name in names or ["search"]:
            events.append((start + timedelta(seconds=elapsed), session, user, name))
            elapsed += rng.uniform(1, 150)  # some steps fall past the journey's 5 minutes
    calls = []
    for _ in range(requests):
        status = rng.choices((200, 201, 404, 500, 503), weights=(80, 5, 6, 5, 4))[0]
        duration = round(rng.lognormvariate(5, 1), 1) if rng.random() > 0.01 else None
        route = rng.choice(("/checkout", "/search", "/api/x"))
        calls.append((moment(), route, status, duration))
    answers = []
    for _ in range(requests // 10):
        survey = rng.choice(("nps", "csat"))
        score = rng.randrange(11) if survey == "nps" else rng.randrange(1, 6)
        answers.append((moment(), survey, score))
    return Logs(events, calls, answers)


# --- the file provider's files -------------------------------------------------------------------


def write_files(logs: Logs, directory: Path) -> Path:
    """`<table>.ndjson` per table, times in ISO 8601 as the example shop writes them."""
    for table in TABLES:
        names = [name for name, _ in COLUMNS[table]]
        with (directory / f"{table}.ndjson").open("w") as out:
            for row in logs.rows(table):
                record = dict(zip(names, row, strict=True))
                record["timestamp"] = iso(record["timestamp"])
                out.write(json.dumps(record) + "\n")
    return directory


def _ddl(table: str, name: str, engine: str) -> str:
    columns = ", ".join(f"{column} {_TYPES[engine][kind]}" for column, kind in COLUMNS[table])
    return f"CREATE TABLE {name} ({columns})"


# --- the databases -----------------------------------------------------------------------------


def write_duckdb(logs: Logs, path: Path, schema: str = "logs") -> Path:
    import duckdb

    with duckdb.connect(str(path)) as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table in TABLES:
            connection.execute(_ddl(table, f"{schema}.{table}", "duckdb"))
            marks = ", ".join("?" for _ in COLUMNS[table])
            connection.executemany(
                f"INSERT INTO {schema}.{table} VALUES ({marks})", logs.rows(table)
            )
    return path


def write_postgres(logs: Logs, postgres: PostgresServer) -> str:
    """The logs in a schema of their own; its name."""
    schema = f"logs_{uuid.uuid4().hex[:8]}"
    with postgres.connect() as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        for table in TABLES:
            connection.execute(_ddl(table, f"{schema}.{table}", "postgres"))
            marks = ", ".join("%s" for _ in COLUMNS[table])
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {schema}.{table} VALUES ({marks})", logs.rows(table)
                )
    return schema


def write_chdb(logs: Logs, directory: Path) -> Path:
    """A chdb data directory holding database `logs` (the session is closed again: one chdb
    session at a time may be open in a process)."""
    from chdb.session import Session

    session = Session(str(directory))
    try:
        session.query("CREATE DATABASE IF NOT EXISTS logs")
        for table in TABLES:
            session.query(
                f"{_ddl(table, f'logs.{table}', 'clickhouse')} ENGINE = MergeTree ORDER BY tuple()"
            )
            for start in range(0, len(logs.rows(table)), 1000):
                values = ", ".join(
                    "(" + ", ".join(_clickhouse(v) for v in row) + ")"
                    for row in logs.rows(table)[start : start + 1000]
                )
                session.query(f"INSERT INTO logs.{table} VALUES {values}")
    finally:
        session.close()
    return directory


def _clickhouse(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"toDateTime64('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def write_spark(logs: Logs, spark: SparkSession) -> str:
    """The logs as temporary views `<prefix>_<table>`; the prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    for table in TABLES:
        schema = ", ".join(f"{column} {_TYPES['spark'][kind]}" for column, kind in COLUMNS[table])
        frame = spark.createDataFrame(logs.rows(table), schema=schema)
        frame.createOrReplaceTempView(f"{prefix}_{table}")
    return prefix


# --- the events as BigQuery's GA4 export ---------------------------------------------------------

GA4_PARAM = (
    "STRUCT(key VARCHAR, value STRUCT(string_value VARCHAR, int_value BIGINT, "
    "float_value DOUBLE, double_value DOUBLE))"
)
GA4_COLUMNS = (
    ("event_date", "VARCHAR"),
    ("event_timestamp", "BIGINT"),
    ("event_name", "VARCHAR"),
    ("user_pseudo_id", "VARCHAR"),
    ("event_params", f"{GA4_PARAM}[]"),
)


def _param(key: str, *, string: str | None = None, integer: int | None = None) -> dict:
    value = {
        "string_value": string,
        "int_value": integer,
        "float_value": None,
        "double_value": None,
    }
    return {"key": key, "value": value}


def ga4_rows(logs: Logs) -> list[Row]:
    """The events as the GA4 export holds them: the session as the user's ga_session_id event
    parameter (s12 → 12), a server-side event without one; each in its day's shard (UTC here)."""
    rows = []
    for moment, session, user, name in logs.events:
        params = [_param("page_location", string="https://shop.example/")]
        if session is not None:
            params.insert(0, _param("ga_session_id", integer=int(session.removeprefix("s"))))
        micros = round(moment.timestamp() * 1_000_000)
        rows.append((moment.strftime("%Y%m%d"), micros, name, user, params))
    return rows


def write_ga4_duckdb(rows: list[Row], path: Path, table: str) -> Path:
    """`table` (a DuckDB name, e.g. analytics."events_*") holding GA4 rows."""
    import duckdb

    with duckdb.connect(str(path)) as connection:
        schema = table.split(".", 1)[0]
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        columns = ", ".join(f"{name} {kind}" for name, kind in GA4_COLUMNS)
        connection.execute(f"CREATE TABLE {table} ({columns})")
        connection.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", rows)
    return path


def write_ga4_chdb(rows: list[Row], directory: Path) -> Path:
    """A chdb data directory holding analytics.events, the GA4 rows."""
    from chdb.session import Session

    value = (
        "Tuple(string_value Nullable(String), int_value Nullable(Int64), "
        "float_value Nullable(Float64), double_value Nullable(Float64))"
    )
    session = Session(str(directory))
    try:
        session.query("CREATE DATABASE IF NOT EXISTS analytics")
        session.query(
            "CREATE TABLE analytics.events (event_date String, event_timestamp Int64, "
            "event_name String, user_pseudo_id String, "
            f"event_params Array(Tuple(key Nullable(String), value {value}))) "
            "ENGINE = MergeTree ORDER BY tuple()"
        )
        values = ", ".join("(" + ", ".join(_nested(v) for v in row) + ")" for row in rows)
        session.query(f"INSERT INTO analytics.events VALUES {values}")
    finally:
        session.close()
    return directory


def _nested(value: Any) -> str:
    """A ClickHouse literal of a GA4 value: lists as arrays, records as tuples."""
    if isinstance(value, list):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "(" + ", ".join(_nested(v) for v in value.values()) + ")"
    return _clickhouse(value)


def write_ga4_spark(rows: list[Row], spark: SparkSession) -> str:
    """The GA4 rows as a temporary view; its name."""
    value = (
        "STRUCT<string_value: STRING, int_value: BIGINT, float_value: DOUBLE, double_value: DOUBLE>"
    )
    schema = (
        "event_date STRING, event_timestamp BIGINT, event_name STRING, user_pseudo_id STRING, "
        f"event_params ARRAY<STRUCT<key: STRING, value: {value}>>"
    )
    name = f"ga4_{uuid.uuid4().hex[:8]}"
    spark.createDataFrame(rows, schema=schema).createOrReplaceTempView(name)
    return name
