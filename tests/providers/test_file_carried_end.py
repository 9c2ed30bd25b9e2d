"""The `file` provider's data end carried by a query that reads every event anyway: with an
unfiltered engagement criterion expected, a funnel on the same events needs no pass of its own
over the time column, whichever of the two is measured first; the numbers and each window's data
end stay what they were. A hand-built Parquet event log, its figures worked out by hand below."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from criteria_files import WINDOWS
from pydantic import TypeAdapter

from cxe_gate.config import Criterion, JourneySpec
from cxe_gate.errors import DataError
from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.providers import file_tables
from cxe_gate.providers.base import MetricRequest, ProviderContext
from cxe_gate.providers.file import FileProvider, FileSettings
from cxe_gate.results import Verdict

# Windows (criteria_files): baseline 2026-11-09 14:00 → 2026-11-10 14:00, release 14:00 → 16:00.
EVENTS = [  # (time, event, user, session)
    ("2026-11-10 10:00:00", "view_product", "u1", "s1"),
    ("2026-11-10 10:01:00", "add_to_cart", "u1", "s1"),
    ("2026-11-10 10:02:00", "begin_checkout", "u1", "s1"),
    ("2026-11-10 10:03:00", "purchase", "u1", "s1"),
    ("2026-11-10 11:00:00", "view_product", "u2", "s2"),
    ("2026-11-10 11:05:00", "wishlist_add", "u2", "s2"),
    ("2026-11-10 12:00:00", "page_view", "u3", "s3"),
    ("2026-11-10 13:45:00", "page_view", "u9", None),  # the baseline's newest: no session
    ("2026-11-10 14:10:00", "view_product", "u1", "s4"),
    ("2026-11-10 14:11:00", "add_to_cart", "u1", "s4"),
    ("2026-11-10 14:20:00", "view_product", "u4", "s5"),
    ("2026-11-10 14:21:00", "wishlist_add", "u4", "s5"),
    ("2026-11-10 14:22:00", "add_to_cart", "u4", "s5"),
    ("2026-11-10 14:23:00", "begin_checkout", "u4", "s5"),
    ("2026-11-10 14:24:00", "purchase", "u4", "s5"),
    ("2026-11-10 15:00:00", "page_view", "u5", "s6"),
    ("2026-11-10 15:50:00", "page_view", "u9", None),  # the release's newest: no session
    ("2026-11-10 16:30:00", "view_product", "u6", "s7"),  # after the release window
]
BASELINE_END = datetime(2026, 11, 10, 13, 45, tzinfo=UTC)
RELEASE_END = datetime(2026, 11, 10, 15, 50, tzinfo=UTC)
CHECKOUT = JourneySpec(steps=["view_product", "add_to_cart", "begin_checkout", "purchase"])
NEWEST_PASS = "SELECT max(ts) FILTER"  # FileTables.data_ends' own pass over the time column


def criterion(**fields: Any):
    return TypeAdapter(Criterion).validate_python({"max_drop": "20%", **fields})


FUNNEL = criterion(name="checkout", metric="conversion", journey="checkout")
ADOPTION = criterion(name="wishlist", metric="engagement", measure="adoption", event="wishlist_add")
FILTERED = criterion(
    name="wishlist u4",
    metric="engagement",
    measure="adoption",
    event="wishlist_add",
    filter="user_id = 'u4'",
)


def write_events(path: Path, rows: list[tuple], *, sessions: bool = True) -> None:
    values = ", ".join(
        f"(TIMESTAMPTZ '{t}+00', '{event}', '{user}', " + (f"'{session}')" if session else "NULL)")
        for t, event, user, session in rows
    )
    columns = "timestamp, event, user_id, session_id"
    chosen = columns if sessions else "timestamp, event, user_id"
    connection = duckdb.connect()
    connection.execute(
        f"COPY (SELECT {chosen} FROM (VALUES {values}) AS t({columns})) TO '{path}' "
        "(FORMAT parquet)"
    )
    connection.close()


class _Recording:
    """A DuckDB connection that notes every statement it is given."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, seen: list[str]):
        self._connection = connection
        self._seen = seen

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(sql)
        return self._connection.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    seen: list[str] = []
    connect = file_tables.FileTables.connect
    monkeypatch.setattr(
        file_tables.FileTables, "connect", lambda self: _Recording(connect(self), seen)
    )
    return seen


@pytest.fixture
def provider(tmp_path):
    write_events(tmp_path / "events.parquet", EVENTS)
    built = FileProvider(
        FileSettings(events="events.parquet"), ProviderContext(name="logs", base_dir=tmp_path)
    )
    yield built
    built.close()


def request(c) -> MetricRequest:
    return MetricRequest(c, journey=CHECKOUT if c is FUNNEL else None)


@pytest.mark.parametrize("first", ["funnel", "adoption"])
def test_an_adoption_query_carries_the_funnel_s_data_end(provider, statements, first):
    provider.expect([(request(c), WINDOWS) for c in (FUNNEL, ADOPTION)])
    order = [FUNNEL, ADOPTION] if first == "funnel" else [ADOPTION, FUNNEL]
    measured = {c.name: provider.measure(request(c), WINDOWS) for c in order}
    funnel, adoption = measured["checkout"], measured["wishlist"]
    # Funnel by session: baseline s1 and s2 viewed a product, s1 bought: 1 of 2; release s4 and
    # s5 viewed, s5 bought: 1 of 2.
    for label in ("baseline", "release"):
        assert (funnel[label].successes, funnel[label].samples) == (1, 2)
    # Adoption per session (rows without one are no session): baseline s1, s2, s3 of which s2
    # added to the wishlist; release s4, s5, s6 of which s5: 1 of 3 each.
    for label in ("baseline", "release"):
        assert (adoption[label].successes, adoption[label].samples) == (1, 3)
    # Each window ends at its newest event, the session-less 13:45 and 15:50 page views.
    for measured_ in (funnel, adoption):
        assert measured_["baseline"].data_end == BASELINE_END
        assert measured_["release"].data_end == RELEASE_END
    assert not [s for s in statements if s.startswith(NEWEST_PASS)]
    # The adoption query ran once, though the funnel may have asked for it first.
    assert len([s for s in statements if "max(ts) AS newest" in s]) == 1


def test_a_filtered_adoption_cannot_carry_it(provider, statements):
    provider.expect([(request(c), WINDOWS) for c in (FUNNEL, FILTERED)])
    funnel = provider.measure(request(FUNNEL), WINDOWS)
    filtered = provider.measure(request(FILTERED), WINDOWS)
    # u4's only session is the release's s5, which added to the wishlist; no baseline session.
    assert (filtered["release"].successes, filtered["release"].samples) == (1, 1)
    assert filtered["baseline"].samples == 0
    # u4's newest event is 14:24, but a window's data end is the log's: 15:50, by one pass.
    assert funnel["release"].data_end == filtered["release"].data_end == RELEASE_END
    assert len([s for s in statements if s.startswith(NEWEST_PASS)]) == 1


def test_a_carrier_that_fails_leaves_the_funnel_its_own_pass(tmp_path, statements):
    # No session column: adoption per session cannot be measured, the funnel by user can.
    write_events(tmp_path / "events.parquet", EVENTS, sessions=False)
    by_user = JourneySpec(steps=CHECKOUT.steps, unit="user")
    provider = FileProvider(
        FileSettings(events="events.parquet"), ProviderContext(name="logs", base_dir=tmp_path)
    )
    try:
        provider.expect(
            [(MetricRequest(FUNNEL, journey=by_user), WINDOWS), (request(ADOPTION), WINDOWS)]
        )
        funnel = provider.measure(MetricRequest(FUNNEL, journey=by_user), WINDOWS)
        with pytest.raises(DataError, match="session"):
            provider.measure(request(ADOPTION), WINDOWS)
    finally:
        provider.close()
    # By user: baseline u1 and u2 viewed, u1 bought; release u1 and u4 viewed, u4 bought.
    assert (funnel["release"].successes, funnel["release"].samples) == (1, 2)
    assert funnel["release"].data_end == RELEASE_END
    assert len([s for s in statements if s.startswith(NEWEST_PASS)]) == 1


def test_one_criterion_at_a_time_does_not_wait_on_itself(tmp_path):
    # gate.concurrency 1: the funnel, measured first, runs the adoption's query itself.
    write_events(tmp_path / "events.parquet", EVENTS)
    (tmp_path / "cxe.yml").write_text(
        "release: {name: carried, deployed_at: 2026-11-10T14:00:00Z}\n"
        "windows: {baseline: 24h, release: 2h}\n"
        "gate: {concurrency: 1}\n"
        "providers:\n  logs: {type: file, events: events.parquet}\n"
        "journeys:\n  checkout: [view_product, add_to_cart, begin_checkout, purchase]\n"
        "criteria:\n"
        "  - {name: checkout, metric: conversion, journey: checkout, max_drop: 20%}\n"
        "  - {name: wishlist, metric: engagement, measure: adoption, event: wishlist_add,"
        " max_drop: 20%}\n"
    )
    loaded = load(tmp_path / "cxe.yml")
    reports = []
    worker = threading.Thread(
        target=lambda: reports.append(
            evaluate(loaded, now=datetime(2026, 11, 10, 16, 5, tzinfo=UTC))
        ),
        daemon=True,
    )
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the evaluation waited on itself"
    (report,) = reports
    # Conversion 1 of 2, adoption 1 of 3 in each window (see above); too few to judge, but read.
    assert [r.verdict for r in report.criteria] == [Verdict.INCONCLUSIVE] * 2
    assert [r.value for r in report.criteria] == [pytest.approx(1 / 2), pytest.approx(1 / 3)]
    for result in report.criteria:
        assert result.data_end == {"baseline": BASELINE_END, "release": RELEASE_END}


def test_a_custom_query_expected_beside_a_funnel_changes_nothing(provider, statements):
    # A custom criterion has no metric query of its own to carry the data end: the funnel reads
    # it by its own pass, as before, and the custom query is measured as written.
    custom = criterion(
        name="purchases",
        metric="custom",
        query="SELECT count(*) AS value FROM events WHERE event = 'purchase' "
        "AND ts >= $start AND ts < $end",
    )
    provider.expect([(request(c), WINDOWS) for c in (custom, FUNNEL)])
    funnel = provider.measure(request(FUNNEL), WINDOWS)
    measured = provider.measure(request(custom), WINDOWS)
    assert funnel["release"].data_end == RELEASE_END
    # Purchases: 10:03 in the baseline, 14:24 in the release.
    assert (measured["baseline"].value, measured["release"].value) == (1, 1)
    assert len([s for s in statements if s.startswith(NEWEST_PASS)]) == 1
