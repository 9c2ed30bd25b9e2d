"""The built-in metrics in every dialect, the warehouses that cannot run here included (BigQuery,
Snowflake, Trino, Redshift): each criterion compiles to SQL that the dialect's own parser reads, and
that SQL, carried back to DuckDB by SQLGlot and run there, gives the numbers plain Python counts.
GA4's daily shards are read only in the windows' days."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import sqlglot
import yaml
from engine_gate import assert_same, judge, values
from engine_tables import TINY, Logs, ga4_rows, generated, write_duckdb, write_ga4_duckdb
from expected_metrics import CRITERIA, WINDOWS, expected, percentile
from pydantic import TypeAdapter

from cxe_gate.config import Criterion, CriterionBase, JourneySpec
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.sql_dialects import DIALECTS, PERCENTILES
from cxe_gate.providers.sql_metrics import newest, statement
from cxe_gate.providers.sql_settings import SqlSettings

JOURNEY = JourneySpec(steps=["a", "b", "c"], within="5m")
PLAIN = [TimeWindow(label, start, end) for label, (start, end) in WINDOWS.items()]
# Concurrent cohorts: both windows over the release's time, told apart by route.
COHORTS = [
    TimeWindow("baseline", *WINDOWS["release"], cohort="route = '/search'"),
    TimeWindow("release", *WINDOWS["release"], cohort="route <> '/search' AND status > 0"),
]
CRITERIA_LIST: list[CriterionBase] = [
    TypeAdapter(Criterion).validate_python(c) for c in yaml.safe_load(CRITERIA)
]
EVENTS_ONLY = {"conversion", "engagement"}
LOGS = generated(23)


def settings(preset: str = "cxe", events: str = "logs.events") -> SqlSettings:
    return SqlSettings(
        url="duckdb:///unused.duckdb",
        events=events,
        requests="logs.requests",
        feedback="logs.feedback",
        preset=preset,
    )


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("preset", ["cxe", "ga4"])
def test_every_criterion_compiles_to_sql_the_dialect_reads(dialect: str, preset: str):
    tables = settings(preset).tables(dialect)
    for criterion in CRITERIA_LIST:
        windows = COHORTS if criterion.metric in ("error_rate", "latency", "apdex") else PLAIN
        compiled = statement(tables, criterion, JOURNEY, windows, "db")
        for sql in (compiled.sql, newest(tables, compiled.table, windows)):
            parsed = sqlglot.parse_one(sql, read=dialect)
            assert isinstance(parsed, sqlglot.exp.Query), sql
            assert (
                "cxe_" not in sql
                or "cxe_filter" in sql
                or "cxe_errors" in sql
                or "cxe_cohort" in sql
            )


def run_on_duckdb(
    dialect: str,
    path: Path,
    criteria: list[CriterionBase],
    preset: str = "cxe",
    events: str = "logs.events",
    edit: Callable[[str], str] = str,
) -> dict[str, tuple[float | None, float | None]]:
    """Each criterion compiled to `dialect` (then `edit`ed), carried back to DuckDB's by SQLGlot
    and run on the DuckDB file at `path`: its (baseline, release) values."""
    tables = settings(preset, events).tables(dialect)
    found = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        for criterion in criteria:
            compiled = statement(tables, criterion, JOURNEY, PLAIN, "db")
            back = sqlglot.transpile(edit(compiled.sql), read=dialect, write="duckdb")[0]
            rows = {row[0]: tuple(row[1:]) for row in connection.execute(back).fetchall()}
            built = [compiled.build(rows.get(w.label), back).value for w in PLAIN]
            found[criterion.name] = (built[0], built[1])
    return found


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_duckdb(LOGS, tmp_path_factory.mktemp("round-trip") / "shop.duckdb")


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake", "trino", "redshift", "postgres"])
def test_carried_back_to_duckdb_the_sql_gives_the_same_numbers(dialect: str, warehouse: Path):
    found = run_on_duckdb(dialect, warehouse, CRITERIA_LIST)
    wanted = expected(LOGS)
    if not PERCENTILES[dialect].exact:
        # An approximate quantile is checked against its documented guarantee (a value whose
        # rank is within 1% of the one asked for) and the rest exactly.
        for name, p in (("p50", 0.5), ("p95", 0.95)):
            for window, value in zip(WINDOWS, found.pop(name), strict=True):
                durations = [r[3] for r in LOGS.requests if r[3] is not None and _in(r[0], window)]
                assert percentile(durations, p - 0.01) <= value <= percentile(durations, p + 0.01)
            wanted.pop(name)
    assert_same(found, wanted)


def _in(moment, window: str) -> bool:
    start, end = WINDOWS[window]
    return start <= moment < end


# --- GA4's BigQuery export ------------------------------------------------------------------------

EVENT_CRITERIA = [c for c in CRITERIA_LIST if c.metric in EVENTS_ONLY]
# The same as a criteria file's list (JSON is YAML).
EVENT_CRITERIA_YAML = (
    f"  {json.dumps([c for c in yaml.safe_load(CRITERIA) if c['metric'] in EVENTS_ONLY])}\n"
)


def events_only(logs: Logs) -> dict[str, tuple[float | None, float | None]]:
    names = {c.name for c in EVENT_CRITERIA}
    return {name: pair for name, pair in expected(logs).items() if name in names}


@pytest.mark.parametrize("logs", [TINY, LOGS], ids=["tiny", "generated"])
def test_the_ga4_preset_reads_the_export_on_duckdb(tmp_path: Path, logs: Logs):
    write_ga4_duckdb(ga4_rows(logs), tmp_path / "ga4.duckdb", "analytics.events")
    provider = "{type: sql, url: 'duckdb:///ga4.duckdb', events: analytics.events, preset: ga4}"
    assert_same(values(judge(tmp_path, provider, EVENT_CRITERIA_YAML)), events_only(logs))


def test_bigquery_reads_only_the_windows_daily_shards(tmp_path: Path):
    rows = ga4_rows(LOGS)
    # Decoys: copies of in-window events filed in a shard of another day. BigQuery never reads
    # that shard once the query is pruned to the windows' days; read, it would change the counts.
    decoys = [("20261101", *row[1:]) for row in rows[:50]]
    path = write_ga4_duckdb(rows + decoys, tmp_path / "shards.duckdb", "analytics.shards")
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            'CREATE VIEW analytics."events_*" AS SELECT *, event_date AS _TABLE_SUFFIX '
            "FROM analytics.shards"
        )
    tables = settings("ga4", "analytics.events_*").tables("bigquery")
    compiled = statement(tables, EVENT_CRITERIA[0], JOURNEY, PLAIN, "db")
    assert "FROM `analytics`.`events_*`" in compiled.sql
    assert "_TABLE_SUFFIX BETWEEN '20261108' AND '20261111'" in compiled.sql

    found = run_on_duckdb("bigquery", path, EVENT_CRITERIA, "ga4", "analytics.events_*")
    assert_same(found, events_only(LOGS))

    def unpruned(sql: str) -> str:
        return sql.replace("_TABLE_SUFFIX BETWEEN '20261108' AND '20261111'", "TRUE")

    every_shard = run_on_duckdb(
        "bigquery", path, EVENT_CRITERIA, "ga4", "analytics.events_*", unpruned
    )
    assert every_shard != found  # the decoys are there to be counted, were the shards not pruned


@pytest.mark.parametrize(
    ("dialect", "function", "exact"),
    [
        ("duckdb", "QUANTILE_CONT(duration_ms, 0.95)", True),
        ("postgres", "PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY\n    duration_ms)", True),
        ("snowflake", "PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY\n    duration_ms)", True),
        ("redshift", "PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY\n    duration_ms)", True),
        ("clickhouse", "quantileExactInclusive(0.95)(duration_ms)", True),
        ("spark", "PERCENTILE(duration_ms, 0.95)", True),
        ("bigquery", "APPROX_QUANTILES(duration_ms, 100)[OFFSET(95)]", False),
        ("trino", "APPROX_PERCENTILE(duration_ms, 0.95)", False),
    ],
)
def test_each_dialect_has_its_percentile_and_says_when_it_is_approximate(
    dialect: str, function: str, exact: bool
):
    p95 = next(c for c in CRITERIA_LIST if c.name == "p95")
    compiled = statement(settings().tables(dialect), p95, None, PLAIN, "db")
    assert function in compiled.sql
    if exact:
        assert compiled.notes == ()
    else:
        assert compiled.notes == (
            f"the percentile is approximate: {dialect} has no exact percentile aggregate, so it "
            f"is read with {function.split('(', maxsplit=1)[0]}",
        )


def test_a_fractional_percentile_picks_its_quantile_exactly():
    p999 = TypeAdapter(Criterion).validate_python(
        {"name": "p99.9", "metric": "latency", "percentile": 99.9, "max": "2s"}
    )
    compiled = statement(settings().tables("bigquery"), p999, None, PLAIN, "db")
    assert "APPROX_QUANTILES(duration_ms, 1000)[OFFSET(999)]" in compiled.sql


def test_redshift_counts_with_case_where_it_has_no_filter_clause():
    errors = next(c for c in CRITERIA_LIST if c.name == "client errors too")
    sql = statement(settings().tables("redshift"), errors, None, PLAIN, "db").sql
    assert "FILTER" not in sql
    assert "COUNT(CASE WHEN COALESCE(cxe_errors, FALSE) THEN 1 END)" in " ".join(sql.split())
