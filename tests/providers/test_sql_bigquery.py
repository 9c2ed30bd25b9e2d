"""The sql provider on BigQuery (`bigquery://project/dataset`) against a loopback BigQuery whose jobs
API runs the GoogleSQL it is sent, carried back by SQLGlot, on DuckDB holding the test's rows. The
same criteria give the numbers plain Python counts; each query is dry-run first and refused over
maximum_bytes_billed; BigQuery's own limit, a refused key, a revoked token and a slow job end as
errors that say what to do."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from engine_gate import assert_same, judge, tables, values
from engine_tables import TINY, generated, write_duckdb
from expected_metrics import WINDOWS, expected, percentile
from loopback_bigquery import EMAIL, MIN_BILLED, PROJECT, ROW_BYTES, BigQueryServer, on, pem
from pytest_httpserver import HTTPServer

from cxe_gate.errors import ConfigError, ProviderError
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.sql import SqlProvider, SqlSettings
from cxe_gate.providers.sql_review import dry_run
from cxe_gate.results import Verdict

LOGS = generated(31)
ERRORS = (
    "SELECT count(*) FILTER (WHERE status >= 500) AS successes, count(*) AS trials "
    "FROM requests WHERE timestamp >= :start AND timestamp < :end"
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def tiny(httpserver: HTTPServer, key: rsa.RSAPrivateKey, tmp_path: Path) -> BigQueryServer:
    """A loopback BigQuery over the tiny logs, their tables in dataset `logs`."""
    return on(httpserver, key, write_duckdb(TINY, tmp_path / "tiny.duckdb")).start()


def provider(service: BigQueryServer, **settings) -> SqlProvider:
    context = ProviderContext(
        name="bq", base_dir=Path("/"), environ={"BQ_KEY": service.key()}, where="cxe.yml:3"
    )
    return SqlProvider(
        SqlSettings.model_validate(
            {
                "url": f"bigquery://{PROJECT}/logs",
                "credentials": "${BQ_KEY}",
                "api_endpoint": service.endpoint,
                **settings,
            }
        ),
        context,
    )


def measure(sql: SqlProvider, **fields):
    from pydantic import TypeAdapter

    from cxe_gate.config import Criterion

    criterion = TypeAdapter(Criterion).validate_python({"name": "c", "max_rise": "50%", **fields})
    windows = [TimeWindow(label, start, end) for label, (start, end) in WINDOWS.items()]
    try:
        return sql.measure(MetricRequest(criterion), windows)
    finally:
        sql.close()


# --- the same numbers ---------------------------------------------------------------------------


def test_bigquery_gives_the_numbers_plain_python_counts(
    httpserver: HTTPServer, key: rsa.RSAPrivateKey, tmp_path: Path
):
    service = on(httpserver, key, write_duckdb(LOGS, tmp_path / "shop.duckdb")).start()
    settings = (
        f"{{type: sql, url: 'bigquery://{PROJECT}', credentials: '${{BQ_KEY}}', "
        f"api_endpoint: '{service.endpoint}', maximum_bytes_billed: 1 GB, {tables('logs')}}}"
    )
    found = values(judge(tmp_path, settings, BQ_KEY=service.key()))
    wanted = expected(LOGS)
    # BigQuery's percentile is APPROX_QUANTILES: checked against its guarantee (a value whose
    # rank is within 1% of the one asked for), as test_sql_dialects checks the SQL.
    for name, p in (("p50", 0.5), ("p95", 0.95)):
        for window, value in zip(WINDOWS, found.pop(name), strict=True):
            start, end = WINDOWS[window]
            durations = [r[3] for r in LOGS.requests if r[3] is not None and start <= r[0] < end]
            assert percentile(durations, p - 0.01) <= value <= percentile(durations, p + 0.01)
        wanted.pop(name)
    assert_same(found, wanted)
    # Every query was dry-run, then run with BigQuery's own limit: 1 GB, as an int64 string.
    assert len(service.dry_runs) == len(service.runs) > 0
    assert {r["maximumBytesBilled"] for r in service.runs} == {"1000000000"}
    assert all(r["useLegacySql"] is False for r in service.runs)


def test_a_measurement_says_the_bytes_scanned_billed_and_fetched(tiny: BigQueryServer):
    built = measure(provider(tiny, requests="requests"), metric="error_rate")
    details = built["release"].details
    # The requests table (dataset `logs`, the url's default) holds 9 rows: 900 bytes to scan at
    # the fake's 100 a row, and BigQuery bills at least 10 MiB a table.
    assert len(TINY.requests) == 9
    assert details["bytes scanned (dry run)"] == details["bytes scanned"] == 9 * ROW_BYTES
    assert details["bytes billed"] == MIN_BILLED
    assert 0 < details["bytes fetched"] < 40  # a label and two counts, never rows
    assert (built["baseline"].value, built["release"].value) == (0.25, 0.2)


def test_a_raw_query_binds_its_window_as_named_timestamp_parameters(tiny: BigQueryServer):
    raw = measure(provider(tiny), metric="error_rate", query=ERRORS)
    # tiny_logs: 1 of 4 baseline requests failed, 1 of 5 release requests.
    assert (raw["baseline"].value, raw["release"].value) == (0.25, 0.2)
    sent = tiny.runs[0]
    assert "timestamp >= @start AND timestamp < @end" in sent["query"]
    assert sent["parameterMode"] == "NAMED"
    start, end = WINDOWS["baseline"]
    assert sent["queryParameters"] == [
        {
            "name": "end",
            "parameterType": {"type": "TIMESTAMP"},
            "parameterValue": {"value": end.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")},
        },
        {
            "name": "start",
            "parameterType": {"type": "TIMESTAMP"},
            "parameterValue": {"value": start.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")},
        },
    ]
    assert sent["defaultDataset"] == {"projectId": PROJECT, "datasetId": "logs"}
    assert raw["release"].details["bytes scanned"] == 9 * ROW_BYTES


# --- the byte limit ------------------------------------------------------------------------------


def test_a_query_whose_dry_run_scans_over_the_limit_is_never_run(tiny: BigQueryServer):
    sql = provider(tiny, requests="requests", maximum_bytes_billed=899)
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="error_rate")
    # 9 rows at 100 bytes: 900 bytes, one more than allowed.
    assert str(caught.value) == (
        "not run: the dry run says the query would scan 900 bytes, over "
        "providers.bq.maximum_bytes_billed (899 bytes); raise the limit, or narrow the windows "
        "or the tables the query reads"
    )
    assert "COUNTIF(" in (caught.value.query or "")  # the GoogleSQL it would have sent
    assert len(tiny.dry_runs) == 1 and tiny.runs == []


def test_the_gate_errors_when_the_dry_run_is_over_the_limit(tiny: BigQueryServer, tmp_path: Path):
    settings = (
        f"{{type: sql, url: 'bigquery://{PROJECT}/logs', credentials: '${{BQ_KEY}}', "
        f"api_endpoint: '{tiny.endpoint}', maximum_bytes_billed: 100, requests: requests}}"
    )
    criteria = "  - {name: errors, metric: error_rate, max: 90%, min_samples: 1, test: none}\n"
    report = judge(tmp_path, settings, criteria, BQ_KEY=tiny.key())
    [result] = report.criteria
    assert result.verdict == Verdict.ERROR
    assert "the dry run says the query would scan 900 bytes" in (result.message or "")
    assert tiny.runs == []


def test_bigquery_s_own_limit_stops_a_job_the_dry_run_let_through(tiny: BigQueryServer):
    # The dry run says 900 bytes, under 1 MB; BigQuery bills at least 10 MiB for the table.
    sql = provider(tiny, requests="requests", maximum_bytes_billed="1MB")
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="error_rate")
    assert str(caught.value) == (
        "BigQuery stopped the job at providers.bq.maximum_bytes_billed (1,000,000 bytes (976.6 "
        "KiB)): Query exceeded limit for bytes billed: 1000000. 10485760 or higher required. "
        "(400 bytesBilledLimitExceeded); raise the limit (BigQuery bills at least 10 MB per "
        "table a query reads)"
    )
    assert [r["maximumBytesBilled"] for r in tiny.runs] == ["1000000"]  # not retried


# --- sign-in, errors and timeouts ----------------------------------------------------------------


def test_a_key_the_token_endpoint_refuses_names_the_variable(tiny: BigQueryServer):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    context = ProviderContext(
        name="bq", base_dir=Path("/"), environ={"BQ_KEY": tiny.key(pem(other))}
    )
    settings = SqlSettings(
        url=f"bigquery://{PROJECT}/logs", credentials="${BQ_KEY}", api_endpoint=tiny.endpoint
    )
    with pytest.raises(ProviderError) as caught:
        measure(SqlProvider(settings, context), metric="custom", query="SELECT 1 AS value")
    message = str(caught.value)
    assert "refused the service account key (400: invalid_grant: Invalid JWT); check BQ_KEY" in (
        message
    )
    assert tiny.dry_runs == []


def test_a_revoked_token_is_renewed_once_then_refused(tiny: BigQueryServer):
    sql = provider(tiny, requests="requests")
    tiny.revoked.update(f"ya29.bq-loopback-{n}-Kx72" for n in range(1, 10))
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="error_rate")
    assert str(caught.value) == (
        f"BigQuery refused the service account {EMAIL}: Request had invalid authentication "
        "credentials. "
        "Expected OAuth 2 access token. (401 authError); check BQ_KEY"
    )
    assert tiny.tokens == ["ya29.bq-loopback-1-Kx72", "ya29.bq-loopback-2-Kx72"]


def test_a_table_the_account_may_not_read_names_the_account_and_the_key(tiny: BigQueryServer):
    with pytest.raises(ProviderError) as caught:
        measure(
            provider(tiny),
            metric="custom",
            query="SELECT count(*) AS value FROM restricted.payroll WHERE :start < :end",
        )
    assert str(caught.value) == (
        f"BigQuery refused the service account {EMAIL}: Access Denied: Table "
        f"{PROJECT}:restricted.payroll: User does not have permission to query table, or perhaps "
        "it does not exist. (403 accessDenied); check BQ_KEY"
    )
    assert tiny.runs == []  # refused at the dry run


def test_a_slow_job_is_cancelled_at_the_timeout(tiny: BigQueryServer):
    tiny.slow = 30.0
    sql = provider(tiny, timeout="1500ms")
    with pytest.raises(ProviderError) as caught:
        measure(sql, metric="custom", query="SELECT 1 AS value FROM requests WHERE :start < :end")
    assert str(caught.value) == ("no answer within 1.5 s (timeout; the BigQuery job was cancelled)")
    assert tiny.cancelled == list(tiny.jobs)  # the one job started, cancelled


def test_a_job_that_finishes_after_a_poll_is_read(tiny: BigQueryServer):
    tiny.slow = 0.3
    raw = measure(provider(tiny, timeout="10s"), metric="error_rate", query=ERRORS)
    assert (raw["baseline"].value, raw["release"].value) == (0.25, 0.2)


def test_an_invalid_query_gives_bigquery_s_message(tiny: BigQueryServer):
    with pytest.raises(ProviderError) as caught:
        measure(provider(tiny), metric="custom", query="SELECT 1 AS value FROM nope WHERE :start")
    assert str(caught.value) == (
        f"query failed: Not found: Table {PROJECT}:logs.nope was not found in location US "
        "(404 notFound)"
    )


# --- settings ------------------------------------------------------------------------------------


def test_a_bigquery_url_needs_a_key_and_names_a_project():
    with pytest.raises(ValueError, match=r"give its key as credentials: \$\{GOOGLE_APPLICATION"):
        SqlSettings(url=f"bigquery://{PROJECT}/logs")
    with pytest.raises(ValueError, match=r"expected bigquery://project or bigquery://project/"):
        SqlSettings(url="bigquery:///logs", credentials="${BQ_KEY}")
    with pytest.raises(
        ValueError, match=r"maximum_bytes_billed are for bigquery:// urls, not duck"
    ):
        SqlSettings(url="duckdb:///x.duckdb", maximum_bytes_billed="1GB")
    assert (
        SqlSettings(
            url=f"bigquery://{PROJECT}", credentials="${K}", maximum_bytes_billed="10 GiB"
        ).maximum_bytes_billed
        == 10 * 1024**3
    )


def test_without_google_auth_the_error_names_the_extra(
    tiny: BigQueryServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "google.oauth2.service_account", None)
    with pytest.raises(ConfigError, match=r"pip install 'cxe-gate\[bigquery\]'"):
        provider(tiny)


def test_one_token_serves_every_request(tiny: BigQueryServer):
    found = measure(provider(tiny), metric="custom", query="SELECT 2 AS value WHERE :start < :end")
    assert found["release"].value == 2.0
    # Two windows, each dry-run and run: four requests, one sign-in of the key's account.
    assert len(tiny.dry_runs) == len(tiny.runs) == 2
    assert tiny.tokens == ["ya29.bq-loopback-1-Kx72"]


# --- `cxe-gate queries --dry-run` ----------------------------------------------------------------


def test_a_dry_run_says_what_each_statement_would_scan(tiny: BigQueryServer):
    from pydantic import TypeAdapter

    from cxe_gate.config import Criterion

    windows = [TimeWindow(label, start, end) for label, (start, end) in WINDOWS.items()]
    context = ProviderContext(name="bq", base_dir=Path("/"), environ={"BQ_KEY": tiny.key()})
    base = {
        "url": f"bigquery://{PROJECT}/logs",
        "credentials": "${BQ_KEY}",
        "api_endpoint": tiny.endpoint,
        "requests": "requests",
    }
    built = TypeAdapter(Criterion).validate_python(
        {"name": "e", "metric": "error_rate", "max": "5%"}
    )
    raw = TypeAdapter(Criterion).validate_python(
        {"name": "r", "metric": "error_rate", "max": "5%", "query": ERRORS}
    )
    settings = SqlSettings.model_validate(base)
    planned = SqlProvider.statements(settings, MetricRequest(built), windows, "bq")
    planned += SqlProvider.statements(settings, MetricRequest(raw), windows, "bq")
    # Every statement reads the 9 rows of logs.requests: 900 bytes at the fake's 100 a row.
    assert dry_run(settings, context, planned) == ["dry run: would scan 900 bytes"] * 4
    limited = SqlSettings.model_validate({**base, "maximum_bytes_billed": 500})
    assert dry_run(limited, context, planned[:1]) == [
        "dry run: not run by the gate: the dry run says the query would scan 900 bytes, over "
        "providers.bq.maximum_bytes_billed (500 bytes); raise the limit, or narrow the windows "
        "or the tables the query reads"
    ]
    assert len(tiny.dry_runs) == 5 and tiny.runs == []  # nothing run
    # Raw queries are dry-run with their window's bounds bound.
    assert [p["name"] for p in tiny.dry_runs[2]["queryParameters"]] == ["end", "start"]
    # Another database: no dry run.
    duck = SqlSettings(url="duckdb:///x.duckdb", requests="logs.requests")
    assert dry_run(duck, context, planned) == []


def test_the_queries_command_prints_each_statement_s_dry_run(
    tiny: BigQueryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from click.testing import CliRunner

    from cxe_gate.cli import main

    settings = (
        f"{{type: sql, url: 'bigquery://{PROJECT}/logs', credentials: '${{BQ_KEY}}', "
        f"api_endpoint: '{tiny.endpoint}', maximum_bytes_billed: 500, requests: requests}}"
    )
    (tmp_path / "cxe.yml").write_text(
        "release: {deployed_at: 2026-11-23T10:00:00Z}\n"
        f"providers:\n  db: {settings}\n"
        "criteria:\n  - {name: errors, metric: error_rate, max: 5%}\n"
    )
    monkeypatch.setenv("BQ_KEY", tiny.key())
    plain = CliRunner().invoke(main, ["queries", "-c", str(tmp_path / "cxe.yml")])
    assert plain.exit_code == 0, plain.output
    assert "dry run" not in plain.output and tiny.dry_runs == []  # no flag: nothing is sent
    result = CliRunner().invoke(main, ["queries", "-c", str(tmp_path / "cxe.yml"), "--dry-run"])
    assert result.exit_code == 0, result.output
    # The 9 rows of logs.requests at the fake's 100 bytes a row: 900 bytes, over the 500 allowed.
    assert "-- dry run: not run by the gate: the dry run says the query would scan 900 bytes" in (
        result.output
    )
    assert tiny.dry_runs and tiny.runs == []  # dry runs only: nothing ran, nothing billed
