"""The `sql` provider against a DuckDB file made here and a real PostgreSQL server started for the
session: one query per window, its columns read into the numbers the judge needs, and every failure
(refused login, no server, SQL error, slow query) an error that names what to fix, never a password."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from criteria_files import NOW, WINDOWS, write_criteria
from pydantic import TypeAdapter
from shop_warehouse import (
    APDEX,
    ERROR_RATE,
    LATENCY,
    MEAN_DURATION,
    NPS,
    fill_postgres,
    write_duckdb,
)

from cxe_gate import metrics
from cxe_gate.config import Criterion
from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.sql import SqlProvider, SqlSettings
from cxe_gate.results import Verdict

if TYPE_CHECKING:  # imported by pytest as a plugin, below: importing it first stops its rewriting
    from postgres_server import PostgresServer

pytest_plugins = ["postgres_server"]


SLOW = (
    "SELECT count(*) AS value FROM range(100000000) a(x), range(100000) b(y) "
    "WHERE (x * y) % 7 = 3 AND :start < :end"
)


@pytest.fixture(scope="module")
def duckdb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_duckdb(tmp_path_factory.mktemp("warehouse") / "shop.duckdb")


@pytest.fixture(scope="module")
def shop_db(postgres: PostgresServer) -> PostgresServer:
    return fill_postgres(postgres)


def criterion(**fields):
    return TypeAdapter(Criterion).validate_python({"name": "c", "max_rise": "50%", **fields})


def provider(url: str, environ: dict[str, str] | None = None, **settings) -> SqlProvider:
    context = ProviderContext(
        name="warehouse", base_dir=Path("/"), environ=environ or {}, where="cxe.yml:3"
    )
    return SqlProvider(SqlSettings.model_validate({"url": url, **settings}), context)


def measure(sql: SqlProvider, **fields):
    return sql.measure(MetricRequest(criterion(**fields)), WINDOWS)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


# --- the numbers, on DuckDB and PostgreSQL alike ------------------------------------------------


def check_every_kind(sql: SqlProvider) -> None:
    errors = measure(sql, metric="error_rate", query=ERROR_RATE)
    assert (errors["baseline"].value, errors["baseline"].samples) == (0.05, 200)
    assert (errors["release"].value, errors["release"].successes) == (0.2, 20)
    assert ":start = '2026-11-09T14:00:00+00:00'" in (errors["baseline"].query or "")
    assert "FROM requests WHERE ts >= :start" in (errors["baseline"].query or "")

    apdex = measure(sql, metric="apdex", t="300ms", query=APDEX)
    assert apdex["baseline"] == metrics.apdex(150, 40, 10, query=apdex["baseline"].query)
    assert apdex["baseline"].value == pytest.approx(0.85)
    assert apdex["release"].value == pytest.approx(0.6)
    assert apdex["release"].variance == pytest.approx(metrics.apdex(60, 0, 40).variance)
    assert ":t_ms = 300.0" in (apdex["release"].query or "")

    latency = measure(sql, metric="latency", percentile=90, query=LATENCY)
    assert (latency["baseline"].value, latency["baseline"].samples) == (600.0, 200)
    assert (latency["release"].value, latency["release"].samples) == (2000.0, 100)

    nps = measure(sql, metric="feedback", scale="nps", query=NPS)
    assert (nps["baseline"].value, nps["baseline"].samples) == (25.0, 20)
    assert nps["release"].value == pytest.approx(-40.0)
    assert nps["release"].variance == pytest.approx(metrics.nps(4, 4, 12).variance)

    mean = measure(sql, metric="custom", unit="ms", query=MEAN_DURATION)
    release = mean["release"]
    assert release.value == pytest.approx((60 * 100 + 20 * 2000) / 80)
    assert release.samples == 80
    assert release.variance == pytest.approx(60 * 20 / (80 * 79) * 1900**2)


def test_every_metric_kind_reads_its_columns_from_a_duckdb_file(duckdb_file: Path):
    check_every_kind(provider(f"duckdb:///{duckdb_file}"))


def test_a_relative_duckdb_path_is_relative_to_the_criteria_file(duckdb_file: Path):
    context = ProviderContext(name="w", base_dir=duckdb_file.parent)
    sql = SqlProvider(SqlSettings(url=f"duckdb:///{duckdb_file.name}"), context)
    assert measure(sql, metric="error_rate", query=ERROR_RATE)["release"].value == 0.2


@pytest.mark.server
def test_every_metric_kind_reads_its_columns_from_postgresql(shop_db: PostgresServer):
    sql = provider(shop_db.url, {"PG_PASSWORD": shop_db.password}, password="${PG_PASSWORD}")
    try:
        check_every_kind(sql)
    finally:
        sql.close()


@pytest.mark.server
def test_the_whole_url_may_come_from_one_variable(shop_db: PostgresServer):
    url = shop_db.url.replace("gate@", f"gate:{shop_db.password}@")
    sql = provider("${DATABASE_URL}", {"DATABASE_URL": url})
    assert measure(sql, metric="error_rate", query=ERROR_RATE)["baseline"].value == 0.05
    sql.close()


# --- no data ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1.0 AS value, 5 AS samples WHERE :start > :end",  # no row at all
        "SELECT avg(duration_ms) AS value, count(*) AS samples FROM requests "
        "WHERE ts >= :start AND ts < :end AND status = 418",  # NULL over no rows
        "SELECT 'NaN'::DOUBLE AS value, 7 AS samples WHERE :start < :end",
        "SELECT 0.5 AS value, 0 AS samples WHERE :start < :end",
        "SELECT 0 AS successes, 0 AS trials WHERE :start < :end",
    ],
    ids=["no row", "null", "NaN", "zero samples", "zero trials"],
)
def test_an_empty_window_is_no_data_never_zero(duckdb_file: Path, query: str):
    result = measure(provider(f"duckdb:///{duckdb_file}"), metric="custom", query=query)
    for measurement in result.values():
        assert (measurement.value, measurement.samples) == (None, 0)
        assert not measurement.has_data


# --- malformed answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"metric": "custom", "query": "SELECT 'high' AS value WHERE :start < :end"},
            "column value is 'high' (str), expected a number",
        ),
        (
            {"metric": "custom", "query": "SELECT 1 AS value, 2 AS sample WHERE :start < :end"},
            "unexpected column(s) sample; this criterion's query returns value",
        ),
        (
            {
                "metric": "custom",
                "query": "SELECT x AS value FROM range(3) t(x) WHERE :start < :end",
            },
            "more than one row",
        ),
        (
            {"metric": "error_rate", "query": "SELECT 3 AS successes WHERE :start < :end"},
            "give both successes and trials",
        ),
        (
            {
                "metric": "error_rate",
                "query": "SELECT 5 AS successes, 2 AS trials WHERE :start < :end",
            },
            "successes (5) exceed trials (2)",
        ),
        (
            {
                "metric": "apdex",
                "t": "1s",
                "query": "SELECT 1 AS satisfied, 2 AS frustrated WHERE :start < :end",
            },
            "give all of satisfied, tolerating, frustrated (missing: tolerating)",
        ),
        (
            {
                "metric": "latency",
                "query": "SELECT 1 AS promoters, 1 AS passives, 1 AS detractors "
                "WHERE :start < :end",
            },
            "promoters, passives, detractors are for metric: feedback, scale: nps; return value "
            "(milliseconds)",
        ),
        (
            {
                "metric": "custom",
                "query": "SELECT 2.5 AS successes, 4 AS trials WHERE :start < :end",
            },
            "column successes is 2.5, expected a count",
        ),
    ],
)
def test_a_malformed_row_is_an_error_naming_what_was_expected(duckdb_file, fields, expected):
    with pytest.raises(ProviderError) as caught:
        measure(provider(f"duckdb:///{duckdb_file}"), **fields)
    assert expected in str(caught.value)
    assert caught.value.query and caught.value.query.startswith("SELECT")


def test_an_sql_error_gives_the_first_line_and_the_query(duckdb_file: Path):
    query = "SELECT count(*) AS value FROM no_such_table WHERE ts >= :start AND ts < :end"
    with pytest.raises(ProviderError) as caught:
        measure(provider(f"duckdb:///{duckdb_file}"), metric="custom", query=query)
    message = str(caught.value)
    assert message.startswith("query failed: Catalog Error: Table with name no_such_table")
    assert "\n" not in message
    assert caught.value.query == (
        f"{query}\n-- :end = '2026-11-10T14:00:00+00:00', :start = '2026-11-09T14:00:00+00:00'"
    )


def test_a_slow_duckdb_query_is_interrupted_at_the_timeout(duckdb_file: Path):
    sql = provider(f"duckdb:///{duckdb_file}", timeout="300ms")
    with pytest.raises(
        ProviderError, match=r"no answer within 0\.3 s \(timeout; the query was interrupted\)"
    ):
        measure(sql, metric="custom", query=SLOW)


def test_the_evaluation_deadline_cuts_a_query_short(duckdb_file: Path):
    context = ProviderContext(name="w", base_dir=Path("/"), deadline=time.monotonic() + 0.4)
    sql = SqlProvider(SqlSettings(url=f"duckdb:///{duckdb_file}", timeout="30s"), context)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="custom", query=SLOW)
    assert time.monotonic() - started < 1.5
    assert str(caught.value).endswith(
        "(timeout; the query was interrupted); the evaluation's deadline (gate.deadline) cut it "
        "short"
    )
    with pytest.raises(ProviderError, match=r"not sent: the evaluation's deadline .* has passed"):
        measure(sql, metric="custom", query=SLOW)


def test_a_missing_duckdb_file_is_named(tmp_path: Path):
    with pytest.raises(ProviderError, match=r"no DuckDB file at .*/absent\.duckdb"):
        measure(
            provider(f"duckdb:///{tmp_path}/absent.duckdb"), metric="custom", query=MEAN_DURATION
        )


# --- PostgreSQL failures ------------------------------------------------------------------------


@pytest.mark.server
def test_a_refused_password_names_the_variable_never_the_password(shop_db: PostgresServer):
    wrong = "not-the-password-0451"
    sql = provider(shop_db.url, {"PG_PASSWORD": wrong}, password="${PG_PASSWORD}")
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="error_rate", query=ERROR_RATE)
    message = str(caught.value)
    assert f"the database at 127.0.0.1:{shop_db.port} refused the credentials of user 'gate'" in (
        message
    )
    assert "password authentication failed" in message
    assert message.endswith("check PG_PASSWORD")
    assert wrong not in message and wrong not in (caught.value.query or "")


@pytest.mark.server
def test_a_password_inside_a_url_variable_is_redacted_too(shop_db: PostgresServer):
    wrong = "wrong-password-inside-url"
    url = shop_db.url.replace("gate@", f"gate:{wrong}@")
    sql = provider("${DATABASE_URL}", {"DATABASE_URL": url})
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="error_rate", query=ERROR_RATE)
    assert "check DATABASE_URL" in str(caught.value)
    assert wrong not in str(caught.value)


@pytest.mark.server
def test_no_server_listening_is_a_connection_error():
    port = closed_port()
    sql = provider(
        f"postgresql+psycopg://gate@127.0.0.1:{port}/shop",
        {"PG_PASSWORD": "x" * 12},
        password="${PG_PASSWORD}",
        timeout="2s",
    )
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="error_rate", query=ERROR_RATE)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to the database at 127.0.0.1:{port}:")
    assert "Connection refused" in message


@pytest.mark.server
def test_a_slow_query_is_cancelled_by_statement_timeout(shop_db: PostgresServer):
    sql = provider(
        shop_db.url, {"PG_PASSWORD": shop_db.password}, password="${PG_PASSWORD}", timeout="500ms"
    )
    query = "SELECT 1 AS value FROM pg_sleep(5) WHERE :start < :end"
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="custom", query=query)
    assert str(caught.value) == (
        "no answer within 0.5 s (statement_timeout; the database cancelled the query)"
    )
    # The pooled connection is usable again: the timeout was local to the failed transaction.
    assert measure(sql, metric="error_rate", query=ERROR_RATE)["release"].value == 0.2
    sql.close()


@pytest.mark.server
def test_a_postgresql_error_gives_its_first_line_and_the_query(shop_db: PostgresServer):
    sql = provider(shop_db.url, {"PG_PASSWORD": shop_db.password}, password="${PG_PASSWORD}")
    query = "SELECT count(nope) AS value FROM requests WHERE ts >= :start AND ts < :end"
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="custom", query=query)
    assert str(caught.value) == 'query failed: column "nope" does not exist'
    assert caught.value.query and caught.value.query.startswith(query)
    sql.close()


@pytest.mark.server
def test_the_gate_never_writes(shop_db: PostgresServer):
    sql = provider(shop_db.url, {"PG_PASSWORD": shop_db.password}, password="${PG_PASSWORD}")
    query = "DELETE FROM requests WHERE ts >= :start AND ts < :end RETURNING 1 AS value"
    with pytest.raises(ProviderError, match="read-only transaction"):
        measure(sql, metric="custom", query=query)
    sql.close()


# --- the criteria file --------------------------------------------------------------------------


def test_the_loader_refuses_what_the_provider_cannot_run(tmp_path: Path):
    path = write_criteria(
        tmp_path,
        """\
        db: {type: sql, url: "duckdb:///shop.duckdb"}
        """,
        """\
        - {name: no query, metric: error_rate, max: 1%}
        - {name: mapping, metric: custom, max: 1, query: {sql: x}}
        - name: filtered
          metric: custom
          max: 1
          filter: "route = '/'"
          query: "SELECT 1 AS value WHERE :start < :end"
        - name: unknown param
          metric: apdex
          t: 1s
          min: 0.9
          query: "SELECT 1 AS value WHERE ts >= :start AND ts < :end AND d < :t"
        - {name: one window, metric: custom, max: 1, query: "SELECT 1 AS value FROM t WHERE ts::date = current_date"}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    problems = caught.value.problems
    assert len(problems) == 5
    assert problems[0].endswith(
        "criteria[0].query: the sql provider runs the criterion's own query: give `query:` with "
        "SQL selecting the window's rows with :start and :end and returning successes and trials "
        "(failed requests, of requests)"
    )
    assert problems[1].endswith(
        "criteria[1].query: expected an SQL query as text for a sql provider"
    )
    assert problems[2].endswith(
        "criteria[2].filter: the sql provider takes no SQL filter; it runs `query` as written: "
        "put this condition in it"
    )
    assert (
        "criteria[3].query: unknown parameter :t; this criterion's query may use :start, :end, :cohort, :t_ms"
        in problems[3]
    )
    assert (
        "criteria[4].query: the query must select each window's rows with :start and :end"
        in problems[4]
    )


def test_a_password_written_into_the_url_is_refused_without_echoing_it(tmp_path: Path):
    path = write_criteria(
        tmp_path,
        """\
        db: {type: sql, url: "postgresql://gate:hunter2-literal@db.internal/shop"}
        """,
        """\
        - {name: e, metric: custom, max: 1, query: "SELECT 1 AS value WHERE :start < :end"}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    text = str(caught.value)
    assert (
        "providers.db.url: the url holds a password: give it as `password: ${DB_PASSWORD}`" in text
    )
    assert "hunter2" not in text


def test_a_missing_dialect_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="SQLAlchemy has no dialect 'nosuchdb'"):
        provider("nosuchdb://gate@host/db")


GOOD_CRITERIA = f"""\
- name: server errors
  metric: error_rate
  max_rise: 400%
  query: "{" ".join(ERROR_RATE.split())}"
- name: apdex
  metric: apdex
  t: 300ms
  min: 0.5
  query: "{" ".join(APDEX.split())}"
- name: p90
  metric: latency
  percentile: 90
  max: 2500ms
  query: "{" ".join(LATENCY.split())}"
"""


def test_a_gate_over_a_duckdb_file_passes_on_good_data(tmp_path: Path, duckdb_file: Path):
    path = write_criteria(
        tmp_path, f'db: {{type: sql, url: "duckdb:///{duckdb_file}"}}\n', GOOD_CRITERIA
    )
    report = evaluate(load(path), now=NOW)
    assert [c.verdict for c in report.criteria] == [Verdict.PASS] * 3, report.model_dump_json()
    errors, apdex, p90 = report.criteria
    assert (errors.baseline, errors.value, errors.samples) == (0.05, 0.2, 100)
    assert apdex.value == pytest.approx(0.6)
    assert p90.value == 2000.0
    assert report.verdict == Verdict.PASS


@pytest.mark.server
def test_a_gate_over_postgresql_passes_then_errors_in_an_outage(
    tmp_path: Path, shop_db: PostgresServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PG_PASSWORD", shop_db.password)
    providers = f"""\
    db: {{type: sql, url: "{shop_db.url}", password: "${{PG_PASSWORD}}", timeout: 2s}}
    """
    report = evaluate(load(write_criteria(tmp_path, providers, GOOD_CRITERIA)), now=NOW)
    assert report.verdict == Verdict.PASS, report.model_dump_json()
    assert report.criteria[0].details["release"] == {"successes": 20, "trials": 100}

    down = shop_db.url.replace(f":{shop_db.port}/", f":{closed_port()}/")
    providers = f"""\
    db: {{type: sql, url: "{down}", password: "${{PG_PASSWORD}}", timeout: 2s}}
    """
    report = evaluate(load(write_criteria(tmp_path, providers, GOOD_CRITERIA)), now=NOW)
    assert report.verdict == Verdict.ERROR
    assert {c.verdict for c in report.criteria} == {Verdict.ERROR}
    assert "cannot connect to the database" in report.criteria[0].message
    dumped = report.model_dump_json()
    assert shop_db.password not in dumped
    assert (
        "FROM requests WHERE ts >= :start" in json.loads(dumped)["criteria"][0]["queries"]["query"]
    )


def test_a_password_inside_a_url_variable_never_reaches_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    password = "p@ss-inside-url"  # written percent-encoded in the url, sent decoded
    url = f"postgresql+psycopg://gate:p%40ss-inside-url@127.0.0.1:{closed_port()}/shop"
    sql = provider("${DATABASE_URL}", {"DATABASE_URL": url})
    echoed = sql.context.redact(f"login as gate:{password} (gate:p%40ss-inside-url) refused")
    assert echoed == "login as gate:*** (gate:***) refused"

    monkeypatch.setenv("DATABASE_URL", url)
    providers = 'db: {type: sql, url: "${DATABASE_URL}", timeout: 2s}\n'
    report = evaluate(load(write_criteria(tmp_path, providers, GOOD_CRITERIA)), now=NOW)
    assert report.verdict == Verdict.ERROR
    assert "cannot connect to the database" in report.criteria[0].message
    dumped = report.model_dump_json()
    assert password not in dumped and "p%40ss-inside-url" not in dumped
