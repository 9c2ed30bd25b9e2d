"""`cxe-gate queries`: the SQL each criterion would send to its sql provider, printed without
connecting, in the provider's dialect or the one asked for: exactly what the gate then runs."""

from __future__ import annotations

from pathlib import Path

import sqlglot
from click.testing import CliRunner
from engine_gate import judge
from engine_tables import TINY, write_duckdb
from expected_metrics import JOURNEYS
from tiny_logs import DEPLOY, iso

from cxe_gate.cli import main

SQL_CRITERIA = """\
  - {name: checkout, provider: db, metric: conversion, journey: checkout, max_drop: 99%, min_samples: 1}
  - {name: errors, provider: db, metric: error_rate, max: 90%, min_samples: 1, filter: "route = '/api/x'"}
  - {name: p95, provider: db, metric: latency, percentile: 95, max: 100s, min_samples: 1}
  - name: own query
    provider: db
    metric: error_rate
    max: 90%
    query: "SELECT count(*) FILTER (WHERE status >= 500) AS successes, count(*) AS trials
      FROM logs.requests WHERE timestamp >= :start AND timestamp < :end"
"""
CRITERIA = SQL_CRITERIA + "  - {name: scraped, metric: error_rate, provider: prom, max: 1%}\n"
DB = "{type: sql, url: 'duckdb:///shop.duckdb', events: logs.events, requests: logs.requests}"
PROVIDERS = f"  db: {DB}\n  prom: {{type: prometheus, url: 'http://127.0.0.1:9'}}\n"


def write(directory: Path, providers: str = PROVIDERS, criteria: str = CRITERIA) -> Path:
    path = directory / "cxe.yml"
    path.write_text(
        f"release: {{deployed_at: {iso(DEPLOY)}}}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        f"providers:\n{providers}"
        f"journeys:\n  {JOURNEYS}\n"
        f"criteria:\n{criteria}"
    )
    return path


def queries(path: Path, *options: str):
    return CliRunner().invoke(main, ["queries", "-c", str(path), *options])


def statements(output: str) -> dict[str, list[str]]:
    """The printed statements, by the comment line before each (without their notes)."""
    found: dict[str, list[str]] = {}
    for block in output.split(";\n"):
        lines = [line for line in block.strip().splitlines() if line]
        comments = [line for line in lines if line.startswith("-- ")]
        sql = "\n".join(line for line in lines if not line.startswith("-- "))
        if sql:
            found.setdefault(comments[0], []).append(sql)
    return found


def test_it_prints_what_the_gate_then_runs(tmp_path: Path):
    write_duckdb(TINY, tmp_path / "shop.duckdb")
    result = queries(write(tmp_path))
    assert result.exit_code == 0, result.output
    printed = statements(result.output)
    assert list(printed) == [
        "-- checkout: all windows (provider db)",
        "-- checkout: the newest row per window of events (once per table) (provider db)",
        "-- errors: all windows (provider db)",
        "-- errors: the newest row per window of requests (once per table) (provider db)",
        "-- p95: all windows (provider db)",
        "-- own query: the baseline window (provider db)",
        "-- own query: the release window (provider db)",
    ]
    assert "-- scraped: provider prom (prometheus) runs no SQL" in result.output
    assert "-- :end = '2026-11-10T14:00:00+00:00', :start = '2026-11-09T14:00:00+00:00'" in (
        result.output
    )

    report = judge(tmp_path, DB, SQL_CRITERIA)
    sent = {c.name: c.queries["release"] for c in report.criteria if c.queries}
    for name in ("checkout", "errors", "p95"):
        assert sent[name] == printed[f"-- {name}: all windows (provider db)"][0]


def test_another_dialect_is_written_for_review(tmp_path: Path):
    result = queries(write(tmp_path), "--dialect", "bigquery")
    assert result.exit_code == 0, result.output
    assert "-- the percentile is approximate: bigquery has no exact percentile aggregate" in (
        result.output
    )
    printed = statements(result.output)
    p95 = printed["-- p95: all windows (provider db)"][0]
    assert "APPROX_QUANTILES(duration_ms, 100)[OFFSET(95)]" in p95
    for blocks in printed.values():
        for sql in blocks:
            if ":start" not in sql:  # the criterion's own query stays as written
                sqlglot.parse_one(sql, read="bigquery")


def test_a_url_from_a_variable_needs_its_dialect(tmp_path: Path):
    providers = "  db: {type: sql, url: '${DATABASE_URL}', requests: logs.requests}\n"
    criteria = "  - {name: errors, metric: error_rate, max: 90%}\n"
    path = write(tmp_path, providers, criteria)
    result = queries(path)
    assert result.exit_code == 2
    assert (
        "-- errors: cannot be written: cannot tell the SQL dialect of a url read from "
        "${DATABASE_URL}: set the provider's dialect" in result.output
    )
    result = queries(path, "--dialect", "postgres")
    assert result.exit_code == 0, result.output
    assert "COUNT(*) FILTER(WHERE" in result.output
