"""The sql provider's built-in metrics: the file provider's metric SQL over warehouse tables named in
the settings, with no query written. The same criteria on the same rows give the same numbers from
the file provider's NDJSON, a DuckDB file and a real PostgreSQL, and the numbers plain Python
counts."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from engine_gate import assert_same, judge, tables, values
from engine_tables import TINY, Logs, generated, write_duckdb, write_files, write_postgres
from expected_metrics import WINDOWS, expected, percentile
from tiny_logs import at

from cxe_gate.errors import ConfigError

if TYPE_CHECKING:
    from postgres_server import PostgresServer

pytest_plugins = ["postgres_server"]

LOGS = {"tiny": TINY, "generated": generated(7)}


@pytest.fixture(scope="module", params=sorted(LOGS))
def logs(request: pytest.FixtureRequest) -> tuple[str, Logs]:
    return request.param, LOGS[request.param]


def test_the_file_provider_gives_what_plain_python_counts(tmp_path: Path, logs):
    _, rows = logs
    write_files(rows, tmp_path)
    provider = (
        "{type: file, events: events.ndjson, requests: requests.ndjson, feedback: feedback.ndjson}"
    )
    assert_same(values(judge(tmp_path, provider)), expected(rows))


def test_duckdb_gives_the_same_numbers_with_no_query_written(tmp_path: Path, logs):
    _, rows = logs
    write_duckdb(rows, tmp_path / "shop.duckdb")
    report = judge(tmp_path, f"{{type: sql, url: 'duckdb:///shop.duckdb', {tables('logs')}}}")
    assert_same(values(report), expected(rows))


@pytest.mark.server
def test_postgresql_gives_the_same_numbers_with_no_query_written(
    tmp_path: Path, logs, postgres: PostgresServer
):
    _, rows = logs
    schema = write_postgres(rows, postgres)
    provider = (
        f"{{type: sql, url: '{postgres.url}', password: '${{PG_PASSWORD}}', {tables(schema)}}}"
    )
    report = judge(tmp_path, provider, PG_PASSWORD=postgres.password)
    assert_same(values(report), expected(rows))


def test_the_tiny_logs_give_the_numbers_counted_by_hand(tmp_path: Path):
    """The answers test_file_provider counts by hand, read by the sql provider."""
    write_duckdb(TINY, tmp_path / "shop.duckdb")
    found = values(
        judge(tmp_path, f"{{type: sql, url: 'duckdb:///shop.duckdb', {tables('logs')}}}")
    )
    assert found["errors"] == (0.25, 0.2)
    assert found["client errors too"] == pytest.approx((0.25, 0.4))
    assert found["apdex"] == pytest.approx((0.375, 0.7))
    assert found["p50"] == pytest.approx((225.0, 100.0))
    assert found["nps"] == pytest.approx((0.0, 100 / 3))
    assert found["csat"][1] == pytest.approx(2 / 3)
    assert found["wishlist"][1] == pytest.approx(1 / 3)
    assert found["per session"] == pytest.approx((13 / 5, 7 / 3))
    assert found["per user"] == pytest.approx((13 / 4, 7 / 3))
    assert found["users"][1] == 3


# --- cohorts, details, settings -----------------------------------------------------------------

COHORTS = (
    "{baseline: concurrent, release: 2h}\n"
    "cohorts: {release: \"route = '/checkout'\", baseline: \"route = '/search'\"}"
)
COHORT_CRITERIA = """\
  - {name: errors, metric: error_rate, max: 90%, min_samples: 1, test: none}
  - {name: apdex, metric: apdex, t: 200ms, min: 0.01, min_samples: 1}
  - {name: p50, metric: latency, percentile: 50, max: 100s, min_samples: 1}
"""


def test_concurrent_cohorts_split_the_release_window_as_the_file_provider_does(tmp_path: Path):
    rows = LOGS["generated"]
    write_files(rows, tmp_path)
    write_duckdb(rows, tmp_path / "shop.duckdb")
    files = "{type: file, requests: requests.ndjson}"
    by_file = values(judge(tmp_path, files, COHORT_CRITERIA, COHORTS))
    sql = f"{{type: sql, url: 'duckdb:///shop.duckdb', {tables('logs')}}}"
    assert_same(values(judge(tmp_path, sql, COHORT_CRITERIA, COHORTS)), by_file)

    start, end = WINDOWS["release"]
    window = [r for r in rows.requests if start <= r[0] < end]
    for route, which in (("/search", 0), ("/checkout", 1)):
        cohort = [r for r in window if r[1] == route]
        assert by_file["errors"][which] == pytest.approx(
            sum(r[2] >= 500 for r in cohort) / len(cohort), rel=1e-12
        )
        durations = [r[3] for r in cohort if r[3] is not None]
        assert by_file["p50"][which] == pytest.approx(percentile(durations, 0.5), rel=1e-12)


def test_only_aggregates_come_back(tmp_path: Path):
    write_duckdb(TINY, tmp_path / "shop.duckdb")
    report = judge(tmp_path, f"{{type: sql, url: 'duckdb:///shop.duckdb', {tables('logs')}}}")
    for criterion in report.criteria:
        for window in ("baseline", "release"):
            # a label and a few numbers, or nothing for a window without rows (no route /checkout)
            fetched = criterion.details[window]["bytes fetched"]
            assert fetched < 100, (criterion.name, fetched)
        assert "FROM logs.requests" in criterion.queries["release"] or (
            "FROM logs.events" in criterion.queries["release"]
            or "FROM logs.feedback" in criterion.queries["release"]
        )
    errors = next(c for c in report.criteria if c.name == "errors")
    # the file provider's counts, and 'release', '5' and '1' as text: 9 bytes
    assert errors.details["release"] == {
        "successes": 1,
        "trials": 5,
        "requests": 5,
        "errors": 1,
        "bytes fetched": 9,
    }


@pytest.mark.parametrize(
    ("provider", "problem"),
    [
        (
            "{type: sql, url: 'duckdb:///x.duckdb', events: logs.events, preset: amplitude}",
            "preset amplitude reads the service's file export; a warehouse table is read with "
            "preset cxe (the canonical columns), ga4 (BigQuery's GA4 export) or segment "
            "(Segment's tracks table)",
        ),
        (
            "{type: sql, url: 'duckdb:///x.duckdb', requests: 'logs.requests WHERE status > 0'}",
            "requests: 'logs.requests WHERE status > 0' is not a duckdb table name",
        ),
        (
            "{type: sql, url: 'duckdb:///x.duckdb', requests: logs.requests, dialect: mysql}",
            "expected one of duckdb, postgres, bigquery, snowflake, clickhouse, spark, trino, "
            "redshift",
        ),
    ],
)
def test_settings_the_tables_cannot_be_read_with_are_refused(tmp_path: Path, provider, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        judge(tmp_path, provider, "  - {name: errors, metric: error_rate, max: 1%}\n")


def test_the_loader_refuses_what_the_built_in_metrics_cannot_write(tmp_path: Path):
    criteria = """\
  - {name: no table, metric: feedback, scale: nps, min: 0}
  - {name: broken filter, metric: error_rate, max: 1%, filter: "route = "}
  - {name: not a condition, metric: error_rate, max: 1%, errors: "status + 1"}
"""
    with pytest.raises(ConfigError) as caught:
        judge(tmp_path, "{type: sql, url: 'duckdb:///x.duckdb', requests: logs.requests}", criteria)
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].endswith(
        "criteria[0].query: the sql provider runs the criterion's own query: give `query:` with "
        "SQL selecting the window's rows with :start and :end and returning promoters, passives "
        "and detractors (counts of answers)"
    )
    assert "criteria[1].filter: is not valid SQL" in problems[1]
    assert "criteria[2].errors: is a calculation (status + 1), not true or false" in problems[2]

    mysql = "{type: sql, url: 'mysql://gate@db/shop', requests: logs.requests}"
    with pytest.raises(ConfigError, match="the built-in metrics are written for duckdb, postgres"):
        judge(tmp_path, mysql, "  - {name: errors, metric: error_rate, max: 1%}\n")


@pytest.mark.server
def test_a_url_from_a_variable_compiles_for_the_database_it_names(
    tmp_path: Path, postgres: PostgresServer
):
    schema = write_postgres(TINY, postgres)
    url = postgres.url.replace("gate@", f"gate:{postgres.password}@")
    provider = f"{{type: sql, url: '${{DATABASE_URL}}', {tables(schema)}}}"
    found = values(judge(tmp_path, provider, DATABASE_URL=url))
    assert_same(found, expected(TINY))


# An event delivered twice (a retry: the same insert id) counts once; events without one all count.
RETRIED = [
    (at(-60), "s1", "u1", "a", "m1"),
    (at(-59), "s1", "u1", "a", "m1"),
    (at(-58), "s1", "u1", "b", None),
    (at(-57), "s1", "u1", "b", None),
    (at(10), "s2", "u2", "a", "m2"),
    (at(11), "s2", "u2", "a", "m3"),
]
PER_SESSION = (
    "  - {name: per session, metric: engagement, measure: events_per_session, min: 0, "
    "min_samples: 1}\n"
)
DEDUPLICATED = "columns: {events: {insert_id: message_id}}"


@pytest.mark.server
def test_a_mapped_insert_id_counts_a_retried_event_once(tmp_path: Path, postgres: PostgresServer):
    create = (
        "CREATE TABLE {}.events (timestamp TIMESTAMPTZ, session_id TEXT, user_id TEXT, "
        "event TEXT, message_id TEXT)"
    )
    with duckdb.connect(str(tmp_path / "retried.duckdb")) as connection:
        connection.execute("CREATE SCHEMA logs")
        connection.execute(create.format("logs"))
        connection.executemany("INSERT INTO logs.events VALUES (?, ?, ?, ?, ?)", RETRIED)
    schema = f"retried_{uuid.uuid4().hex[:8]}"
    with postgres.connect() as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute(create.format(schema))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {schema}.events VALUES (%s, %s, %s, %s, %s)", RETRIED)
    on_duckdb = "{type: sql, url: 'duckdb:///retried.duckdb', events: logs.events"
    on_postgres = (
        f"{{type: sql, url: '{postgres.url}', password: '${{PG_PASSWORD}}', events: {schema}.events"
    )
    # baseline: a, b, b in s1 (the second a is a retry); release: two a's with their own ids
    for provider in (on_duckdb, on_postgres):
        found = values(
            judge(
                tmp_path,
                f"{provider}, {DEDUPLICATED}}}",
                PER_SESSION,
                PG_PASSWORD=postgres.password,
            )
        )
        assert found == {"per session": (3.0, 2.0)}
    assert values(judge(tmp_path, f"{on_duckdb}}}", PER_SESSION)) == {"per session": (4.0, 2.0)}
