"""Does the gate decide right, and how early? Simulated releases, labelled good or regressed, judged
by the gate's own sequential code and by its peers' methods on the same data. Two sections:

1. Two hours after the deploy, three metrics, four methods (the table below).
2. The baseline designs over a 24-hour wait, conversion only: 24 h before/after, same hours ×7,
   cohorts 50/50 and 10/90, static thresholds and Mann-Whitney, each against the oracle (one test
   at the deadline that knows the truth), at 3% and 30% base conversion: see bench_designs.py,
   whose docstring describes its simulation, designs and oracle.

Section 1. Each release is a deploy at a random time between 08:00 and 18:00, two hours of traffic
after it in 5-minute intervals, and the 24 hours before it as the baseline. Traffic follows the hour
of day (half the average at 04:00, one and a half at 16:00); every metric's true value swings a
little with the hour and by a per-day jitter, so a good release is close to its baseline, never
identical. A regression multiplies one metric's true value in the release window. Counts are drawn
per interval with numpy: sessions (Poisson), conversions (binomial), requests (Poisson, 5 per
session), errors (binomial), and lognormal response times, summed per interval (drawn one by one
under 600 requests an interval, by the central limit theorem above).

The methods, all with the same declared tolerances (conversion may drop 2%, the error rate rise
25%, latency rise 10%, relative to the baseline):

- cxe-gate sequential: `gate.evaluate(sequential=Schedule(look, share))` polled every 5 minutes up to
  2 hours, each look judged by cxe_gate.sequential exactly as the gate judges it (conversion and
  error rate as rates, mean latency with its per-request variance: a percentile has no sequential
  test); stops at the first fail or when every criterion passes; undecided at 2 hours is
  inconclusive, which is neither a block nor a detection in the table. (The numerically integrated
  boundary is computed only for releases whose |Z| reaches the first look's boundary at the same
  information fraction, which no later look's is below: the verdicts are those of
  `sequential.look` on every release; see bench_designs.look_sparingly.)
- static thresholds, as an Argo Rollouts or Flagger analysis runs: every 5 minutes the last
  interval's conversion, error rate and p95 latency are held to fixed thresholds a team would set
  from the previous day: the looser of its worst 1% of 5-minute values and its mean moved by the
  tolerance. A metric failing 3 measurements (failureLimit: 2) fails the release at once;
  otherwise it passes after 24 measurements (2 hours).
- Mann-Whitney, as Kayenta judges a canary: after 2 hours, per metric, the 24 interval values of the
  release against the 24 of the same hours the day before, one-sided Mann-Whitney U; a metric fails
  when p < 0.05 and its median moved beyond the tolerance; score = 100 × passed / 3, pass at 75.
- fixed judge polled: the gate's fixed-window judge (`sequential=False`) re-run every 5 minutes and
  believed at its first answer: what polling would do without a sequential test.

Good releases drift from their baseline by at most about half of each tolerance (printed), so
blocking one is a false block. Prints one table: per traffic level, the false-block and pass rates
on good releases, the detection rate per regression, and the median time to a decision (the
deadline, 2 hours, when none came), per method.

    python benchmarks/bench_decision.py [--quick] [--good 10000] [--regressed 2000]
        [--releases 2000] [--seed 8] [--section all|two-hours|designs]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr
from scipy.stats import mannwhitneyu

from cxe_gate import sequential as sq

try:  # imported as benchmarks.bench_decision (tests/core/test_sequential.py)
    from . import bench_designs
except ImportError:  # run as a script: benchmarks/ is on the path
    import bench_designs

INTERVAL_MINUTES = 5
LOOKS = 24  # 2 hours of 5-minute intervals
BASELINE_INTERVALS = 24 * 60 // INTERVAL_MINUTES
TRAFFIC = (300, 2_000, 20_000, 100_000)  # sessions per hour, the day's average
REQUESTS_PER_SESSION = 5
LATENCY_SPREAD = 0.6  # σ of log response time: p95 ≈ 2.4 × the median
EXACT_BELOW = 600  # requests per interval drawn one by one below this
ALPHA = 0.05  # the criteria's alpha (cxe-gate's default)
MIN_SAMPLES = 100  # the criteria's min_samples (cxe-gate's default)


@dataclass(frozen=True)
class Model:
    """One metric's truth and the gate's declared tolerance for it."""

    name: str
    base: float  # the true value, averaged over a day
    breach: sq.Direction  # which way is worse
    tolerance: float  # max_drop or max_rise, relative to the baseline
    day_jitter: float  # sd of the per-day relative jitter of the true value (cut at 2 sd)
    seasonal: float  # relative swing of the true value with the hour of day


MODELS = (
    Model("conversion", 0.30, "less", 0.02, 0.004, 0.003),
    Model("error rate", 0.005, "greater", 0.25, 0.05, 0.03),
    Model("latency", 250.0, "greater", 0.10, 0.02, 0.015),  # mean response time, ms
)
SCENARIOS: tuple[tuple[str, str | None, float], ...] = (
    ("good", None, 1.0),
    ("conversion -2%", "conversion", 0.98),
    ("conversion -5%", "conversion", 0.95),
    ("conversion -10%", "conversion", 0.90),
    ("error rate x1.5", "error rate", 1.5),
    ("error rate x2", "error rate", 2.0),
    ("latency +20%", "latency", 1.2),
    ("latency +50%", "latency", 1.5),
)


@dataclass(frozen=True)
class Window:
    """Per-interval counts of one window for every simulated release: arrays (releases, intervals)."""

    sessions: np.ndarray
    conversions: np.ndarray
    requests: np.ndarray
    errors: np.ndarray
    latency_sum: np.ndarray
    latency_squares: np.ndarray
    p95: np.ndarray  # the interval's p95 latency, ms


@dataclass(frozen=True)
class Simulated:
    release: Window
    baseline: Window
    drift: dict[str, np.ndarray]  # true release value / true baseline value - 1, before regression


def _swing(clock_hours: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * (clock_hours - 10) / 24)  # peaks at 16:00, lowest at 04:00


def _latency(
    rng: np.random.Generator, means: np.ndarray, requests: np.ndarray, exact: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per interval: sum and sum of squares of lognormal response times, and the p95."""
    s = LATENCY_SPREAD
    mu = np.log(means) - s**2 / 2
    n = requests.astype(float)
    if exact:
        ids = np.repeat(np.arange(requests.size), requests.ravel())
        draws = rng.lognormal(mu.ravel()[ids], s)
        total = np.bincount(ids, weights=draws, minlength=requests.size).reshape(requests.shape)
        squares = np.bincount(ids, weights=draws**2, minlength=requests.size)
        squares = squares.reshape(requests.shape)
    else:
        # Joint normal limit of (Σx, Σx²): moments of the lognormal, E[x^k] = exp(kμ + k²s²/2).
        m1, m2, m3, m4 = (np.exp(k * mu + k**2 * s**2 / 2) for k in (1, 2, 3, 4))
        var1, var2, cov = m2 - m1**2, m4 - m2**2, m3 - m1 * m2
        z1, z2 = rng.standard_normal((2, *means.shape))
        c = cov / np.sqrt(var1)
        total = n * m1 + np.sqrt(n * var1) * z1
        squares = n * m2 + np.sqrt(n) * (c * z1 + np.sqrt(np.maximum(var2 - c**2, 0)) * z2)
    # The sample p95's normal limit: sd = sqrt(p(1-p) / n) / density at the p95.
    z95 = 1.6448536269514722
    q95 = np.exp(mu + z95 * s)
    density = np.exp(-(z95**2) / 2) / np.sqrt(2 * np.pi) / (q95 * s)
    sd = np.sqrt(0.95 * 0.05 / np.maximum(n, 1)) / density
    p95 = np.where(n > 0, q95 + sd * rng.standard_normal(means.shape), np.nan)
    return total, squares, p95


def _window(
    rng: np.random.Generator,
    traffic: float,
    clock: np.ndarray,
    truth: dict[str, np.ndarray],
    exact_latency: bool,
) -> Window:
    expected = traffic * (1 + 0.5 * _swing(clock)) * INTERVAL_MINUTES / 60
    sessions = rng.poisson(expected)
    requests = rng.poisson(REQUESTS_PER_SESSION * sessions)
    total, squares, p95 = _latency(rng, truth["latency"], requests, exact_latency)
    return Window(
        sessions=sessions,
        conversions=rng.binomial(sessions, truth["conversion"]),
        requests=requests,
        errors=rng.binomial(requests, truth["error rate"]),
        latency_sum=total,
        latency_squares=squares,
        p95=p95,
    )


def simulate(
    rng: np.random.Generator,
    traffic: float,
    releases: int,
    regression: dict[str, float] | None = None,
    models: tuple[Model, ...] = MODELS,
) -> Simulated:
    """`releases` deploys at `traffic` sessions per hour; `regression` multiplies metrics' true
    values in the release window ({"conversion": 0.95})."""
    regression = regression or {}
    deploy = rng.uniform(8, 18, (releases, 1))  # clock hour of the deploy
    step = INTERVAL_MINUTES / 60
    after = deploy + step * (np.arange(LOOKS) + 0.5)
    before = deploy - 24 + step * (np.arange(BASELINE_INTERVALS) + 0.5)
    yesterday = before < 0  # the 24 hours before the deploy span yesterday and today
    jitter = {
        m.name: m.day_jitter * np.clip(rng.standard_normal((releases, 2)), -2, 2) for m in models
    }  # [:, 0] yesterday, [:, 1] today
    release_truth, baseline_truth, drift = {}, {}, {}
    for m in models:
        day = jitter[m.name]
        release_truth[m.name] = (
            m.base
            * (1 + day[:, 1:])
            * (1 + m.seasonal * _swing(after))
            * regression.get(m.name, 1.0)
        )
        baseline_truth[m.name] = (
            m.base
            * (1 + np.where(yesterday, day[:, :1], day[:, 1:]))
            * (1 + m.seasonal * _swing(before))
        )
        drift[m.name] = (
            release_truth[m.name].mean(axis=1) / regression.get(m.name, 1.0)
        ) / baseline_truth[m.name].mean(axis=1) - 1
    exact = traffic * REQUESTS_PER_SESSION * 1.5 * INTERVAL_MINUTES / 60 < EXACT_BELOW
    return Simulated(
        release=_window(rng, traffic, after, release_truth, exact),
        baseline=_window(rng, traffic, before % 24, baseline_truth, exact_latency=False),
        drift=drift,
    )


# ---------------------------------------------------------------------------------------------
# the methods. Each returns (verdict, minutes): verdict 1 fail, -1 pass, 0 undecided at the end.


@dataclass(frozen=True)
class Decisions:
    verdict: np.ndarray
    minutes: np.ndarray


def _counts(window: Window, metric: str, upto: int | None = None) -> sq.Counts:
    """The gate's measurement of one metric over the window's first `upto` intervals."""

    def total(values: np.ndarray) -> np.ndarray:
        return values[:, :upto].sum(axis=1)

    if metric == "conversion":
        return sq.Counts(samples=total(window.sessions), successes=total(window.conversions))
    if metric == "error rate":
        return sq.Counts(samples=total(window.requests), successes=total(window.errors))
    n, s, q = total(window.requests), total(window.latency_sum), total(window.latency_squares)
    mean = s / np.maximum(n, 1)
    variance = np.maximum(q - n * mean**2, 0) / np.maximum(n - 1, 1)
    return sq.Counts(samples=n, mean=mean, variance=variance)


def _rule(model: Model, baseline: sq.Counts) -> sq.Rule:
    return sq.relative_rule(model.breach, model.tolerance, baseline)


def _first_decision(outcome_per_look: list[np.ndarray]) -> Decisions:
    """Stop at the first look that decides (1 fail or -1 pass); 0 at the deadline otherwise."""
    outcomes = np.stack(outcome_per_look, axis=1)
    decided = outcomes != 0
    first = np.where(decided.any(axis=1), decided.argmax(axis=1), len(outcome_per_look) - 1)
    verdict = outcomes[np.arange(len(outcomes)), first]
    return Decisions(verdict, (first + 1) * INTERVAL_MINUTES)


def _combine(fails: list[np.ndarray], passes: list[np.ndarray]) -> np.ndarray:
    """The release's verdict at one look: any criterion failing fails it; all passing pass it."""
    failed = np.logical_or.reduce(fails)
    passed = np.logical_and.reduce(passes)
    return np.where(failed, 1, np.where(passed, -1, 0))


def sequential_outcomes(
    sim: Simulated, look: int, models: tuple[Model, ...] = MODELS
) -> dict[str, np.ndarray]:
    """Each criterion's verdict at one look (1 fail, -1 pass, 0 not decided yet), as
    `judge(sequential=True)` gives it: min_samples first, then cxe_gate.sequential.look."""
    outcomes = {}
    for m in models:
        baseline = _counts(sim.baseline, m.name)
        release = _counts(sim.release, m.name, look)
        schedule = sq.Schedule(look=look, share=look / LOOKS)
        breach, clear = bench_designs.look_sparingly(
            lambda counts, m=m: _rule(m, counts), release, baseline, ALPHA, schedule
        )
        enough = (release.samples >= MIN_SAMPLES) & (baseline.samples >= MIN_SAMPLES)
        outcomes[m.name] = np.where(enough & breach, 1, np.where(enough & clear, -1, 0))
    return outcomes


def gate_sequential(sim: Simulated, models: tuple[Model, ...] = MODELS) -> Decisions:
    per_look = []
    for k in range(1, LOOKS + 1):
        outcomes = sequential_outcomes(sim, k, models).values()
        per_look.append(_combine([o == 1 for o in outcomes], [o == -1 for o in outcomes]))
    return _first_decision(per_look)


def _z_tail(release: sq.Counts, baseline: sq.Counts, breach: sq.Direction) -> np.ndarray:
    """The fixed judge's one-sided p-value of "release = baseline" (cxe_gate.stats, vectorized):
    pooled two-proportion z-test for rates, Welch z-test for means."""
    r, b = release.estimate, baseline.estimate
    if release.is_rate:
        pooled = (release.successes + baseline.successes) / (release.samples + baseline.samples)
        se = np.sqrt(pooled * (1 - pooled) * (1 / release.samples + 1 / baseline.samples))
    else:
        se = np.sqrt(
            release.variance / np.maximum(release.samples, 1) + baseline.variance / baseline.samples
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (r - b) / se
    z = np.where(se > 0, z, 0.0)
    return ndtr(z) if breach == "less" else ndtr(-z)


def fixed_polled(sim: Simulated, models: tuple[Model, ...] = MODELS) -> Decisions:
    baselines = {m.name: _counts(sim.baseline, m.name) for m in models}
    per_look = []
    for k in range(1, LOOKS + 1):
        fails, passes = [], []
        for m in models:
            release, base = _counts(sim.release, m.name, k), baselines[m.name]
            sign = -1 if m.breach == "less" else 1
            threshold = base.estimate * (1 + sign * m.tolerance)
            over = (release.estimate - threshold) * sign > 0
            significant = _z_tail(release, base, m.breach) < ALPHA
            enough = release.samples >= MIN_SAMPLES
            fails.append(enough & over & significant)
            passes.append(enough & ~over)
        per_look.append(_combine(fails, passes))
    return _first_decision(per_look)


def _interval_values(window: Window, metric: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "conversion":
            return window.conversions / window.sessions
        if metric == "error rate":
            return window.errors / window.requests
    return window.p95


FAILURE_LIMIT = 2  # Argo Rollouts' failureLimit: the analysis fails at the third failed measurement
THRESHOLD_QUANTILE = 0.01  # the previous day's worst 1% of 5-minute values


def static_thresholds(sim: Simulated, models: tuple[Model, ...] = MODELS) -> Decisions:
    minutes = np.full(len(sim.release.sessions), LOOKS * INTERVAL_MINUTES)
    failed = np.zeros(len(minutes), dtype=bool)
    for m in models:
        history = _interval_values(sim.baseline, m.name)
        values = _interval_values(sim.release, m.name)
        worse = 1 - THRESHOLD_QUANTILE if m.breach == "greater" else THRESHOLD_QUANTILE
        noise = np.nanquantile(history, worse, axis=1, keepdims=True)
        # The looser of the day's noise and the declared tolerance: a team would not page on a
        # drift it declared harmless, nor on a 5-minute blip it sees every day.
        sign = 1 if m.breach == "greater" else -1
        declared = np.nanmean(history, axis=1, keepdims=True) * (1 + sign * m.tolerance)
        threshold = np.maximum(noise, declared) if sign > 0 else np.minimum(noise, declared)
        # An interval without data is no measurement (Argo: inconclusive), not a failure.
        bad = values > threshold if m.breach == "greater" else values < threshold
        count = np.cumsum(bad, axis=1)
        over = count > FAILURE_LIMIT
        at = np.where(over.any(axis=1), (over.argmax(axis=1) + 1) * INTERVAL_MINUTES, minutes[0])
        minutes = np.where(over.any(axis=1), np.minimum(minutes, at), minutes)
        failed |= over.any(axis=1)
    return Decisions(np.where(failed, 1, -1), minutes)


PASS_SCORE = 75


def mann_whitney(sim: Simulated, models: tuple[Model, ...] = MODELS) -> Decisions:
    passed = np.zeros(len(sim.release.sessions))
    for m in models:
        release = _interval_values(sim.release, m.name)
        # The same clock hours the day before: the first 2 hours of the 24-hour baseline.
        baseline = _interval_values(sim.baseline, m.name)[:, :LOOKS]
        alternative = "greater" if m.breach == "greater" else "less"
        p = mannwhitneyu(release, baseline, alternative=alternative, axis=1, nan_policy="omit")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.nanmedian(release, axis=1) / np.nanmedian(baseline, axis=1)
        ratio = np.where(np.isnan(ratio), 1.0, ratio)  # 0 / 0: both medians zero, no change
        moved = ratio > 1 + m.tolerance if m.breach == "greater" else ratio < 1 - m.tolerance
        passed += ~((np.asarray(p.pvalue) < ALPHA) & moved)
    score = 100 * passed / len(models)
    return Decisions(
        np.where(score >= PASS_SCORE, -1, 1), np.full(len(score), LOOKS * INTERVAL_MINUTES)
    )


METHODS = {
    "cxe-gate sequential": gate_sequential,
    "static thresholds": static_thresholds,
    "Mann-Whitney": mann_whitney,
    "fixed judge polled": fixed_polled,
}


# ---------------------------------------------------------------------------------------------
# the run


@dataclass(frozen=True)
class Run:
    decisions: dict[tuple[str, int], dict[str, Decisions]]  # (scenario, traffic) → method → …
    drift: dict[str, float]  # the largest |true drift| of a good release, per metric


CHUNK = 2_000  # releases simulated at once: a day of 5-minute intervals each, ~250 MB at most


def run(good: int, regressed: int, seed: int) -> Run:
    rng = np.random.default_rng(seed)
    decisions = {}
    drift = {m.name: 0.0 for m in MODELS}
    for traffic in TRAFFIC:
        for label, metric, factor in SCENARIOS:
            count = good if metric is None else regressed
            parts: dict[str, list[Decisions]] = {name: [] for name in METHODS}
            for start in range(0, count, CHUNK):
                size = min(CHUNK, count - start)
                sim = simulate(rng, traffic, size, {metric: factor} if metric else None)
                for name, method in METHODS.items():
                    parts[name].append(method(sim))
                if metric is None:
                    for name, values in sim.drift.items():
                        drift[name] = max(drift[name], float(np.abs(values).max()))
            decisions[label, traffic] = {
                name: Decisions(
                    np.concatenate([d.verdict for d in chunks]),
                    np.concatenate([d.minutes for d in chunks]),
                )
                for name, chunks in parts.items()
            }
    return Run(decisions, drift)


def _percent(values: np.ndarray) -> str:
    return f"{100 * values.mean():.1f}%"


def _minutes(values: np.ndarray) -> str:
    return f"{np.median(values):.0f} min"


def table(result: Run) -> list[str]:
    """One row per scenario and traffic level, one column per method."""
    names = list(METHODS)
    width = max(len(n) for n in names) + 2
    lines = [f"{'':24}{'sessions/h':>10}" + "".join(f"{n:>{width}}" for n in names)]
    rule = "-" * len(lines[0])

    def row(label: str, traffic: object, cells: list[str]) -> str:
        return f"{label:24}{traffic:>10}" + "".join(f"{c:>{width}}" for c in cells)

    def block(label: str, scenarios: list[str], cell) -> None:
        lines.append(rule)
        for traffic in TRAFFIC:
            picked = [result.decisions[s, traffic] for s in scenarios]
            cells = [
                cell(
                    np.concatenate([p[n].verdict for p in picked]),
                    np.concatenate([p[n].minutes for p in picked]),
                )
                for n in names
            ]
            lines.append(row(label if traffic == TRAFFIC[0] else "", f"{traffic:,}", cells))

    block("good: false block", ["good"], lambda v, m: _percent(v == 1))
    block("good: passed", ["good"], lambda v, m: _percent(v == -1))
    for label, _, _ in SCENARIOS[1:]:
        block(f"{label}: detected", [label], lambda v, m: _percent(v == 1))
    everything = [label for label, _, _ in SCENARIOS]
    block("median time to decision", everything, lambda v, m: _minutes(m))
    lines.append(rule)
    for label, scenarios in (
        ("good", ["good"]),
        ("regressed", everything[1:]),
        ("all", everything),
    ):
        cells = [
            _minutes(
                np.concatenate(
                    [result.decisions[s, t][n].minutes for s in scenarios for t in TRAFFIC]
                )
            )
            for n in names
        ]
        lines.append(row(f"median time: {label}", "all", cells))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", type=int, default=10_000, help="good releases per traffic level")
    parser.add_argument("--regressed", type=int, default=2_000, help="releases per regression cell")
    parser.add_argument(
        "--releases",
        type=int,
        default=2_000,
        help="section 2: releases per base rate, traffic level and scenario",
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a tenth of the releases")
    parser.add_argument("--section", choices=("all", "two-hours", "designs"), default="all")
    args = parser.parse_args()
    good, regressed, releases = args.good, args.regressed, args.releases
    if args.quick:
        good, regressed, releases = good // 10, regressed // 10, releases // 10

    started = time.perf_counter()
    if args.section in ("all", "two-hours"):
        print("1. Two hours after the deploy: three metrics, four methods")
        print()
        two_hours(good, regressed, args.seed)
    if args.section in ("all", "designs"):
        if args.section == "all":
            print()
        print("2. Baseline designs over a 24-hour wait: conversion, against the oracle")
        print()
        begun = time.perf_counter()
        result = bench_designs.run(releases, args.seed)
        print("\n".join(bench_designs.report(result)))
        print()
        print(f"section 2 ran in {time.perf_counter() - begun:.0f} s")
    print(f"ran in {time.perf_counter() - started:.0f} s")


def two_hours(good: int, regressed: int, seed: int) -> None:
    begun = time.perf_counter()
    result = run(good, regressed, seed)
    elapsed = time.perf_counter() - begun

    print(
        f"releases: {good:,} good and {regressed:,} per regression, at each traffic level; seed "
        f"{seed}; a look every {INTERVAL_MINUTES} min up to {LOOKS * INTERVAL_MINUTES} min; "
        "baseline: the 24 h before the deploy"
    )
    print(
        "criteria: "
        + ", ".join(
            f"{m.name} {'max_drop' if m.breach == 'less' else 'max_rise'} {m.tolerance:.0%}"
            for m in MODELS
        )
        + f" (latency: the mean); alpha {ALPHA}, min_samples {MIN_SAMPLES}"
    )
    print(
        f"sequential: group-sequential boundary, α spent as α ln(1 + (e-1) t) with t the smaller of "
        f"the wait's share and the information over that for {sq.POWER:.0%} power one tolerance "
        "beyond the limit; a rate "
        f"needs {sq.MIN_EVENTS} events; static: worst {THRESHOLD_QUANTILE:.0%} of yesterday's "
        f"5-min values or the tolerance, failureLimit {FAILURE_LIMIT}; Mann-Whitney: p < {ALPHA} "
        f"and median beyond the tolerance, pass at score {PASS_SCORE}"
    )
    print(
        "truth: "
        + ", ".join(
            f"{m.name} {m.base:g} (day jitter {m.day_jitter:.1%}, hourly swing {m.seasonal:.1%}; "
            f"good releases drift at most {result.drift[m.name]:.1%})"
            for m in MODELS
        )
    )
    print()
    print("\n".join(table(result)))
    print()
    print(f"section 1 ran in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
