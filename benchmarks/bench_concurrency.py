"""How long a gate of many criteria takes against a slow provider, against one query's time.

A loopback JSON API, in a process of its own, answers every request after a fixed delay (100 ms by
default, a typical SaaS round trip). The gate evaluates N criteria through the `http` provider,
each asking for both windows; the baseline is one criterion alone, measured the same way in the
same run. Prints both, their ratio, each in round trips, and the overhead beyond one criterion.

    python benchmarks/bench_concurrency.py [--criteria 50] [--delay 0.1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Pipe, Process
from multiprocessing.connection import Connection
from pathlib import Path

from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def serve(delay: float, port: Connection) -> None:
    """Answer every request after `delay` seconds, forever; send the port on `port` first."""

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            body = json.dumps({"errors": 4, "requests": 1000}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the listen backlog: 5 by default drops bursts of connections

    server = Server(("127.0.0.1", 0), Slow)
    port.send(server.server_address[1])
    server.serve_forever()


def criteria_file(directory: Path, url: str, count: int) -> Path:
    criteria = "".join(
        f"  - name: error rate {i:02d}\n"
        "    metric: error_rate\n"
        "    max: 1%\n"
        "    query: {path: /errors, params: {from: '${start}', to: '${end}'},"
        " samples: requests, successes: errors}\n"
        for i in range(count)
    )
    path = directory / f"cxe-{count}.yml"
    path.write_text(
        "release: {name: bench, deployed_at: 2026-11-23T10:00:00Z}\n"
        "windows: {baseline: 2h, release: 1h}\n"
        f"providers:\n  api: {{type: http, base_url: '{url}'}}\n"
        f"criteria:\n{criteria}"
    )
    return path


def timed(path: Path) -> float:
    loaded = load(path)
    started = time.perf_counter()
    report = evaluate(loaded, now=NOW)
    elapsed = time.perf_counter() - started
    if report.verdict is not Verdict.PASS:
        sys.exit(f"the benchmark gate did not pass: {report.summary}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criteria", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    # The API in a process of its own, as a real one is: its work does not hold the gate's GIL.
    port, sent = Pipe(duplex=False)
    server = Process(target=serve, args=(args.delay, sent), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port.recv()}"
    with tempfile.TemporaryDirectory() as tmp:
        one = criteria_file(Path(tmp), url, 1)
        many = criteria_file(Path(tmp), url, args.criteria)
        timed(one)  # warm-up: imports, connection set-up
        singles, gates = [], []
        for _ in range(args.repeat):  # interleaved, so drift hits both alike
            singles.append(timed(one))
            gates.append(timed(many))
    server.terminate()
    server.join()

    single, gate = statistics.median(singles), statistics.median(gates)
    print(f"answer delay          {args.delay * 1000:.0f} ms per request (2 windows per criterion)")
    print(f"1 criterion           {single * 1000:7.0f} ms  (median of {args.repeat})")
    print(f"{args.criteria} criteria          {gate * 1000:7.0f} ms  (median of {args.repeat})")
    print(f"ratio                 {gate / single:7.2f}×")
    if args.delay:
        print(f"1 criterion           {single / args.delay:7.2f}  round trips")
        print(f"{args.criteria} criteria         {gate / args.delay:7.2f}  round trips")
    print(f"overhead beyond one   {(gate - single) * 1000:7.0f} ms")
    print(f"sequential would take {single * args.criteria * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
