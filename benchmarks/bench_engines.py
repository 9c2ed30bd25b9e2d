"""Benchmark: one criteria file judged on the same Parquet logs by the `file` provider and by the
`sql` provider on DuckDB, ClickHouse in-process (chdb) and Spark SQL (local), in the same run.

    python benchmarks/bench_engines.py [--events 2000000] [--requests 1000000] [--repeat 3]
    python benchmarks/bench_engines.py --small     # 200k events, 100k requests: about a minute

Prints, per engine, the wall time and peak memory of a fresh process evaluating the gate (Spark's
JVM included), the bytes its queries brought back (the sql provider pushes every aggregate down:
a few hundred bytes, never event rows) and the ratio to the file provider. Every engine must give
the file provider's numbers. Target: the sql provider on DuckDB within 1.1x of the file provider.
The data is built once under benchmarks/.data/ (bench_file_provider's generator).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench_file_provider import CRITERIA, build_data

HERE = Path(__file__).resolve().parent

# Each engine's provider over the same two Parquet files (absolute paths in {data}).
PROVIDERS = {
    "file": "{type: file, events: events.parquet, requests: requests.parquet}",
    "sql on DuckDB": (
        "{type: sql, url: 'duckdb:///:memory:', events: \"read_parquet('{data}/events.parquet')\", "
        "requests: \"read_parquet('{data}/requests.parquet')\"}"
    ),
    "sql on chdb": (
        "{type: sql, url: 'chdb://', events: \"file('{data}/events.parquet', Parquet)\", "
        "requests: \"file('{data}/requests.parquet', Parquet)\"}"
    ),
    "sql on Spark": (
        "{type: sql, url: 'spark://local?spark.sql.shuffle.partitions=4', timeout: 30m, "
        "events: 'parquet.`{data}/events.parquet`', requests: 'parquet.`{data}/requests.parquet`'}"
    ),
}

# A fresh Python evaluates the gate and prints its numbers and the bytes its queries fetched; its
# peak RSS, and a Spark JVM's (a child process RUSAGE_SELF does not see), go to stderr.
GATE = textwrap.dedent("""\
    import json, resource, sys
    from datetime import datetime, UTC
    from cxe_gate.gate import evaluate
    from cxe_gate.loader import load
    report = evaluate(load(sys.argv[1]), now=datetime(2026, 11, 23, tzinfo=UTC))
    fetched = sum(d.get("bytes fetched", 0) for c in report.criteria for d in c.details.values())
    numbers = {c.name: [c.verdict, c.value, c.baseline, c.samples] for c in report.criteria}
    json.dump({"numbers": numbers, "fetched": fetched}, sys.stdout)
    jvm = 0
    try:
        from pyspark import SparkContext
        gateway = SparkContext._gateway
        if gateway is not None:
            status = open(f"/proc/{gateway.proc.pid}/status").read()
            jvm = int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM")))
    except (ImportError, OSError, StopIteration):
        pass
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + jvm, file=sys.stderr)
""")


def run(config: Path) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS in MiB and the gate's answer, in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", GATE, str(config)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{config.name}: the gate failed:\n{done.stderr[-3000:]}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return elapsed, peak_kib / 1024, json.loads(done.stdout)


def same(a: dict, b: dict) -> bool:
    """The same verdicts and numbers, to 1e-9."""
    for name, (verdict, *numbers) in a.items():
        other_verdict, *others = b[name]
        if verdict != other_verdict:
            return False
        for x, y in zip(numbers, others, strict=True):
            if (x is None) != (y is None) or (
                x is not None and not math.isclose(x, y, rel_tol=1e-9)
            ):
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--small", action="store_true", help="200k events, 100k requests, 1 run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / ".data")
    parser.add_argument("--engines", default=",".join(PROVIDERS), help="comma-separated")
    args = parser.parse_args()
    if args.small:
        args.events, args.requests, args.repeat = 200_000, 100_000, 1
    directory = args.data / f"engines-{args.events}-{args.requests}"
    build_data(directory, args.events, args.requests)
    engines = [e.strip() for e in args.engines.split(",")]
    configs = {}
    for number, engine in enumerate(engines):
        provider = PROVIDERS[engine].replace("{data}", str(directory))
        configs[engine] = directory / f"cxe-{number}.yml"
        configs[engine].write_text(
            "release: {name: bench, deployed_at: 2026-11-10T14:00:00Z}\n"
            "windows: {baseline: 24h, release: 2h}\n"
            f"providers:\n  logs: {provider}\n{CRITERIA}"
        )

    run(configs[engines[0]])  # warm the page cache once, so no engine pays for the first read
    times: dict[str, list[float]] = {e: [] for e in engines}
    peaks: dict[str, float] = dict.fromkeys(engines, 0.0)
    answers: dict[str, dict] = {}
    for _ in range(args.repeat):  # interleaved, so drift on the machine hits every engine alike
        for engine in engines:
            seconds, peak, answers[engine] = run(configs[engine])
            times[engine].append(seconds)
            peaks[engine] = max(peaks[engine], peak)

    print(
        f"data: {args.events:,} events, {args.requests:,} request rows (Parquet); "
        f"{os.cpu_count()} cores; median of {args.repeat} run(s), each a fresh process"
    )
    base = statistics.median(times[engines[0]])
    print(
        f"{'engine':<15} {'wall s':>8} {'ratio':>7} {'peak MiB':>9} {'fetched B':>10}  same numbers"
    )
    for engine in engines:
        wall = statistics.median(times[engine])
        fetched = f"{answers[engine]['fetched']:.0f}" if engine != "file" else "-"
        agrees = same(answers[engines[0]]["numbers"], answers[engine]["numbers"])
        print(
            f"{engine:<15} {wall:8.2f} {wall / base:6.2f}x {peaks[engine]:9,.0f} {fetched!s:>10}  "
            f"{'yes' if agrees else 'NO'}"
        )
    if "sql on DuckDB" in times and engines[0] == "file":
        ratio = statistics.median(times["sql on DuckDB"]) / base
        print(f"sql on DuckDB / file: {ratio:.2f}x (target <= 1.1x)")
    print("numbers:", json.dumps(answers[engines[0]]["numbers"]))


if __name__ == "__main__":
    main()
