"""The `file` provider's shared scan: the criteria told in advance (Provider.expect) that read one
table over the same windows are answered by one query, with each window's data end in it; each
keeps its own numbers, its own query and its own error. A hand-built Parquet request log whose
figures are worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from criteria_files import DEPLOY, WINDOWS
from pydantic import TypeAdapter

from cxe_gate.config import Criterion
from cxe_gate.errors import DataError
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.file import FileProvider, FileSettings

# Windows (criteria_files): baseline 2026-11-09 14:00 → 2026-11-10 14:00, release 14:00 → 16:00.
REQUESTS = [  # (time, route, status, duration_ms, version)
    ("2026-11-10 10:00:00", "/checkout", 200, 100, "1.9"),
    ("2026-11-10 11:00:00", "/checkout", 503, 50, "1.9"),
    ("2026-11-10 12:00:00", "/home", 200, 900, "1.9"),
    ("2026-11-10 13:30:00", "/home", 200, 300, "1.9"),  # the baseline's newest
    ("2026-11-10 14:10:00", "/checkout", 200, 200, "2.0"),
    ("2026-11-10 14:20:00", "/checkout", 200, 2500, "2.0"),
    ("2026-11-10 14:30:00", "/checkout", 500, 30, "1.9"),  # the newest checkout
    ("2026-11-10 15:40:00", "/home", 200, 400, "1.9"),  # the release's newest
    ("2026-11-10 16:30:00", "/checkout", 503, 10, "2.0"),  # after the release window
]
CHECKOUT = "route = '/checkout'"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write_parquet(path: Path, rows: list[tuple]) -> None:
    values = ", ".join(
        f"(TIMESTAMPTZ '{t}+00', '{route}', {status}, {ms}, '{version}')"
        for t, route, status, ms, version in rows
    )
    connection = duckdb.connect()
    connection.execute(
        f"COPY (SELECT * FROM (VALUES {values}) AS t(timestamp, route, status, duration_ms, "
        f"version)) TO '{path}' (FORMAT parquet)"
    )
    connection.close()


def criterion(**fields):
    return TypeAdapter(Criterion).validate_python({"max_rise": "50%", **fields})


ERRORS = criterion(name="errors", metric="error_rate")
CHECKOUT_ERRORS = criterion(name="checkout errors", metric="error_rate", filter=CHECKOUT)
APDEX = criterion(name="apdex", metric="apdex", t="500ms")
CHECKOUT_MEDIAN = criterion(name="median", metric="latency", percentile=50, filter=CHECKOUT)
NO_SUCH_COLUMN = criterion(name="eu p95", metric="latency", percentile=95, filter="region = 'eu'")


@pytest.fixture
def provider(tmp_path):
    write_parquet(tmp_path / "requests.parquet", REQUESTS)
    built = FileProvider(
        FileSettings(requests="requests.parquet"), ProviderContext(name="logs", base_dir=tmp_path)
    )
    yield built
    built.close()


def expect(provider: FileProvider, *criteria, windows: list[TimeWindow] = WINDOWS) -> None:
    provider.expect([(MetricRequest(c), windows) for c in criteria])


def measure(provider: FileProvider, criterion, windows: list[TimeWindow] = WINDOWS):
    return provider.measure(MetricRequest(criterion), windows)


def test_each_criterion_keeps_its_own_numbers_and_the_log_s_data_end(provider):
    expect(provider, ERRORS, CHECKOUT_ERRORS, APDEX, CHECKOUT_MEDIAN)
    errors = measure(provider, ERRORS)
    checkout = measure(provider, CHECKOUT_ERRORS)
    apdex = measure(provider, APDEX)
    median = measure(provider, CHECKOUT_MEDIAN)
    # Every request: 1 error (11:00) of 4 in the baseline, 1 (14:30) of 4 in the release.
    assert (errors["baseline"].successes, errors["baseline"].samples) == (1, 4)
    assert (errors["release"].successes, errors["release"].samples) == (1, 4)
    # Checkout only: 1 of 2 in the baseline, 1 of 3 in the release.
    assert (checkout["baseline"].successes, checkout["baseline"].samples) == (1, 2)
    assert (checkout["release"].successes, checkout["release"].samples) == (1, 3)
    # Apdex, T = 500 ms: baseline 100 and 300 satisfied, 900 tolerating, the 503 frustrated:
    # (2 + 1/2) / 4; release 200 and 400 satisfied, 2500 ms and the 500 frustrated: 2 / 4.
    assert apdex["baseline"].value == pytest.approx(0.625)
    assert apdex["release"].value == pytest.approx(0.5)
    # Median checkout latency: baseline (50, 100) → 75; release (30, 200, 2500) → 200.
    assert median["baseline"].value == pytest.approx(75)
    assert median["release"].value == pytest.approx(200)
    # Filtered or not, each window ends at the log's newest request in it (13:30 and 15:40).
    for measured in (errors, checkout, apdex, median):
        assert measured["baseline"].data_end == utc("2026-11-10 13:30:00")
        assert measured["release"].data_end == utc("2026-11-10 15:40:00")


def test_one_scan_answers_them_all(provider, tmp_path):
    expect(provider, ERRORS, CHECKOUT_ERRORS, APDEX)
    measure(provider, ERRORS)
    # The log changes after the first criterion was measured: the others were answered by the
    # same scan, so they still count the log as it was then.
    every_request_failed = [(t, r, 503, ms, v) for t, r, _, ms, v in REQUESTS]
    write_parquet(tmp_path / "requests.parquet", every_request_failed)
    checkout = measure(provider, CHECKOUT_ERRORS)
    assert (checkout["release"].successes, checkout["release"].samples) == (1, 3)
    # A criterion that was not expected is read on its own, from the log as it is now: the 14:10,
    # 14:20 and 14:30 checkouts all fail.
    alone = measure(provider, criterion(name="checkout, now", metric="error_rate", filter=CHECKOUT))
    assert (alone["release"].successes, alone["release"].samples) == (3, 3)


def test_each_measurement_shows_its_own_query(provider):
    expect(provider, ERRORS, CHECKOUT_ERRORS, APDEX)
    query = measure(provider, ERRORS)["release"].query
    # The query that gives this criterion's numbers alone: no other criterion's filter or rule.
    assert query is not None and "/checkout" not in query and "duration_ms" not in query
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    path = provider.context.base_dir / "requests.parquet"
    connection.execute(f"CREATE VIEW requests AS SELECT timestamp AS ts, * FROM '{path}'")
    rows = dict((r[0], r[1:]) for r in connection.execute(query).fetchall())
    assert rows["release"] == (4, 1)  # (requests, errors): as measured above, by hand
    connection.close()


def test_a_criterion_s_bad_filter_is_its_own_error_not_the_others(provider):
    expect(provider, ERRORS, NO_SUCH_COLUMN, CHECKOUT_ERRORS)
    errors = measure(provider, ERRORS)  # the shared query fails on the eu filter: read alone
    assert (errors["release"].successes, errors["release"].samples) == (1, 4)
    assert errors["release"].data_end == utc("2026-11-10 15:40:00")
    with pytest.raises(DataError) as raised:
        measure(provider, NO_SUCH_COLUMN)
    message = str(raised.value)
    assert "criterion 'eu p95': filter \"region = 'eu'\"" in message
    assert "region" in message and "route" in message  # what is wrong, and the columns there are
    checkout = measure(provider, CHECKOUT_ERRORS)
    assert (checkout["release"].successes, checkout["release"].samples) == (1, 3)


def test_cohorts_share_a_scan_and_keep_the_log_s_data_end(provider):
    # Concurrent cohorts: both over the release hours, told apart by version.
    end = DEPLOY + timedelta(hours=2)
    cohorts = [
        TimeWindow("baseline", DEPLOY, end, cohort="version = '1.9'"),
        TimeWindow("release", DEPLOY, end, cohort="version = '2.0'"),
    ]
    expect(provider, ERRORS, APDEX, windows=cohorts)
    errors = measure(provider, ERRORS, cohorts)
    apdex = measure(provider, APDEX, cohorts)
    # 1.9: the 14:30 error of 2 requests; 2.0: none of 2 (14:10, 14:20).
    assert (errors["baseline"].successes, errors["baseline"].samples) == (1, 2)
    assert (errors["release"].successes, errors["release"].samples) == (0, 2)
    # 2.0: 200 ms satisfied, 2500 ms frustrated → 1/2; 1.9: the 500 frustrated, 400 ms satisfied.
    assert apdex["release"].value == pytest.approx(0.5)
    assert apdex["baseline"].value == pytest.approx(0.5)
    # The log reaches 15:40 in these hours, whichever cohort wrote the newest row.
    for measured in (errors, apdex):
        assert measured["release"].data_end == utc("2026-11-10 15:40:00")
        assert measured["baseline"].data_end == utc("2026-11-10 15:40:00")
