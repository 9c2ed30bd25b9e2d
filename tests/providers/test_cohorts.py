"""Concurrent cohorts (canary, feature flag, A/B split): the release cohort against the baseline
cohort over the same window, so time of day cancels out. Each on a real data path: event files
read by DuckDB, a real PostgreSQL, a real Prometheus with label cohorts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from prometheus_server import backfill, running_prometheus

from cxe_gate.cli import main
from cxe_gate.errors import ConfigError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict

if TYPE_CHECKING:
    from postgres_server import PostgresServer

pytest_plugins = ["postgres_server"]

DEPLOY = datetime(2026, 11, 10, 3, tzinfo=UTC)  # at night: a day-long baseline would be fooled
NOW = DEPLOY + timedelta(hours=3)


def write_canary_events(path: Path, release_rate: float) -> tuple[int, int]:
    """Two hours after the deploy, 2,000 sessions an hour split 50/50 between version 1.9 (converts
    at 7%) and 2.0 (at `release_rate`); the day before, 10% for everyone (a day-long average).
    Returns the conversions of the baseline and the release cohort in the release window."""
    rows: dict[str, list] = {k: [] for k in ("timestamp", "event", "session_id", "version")}
    converted = {"1.9": 0, "2.0": 0}

    def session(moment: datetime, name: str, version: str, buys: bool) -> None:
        for offset, event in ((0, "view_product"), (1, "purchase")):
            if event == "purchase" and not buys:
                return
            rows["timestamp"].append(moment + timedelta(seconds=offset))
            rows["event"].append(event)
            rows["session_id"].append(name)
            rows["version"].append(version)

    for i in range(24 * 1000):  # the day before: 1,000 sessions an hour, 10% convert
        session(
            DEPLOY - timedelta(days=1) + timedelta(seconds=i * 3.6), f"b{i}", "1.9", i % 10 == 0
        )
    for i in range(4000):  # the release window: every other session on each version
        version = "2.0" if i % 2 else "1.9"
        index = i // 2
        rate = release_rate if version == "2.0" else 0.07
        buys = index < round(2000 * rate)
        converted[version] += buys
        session(DEPLOY + timedelta(seconds=i * 1.8), f"r{i}", version, buys)
    table = pa.table(
        {
            "timestamp": pa.array(rows["timestamp"], pa.timestamp("us", tz="UTC")),
            "event": rows["event"],
            "session_id": rows["session_id"],
            "version": rows["version"],
        }
    )
    pq.write_table(table, path)
    return converted["1.9"], converted["2.0"]


def canary_criteria(
    directory: Path, baseline: str = "concurrent", cohorts: str | None = None
) -> Path:
    cohorts = cohorts or "{release: \"version = '2.0'\", baseline: \"version = '1.9'\"}"
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{name: '2.0', deployed_at: '{DEPLOY.isoformat()}'}}\n"
        f"windows: {{baseline: {baseline}, release: 2h}}\n"
        f"cohorts: {cohorts}\n"
        "providers:\n  shop: {type: file, events: events.parquet}\n"
        "journeys:\n  buy: [view_product, purchase]\n"
        "criteria:\n"
        "  - {name: conversion, metric: conversion, journey: buy, max_drop: 10%}\n"
    )
    return path


def test_a_good_canary_at_night_passes_against_its_own_cohort(tmp_path):
    baseline_buys, release_buys = write_canary_events(tmp_path / "events.parquet", 0.07)
    report = evaluate(load(canary_criteria(tmp_path)), now=NOW)
    (result,) = report.criteria
    assert result.verdict == Verdict.PASS, result.message
    # Both cohorts over the same 2 hours: 2,000 sessions each.
    assert (result.baseline_samples, result.samples) == (2000, 2000)
    assert result.baseline == pytest.approx(baseline_buys / 2000)
    assert result.value == pytest.approx(release_buys / 2000)
    assert report.design.startswith("cohorts: the release cohort against the baseline cohort")
    assert report.windows["baseline"] == report.windows["release"]


def test_a_regressed_canary_fails(tmp_path):
    # 5% against 7% on 2,000 sessions each: z = 0.02 / √(0.06 × 0.94 × 2 / 2000) = 2.66.
    write_canary_events(tmp_path / "events.parquet", 0.05)
    (result,) = evaluate(load(canary_criteria(tmp_path)), now=NOW).criteria
    assert result.verdict == Verdict.FAIL, result.message
    assert result.p_value < 0.01


def test_a_criterion_may_compare_its_own_cohorts(tmp_path):
    write_canary_events(tmp_path / "events.parquet", 0.05)
    path = canary_criteria(tmp_path)
    # The other way round: 1.9 (7%) judged against 2.0 (5%) rose 40%.
    path.write_text(
        path.read_text().replace(
            "max_drop: 10%}",
            "max_drop: 10%, cohorts: {release: \"version = '1.9'\", baseline: \"version = '2.0'\"}}",
        )
    )
    (result,) = evaluate(load(path), now=NOW).criteria
    assert result.verdict == Verdict.PASS
    assert (result.value, result.baseline) == (pytest.approx(0.07), pytest.approx(0.05))


@pytest.mark.parametrize(
    ("baseline", "cohorts", "message"),
    [
        ("24h", None, "cohorts: cohorts are compared with windows.baseline: concurrent"),
        (
            "concurrent",
            "{release: \"version = '2.0') OR (1=1\", baseline: \"version = '1.9'\"}",
            "the release cohort",
        ),
        (
            "concurrent",
            "{release: \"version = '2.0'\", baseline: \"version = '2.0'\"}",
            "the release and baseline cohorts are the same condition",
        ),
    ],
)
def test_cohort_slips_are_configuration_errors(tmp_path, baseline, cohorts, message):
    path = canary_criteria(tmp_path, baseline, cohorts)
    result = CliRunner().invoke(main, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_concurrent_without_cohorts_is_an_error(tmp_path):
    path = canary_criteria(tmp_path)
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if not line.startswith("cohorts"))
    )
    with pytest.raises(ConfigError, match=r"windows\.baseline: concurrent needs cohorts"):
        load(path)


# --- PostgreSQL: the query narrows each window with :cohort ---------------------------------------

QUERY = (
    "SELECT count(*) FILTER (WHERE status >= 500) AS successes, count(*) AS trials "
    "FROM canary_requests WHERE ts >= :start AND ts < :end AND :cohort"
)


def test_cohorts_on_a_real_postgresql(postgres: PostgresServer, tmp_path):
    # 1,000 requests per version in the release window: 1% errors on 1.9, 4% on 2.0.
    with postgres.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS canary_requests")
        connection.execute(
            "CREATE TABLE canary_requests (ts TIMESTAMPTZ, status INTEGER, version TEXT)"
        )
        rows = [
            (DEPLOY + timedelta(seconds=3.6 * i), 500 if (i // 2) < errors else 200, version)
            for i in range(2000)
            for version, errors in [("2.0" if i % 2 else "1.9", 40 if i % 2 else 10)]
        ]
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO canary_requests VALUES (%s, %s, %s)", rows)
    path = tmp_path / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: '{DEPLOY.isoformat()}'}}\n"
        "windows: {baseline: concurrent, release: 2h}\n"
        "cohorts: {release: \"version = '2.0'\", baseline: \"version = '1.9'\"}\n"
        f"providers:\n  db: {{type: sql, url: '{postgres.url}', password: '${{PGPASSWORD}}'}}\n"
        f'criteria:\n  - {{name: errors, metric: error_rate, max_rise: 50%, query: "{QUERY}"}}\n'
    )
    import os

    os.environ["PGPASSWORD"] = postgres.password
    try:
        (result,) = evaluate(load(path), now=NOW).criteria
    finally:
        del os.environ["PGPASSWORD"]
    assert (result.baseline, result.value) == (pytest.approx(0.01), pytest.approx(0.04))
    assert result.verdict == Verdict.FAIL, result.message
    assert "AND (version = '2.0')" in result.queries["release"]
    assert "AND (version = '1.9')" in result.queries["baseline"]


def test_a_sql_query_without_cohort_is_refused(tmp_path):
    path = tmp_path / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: '{DEPLOY.isoformat()}'}}\n"
        "windows: {baseline: concurrent, release: 2h}\n"
        "cohorts: {release: \"version = '2.0'\", baseline: \"version = '1.9'\"}\n"
        "providers:\n  db: {type: sql, url: 'duckdb:///x.duckdb'}\n"
        "criteria:\n  - {name: errors, metric: error_rate, max_rise: 50%, query: "
        '"SELECT 1 AS successes, 2 AS trials WHERE :start < :end"}\n'
    )
    with pytest.raises(ConfigError, match="narrow each window to its cohort with :cohort"):
        load(path)


# --- Prometheus: cohorts are label matchers --------------------------------------------------------


def _canary_metrics(first: datetime, samples: int, release_errors: int) -> str:
    """Counters of two versions scraped every 15 s: each sample adds 100 requests per version, of
    them 1 error on version 1.9 and `release_errors` on 2.0."""
    lines = ["# TYPE http_requests counter"]
    for k in range(samples):
        at = f"{first.timestamp() + 15 * k:.3f}"
        for version, errors in (("1.9", 1), ("2.0", release_errors)):
            lines.append(
                f'http_requests_total{{job="shop",code="200",version="{version}"}} '
                f"{(100 - errors) * k} {at}"
            )
            lines.append(
                f'http_requests_total{{job="shop",code="500",version="{version}"}} {errors * k} {at}'
            )
    return "\n".join([*lines, "# EOF", ""])


@pytest.mark.server
@pytest.mark.parametrize(("release_errors", "verdict"), [(1, Verdict.PASS), (4, Verdict.FAIL)])
def test_label_cohorts_on_a_real_prometheus(tmp_path, release_errors, verdict):
    deploy = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    # 45 minutes of samples from the deploy; the release window is its first 40 minutes.
    backfill(tmp_path, _canary_metrics(deploy, 181, release_errors))
    with running_prometheus(tmp_path, []) as url:
        path = tmp_path / "cxe.yml"
        path.write_text(
            f"release: {{deployed_at: '{deploy.isoformat()}'}}\n"
            "windows: {baseline: concurrent, release: 40m}\n"
            "cohorts: {release: 'version=\"2.0\"', baseline: 'version=\"1.9\"'}\n"
            f"providers:\n  prom: {{type: prometheus, url: '{url}', selector: 'job=\"shop\"'}}\n"
            "criteria:\n  - {name: errors, metric: error_rate, max_rise: 50%}\n"
        )
        (result,) = evaluate(load(path), now=deploy + timedelta(hours=1)).criteria
    assert result.verdict == verdict, result.message
    # 40 minutes at 100 requests per 15 s per version: about 16,000 requests each.
    assert result.baseline == pytest.approx(0.01, rel=1e-6)
    assert result.value == pytest.approx(release_errors / 100, rel=1e-6)
    assert 'version="2.0"' in result.queries["release"]
    assert 'version="1.9"' in result.queries["baseline"]
