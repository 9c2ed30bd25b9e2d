"""A criterion's `filter` (and an error rule) is one SQL condition on a row: checked when cxe.yml is
loaded (`cxe-gate validate` exits 2 naming the line), checked again before the file provider pastes
it, and never able to widen, end or add to the query it narrows, on the real DuckDB."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from tiny_logs import DEPLOY, at, iso, write_ndjson

from cxe_gate.cli import main
from cxe_gate.config import Criterion
from cxe_gate.errors import ConfigError, DataError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.conditions import check_condition, dialect_for_backend
from cxe_gate.providers.file import FileProvider, FileSettings

EXPECTED = "expected one SQL condition such as route = '/checkout'"

# Release-window requests: (minutes after the deploy, route, status).
REQUESTS = [
    (5, "/a", 200),
    (6, "/a", 503),
    (7, "/b", 500),
    (8, "/b", 200),
    (9, "/c", 502),
    (10, "/c", 200),
    (11, "/c", 200),
]


@pytest.fixture
def request_log(tmp_path: Path) -> Path:
    rows = [{"timestamp": iso(at(m)), "route": r, "status": s} for m, r, s in REQUESTS]
    write_ndjson(tmp_path / "requests.ndjson", rows)
    return tmp_path


def write_config(directory: Path, criteria: str) -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: {iso(DEPLOY)}}}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        "providers:\n"
        "  local: {type: file, requests: requests.ndjson}\n"
        f"criteria:\n{criteria}"
    )
    return path


def validate(path: Path):
    return CliRunner().invoke(main, ["validate", "-c", str(path)])


# --- at validate time ---------------------------------------------------------------------------


def test_a_filter_that_escapes_its_parentheses_fails_validate_with_its_line(request_log: Path):
    path = write_config(
        request_log,
        """\
  - name: checkout errors
    metric: error_rate
    max: 1%
    filter: "1=1) OR (1=1"
""",
    )
    result = validate(path)
    assert result.exit_code == 2, result.output
    assert f"{path}:9: criteria[0].filter: closes a parenthesis it did not open (the ')' at " in (
        result.output
    )
    assert f"which would reach outside the filter; {EXPECTED}" in result.output
    assert "Traceback" not in result.output


def test_a_condition_with_its_own_parentheses_validates(request_log: Path):
    path = write_config(
        request_log,
        """\
  - name: a or b errors
    metric: error_rate
    max: 1%
    filter: "status >= 500 AND (route = '/a' OR route = '/b')"
""",
    )
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert "valid (1 criteria" in result.output


def test_every_bad_condition_is_reported_with_its_line_and_field(request_log: Path):
    path = write_config(
        request_log,
        """\
  - {name: two statements, metric: error_rate, max: 1%, filter: "route = '/a'; DROP TABLE requests"}
  - {name: comment, metric: error_rate, max: 1%, filter: "route = '/a' -- and the rest"}
  - {name: syntax, metric: latency, percentile: 95, max: 1s, filter: "route = "}
  - {name: errors rule, metric: apdex, t: 200ms, min: 0.9, errors: "status >= 500) OR (true"}
  - {name: custom, metric: custom, max: 1, filter: "route = '/a'", query: "SELECT 1 AS value"}
""",
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    problems = caught.value.problems
    assert problems == [
        f"{path}:6: criteria[0].filter: holds a ';' at column 13, which ends a statement; "
        f"{EXPECTED}",
        f"{path}:7: criteria[1].filter: holds an SQL comment ('and the rest'): comments (-- or "
        f"/* */) can hide text; {EXPECTED}",
        f"{path}:8: criteria[2].filter: is not valid SQL: '=' at column 7 is missing what follows "
        f"it; {EXPECTED}",
        f"{path}:9: criteria[3].errors: closes a parenthesis it did not open (the ')' at column "
        "14), which would reach outside the filter; expected one SQL condition such as "
        "status >= 500",
        f"{path}:10: criteria[4].filter: a custom query runs as written: put this condition in it",
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("1=1) OR (1=1", "closes a parenthesis it did not open (the ')' at column 4)"),
        ("status >= 500) LIMIT (1", "closes a parenthesis it did not open (the ')' at column 14)"),
        ("route = '/a'; DROP TABLE requests", "holds a ';' at column 13"),
        ("route = '/a' /* OR 1=1 */", "holds an SQL comment ('OR 1=1')"),
        ("DROP TABLE requests", "is a DROP statement, not a condition"),
        ("SELECT 1", "is a SELECT statement, not a condition"),
        ("status = 500 UNION SELECT 1", "is not valid SQL: unexpected 'UNION' at column 14"),
        ("route IN (SELECT route FROM requests)", "holds a subquery (SELECT route FROM requests)"),
        ("EXISTS (SELECT 1)", "holds a subquery (SELECT 1)"),
        ("count(*) > 10", "holds an aggregate (COUNT(*)); a filter is a condition on each row"),
        ("route = ?", "holds a parameter (?); write the value itself"),
        ("route = $start", "holds a parameter ($start)"),
        ("500", "is a value of type INT (500), not true or false"),
        ("'/checkout'", "is a value of type TEXT ('/checkout'), not true or false"),
        ("status + 1", "is a calculation (status + 1), not true or false"),
        ("lower(route)", "is a value of type TEXT (LOWER(route)), not true or false"),
        ("NULL", "is NULL, not a condition"),
        ("route = '/a", "cannot be read as SQL"),
        ("status >= 500 route = '/a'", "is not valid SQL: unexpected 'route' at column 15"),
        ("  ", "is empty"),
        (
            "route = '/a'\nAND status = ",
            "is not valid SQL: '=' at line 2, column 12 is missing what follows it",
        ),
    ],
)
def test_what_is_not_one_condition_is_named(text: str, found: str):
    problem = check_condition(text, "duckdb")
    assert problem is not None and problem.startswith(found), problem
    assert problem.endswith(EXPECTED)


@pytest.mark.parametrize(
    "text",
    [
        "status >= 500 AND (route = '/a' OR route = '/b')",
        "path LIKE '/api/%'",
        "route IN ('/a', '/b') AND NOT (status BETWEEN 400 AND 499)",
        "is_bot",  # a boolean column may stand alone
        "NOT is_bot AND coalesce(beta, false)",
        "context.location.country = 'DE'",  # a struct's field
        "list_contains(tags, 'beta')",
        "regexp_matches(route, '^/api/(v1|v2)/')",
        "route ~ '^/a'",
        "ts::DATE = DATE '2026-11-10'",
        "starts_with(route, '/checkout') OR route = '/cart'",
        "route = 'it''s -- not a comment; nor the end'",  # all inside one quoted string
        "status >= 500\n  AND route <> '/health'",  # YAML block scalars keep their newlines
        "comment IS NOT NULL",  # a column named like a statement keyword
    ],
)
def test_ordinary_conditions_are_accepted(text: str):
    assert check_condition(text, "duckdb") is None


def test_the_dialect_decides_what_parses():
    backticked = "`route` = '/a'"
    assert check_condition(backticked, dialect_for_backend("mysql")) is None
    assert check_condition(backticked, dialect_for_backend("bigquery")) is None
    problem = check_condition(backticked, "duckdb")
    assert problem is not None and problem.startswith("is not valid SQL")


@pytest.mark.parametrize(
    ("backend", "dialect"),
    [
        ("postgresql", "postgres"),
        ("mysql", "mysql"),
        ("sqlite", "sqlite"),
        ("snowflake", "snowflake"),
        ("bigquery", "bigquery"),
        ("clickhouse", "clickhouse"),
        ("databricks", "databricks"),
        ("spark", "spark"),
        ("trino", "trino"),
        ("redshift", "redshift"),
        ("mssql", "tsql"),
        ("duckdb", "duckdb"),
        ("firebird", None),  # unknown to SQLGlot: generic SQL
        (None, None),  # a url read from ${DATABASE_URL} at run time
    ],
)
def test_sqlalchemy_backends_map_to_sqlglot_dialects(backend: str | None, dialect: str | None):
    assert dialect_for_backend(backend) == dialect
    assert check_condition("status >= 500", dialect) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.lists(
        st.sampled_from([*"ab01 =<>()'\";-/*+.,:$?[]{}|&!~#%\n`", "AND ", "SELECT "]), max_size=30
    ).map("".join),
    dialect=st.sampled_from([None, "duckdb", "postgres", "mysql", "tsql", "bigquery", "sqlite"]),
)
def test_any_text_gets_an_answer_never_a_traceback(text: str, dialect: str | None):
    problem = check_condition(text, dialect)
    assert problem is None or problem.endswith(EXPECTED)


# --- on the real engine -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def requests_table() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    connection.execute("CREATE TABLE requests (route VARCHAR, status INTEGER)")
    connection.executemany("INSERT INTO requests VALUES (?, ?)", [(r, s) for _, r, s in REQUESTS])
    return connection


_ATOMS = [
    "status >= 500",
    "route = '/a'",
    "1=1",
    "TRUE",
    "NULL",
    "status",
    "route = 'a'') OR (''1'",  # quotes inside a string: still one string
    "route = $$a) OR (1=1$$",  # DuckDB's dollar-quoted string
    "route = E'a\\' OR 1=1",  # a backslash escape DuckDB reads only in E'...'
]
_JOINS = [" AND ", " OR ", ") OR (", ") AND (", ")) OR ((", " AND (", ") ", " (", "; ", " -- "]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(
        st.tuples(st.sampled_from(_JOINS), st.sampled_from(_ATOMS)), min_size=1, max_size=4
    ).map(lambda pairs: [piece for pair in pairs for piece in pair][1:])
)
def test_an_accepted_filter_can_only_narrow_the_rows(
    requests_table: duckdb.DuckDBPyConnection, pieces: list[str]
):
    """Pasted as the file provider pastes it, after a condition of the gate's own (here: the
    successful requests, 4 of 7), whatever passes the check never reaches rows outside it."""
    text = "".join(pieces)
    if check_condition(text, "duckdb") is not None:
        return
    try:
        (count,) = requests_table.execute(
            f"SELECT count(*) FROM requests WHERE status < 500 AND ({text})"
        ).fetchone()
    except duckdb.Error:
        return  # the engine refused it (a type mismatch): an error, never a wider window
    assert count <= 4


def test_the_escaping_filter_would_have_widened_the_window(requests_table):
    """What the check prevents, shown on the engine: pasted into the old `AND (<filter>)`."""
    (count,) = requests_table.execute(
        "SELECT count(*) FROM requests WHERE status < 500 AND (1=1) OR (1=1)"
    ).fetchone()
    assert count == len(REQUESTS)  # every row, not the 4 the gate's own condition allows


def test_an_accepted_filter_narrows_a_real_error_rate(request_log: Path):
    path = write_config(
        request_log,
        """\
  - {name: a and b, metric: error_rate, max: 99%, min_samples: 1, test: none,
     filter: "route = '/a' OR route = '/b'"}
  - {name: c, metric: error_rate, max: 99%, min_samples: 1, test: none, filter: "route = '/c'"}
""",
    )
    report = evaluate(load(path))
    both, c = report.criteria
    assert (both.samples, both.value) == (4, 0.5)  # 503 on /a, 500 on /b of 4 requests
    assert (c.samples, c.value) == (3, pytest.approx(1 / 3))  # 502 on /c of 3


# --- at evaluate time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "found"),
    [
        (
            {"filter": "country = 'DE'"},
            "filter: \"country = 'DE'\" on the requests file cannot be read: Binder Error: "
            'Referenced column "country" not found',
        ),
        ({"filter": "route"}, "filter: 'route' on the requests file is VARCHAR, not true or false"),
        (
            {"errors": "code >= 500"},
            "errors: 'code >= 500' on the requests file cannot be read: Binder Error: Referenced "
            'column "code"',
        ),
    ],
    ids=["unknown column", "text column", "unknown column in errors"],
)
def test_a_condition_the_data_cannot_answer_is_a_configuration_error(request_log, fields, found):
    # The SQL is sound, but the data has no such column (or it holds text): `validate` binds each
    # condition against the file's own columns, and names them.
    written = ", ".join(f"{key}: {value!r}" for key, value in fields.items())
    path = write_config(
        request_log, f"  - {{name: c, metric: error_rate, max: 1%, min_samples: 1, {written}}}\n"
    )
    result = validate(path)
    assert result.exit_code == 2, result.output
    assert f"criteria[0].{found}" in result.output
    # The canonical columns (those the file lacks are left out) and the file's own.
    assert "its columns are ts, route, status, timestamp (map more under columns.requests)" in (
        result.output
    )


def test_a_condition_the_engine_refuses_at_evaluate_is_named_with_the_columns(request_log):
    # A criterion that reaches the provider without the loader (the pytest plugin, the API).
    provider = FileProvider(
        FileSettings(requests="requests.ndjson"),
        ProviderContext(name="local", base_dir=request_log),
    )
    criterion = TypeAdapter(Criterion).validate_python(
        {"name": "c", "metric": "error_rate", "max": "1%", "filter": "country = 'DE'"}
    )
    with pytest.raises(DataError) as caught:
        provider.measure(
            MetricRequest(criterion),
            [
                TimeWindow("baseline", DEPLOY - timedelta(hours=24), DEPLOY),
                TimeWindow("release", DEPLOY, DEPLOY + timedelta(hours=2)),
            ],
        )
    provider.close()
    assert "criterion 'c': filter \"country = 'DE'\" failed: Binder Error" in str(caught.value)
    assert str(caught.value).endswith("the requests columns are ts, route, status, timestamp")


def test_a_filter_that_skipped_the_loader_is_refused_before_it_is_pasted(request_log: Path):
    """The pytest plugin and the Python API hand criteria to providers too: the provider checks
    again rather than paste what it was given."""
    provider = FileProvider(
        FileSettings(requests="requests.ndjson"),
        ProviderContext(name="local", base_dir=request_log),
    )
    criterion = TypeAdapter(Criterion).validate_python(
        {"name": "wide", "metric": "error_rate", "max": "1%", "filter": "1=1) OR (1=1"}
    )
    windows = [
        TimeWindow("baseline", DEPLOY - timedelta(hours=24), DEPLOY),
        TimeWindow("release", DEPLOY, DEPLOY + timedelta(hours=2)),
    ]
    with pytest.raises(DataError) as caught:
        provider.measure(MetricRequest(criterion), windows)
    assert str(caught.value).startswith(
        "criterion 'wide': filter closes a parenthesis it did not open"
    )
    assert caught.value.query is None  # nothing was sent to the engine
    provider.close()


# --- validate binds conditions against the data's own columns ------------------------------------


def test_validate_names_a_filter_column_the_data_does_not_have(tmp_path):
    from click.testing import CliRunner

    from cxe_gate.cli import main

    (tmp_path / "requests.ndjson").write_text(
        '{"timestamp": "2026-11-10T14:05:00Z", "status": 200, "route": "/checkout", '
        '"version": "2.0"}\n'
    )
    (tmp_path / "events.ndjson").write_text(
        '{"timestamp": "2026-11-10T14:05:00Z", "event": "a", "session_id": "s", '
        '"user_id": "u", "version": "2.0"}\n'
    )
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {deployed_at: '2026-11-10T14:00:00Z'}\n"
        "windows: {baseline: concurrent, release: 2h}\n"
        "cohorts: {release: \"app_version = '2.0'\", baseline: \"version = '1.9'\"}\n"
        "providers:\n  logs: {type: file, requests: requests.ndjson, events: events.ndjson}\n"
        "journeys:\n  j: [a, b]\n"
        "criteria:\n"
        "  - {name: errors, metric: error_rate, max: 1%, filter: \"country = 'DE'\"}\n"
        "  - {name: conv, metric: conversion, journey: j, max_drop: 10%}\n"
    )
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    # the filter, at its criterion's line, with the columns the request log has
    assert any(
        line.startswith(
            f"{path}:9: criteria[0].filter: \"country = 'DE'\" on the requests file cannot be read"
        )
        and "its columns are ts, " in line
        and "route" in line
        for line in lines
    ), lines
    # the release cohort names a column the events do not have; the baseline's is fine
    assert any(
        line.startswith(f"{path}:3: cohorts.release: \"app_version = '2.0'\" on the events file")
        for line in lines
    ), lines
    assert not any("cohorts.baseline" in line for line in lines)
    # mapped, it is valid
    path.write_text(
        path.read_text()
        .replace("app_version", "version")
        .replace(
            "requests: requests.ndjson,",
            "requests: requests.ndjson, columns: {requests: {country: \"'DE'\"}},",
        )
    )
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 0, result.output


def test_validate_names_a_column_a_metric_needs_that_the_file_lacks(tmp_path):
    # A request log without durations: error rate can be judged, latency cannot.
    (tmp_path / "requests.ndjson").write_text(
        '{"timestamp": "2026-11-10T14:05:00Z", "status": 200}\n'
    )
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {deployed_at: '2026-11-10T14:00:00Z'}\n"
        "providers:\n  logs: {type: file, requests: requests.ndjson}\n"
        "criteria:\n"
        "  - {name: errors, metric: error_rate, max: 1%}\n"
        "  - {name: p95, metric: latency, max: 800ms}\n"
    )
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"{path}:6: criteria[1]: the requests file has no duration_ms column (mapped as "
        "'duration_ms'); map columns.requests.duration_ms to an expression over the file's columns"
    )
