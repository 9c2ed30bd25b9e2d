"""The traffic simulator: consistent, seasonal, reproducible data; a regressed release that shows in
it; Parquet export; the CLI; and driving a real server over HTTP."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from examples.shop.clock import parse_timestamp
from examples.shop.server import running
from examples.shop.shop import create_app
from examples.shop.simulate import export_parquet, main, simulate

START = datetime(2026, 11, 10, 12, tzinfo=UTC)
SWITCH = START + timedelta(hours=1)
END = START + timedelta(hours=2)
ALL_REGRESSIONS = {"slow_checkout", "cart_errors", "broken_payment"}


def read(log_dir: Path, stream: str) -> list[dict]:
    return [json.loads(line) for line in (log_dir / f"{stream}.ndjson").read_text().splitlines()]


def run(log_dir: Path, **options) -> Path:
    """Two hours around midday: a good release for the first, a regressed one for the second."""
    options = {
        "start": START,
        "end": END,
        "sessions_per_hour": 300,
        "seed": 42,
        "regressions_from": SWITCH,
        "regressions": ALL_REGRESSIONS,
    } | options
    simulate(log_dir, **options)
    return log_dir


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    return run(tmp_path_factory.mktemp("simulation") / "logs")


def test_the_summary_counts_what_the_shop_wrote(tmp_path):
    summary = simulate(
        tmp_path, start=START, end=START + timedelta(minutes=30), sessions_per_hour=200, seed=3
    )
    assert 50 < summary.sessions < 200
    assert summary.requests == len(read(tmp_path, "requests"))
    assert summary.events == len(read(tmp_path, "events"))
    assert summary.feedback == len(read(tmp_path, "feedback"))
    assert "sessions/s" in summary.describe()


def test_every_line_lies_inside_the_window(logs):
    for stream in ("events", "requests", "feedback"):
        stamps = [parse_timestamp(line["timestamp"]) for line in read(logs, stream)]
        assert stamps
        assert min(stamps) >= START and max(stamps) < END
        assert stamps == sorted(stamps)  # the logs are merged in time order


def test_purchases_follow_the_checkout_journey_in_order(logs):
    firsts: dict[tuple[str, str], str] = {}
    for event in read(logs, "events"):
        firsts.setdefault((event["session_id"], event["event"]), event["timestamp"])
    purchases = [session for session, name in firsts if name == "purchase"]
    assert len(purchases) > 50
    for session in purchases:
        steps = [
            firsts.get((session, name))
            for name in ("view_product", "add_to_cart", "begin_checkout", "purchase")
        ]
        assert None not in steps, session
        assert steps == sorted(steps), session


def test_a_session_belongs_to_one_user_and_some_users_come_back(logs):
    users_of: dict[str, set[str]] = {}
    for line in read(logs, "requests"):
        users_of.setdefault(line["session_id"], set()).add(line["user_id"])
    assert all(len(users) == 1 for users in users_of.values())
    sessions_per_user = Counter(next(iter(users)) for users in users_of.values())
    returning = sum(n - 1 for n in sessions_per_user.values()) / len(users_of)
    assert 0.1 < returning < 0.35


def test_the_page_scripts_call_the_api_after_their_pages(logs):
    routes = Counter((r["method"], r["route"]) for r in read(logs, "requests"))
    assert routes[("GET", "/api/products/{id}")] == routes[("GET", "/products/{id}")]
    assert routes[("GET", "/api/cart")] == routes[("GET", "/cart")]
    assert routes[("POST", "/feedback")] == routes[("GET", "/thanks")]


def test_the_regressed_release_fails_carts_and_converts_less(logs):
    def hour(line: dict) -> str:
        return "regressed" if parse_timestamp(line["timestamp"]) >= SWITCH else "good"

    cart_calls: dict[str, Counter] = {"good": Counter(), "regressed": Counter()}
    checkouts: dict[str, list[float]] = {"good": [], "regressed": []}
    for line in read(logs, "requests"):
        if (line["method"], line["route"]) == ("POST", "/api/cart"):
            cart_calls[hour(line)][line["status"]] += 1
        if line["route"] == "/checkout":
            checkouts[hour(line)].append(line["duration_ms"])
    assert cart_calls["good"][500] == 0
    assert cart_calls["regressed"][500] / sum(cart_calls["regressed"].values()) > 0.03
    assert min(checkouts["regressed"]) > max(sorted(checkouts["good"])[:10])
    assert sum(checkouts["regressed"]) / len(checkouts["regressed"]) > 600 + (
        sum(checkouts["good"]) / len(checkouts["good"])
    )

    sessions: dict[str, set[str]] = {"good": set(), "regressed": set()}
    buyers: dict[str, set[str]] = {"good": set(), "regressed": set()}
    for event in read(logs, "events"):
        if event["event"] == "view_product":
            sessions[hour(event)].add(event["session_id"])
        elif event["event"] == "purchase":
            buyers[hour(event)].add(event["session_id"])
    good = len(buyers["good"]) / len(sessions["good"])
    regressed = len(buyers["regressed"]) / len(sessions["regressed"])
    assert regressed < 0.8 * good


def test_a_seed_replays_the_same_customers_whatever_the_workers(logs, tmp_path):
    again = run(tmp_path / "again", workers=1)
    assert read(again, "events") == read(logs, "events")
    assert read(again, "feedback") == read(logs, "feedback")
    # duration_ms adds the real processing time (a template's first compile, a GC pause, a busy
    # machine) to the modelled one, so only the other fields replay exactly
    first, second = read(logs, "requests"), read(again, "requests")
    assert [{**r, "duration_ms": 0} for r in first] == [{**r, "duration_ms": 0} for r in second]
    assert all(r["duration_ms"] > 0 for r in second)

    other = run(tmp_path / "other", seed=43, end=START + timedelta(minutes=20))
    assert read(other, "events") != read(logs, "events")[: len(read(other, "events"))]


def test_arrivals_follow_the_hour_of_day(tmp_path):
    simulate(
        tmp_path,
        start=datetime(2026, 11, 9, tzinfo=UTC),
        end=datetime(2026, 11, 10, tzinfo=UTC),
        sessions_per_hour=40,
        seed=5,
    )
    first_seen: dict[str, datetime] = {}
    for line in read(tmp_path, "requests"):
        first_seen.setdefault(line["session_id"], parse_timestamp(line["timestamp"]))
    by_hour = Counter(moment.hour for moment in first_seen.values())
    night = sum(by_hour[h] for h in range(2, 7))
    afternoon = sum(by_hour[h] for h in range(13, 18))
    assert 24 * 40 * 0.8 < len(first_seen) < 24 * 40 * 1.2
    assert afternoon > 3 * night


def test_runs_append_into_one_continuous_log(tmp_path):
    simulate(
        tmp_path, start=START, end=START + timedelta(minutes=20), sessions_per_hour=150, seed=1
    )
    before = len(read(tmp_path, "events"))
    simulate(
        tmp_path,
        start=END,
        end=END + timedelta(minutes=20),
        sessions_per_hour=150,
        regressions={"cart_errors"},
        seed=2,
    )
    events = read(tmp_path, "events")
    assert len(events) > before
    assert events[:before] == read(tmp_path, "events")[:before]


def test_export_writes_parquet_with_utc_timestamps(logs, tmp_path):
    written = export_parquet(logs, tmp_path / "data")
    assert set(written) == {"events", "requests", "feedback"}
    for stream, path in written.items():
        table = pq.read_table(path)
        assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
        assert table.num_rows == len(read(logs, stream))
    requests = pq.read_table(written["requests"])
    assert requests.schema.field("duration_ms").type == pa.float64()
    assert requests.schema.field("status").type == pa.int32()
    with duckdb.connect() as con:
        kind, inside = con.execute(
            "SELECT typeof(any_value(timestamp)), bool_and(timestamp >= ?::TIMESTAMPTZ "
            "AND timestamp < ?::TIMESTAMPTZ) FROM read_parquet(?)",
            [START.isoformat(), END.isoformat(), str(written["events"])],
        ).fetchone()
        assert kind == "TIMESTAMP WITH TIME ZONE"
        assert inside
        orders = con.execute(
            "SELECT count(*) FROM read_parquet(?) WHERE event = 'purchase' "
            "AND length(properties ->> 'order_id') >= 16",
            [str(written["events"])],
        ).fetchone()
        assert orders[0] > 0


def test_export_of_an_empty_log_gives_empty_tables(tmp_path):
    written = export_parquet(tmp_path / "nothing", tmp_path / "data")
    assert all(pq.read_table(path).num_rows == 0 for path in written.values())


def test_the_cli_simulates_around_a_deploy_and_exports(tmp_path, capsys):
    main(
        [
            "--out",
            str(tmp_path),
            "--deployed-at",
            "2026-11-10T14:00:00Z",
            "--baseline",
            "30m",
            "--release",
            "15m",
            "--sessions-per-hour",
            "120",
            "--regression",
            "cart_errors",
            "--seed",
            "9",
            "--parquet",
        ]
    )
    output = capsys.readouterr().out
    assert "sessions" in output and "events.parquet" in output
    stamps = [parse_timestamp(e["timestamp"]) for e in read(tmp_path, "events")]
    assert datetime(2026, 11, 10, 13, 30, tzinfo=UTC) <= min(stamps)
    assert max(stamps) < datetime(2026, 11, 10, 14, 15, tzinfo=UTC)
    assert (tmp_path / "requests.parquet").exists()


def test_unknown_regressions_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown regression"):
        simulate(
            tmp_path, start=START, end=END, sessions_per_hour=10, regressions={"slow_everything"}
        )


@pytest.mark.server
def test_it_drives_a_real_server_over_http(tmp_path):
    app = create_app(tmp_path / "server-logs", rng=random.Random(1), latency_scale=0)
    try:
        with running(app) as url:
            summary = simulate(
                None,
                start=START,
                end=START + timedelta(minutes=15),
                sessions_per_hour=150,
                seed=4,
                url=url,
            )
            with pytest.raises(ValueError, match="decides its own regressions"):
                simulate(
                    None,
                    start=START,
                    end=END,
                    sessions_per_hour=1,
                    url=url,
                    regressions={"cart_errors"},
                )
    finally:
        app.extensions["shop"].close()
    logged = read(tmp_path / "server-logs", "requests")
    assert summary.sessions > 10 and summary.events is None
    assert len(logged) == summary.requests
    assert len({line["session_id"] for line in logged}) == summary.sessions
    # a live server stamps its own, real time
    assert parse_timestamp(logged[0]["timestamp"]) > START + timedelta(days=1)
