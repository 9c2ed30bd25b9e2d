"""A typical app's request log and the Prometheus samples its instrumentation exposes, for the
`prometheus` provider's count tests: a label set appears when it is first observed (a rare error
code's series is born in the middle of a window), a restarted pod starts its counters again from
0, a replaced pod is a new series. Written as OpenMetrics text for `backfill`, so every birth and
reset is at a known time; the log is the truth the gate's counts are checked against."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["DEFAULT_BUCKETS_S", "App", "Process", "Served", "quantile"]

# prometheus_client's default buckets, in seconds.
DEFAULT_BUCKETS_S = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


@dataclass(frozen=True)
class Served:
    """One line of the app's request log."""

    at: float  # Unix seconds
    pod: str
    route: str
    status: int
    duration_ms: float


@dataclass(frozen=True)
class Process:
    """One run of the app in a pod, from `up` until `down` (Unix seconds): its counters live and
    die with it. Prometheus scrapes it every `interval` s at `offset` s past each multiple. A pod
    being replaced is drained first: it takes no request after `drained` (a scrape or two before
    it stops, so Prometheus sees every request it answered)."""

    pod: str
    up: float
    down: float
    offset: float = 0.25
    drained: float | None = None

    @property
    def serves_until(self) -> float:
        return self.down if self.drained is None else min(self.drained, self.down)

    def scrapes(self, interval: float) -> list[float]:
        first = math.ceil((self.up - self.offset) / interval) * interval + self.offset
        times = []
        at = first
        while at < self.down:
            times.append(round(at, 3))
            at += interval
        return times


def quantile(values: list[float], q: float) -> float:
    """The exact q-quantile by nearest rank: what the log says."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


@dataclass
class App:
    """Serves requests and instruments them as prometheus_client does: `http_requests_total`
    labelled with the pod, route and `status_label`; a duration histogram named `histogram`
    whose bucket bounds are `buckets` (in the histogram's own unit: `scale` of them to a
    second)."""

    processes: list[Process]
    status_label: str = "code"
    histogram: str = "http_request_duration_seconds"
    buckets: tuple[float, ...] = DEFAULT_BUCKETS_S
    scale: float = 1.0  # histogram units per second: 1000 for milliseconds
    interval: float = 15.0
    job: str = "shop"
    log: list[Served] = field(default_factory=list)

    def serve(
        self,
        rng: random.Random,
        start: float,
        end: float,
        per_second: float,
        errors: dict[int, float],
        median_ms: float = 80.0,
        routes: tuple[str, ...] = ("/", "/api/cart", "/api/checkout"),
    ) -> None:
        """Requests from `start` to `end` at `per_second` to each running process; `errors` maps a
        status to its share of requests (the rest are 200)."""
        for process in self.processes:
            at = max(start, process.up)
            while True:
                at += rng.expovariate(per_second)
                if at >= min(end, process.serves_until):
                    break
                draw, status = rng.random(), 200
                for code, share in errors.items():
                    if draw < share:
                        status = code
                        break
                    draw -= share
                duration = median_ms * math.exp(rng.gauss(0, 0.9))
                self.log.append(Served(at, process.pod, rng.choice(routes), status, duration))
        self.log.sort(key=lambda s: s.at)

    def truth(self, start: float, end: float, route: str | None = None) -> list[Served]:
        return [s for s in self.log if start <= s.at < end and (route is None or s.route == route)]

    def openmetrics(self) -> str:
        """Every scrape of every process, as OpenMetrics with time stamps (for `backfill`)."""
        counters: list[tuple[float, str, float]] = []
        histograms: list[tuple[float, str, float]] = []
        bounds = [*self.buckets, math.inf]
        for process in self.processes:
            served = [s for s in self.log if s.pod == process.pod and process.up <= s.at]
            served = [s for s in served if s.at < process.down]
            requests: dict[tuple[str, str], int] = defaultdict(int)
            counts: dict[str, list[int]] = {}
            sums: dict[str, float] = defaultdict(float)
            k = 0
            for at in process.scrapes(self.interval):
                while k < len(served) and served[k].at < at:
                    s = served[k]
                    requests[(s.route, str(s.status))] += 1
                    value = s.duration_ms / 1000 * self.scale
                    per_bucket = counts.setdefault(s.route, [0] * len(bounds))
                    for i, bound in enumerate(bounds):
                        if value <= bound:
                            per_bucket[i] += 1
                    sums[s.route] += value
                    k += 1
                pod = f'job="{self.job}",pod="{process.pod}"'
                for (route, status), n in sorted(requests.items()):
                    labels = f'{pod},route="{route}",{self.status_label}="{status}"'
                    counters.append((at, f"http_requests_total{{{labels}}}", n))
                for route, per_bucket in sorted(counts.items()):
                    for bound, n in zip(bounds, per_bucket, strict=True):
                        le = "+Inf" if math.isinf(bound) else repr(float(bound))
                        name = f'{self.histogram}_bucket{{{pod},route="{route}",le="{le}"}}'
                        histograms.append((at, name, n))
                    histograms.append((at, f'{self.histogram}_count{{{pod},route="{route}"}}', n))
                    histograms.append(
                        (at, f'{self.histogram}_sum{{{pod},route="{route}"}}', sums[route])
                    )
        lines = ["# TYPE http_requests counter"]
        lines += [f"{name} {value} {at:.3f}" for at, name, value in sorted(counters)]
        lines.append(f"# TYPE {self.histogram} histogram")
        # One histogram's samples of one scrape stay together, buckets in order.
        lines += [f"{name} {value:.6g} {at:.3f}" for at, name, value in histograms]
        return "\n".join([*lines, "# EOF", ""])
