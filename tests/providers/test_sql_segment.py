"""The sql provider's segment preset: Segment's warehouse schema (a source's `tracks` table: id,
anonymous_id, user_id, event, event_text, timestamp, received_at, context_* columns) read into the
numbers the file provider gives for Segment's JSON export of the same track calls, and plain
Python counts, on DuckDB and ClickHouse (chdb); its SQL written for Snowflake is Snowflake's and,
carried back to DuckDB, gives them too."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
import yaml
from engine_gate import assert_same, judge, values
from engine_tables import Logs, generated
from expected_metrics import WINDOWS, expected
from pydantic import TypeAdapter
from tiny_logs import iso

from cxe_gate.config import Criterion, CriterionBase, JourneySpec
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.sql_compile import CompileError
from cxe_gate.providers.sql_metrics import newest, statement
from cxe_gate.providers.sql_settings import SqlSettings

CRITERIA = """\
  - {name: conversion by user, metric: conversion, journey: checkout, unit: user, max_drop: 99%,
     min_samples: 1}
  - {name: wishlist by user, metric: engagement, measure: adoption, event: wishlist_add,
     unit: user, min: 0%, min_samples: 1}
  - {name: per user, metric: engagement, measure: events_per_user, min: 0, min_samples: 1}
  - {name: users, metric: engagement, measure: active_users, min: 1, min_samples: 1}
"""
CRITERIA_LIST: list[CriterionBase] = [
    TypeAdapter(Criterion).validate_python(c) for c in yaml.safe_load(CRITERIA)
]
JOURNEY = JourneySpec(steps=["a", "b", "c"], within="5m")
# Segment's tracks table, as its warehouse loader creates it (snake_case, context_* flattened).
COLUMNS = (
    ("id", "text"),
    ("anonymous_id", "text"),
    ("user_id", "text"),
    ("event", "text"),
    ("event_text", "text"),
    ("timestamp", "ts"),
    ("received_at", "ts"),
    ("context_library_name", "text"),
)
TYPES = {
    "duckdb": {"text": "VARCHAR", "ts": "TIMESTAMPTZ"},
    "clickhouse": {"text": "Nullable(String)", "ts": "DateTime64(6, 'UTC')"},
}


def calls(seed: int) -> list[dict[str, Any]]:
    """Track calls, as Segment's JSON export holds them, of engine_tables' generated events: a
    third sent before the visitor logged in (anonymousId only), every seventh delivered twice
    (the same messageId)."""
    rng = random.Random(seed)
    found = []
    for n, (moment, _, person, name) in enumerate(generated(seed).events):
        anonymous = rng.random() < 0.33
        call = {
            "type": "track",
            "messageId": f"ajs-next-{n:05d}",
            "anonymousId": f"anon-{person}",
            "userId": None if anonymous else person,
            "event": name,
            "properties": {"step": name},
            "context": {"library": {"name": "analytics.js", "version": "5.2.0"}},
            "timestamp": iso(moment),
            "receivedAt": iso(moment),
            "version": 2,
        }
        found.append(call)
        if n % 7 == 0:
            found.append(call | {"receivedAt": iso(moment.replace(microsecond=0))})  # a replay
    return found


def rows(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The calls as rows of Segment's tracks table (COLUMNS' order)."""
    return [
        (
            m["messageId"],
            m["anonymousId"],
            m["userId"],
            m["event"],
            m["event"].replace("_", " ").title(),  # event_text: the name as sent
            datetime.fromisoformat(m["timestamp"]),
            datetime.fromisoformat(m["receivedAt"]),
            m["context"]["library"]["name"],
        )
        for m in messages
    ]


def wanted(messages: list[dict[str, Any]]) -> dict[str, tuple[float | None, float | None]]:
    """Plain Python: a messageId counts once; the user is userId, else anonymousId."""
    seen: dict[str, dict[str, Any]] = {}
    for m in messages:
        seen.setdefault(m["messageId"], m)
    events = [
        (datetime.fromisoformat(m["timestamp"]), None, m["userId"] or m["anonymousId"], m["event"])
        for m in seen.values()
    ]
    found = expected(Logs(events, [], []))
    adoption = []
    for window in WINDOWS:
        start, end = WINDOWS[window]
        names: dict[str, set[str]] = defaultdict(set)
        for moment, _, user, name in events:
            if start <= moment < end:
                names[user].add(name)
        adoption.append(sum("wishlist_add" in n for n in names.values()) / len(names))
    return {
        "conversion by user": found["conversion by user"],
        "wishlist by user": (adoption[0], adoption[1]),
        "per user": found["per user"],
        "users": found["users"],
    }


MESSAGES = calls(41)


def write_duckdb(path: Path) -> Path:
    columns = ", ".join(f"{c} {TYPES['duckdb'][k]}" for c, k in COLUMNS)
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA prod")
        connection.execute(f"CREATE TABLE prod.tracks ({columns})")
        marks = ", ".join("?" for _ in COLUMNS)
        connection.executemany(f"INSERT INTO prod.tracks VALUES ({marks})", rows(MESSAGES))
    return path


def write_chdb(directory: Path) -> Path:
    from chdb.session import Session

    def literal(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, datetime):
            return f"toDateTime64('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')"
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    session = Session(str(directory))
    try:
        session.query("CREATE DATABASE prod")
        columns = ", ".join(f"{c} {TYPES['clickhouse'][k]}" for c, k in COLUMNS)
        session.query(f"CREATE TABLE prod.tracks ({columns}) ENGINE = MergeTree ORDER BY tuple()")
        found = rows(MESSAGES)
        for start in range(0, len(found), 1000):
            batch = ", ".join(
                "(" + ", ".join(literal(v) for v in row) + ")"
                for row in found[start : start + 1000]
            )
            session.query(f"INSERT INTO prod.tracks VALUES {batch}")
    finally:
        session.close()
    return directory


def test_the_file_provider_reads_segment_s_export_of_the_calls(tmp_path: Path):
    with (tmp_path / "segment.ndjson").open("w") as out:
        out.writelines(json.dumps(m) + "\n" for m in MESSAGES)
    provider = "{type: file, events: segment.ndjson, preset: segment}"
    assert_same(values(judge(tmp_path, provider, CRITERIA)), wanted(MESSAGES))


def test_duckdb_reads_segment_s_tracks_table(tmp_path: Path):
    write_duckdb(tmp_path / "segment.duckdb")
    provider = "{type: sql, url: 'duckdb:///segment.duckdb', events: prod.tracks, preset: segment}"
    assert_same(values(judge(tmp_path, provider, CRITERIA)), wanted(MESSAGES))


def test_clickhouse_reads_segment_s_tracks_table(tmp_path: Path):
    write_chdb(tmp_path / "segment")
    provider = "{type: sql, url: 'chdb:///segment', events: prod.tracks, preset: segment}"
    assert_same(values(judge(tmp_path, provider, CRITERIA)), wanted(MESSAGES))


def test_the_replays_are_there_to_be_counted_once():
    # Without them the test would not show the deduplication on id.
    assert len(MESSAGES) > len({m["messageId"] for m in MESSAGES}) > 1000
    assert any(m["userId"] is None for m in MESSAGES)


PLAIN = [TimeWindow(label, start, end) for label, (start, end) in WINDOWS.items()]


def test_the_snowflake_sql_is_snowflake_s_and_gives_the_same_numbers(tmp_path: Path):
    path = write_duckdb(tmp_path / "segment.duckdb")
    tables = SqlSettings(
        url="snowflake://gate@acme-xy12345/ANALYTICS", events="prod.tracks", preset="segment"
    ).tables("snowflake")
    found = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        for criterion in CRITERIA_LIST:
            compiled = statement(tables, criterion, JOURNEY, PLAIN, "db")
            for sql in (compiled.sql, newest(tables, compiled.table, PLAIN)):
                assert isinstance(sqlglot.parse_one(sql, read="snowflake"), sqlglot.exp.Query)
            assert "COALESCE(user_id, anonymous_id)" in compiled.sql
            assert "PARTITION BY id" in compiled.sql  # a messageId counts once
            back = sqlglot.transpile(compiled.sql, read="snowflake", write="duckdb")[0]
            answer = {row[0]: tuple(row[1:]) for row in connection.execute(back).fetchall()}
            built = [compiled.build(answer.get(w.label), back).value for w in PLAIN]
            found[criterion.name] = (built[0], built[1])
    assert_same(found, wanted(MESSAGES))


def test_segment_keeps_no_session_id_and_says_how_to_map_one():
    tables = SqlSettings(
        url="duckdb:///unused.duckdb", events="prod.tracks", preset="segment"
    ).tables("duckdb")
    per_session = TypeAdapter(Criterion).validate_python(
        {"name": "s", "metric": "engagement", "measure": "events_per_session", "min": 0}
    )
    with pytest.raises(CompileError) as caught:
        statement(tables, per_session, None, PLAIN, "db")
    assert str(caught.value) == (
        "the events table has no session_id column (Segment's tables keep none; e.g. "
        "anonymous_id || ':' || <a session property>); map columns.events.session_id to an "
        "expression over the table's columns"
    )


def test_a_filter_reads_the_tracks_table_s_own_columns(tmp_path: Path):
    write_duckdb(tmp_path / "segment.duckdb")
    provider = "{type: sql, url: 'duckdb:///segment.duckdb', events: prod.tracks, preset: segment}"
    criteria = (
        "  - {name: users, metric: engagement, measure: active_users, min: 1, min_samples: 1, "
        "filter: \"context_library_name = 'analytics.js' AND event_text = 'Wishlist Add'\"}\n"
    )
    # Every call came from analytics.js: the users who added to a wishlist, counted by hand.
    users = []
    for window in WINDOWS:
        start, end = WINDOWS[window]
        users.append(
            float(
                len(
                    {
                        m["userId"] or m["anonymousId"]
                        for m in MESSAGES
                        if m["event"] == "wishlist_add"
                        and start <= datetime.fromisoformat(m["timestamp"]) < end
                    }
                )
            )
        )
    assert_same(values(judge(tmp_path, provider, criteria)), {"users": (users[0], users[1])})
