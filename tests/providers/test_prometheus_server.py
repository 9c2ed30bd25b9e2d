"""The `prometheus` provider against a real Prometheus scraping the example shop: what the gate
reports must be what the shop served, counted independently from the shop's request log and its
own metrics registry.

The story: a blue/green deploy. `blue` (the old release) serves the baseline; `green` (the new one,
with cart errors and a slow checkout) serves the release window. Prometheus scrapes both every
second. The shop creates a label set when it first observes it, as most apps do, so every series
is born inside its window: `increase()` would drop each one's first count; the provider counts
sample differences, a new series from 0.

Why the counts can be exact: each window starts on the last scrape of its deployment before the
traffic and ends on the first scrape after it, so no request falls between a window's edge and
the scrape that counts it: the baseline on scrapes of blue, the release on scrapes of green. The
other deployment stays flat through a window and adds exactly 0. Prometheus 2.x selects samples in
[end - range, end]; Prometheus 3 leaves the start out, which changes nothing here: the sample at a
window's start is the one its counts start from."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from prometheus_server import start_prometheus

from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.results import Verdict
from examples.shop.metrics import DURATION_BUCKETS
from examples.shop.server import running
from examples.shop.shop import create_app
from examples.shop.simulate import simulate

__all__ = ["start_prometheus"]

pytestmark = [pytest.mark.server, pytest.mark.slow]

T_S = 0.25  # Apdex T; T and 4T (1.0 s) are bucket bounds of the shop's histogram
STATUSES = ("200", "303", "400", "404", "405", "422", "500")
CART_RUSH = 120  # with green's 8% cart errors: no error at all has a chance of 1 in 20,000
# Prometheus may move a scrape's time stamp by up to 2 ms to keep the interval even: a scrape that
# counts as "after the traffic" starts well after the last answer.
SETTLE_MS = 100
SIM_START = datetime(2026, 11, 10, 14, 0, tzinfo=UTC)  # the customers' simulated afternoon


# --- the shop -----------------------------------------------------------------------------------


@dataclass
class Shop:
    name: str
    url: str
    app: Flask
    log_dir: Path

    @property
    def port(self) -> str:
        return self.url.rsplit(":", 1)[1]

    def requests_logged(self) -> list[dict]:
        text = (self.log_dir / "requests.ndjson").read_text()
        return [json.loads(line) for line in text.splitlines()]

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of the shop's own prometheus_client registry, read directly."""
        registry = self.app.extensions["shop"].metrics.registry
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for metric in registry.collect()
            for s in metric.samples
        }


@pytest.fixture
def shops(tmp_path) -> Iterator[dict[str, Shop]]:
    """Blue (the old release) and green (the new one, with cart errors and a slow checkout),
    each serving on its own port with its own logs and metrics."""
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # a line per request otherwise
    releases = {"blue": (), "green": ("cart_errors", "slow_checkout")}
    with ExitStack() as stack:
        stack.callback(werkzeug.setLevel, level)
        started: dict[str, Shop] = {}
        for seed, (name, regressions) in enumerate(releases.items()):
            app = create_app(
                tmp_path / name, regressions=regressions, rng=random.Random(seed), latency_scale=1
            )
            stack.callback(app.extensions["shop"].close)
            url = stack.enter_context(running(app))
            started[name] = Shop(name, url, app, tmp_path / name)
        yield started


# --- Prometheus ---------------------------------------------------------------------------------


def _last_scrape_ms(prometheus: str, deployment: str) -> int | None:
    answer = requests.post(
        f"{prometheus}/api/v1/query",
        data={"query": f'timestamp(up{{deployment="{deployment}"}})'},
        timeout=5,
    ).json()
    result = answer["data"]["result"]
    return round(float(result[0]["value"][1]) * 1000) if result else None


def _scrape_after(prometheus: str, deployment: str, after_ms: float) -> int:
    """The time (ms) of the latest scrape of `deployment` once one is later than `after_ms`."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        last = _last_scrape_ms(prometheus, deployment)
        if last is not None and last > after_ms:
            return last
        time.sleep(0.1)
    raise AssertionError(f"no scrape of {deployment} after {after_ms} within 15 s")


def _add_to_cart(url: str) -> int:
    return requests.post(f"{url}/api/cart", json={"product_id": 1}, timeout=10).status_code


def _drive(shop: Shop, seed: int) -> int:
    """Customers through `shop` over HTTP, then a rush on one product's add-to-cart (so that
    green's 8% cart errors show for certain); the wall-clock time (ms) the last one was answered."""
    summary = simulate(
        None,
        start=SIM_START,
        end=SIM_START + timedelta(minutes=30),
        sessions_per_hour=50,
        seed=seed,
        url=shop.url,
    )
    assert summary.requests > 100, summary.describe()
    with ThreadPoolExecutor(4) as rush:
        list(rush.map(_add_to_cart, [shop.url] * CART_RUSH))
    return round(time.time() * 1000)


# --- the truth, counted without Prometheus ------------------------------------------------------


@dataclass(frozen=True)
class Served:
    requests: int
    errors: int
    satisfied: int  # duration <= T
    tolerating: int  # T < duration <= 4T

    @property
    def apdex(self) -> float:
        return (self.satisfied + self.tolerating / 2) / self.requests


def served_by_registry(shop: Shop, route_prefix: str = "") -> Served:
    """From the shop's own metrics registry: exact, and independent of any scrape."""
    samples = shop.samples()

    def total(name: str, **wanted: str) -> int:
        return round(
            sum(
                value
                for (sample, labels), value in samples.items()
                if sample == name
                and dict(labels).get("route", "").startswith(route_prefix)
                and all(dict(labels).get(k) == v for k, v in wanted.items())
            )
        )

    errors = sum(total("shop_http_requests_total", status=s) for s in STATUSES if s.startswith("5"))
    within_t = total("shop_http_request_duration_seconds_bucket", le="0.25")
    within_4t = total("shop_http_request_duration_seconds_bucket", le="1.0")
    return Served(
        requests=total("shop_http_requests_total"),
        errors=errors,
        satisfied=within_t,
        tolerating=within_4t - within_t,
    )


def served_by_log(lines: list[dict], route_prefix: str = "") -> tuple[Served, int]:
    """From the request log; and how many durations lie within the log's rounding (0.1 ms) of
    T or 4T, where the log cannot tell which side of the bound the histogram saw."""
    lines = [line for line in lines if (line["route"] or "unmatched").startswith(route_prefix)]
    ms = [line["duration_ms"] for line in lines]
    edges = (T_S * 1000, 4 * T_S * 1000)
    return (
        Served(
            requests=len(lines),
            errors=sum(line["status"] >= 500 for line in lines),
            satisfied=sum(d <= edges[0] for d in ms),
            tolerating=sum(edges[0] < d <= edges[1] for d in ms),
        ),
        sum(any(abs(d - edge) <= 0.05 for edge in edges) for d in ms),
    )


def bucket_index(seconds: float) -> int:
    """Which histogram bucket a duration falls in (0: at or under the first bound)."""
    return next(
        (i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound), len(DURATION_BUCKETS)
    )


def stamp(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


# --- the test -----------------------------------------------------------------------------------


def test_the_gate_reports_what_the_shop_served(tmp_path, shops, start_prometheus):
    blue, green = shops["blue"], shops["green"]
    prometheus = start_prometheus(
        [
            {
                "job_name": "shop",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{s.port}"], "labels": {"deployment": s.name}}
                    for s in (blue, green)
                ],
            }
        ]
    )
    # Both deployments scraped at least once with every series at 0.
    b0 = _scrape_after(prometheus, "blue", 0)
    _scrape_after(prometheus, "green", 0)

    # The baseline: customers on blue, between two scrapes of blue.
    blue_done = _drive(blue, seed=11)
    b1 = _scrape_after(prometheus, "blue", blue_done + SETTLE_MS)
    # The release: customers on green, between two scrapes of green, after the baseline.
    r0 = _scrape_after(prometheus, "green", b1)
    green_done = _drive(green, seed=12)
    r1 = _scrape_after(prometheus, "green", green_done + SETTLE_MS)

    (tmp_path / "cxe.yml").write_text(
        f"""
release: {{name: green, deployed_at: "{stamp(b1).isoformat(timespec="milliseconds")}"}}
windows:
  baseline: {{start: -{b1 - b0}ms, end: 0ms}}
  release: {{start: {r0 - b1}ms, end: {r1 - b1}ms}}
gate: {{deadline: 30s}}
providers:
  prom:
    type: prometheus
    url: {prometheus}
    requests_counter: shop_http_requests_total
    duration_histogram: shop_http_request_duration_seconds
    status_label: status
    selector: 'job="shop"'
    timeout: 5s
    backoff: 10ms
criteria:
  - {{name: errors, metric: error_rate, max_rise: 0.5pp, min_samples: 50}}
  - {{name: api errors, metric: error_rate, filter: 'route=~"/api/.*"', max: 1%, min_samples: 50}}
  - {{name: apdex, metric: apdex, t: 250ms, max_drop: 0.05, min_samples: 50}}
  - {{name: p90, metric: latency, percentile: 90, max_rise: 50%, min_samples: 50}}
"""
    )
    report = evaluate(load(tmp_path / "cxe.yml"), now=stamp(r1) + timedelta(seconds=1))
    results = {c.name: c for c in report.criteria}
    assert not [c.message for c in report.criteria if c.verdict == Verdict.ERROR]

    # The scenario holds: each deployment's traffic lies inside its window, and its series were
    # born inside it (none existed at the window's start).
    for shop, (start, end) in ((blue, (b0, b1)), (green, (r0, r1))):
        logged = shop.requests_logged()
        times = [datetime.fromisoformat(line["timestamp"]) for line in logged]
        assert stamp(start) < min(times) and max(times) < stamp(end)
        before = requests.post(
            f"{prometheus}/api/v1/query",
            data={
                "query": f'shop_http_requests_total{{deployment="{shop.name}"}}',
                "time": f"{start / 1000:.3f}",
            },
            timeout=5,
        ).json()
        assert before["data"]["result"] == []
    assert any("began inside the window" in note for note in results["errors"].notes)

    # The truth, twice: the log and the registry agree with each other...
    truth = {}
    for label, shop in (("baseline", blue), ("release", green)):
        registry = served_by_registry(shop)
        logged, unsure = served_by_log(shop.requests_logged())
        assert (logged.requests, logged.errors) == (registry.requests, registry.errors)
        assert abs(logged.satisfied - registry.satisfied) <= unsure
        assert (
            abs(logged.satisfied + logged.tolerating - registry.satisfied - registry.tolerating)
            <= unsure
        )
        truth[label] = registry
    assert truth["baseline"].errors == 0 < truth["release"].errors  # blue is sound, green is not

    # ...and the gate agrees with them, count for count.
    errors = results["errors"]
    for label in ("baseline", "release"):
        served = truth[label]
        assert errors.details[label]["requests"] == served.requests
        assert errors.details[label]["errors"] == served.errors
    assert (errors.samples, errors.baseline_samples) == (
        truth["release"].requests,
        truth["baseline"].requests,
    )
    assert errors.value == truth["release"].errors / truth["release"].requests
    assert errors.baseline == 0.0

    apdex = results["apdex"]
    for label in ("baseline", "release"):
        served = truth[label]
        assert apdex.details[label] == {
            "satisfied": served.satisfied,
            "tolerating": served.tolerating,
            "frustrated": served.requests - served.satisfied - served.tolerating,
        }
    assert apdex.value == pytest.approx(truth["release"].apdex, abs=1e-12)
    assert apdex.baseline == pytest.approx(truth["baseline"].apdex, abs=1e-12)
    assert apdex.value < apdex.baseline  # the slow checkout shows

    api = results["api errors"]
    api_served = served_by_registry(green, route_prefix="/api/")
    api_logged, _ = served_by_log(green.requests_logged(), route_prefix="/api/")
    assert (api_logged.requests, api_logged.errors) == (api_served.requests, api_served.errors)
    assert api.details["release"]["requests"] == api_served.requests
    assert api.details["release"]["errors"] == api_served.errors
    assert api.value == api_served.errors / api_served.requests > errors.value

    # A percentile from buckets is an interpolation: it must land in the bucket that holds the
    # true p90 of the release's durations (nearest rank, from the log).
    p90 = results["p90"]
    durations = sorted(line["duration_ms"] for line in green.requests_logged())
    true_p90_ms = durations[max(0, -(-len(durations) * 90 // 100) - 1)]
    assert p90.samples == truth["release"].requests
    assert p90.unit == "ms"
    assert bucket_index(p90.value / 1000) == bucket_index(true_p90_ms / 1000)
    assert p90.details["release"]["seconds"] * 1000 == pytest.approx(p90.value)
    assert "sum by (le) (" in p90.queries["release"]
    assert any("p90 is interpolated from bucket counts" in note for note in p90.notes)
