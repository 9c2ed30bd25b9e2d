"""The traffic simulator: plays many customers through the shop over a stretch of simulated time,
so the shop writes the logs a real day of production would leave.

    python -m examples.shop.simulate --out out/shop --deployed-at 2026-11-10T14:00:00Z --parquet

By default it drives the Flask app in-process on a simulated clock (thousands of sessions a
second); with --url it drives a running shop over HTTP, in real time stamps."""

from __future__ import annotations

import argparse
import heapq
import itertools
import multiprocessing
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from .browser import Browser, HttpTransport, Transport, WindowClosed, WsgiTransport
from .clock import parse_timestamp
from .customer import USER_COOKIE, Customer
from .export import export_parquet
from .logs import merge_logs
from .regressions import (
    add_regression_options,
    chosen_regressions,
    parse_regressions,
)
from .shop import create_app
from .store import Store
from .traffic import arrivals

__all__ = ["Summary", "export_parquet", "main", "simulate"]

RETURNING = 0.25  # of arrivals, once there are earlier customers to come back
SHARDS = 4  # app instances the in-process simulation runs (in parallel where CPUs allow)


@dataclass(frozen=True)
class Summary:
    sessions: int
    requests: int
    events: int | None  # None when a server elsewhere wrote them
    feedback: int | None
    wall_seconds: float

    def describe(self) -> str:
        rate = self.sessions / self.wall_seconds if self.wall_seconds > 0 else 0.0
        logged = (
            ""
            if self.events is None
            else (f", {self.events:,} events, {self.feedback:,} feedback answers")
        )
        return (
            f"{self.sessions:,} sessions, {self.requests:,} requests{logged} "
            f"in {self.wall_seconds:.1f} s ({rate:,.0f} sessions/s)"
        )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class _Shard:
    """One app instance's share of the customers; picklable, to run in a worker process."""

    seed: int
    times: list[float]
    end: float
    releases: list[tuple[float, frozenset[str]]]  # (from time, regressions), in time order
    log_dir: Path
    url: str | None  # a running shop to drive over HTTP instead


def simulate(
    out_dir: Path | str | None,
    *,
    start: datetime,
    end: datetime,
    sessions_per_hour: float,
    regressions_from: datetime | None = None,
    regressions: Iterable[str] = (),
    seed: int = 0,
    url: str | None = None,
    workers: int | None = None,
) -> Summary:
    """Plays customers arriving over [start, end) into the shop whose logs go to `out_dir`
    (appended to, so several runs can make one continuous log).

    sessions_per_hour: the mean arrival rate over a day; afternoons get more, nights less.
    regressions_from, regressions: from that time on (or from the start when None), customers
        meet a release with these regressions; before it, a good one. Both share the server-side
        sessions, as a deploy behind a shared session store does.
    url: drive the shop running there over HTTP instead; it then writes its own logs, with
        real time stamps, and its own regressions (start it with --regressed).
    workers: processes for the in-process shop (default: one per CPU, up to SHARDS). The
        result is the same for any number: it depends only on the seed. Over HTTP, SHARDS
        threads drive the server at once.
    """
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError("end must come after start")
    chosen = parse_regressions(regressions)
    if url is not None and chosen:
        raise ValueError(
            f"the server at {url} decides its own regressions; "
            "start it with --regression NAME or --regressed"
        )
    if url is None and out_dir is None:
        raise ValueError("out_dir is needed: the in-process shop writes its logs there")
    rng = random.Random(seed)
    times = arrivals(start, end, sessions_per_hour, random.Random(rng.getrandbits(64)))
    began = time.perf_counter()
    releases = [(start.timestamp(), frozenset[str]())]
    if chosen:
        switch = _utc(regressions_from) if regressions_from is not None else start
        releases.append((switch.timestamp(), chosen))
    # Customers are dealt to SHARDS app instances, each with its own server state, as behind a
    # load balancer that keeps a customer on one instance; the shards run in parallel and their
    # logs are merged in time order. The dealing depends on the seed alone, never on `workers`.
    dealt: list[list[float]] = [[] for _ in range(SHARDS)]
    for arrival in times:
        dealt[rng.randrange(SHARDS)].append(arrival)
    with tempfile.TemporaryDirectory(prefix="shop-shards-") as scratch:
        shards = [
            _Shard(
                rng.getrandbits(64),
                share,
                end.timestamp(),
                releases,
                Path(scratch) / f"shard-{i}",
                url,
            )
            for i, share in enumerate(dealt)
        ]
        counts = _run_shards(shards, workers)
        if url is not None:  # the server wrote the logs
            return Summary(
                len(times), sum(c[0] for c in counts), None, None, time.perf_counter() - began
            )
        merge_logs([shard.log_dir for shard in shards], Path(out_dir))
    return Summary(
        len(times),
        sum(c[0] for c in counts),
        sum(c[1] for c in counts),
        sum(c[2] for c in counts),
        time.perf_counter() - began,
    )


def _run_shards(shards: list[_Shard], workers: int | None) -> list[tuple[int, int, int]]:
    if shards[0].url is not None:
        # Over HTTP the customers mostly wait for the server: threads are enough.
        with ThreadPoolExecutor(len(shards)) as threads:
            return list(threads.map(_run_shard, shards))
    workers = min(len(shards), workers or os.cpu_count() or 1)
    if workers <= 1:
        return [_run_shard(shard) for shard in shards]
    # fork: the workers start at once with everything imported (spawn would re-import Flask).
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_run_shard, shards))


def _run_shard(shard: _Shard) -> tuple[int, int, int]:
    """Plays one shard's customers; (requests, events, feedback answers) written."""
    rng = random.Random(shard.seed)
    if shard.url is not None:
        transport = HttpTransport(shard.url)
        try:
            return _play(transport, shard.times, shard.end, rng), 0, 0
        finally:
            transport.close()
    store = Store()
    apps = [
        (
            since,
            create_app(
                shard.log_dir,
                regressions=regressions,
                simulated_clock=True,
                rng=random.Random(rng.getrandbits(64)),
                store=store,
            ),
        )
        for since, regressions in shard.releases
    ]
    logs = [app.extensions["shop"].log for _, app in apps]
    try:
        made = _play(
            WsgiTransport([(since, app.wsgi_app) for since, app in apps]),
            shard.times,
            shard.end,
            rng,
        )
    finally:
        for log in logs:
            log.close()
    return (
        made,
        sum(log.written["events"] for log in logs),
        sum(log.written["feedback"] for log in logs),
    )


def _play(transport: Transport, times: list[float], end: float, rng: random.Random) -> int:
    """Runs every customer's visit, interleaved in simulated time; the number of requests made."""
    waiting: list[tuple[float, int, Browser, Iterator[float]]] = []  # by next step's time
    order = itertools.count()
    users: list[str] = []  # everyone seen so far, for returning customers to be drawn from
    made = 0

    def step(browser: Browser, steps: Iterator[float]) -> None:
        nonlocal made
        before = browser.requests
        try:
            pause = next(steps)
        except (StopIteration, WindowClosed):
            pause = None
        made += browser.requests - before
        if pause is not None and browser.clock + pause < end:
            heapq.heappush(waiting, (browser.clock + pause, next(order), browser, steps))

    for arrival in [*times, None]:
        while waiting and (arrival is None or waiting[0][0] <= arrival):
            at, _, browser, steps = heapq.heappop(waiting)
            browser.clock = at
            step(browser, steps)
        if arrival is None:
            break
        customer_rng = random.Random(rng.getrandbits(64))
        returning = bool(users) and customer_rng.random() < RETURNING
        cookies = {USER_COOKIE: customer_rng.choice(users)} if returning else {}
        browser = Browser(transport, customer_rng, clock=arrival, end=end, cookies=cookies)
        step(browser, Customer(browser, customer_rng, returning).visit())
        if not returning and USER_COOKIE in browser.cookies:
            users.append(browser.cookies[USER_COOKIE])
    return made


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """'24h', '90m', '2d', '30s'."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 24h, 90m or 2d")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def _time(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from error


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.shop.simulate",
        description="Simulate customers in the example shop around a deploy: the baseline "
        "before it and the release window after it.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="log directory (NDJSON, and Parquet with "
        "--parquet); not used with --url, where the server writes the logs",
    )
    parser.add_argument(
        "--deployed-at",
        type=_time,
        required=True,
        metavar="ISO",
        help="the deploy time, e.g. 2026-11-10T14:00:00Z",
    )
    parser.add_argument(
        "--baseline",
        type=parse_duration,
        default=timedelta(hours=24),
        help="how long before the deploy to start (default 24h)",
    )
    parser.add_argument(
        "--release",
        type=parse_duration,
        default=timedelta(hours=2),
        help="how long after the deploy to go on (default 2h)",
    )
    parser.add_argument(
        "--sessions-per-hour",
        type=float,
        default=100.0,
        help="mean arrivals per hour over a day (default 100)",
    )
    add_regression_options(parser, "the deployed release has")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="drive the shop running at this URL instead")
    parser.add_argument(
        "--parquet",
        action="store_true",
        help="then export events, requests and feedback to Parquet in --out",
    )
    args = parser.parse_args(argv)
    if args.url is None and args.out is None:
        parser.error("--out is required unless --url is given")
    if args.url is not None and args.parquet:
        parser.error("--parquet exports the in-process logs; with --url the server has them")
    regressions = chosen_regressions(args)
    if args.url is not None and regressions:
        parser.error("with --url the server decides its regressions: start it with --regressed")
    try:
        summary = _simulate_from(args, regressions)
    except requests.RequestException as error:
        parser.exit(1, f"error: cannot talk to the shop at {args.url}: {error}\n")
    print(summary.describe())
    if args.parquet:
        for path in export_parquet(args.out, args.out).values():
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")


def _simulate_from(args: argparse.Namespace, regressions: set[str]) -> Summary:
    return simulate(
        args.out,
        start=args.deployed_at - args.baseline,
        end=args.deployed_at + args.release,
        sessions_per_hour=args.sessions_per_hour,
        regressions_from=args.deployed_at if regressions else None,
        regressions=regressions,
        seed=args.seed,
        url=args.url,
    )


if __name__ == "__main__":
    main()
