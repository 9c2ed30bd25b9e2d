"""How long a gate of many criteria takes against a slow provider, against one query's time.

A loopback JSON API, in a process of its own, answers every request after a fixed delay (100 ms by
default, a typical SaaS round trip). The gate evaluates N criteria through the `http` provider,
each asking for both windows; the baseline is one criterion alone, measured the same way in the
same run. Prints both, their ratio, each in round trips, the overhead beyond one criterion, and
the gate process's CPU time per evaluation: wall times move with the machine's load, the CPU time
much less, so it is the figure to compare between runs on a shared runner.

    python benchmarks/bench_concurrency.py [--criteria 50] [--delay 0.1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing import Pipe, Process
from multiprocessing.connection import Connection
from pathlib import Path

from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
EXPLANATION = """
The criteria wait on the API side by side, two requests each, so the waits overlap; what they
cannot share is the gate's CPU, under one interpreter lock. The last request leaves only once the
others are sent, and the last answer is read only after those before it, so at a 100 ms delay the
gate takes about one round trip plus the CPU on that path; with --delay 0 what is left is the CPU.
Per criterion (measured on a 2-core runner): its two requests cost ~0.37 ms of CPU each through
requests (ApiClient prepares them from what is fixed per client and keeps each origin's pool;
Session.request cost 0.63 ms), most of it now urllib3 and http.client writing the request and
parsing the answer's headers, plus a new connection for each request in flight at once; the
gate's own work is ~0.5 ms: a thread for the second window and a pool worker, the judge and the
report, and ~0.2 ms of the http provider's (query string encoded once, plain-name paths read
without the JSONPath/JMESPath interpreters). The wall
times grow with the load average; the CPU time much less: compare that between runs on a shared
machine."""


def serve(delay: float, port: Connection) -> None:
    """Answer every request after `delay` seconds, forever; send the port on `port` first. One
    asyncio loop, keeping connections alive as HTTP/1.1 does: a remote API's own cost is not the
    gate's, so the stand-in spends as little CPU as it can (a thread per request did not)."""
    body = json.dumps({"errors": 4, "requests": 1000}).encode()
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")  # GET only: no request body
                await asyncio.sleep(delay)
                writer.write(answer)
                if b"connection: close" in head.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()

    async def listen() -> None:
        # backlog: a burst of a hundred connections must not be dropped (the default is 100).
        server = await asyncio.start_server(client, "127.0.0.1", 0, backlog=1024)
        port.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(listen())


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


def timed(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of this process) of one evaluation of `path`."""
    loaded = load(path)
    cpu, started = time.process_time(), time.perf_counter()
    report = evaluate(loaded, now=NOW)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if report.verdict is not Verdict.PASS:
        sys.exit(f"the benchmark gate did not pass: {report.summary}")
    return elapsed, cpu


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

    single = statistics.median(wall for wall, _ in singles)
    gate = statistics.median(wall for wall, _ in gates)
    cpu = statistics.median(cpu for _, cpu in gates)
    n = args.criteria
    print(f"answer delay          {args.delay * 1000:.0f} ms per request (2 windows per criterion)")
    print(f"1 criterion           {single * 1000:7.0f} ms  (median of {args.repeat})")
    print(f"{n} criteria          {gate * 1000:7.0f} ms  (median of {args.repeat})")
    print(f"ratio                 {gate / single:7.2f}×")
    if args.delay:
        print(f"1 criterion           {single / args.delay:7.2f}  round trips")
        print(f"{n} criteria         {gate / args.delay:7.2f}  round trips")
    print(f"overhead beyond one   {(gate - single) * 1000:7.0f} ms")
    print(f"sequential would take {single * n * 1000:7.0f} ms")
    print(f"gate CPU, {n} criteria {cpu * 1000:7.0f} ms  ({cpu / n * 1000:.1f} ms per criterion)")
    print(f"load average          {os.getloadavg()[0]:7.1f}  on {os.cpu_count()} cores")
    print(EXPLANATION)


if __name__ == "__main__":
    main()
