"""Benchmark: the gate's `file` provider on 10 million events and 5 million request-log rows, against a
bare DuckDB query of the same aggregates, in the same run.

    python benchmarks/bench_file_provider.py [--events 10000000] [--requests 5000000] [--repeat 3]

Prints wall time and peak memory (max RSS) of each, measured in separate processes, and the ratio.
Target: the gate takes at most 1.5× the bare query. The data is built once under benchmarks/.data/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
DEPLOY = "2026-11-10 14:00:00+00"

CRITERIA = """\
journeys:
  checkout: [view_product, add_to_cart, begin_checkout, purchase]
criteria:
  - {name: checkout conversion, metric: conversion, journey: checkout, max_drop: 5%}
  - {name: error rate, metric: error_rate, max: 1%, max_rise: 50%}
  - {name: apdex, metric: apdex, t: 500ms, min: 0.8}
  - {name: p95 latency, metric: latency, percentile: 95, max: 2s}
  - {name: wishlist adoption, metric: engagement, measure: adoption, event: wishlist_add, max_drop: 20%}
"""
CONFIG = (
    """\
release: {name: bench, deployed_at: 2026-11-10T14:00:00Z}
windows: {baseline: 24h, release: 2h}
providers:
  logs: {type: file, events: events.parquet, requests: requests.parquet}
"""
    + CRITERIA
)

# The same aggregates, written by hand against the Parquet files: what a careful engineer would run.
BARE = textwrap.dedent("""\
    import duckdb, json, sys
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    b0, d, r1 = "TIMESTAMPTZ '2026-11-09 14:00:00+00'", "TIMESTAMPTZ '2026-11-10 14:00:00+00'", \\
        "TIMESTAMPTZ '2026-11-10 16:00:00+00'"
    win = f"CASE WHEN timestamp >= {b0} AND timestamp < {d} THEN 'baseline' " \\
          f"WHEN timestamp >= {d} AND timestamp < {r1} THEN 'release' END"
    span = f"timestamp >= {b0} AND timestamp < {r1}"
    out = {}
    out["conversion"] = con.execute(f'''
        WITH e AS (SELECT {win} AS w, session_id AS s, timestamp AS t, event FROM 'events.parquet'
                   WHERE {span} AND event IN ('view_product','add_to_cart','begin_checkout','purchase')),
        a AS (SELECT w, s, min(t) t FROM e WHERE event = 'view_product' GROUP BY ALL),
        b AS (SELECT e.w, e.s, min(e.t) t FROM e JOIN a USING (w, s) WHERE event = 'add_to_cart'
              AND e.t >= a.t GROUP BY ALL),
        c AS (SELECT e.w, e.s, min(e.t) t FROM e JOIN b USING (w, s) WHERE event = 'begin_checkout'
              AND e.t >= b.t GROUP BY ALL),
        p AS (SELECT e.w, e.s, min(e.t) t FROM e JOIN c USING (w, s) WHERE event = 'purchase'
              AND e.t >= c.t GROUP BY ALL)
        SELECT a.w, count(*), count(p.s) FROM a LEFT JOIN p USING (w, s) GROUP BY ALL''').fetchall()
    out["requests"] = con.execute(f'''
        SELECT {win} AS w, count(*), count(*) FILTER (WHERE status >= 500),
               count(*) FILTER (WHERE status < 500 AND duration_ms <= 500),
               count(*) FILTER (WHERE status < 500 AND duration_ms > 500 AND duration_ms <= 2000)
        FROM 'requests.parquet' WHERE {span} GROUP BY ALL''').fetchall()
    out["p95"] = con.execute(f'''SELECT {win} AS w, quantile_cont(duration_ms, 0.95)
        FROM 'requests.parquet' WHERE {span} GROUP BY ALL''').fetchall()
    out["adoption"] = con.execute(f'''
        WITH u AS (SELECT {win} AS w, user_id, bool_or(event = 'wishlist_add') AS adopted
                   FROM 'events.parquet' WHERE {span} GROUP BY ALL)
        SELECT w, count(*), count(*) FILTER (WHERE adopted) FROM u GROUP BY ALL''').fetchall()
    json.dump({k: sorted([list(map(str, r)) for r in v]) for k, v in out.items()}, sys.stdout)
""")

GATE = textwrap.dedent("""\
    import json, sys
    from datetime import datetime, UTC
    from cxe_gate.gate import evaluate
    from cxe_gate.loader import load
    report = evaluate(load("cxe.yml"), now=datetime(2026, 11, 23, tzinfo=UTC))
    json.dump({c.name: [c.verdict, c.value, c.baseline, c.samples] for c in report.criteria}, sys.stdout)
""")


def build_data(directory: Path, events: int, requests: int) -> None:
    """Sessions over the 26 h around the deploy; each walks the checkout funnel with drop-offs."""
    marker = directory / f"built-{events}-{requests}"
    if marker.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sessions = events // 5
    print(f"building {events:,} events and {requests:,} requests in {directory} ...", flush=True)
    con.execute(f"""
        COPY (
          WITH s AS (
            SELECT i AS session, 'u' || (i % {max(sessions // 2, 1)}) AS user_id,
                   TIMESTAMPTZ '{DEPLOY}' - INTERVAL 24 HOUR + to_seconds(hash(i) % (26 * 3600)) AS start,
                   (hash(i * 7) % 1000) / 1000.0 AS luck
            FROM range({sessions}) t(i))
          SELECT start + to_seconds(step * 40) AS timestamp,
                 CASE step WHEN 0 THEN 'page_view' WHEN 1 THEN 'view_product'
                   WHEN 2 THEN (CASE WHEN luck < 0.5 THEN 'add_to_cart' ELSE 'wishlist_add' END)
                   WHEN 3 THEN (CASE WHEN luck < 0.35 THEN 'begin_checkout' ELSE 'page_view' END)
                   ELSE (CASE WHEN luck < 0.28 THEN 'purchase' ELSE 'page_view' END) END AS event,
                 user_id, 's' || session AS session_id
          FROM s, range(5) r(step)
        ) TO '{directory / "events.parquet"}' (FORMAT parquet)""")
    con.execute(f"""
        COPY (
          SELECT TIMESTAMPTZ '{DEPLOY}' - INTERVAL 24 HOUR + to_seconds(hash(i) % (26 * 3600)) AS timestamp,
                 'GET' AS method, '/api/products/' || (i % 50) AS path, '/api/products/{{id}}' AS route,
                 CASE WHEN hash(i * 3) % 1000 < 4 THEN 503 ELSE 200 END AS status,
                 round(exp(5 + 0.7 * sqrt(-2 * ln(((hash(i * 5) % 999999) + 1) / 1e6))
                       * cos(2 * pi() * (hash(i * 11) % 1000000) / 1e6)), 1) AS duration_ms
          FROM range({requests}) t(i)
        ) TO '{directory / "requests.parquet"}' (FORMAT parquet)""")
    marker.touch()


def timed(code: str, directory: Path) -> tuple[float, float, str]:
    """Wall seconds, the process's own peak RSS in MiB, and stdout of `code` in a fresh Python."""
    report_rss = "\nimport resource as _r, sys as _s\nprint(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss, file=_s.stderr)"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + report_rss],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"benchmark process failed:\n{done.stderr}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return elapsed, peak_kib / 1024, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / ".data")
    args = parser.parse_args()
    directory = args.data
    build_data(directory, args.events, args.requests)
    (directory / "cxe.yml").write_text(CONFIG)
    env_note = f"{os.cpu_count()} cores, duckdb {duckdb.__version__}"

    # Warm the page cache once so neither side pays for the first read.
    timed(BARE, directory)
    bare_times, gate_times = [], []
    bare_rss = gate_rss = 0.0
    gate_out = ""
    for _ in range(args.repeat):  # interleaved, so drift on the machine hits both alike
        seconds, rss, _bare_out = timed(BARE, directory)
        bare_times.append(seconds)
        bare_rss = max(bare_rss, rss)
        seconds, rss, gate_out = timed(GATE, directory)
        gate_times.append(seconds)
        gate_rss = max(gate_rss, rss)
    bare, gate = statistics.median(bare_times), statistics.median(gate_times)
    print(f"data: {args.events:,} events, {args.requests:,} request rows (Parquet); {env_note}")
    print(f"bare DuckDB query : {bare:6.2f} s wall (median of {args.repeat}), runs {bare_times}")
    print(f"cxe-gate evaluate : {gate:6.2f} s wall (median of {args.repeat}), runs {gate_times}")
    print(f"ratio gate / bare : {gate / bare:.2f}x   (target <= 1.5x)")
    print(
        f"peak RSS          : bare {bare_rss:,.0f} MiB, gate {gate_rss:,.0f} MiB "
        f"(ratio {gate_rss / bare_rss:.2f}x)"
    )
    print("gate verdicts     :", json.dumps(json.loads(gate_out)))


if __name__ == "__main__":
    main()
