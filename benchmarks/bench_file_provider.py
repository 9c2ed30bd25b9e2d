"""Benchmark: `cxe-gate evaluate` with the `file` provider on 10 million events and 5 million
request-log rows, against a bare DuckDB query of the same aggregates, in the same run.

    python benchmarks/bench_file_provider.py [--events 10000000] [--requests 5000000] [--repeat 5]

Each side runs in a fresh process, interleaved, and is timed wall to wall (the gate's Python start-up
and report included); peak memory is each process's own max RSS. Prints the medians and the median
of the per-round ratios. Target (issue 17): the gate takes at most 1.1× the bare query. The data is
built once under benchmarks/.data/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
        -- p's sessions are among a's: count both in one pass rather than join them back
        SELECT w, count(*) FILTER (WHERE k = 1), count(*) FILTER (WHERE k = 4)
        FROM (SELECT w, 1 AS k FROM a UNION ALL SELECT w, 4 FROM p) GROUP BY ALL''').fetchall()
    # Error rate, Apdex and p95 from one scan of the request log.
    out["requests"] = con.execute(f'''
        SELECT {win} AS w, count(*), count(*) FILTER (WHERE status >= 500),
               count(*) FILTER (WHERE status < 500 AND duration_ms <= 500),
               count(*) FILTER (WHERE status < 500 AND duration_ms > 500 AND duration_ms <= 2000),
               quantile_cont(duration_ms, 0.95)
        FROM 'requests.parquet' WHERE {span} GROUP BY ALL''').fetchall()
    # Adoption per session, as the gate counts it (engagement's unit is the session by default).
    out["adoption"] = con.execute(f'''
        WITH u AS (SELECT {win} AS w, session_id, bool_or(event = 'wishlist_add') AS adopted
                   FROM 'events.parquet' WHERE {span} GROUP BY ALL)
        SELECT w, count(*), count(*) FILTER (WHERE adopted) FROM u GROUP BY ALL''').fetchall()
    json.dump({k: sorted([list(map(str, r)) for r in v]) for k, v in out.items()}, sys.stdout)
""")


def gate_command() -> list[str]:
    """`cxe-gate evaluate` as a user runs it, writing the JSON report the verdicts are read from."""
    return [sys.executable, "-m", "cxe_gate.cli", "evaluate", "-c", "cxe.yml", "-o", "gate.json"]


def bare_command() -> list[str]:
    return [sys.executable, "-c", BARE]


# What each side pays before its first query, whatever the data: the interpreter and its imports
# (the gate's are its CLI, config and report models, and the file provider, on top of DuckDB).
STARTUP = {
    "bare": [sys.executable, "-c", "import duckdb"],
    "gate": [sys.executable, "-c", "import duckdb, cxe_gate.cli, cxe_gate.providers.file"],
}


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


def timed(command: list[str], directory: Path) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system: steadier than wall time on a busy machine), the
    process's own peak RSS in MiB, and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=directory, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not all children's
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode not in (0, 1, 3):  # pass or warn, fail, inconclusive
            raise SystemExit(
                f"benchmark process failed ({process.returncode}):\n{err.read().decode()}"
            )
        cpu = usage.ru_utime + usage.ru_stime
        return elapsed, cpu, usage.ru_maxrss / 1024, out.read().decode()


def agree(bare: dict[str, list[list[str]]], report: dict) -> str:
    """Whether the bare query's release figures are the gate's: the comparison is only fair if
    both computed the same numbers."""
    release = {k: next(r[1:] for r in rows if r[0] == "release") for k, rows in bare.items()}
    started, purchased = map(int, release["conversion"])
    requests, errors, satisfied, tolerating = map(int, release["requests"][:4])
    sessions, adopters = map(int, release["adoption"])
    expected = {
        "checkout conversion": purchased / started,
        "error rate": errors / requests,
        "apdex": (satisfied + tolerating / 2) / requests,
        "p95 latency": float(release["requests"][4]),
        "wishlist adoption": adopters / sessions,
    }
    gate = {c["name"]: c["value"] for c in report["criteria"]}
    off = [name for name, value in expected.items() if abs(gate[name] - value) > 1e-9 * abs(value)]
    return "yes" if not off else f"NO: {', '.join(off)} differ ({expected} vs {gate})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=HERE / ".data")
    args = parser.parse_args()
    directory = args.data
    build_data(directory, args.events, args.requests)
    (directory / "cxe.yml").write_text(CONFIG)
    env_note = f"{os.cpu_count()} cores, duckdb {duckdb.__version__}"

    # Warm the page cache once so neither side pays for the first read.
    timed(bare_command(), directory)
    bare_times, gate_times, ratios, cpu_ratios = [], [], [], []
    startups: dict[str, list[float]] = {"bare": [], "gate": []}
    bare_rss = gate_rss = 0.0
    bare_out = ""
    for _ in range(args.repeat):  # interleaved, so drift on the machine hits both alike
        seconds, bare_cpu, rss, bare_out = timed(bare_command(), directory)
        bare_times.append(round(seconds, 2))
        bare_rss = max(bare_rss, rss)
        seconds, gate_cpu, rss, _ = timed(gate_command(), directory)
        gate_times.append(round(seconds, 2))
        gate_rss = max(gate_rss, rss)
        ratios.append(gate_times[-1] / bare_times[-1])
        cpu_ratios.append(gate_cpu / bare_cpu)
        for side, command in STARTUP.items():
            startups[side].append(timed(command, directory)[0])
    bare, gate = statistics.median(bare_times), statistics.median(gate_times)
    bare_start, gate_start = (statistics.median(startups[side]) for side in ("bare", "gate"))
    report = json.loads((directory / "gate.json").read_text())
    verdicts = {
        c["name"]: [c["verdict"], c["value"], c["baseline"], c["samples"]]
        for c in report["criteria"]
    }
    print(f"data: {args.events:,} events, {args.requests:,} request rows (Parquet); {env_note}")
    print(f"load average      : {' '.join(f'{x:.2f}' for x in os.getloadavg())} (after the runs)")
    print(f"bare DuckDB query : {bare:6.2f} s wall (median of {args.repeat}), runs {bare_times}")
    print(f"cxe-gate evaluate : {gate:6.2f} s wall (median of {args.repeat}), runs {gate_times}")
    print(
        f"ratio gate / bare : {statistics.median(ratios):.2f}x median of the rounds' ratios "
        f"({', '.join(f'{r:.2f}' for r in ratios)}); target <= 1.1x"
    )
    print(f"CPU time ratio    : {statistics.median(cpu_ratios):.2f}x median (user + system)")
    print(
        f"start-up          : bare {bare_start:.2f} s, gate {gate_start:.2f} s (imports, median); "
        f"beyond it gate {gate - gate_start:.2f} s vs bare {bare - bare_start:.2f} s "
        f"({(gate - gate_start) / (bare - bare_start):.2f}x)"
    )
    print(
        f"peak RSS          : bare {bare_rss:,.0f} MiB, gate {gate_rss:,.0f} MiB "
        f"(ratio {gate_rss / bare_rss:.2f}x)"
    )
    print("gate verdicts     :", json.dumps(verdicts))
    print("same numbers      :", agree(json.loads(bare_out), report))


if __name__ == "__main__":
    main()
