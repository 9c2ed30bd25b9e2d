"""Always-valid tests: the mixture SPRT's numbers by hand, and its promise under repeated looks."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import integrate
from scipy.special import ndtr
from scipy.stats import norm

from benchmarks import bench_decision as bench
from cxe_gate import metrics, sequential
from cxe_gate.config import Criterion
from cxe_gate.judge import judge
from cxe_gate.measurement import Measurement, Unit
from cxe_gate.results import Verdict

criterion_of = TypeAdapter(Criterion).validate_python


def test_two_sided_mixture_by_hand():
    # W = τ² = 1, α = 0.05: D² = 2·1·2/1 · ln(√2 / 0.05) = 4 ln 28.28 = 13.369
    assert sequential.two_sided_radius(1.0, 1.0, 0.05) == pytest.approx(3.65639, abs=1e-5)
    # Λ = sqrt(W / (W + τ²)) · exp(τ² D² / (2 W (W + τ²))) = e / √2 at D = 2
    assert sequential.mixture_ratio(2.0, 1.0, 1.0) == pytest.approx(math.e / math.sqrt(2))
    assert sequential.mixture_ratio(3.65639, 1.0, 1.0) == pytest.approx(20, rel=1e-4)


def test_one_sided_mixture_is_the_half_normal_integral():
    # 2 Φ(D τ / sqrt(W (W + τ²))) Λ = 2 Φ(√2) e / √2 = 3.5419 at D = 2, W = τ = 1 ...
    assert sequential.one_sided_ratio(2.0, 1.0, 1.0, "greater") == pytest.approx(3.54188, abs=1e-5)
    # ... which is the likelihood ratio exp(δD - δ²/2) averaged over a half-normal δ > 0.
    by_integral, _ = integrate.quad(lambda d: math.exp(2 * d - d * d / 2) * 2 * norm.pdf(d), 0, 50)
    assert sequential.one_sided_ratio(2.0, 1.0, 1.0, "greater") == pytest.approx(by_integral)
    # Evidence on the other side counts for little: 2 Φ(-√2) e / √2 = 2 × 0.07865 × 1.9221 = 0.3023
    assert sequential.one_sided_ratio(2.0, 1.0, 1.0, "less") == pytest.approx(0.30235, abs=1e-5)


def test_the_one_sided_radius_is_where_the_mixture_reaches_one_over_alpha():
    r = sequential.radius(1.0, 1.0, 0.05)
    assert sequential.one_sided_ratio(-r, 1.0, 1.0, "less") == pytest.approx(20)
    # Half-normal mixing doubles Λ at most: between the two-sided radii at 2α and α.
    assert (
        sequential.two_sided_radius(1.0, 1.0, 0.1) < r < sequential.two_sided_radius(1.0, 1.0, 0.05)
    )
    assert r == pytest.approx(3.26175, abs=1e-5)
    # Elementwise on arrays, as the benchmark calls it.
    both = sequential.radius(np.array([1.0, 4.0]), np.array([1.0, 2.0]), 0.05)
    assert both == pytest.approx([r, 2 * r])  # the radius scales with the standard deviation


def test_a_drop_rule_at_one_look_by_hand():
    baseline = sequential.Counts(samples=24_000, successes=7_200)  # 30%
    release = sequential.Counts(samples=4_000, successes=1_140)  # 28.5%
    rule = sequential.relative_rule("less", 0.02, baseline)
    assert rule.factor == 0.98 and rule.limit == -0.02
    nudged = 7_200.5 / 24_001  # half a success either way
    assert rule.scale == pytest.approx(sequential.MIXTURE_SCALE * 0.02 * nudged)
    seen = sequential.look(rule, release, baseline, 0.05)
    # D = 0.285 - 0.98 × 0.30 = -0.009; W = 0.294 × 0.706 / 4000 + 0.98² × 0.3 × 0.7 / 24000
    assert seen.estimate == pytest.approx(-0.009)
    assert seen.variance == pytest.approx(
        0.294 * 0.706 / 4000 + 0.98**2 * nudged * (1 - nudged) / 24_000
    )
    assert seen.radius == pytest.approx(sequential.radius(seen.variance, rule.scale, 0.05))
    # Read as the change from the baseline: -5% ± radius / 0.30, around the limit -2%.
    assert seen.bounds.lower == pytest.approx(-0.02 + (-0.009 - seen.radius) / 0.3)
    assert seen.bounds.lower < -0.02 < seen.bounds.upper
    assert not seen.breach and not seen.clear  # 4,000 units cannot tell -5% from -2% yet
    # Ten times both windows: W falls tenfold, the radius about threefold, and the drop shows.
    baseline = sequential.Counts(samples=240_000, successes=72_000)
    rule = sequential.relative_rule("less", 0.02, baseline)
    bigger = sequential.look(
        rule, sequential.Counts(samples=40_000, successes=11_400), baseline, 0.05
    )
    assert bigger.breach and bigger.bounds.upper < -0.02
    assert bigger.p_value < 0.05


def test_a_window_without_errors_yet_is_not_certain():
    # The variance is taken at the threshold (0.5%), not at the 0 seen: 100 requests hold 0.5 expected
    # errors, too few for the normal limit, so the look decides nothing.
    baseline = sequential.Counts(samples=100_000, successes=500)
    rule = sequential.relative_rule("greater", 0.0, baseline)
    seen = sequential.look(rule, sequential.Counts(samples=100, successes=0), baseline, 0.05)
    assert not seen.testable and not seen.clear
    later = sequential.look(rule, sequential.Counts(samples=20_000, successes=40), baseline, 0.05)
    assert later.testable and later.clear  # 40 errors where 100 were expected


@pytest.mark.parametrize(
    ("metric", "traffic"),
    [("conversion", 20_000), ("error rate", 2_000), ("latency", 300)],
)
def test_repeated_looks_keep_the_false_alarm_rate_where_naive_tests_do_not(metric, traffic):
    # Releases exactly at the limit (conversion 2% down, errors 25% up, latency 10% up), no day
    # jitter: a breach is never true, so every fail is a false alarm. 24 looks, 5 minutes apart.
    models = tuple(replace(m, day_jitter=0.0, seasonal=0.0) for m in bench.MODELS)
    model = next(m for m in models if m.name == metric)
    at_limit = 1 - model.tolerance if model.breach == "less" else 1 + model.tolerance
    sim = bench.simulate(np.random.default_rng(11), traffic, 400, {metric: at_limit}, models)
    baseline = bench._counts(sim.baseline, metric)
    rule = sequential.relative_rule(model.breach, model.tolerance, baseline)
    always_valid = np.zeros(400, dtype=bool)
    naive = np.zeros(400, dtype=bool)
    for k in range(1, bench.LOOKS + 1):
        seen = sequential.look(rule, bench._counts(sim.release, metric, k), baseline, 0.05)
        always_valid |= seen.breach
        # The same estimate and variance, judged each time as if it were the only look.
        z = seen.estimate / np.sqrt(seen.variance)
        naive |= (ndtr(z) if model.breach == "less" else ndtr(-z)) < 0.05
    assert always_valid.mean() <= 0.05
    assert naive.mean() >= 0.12  # repeated fixed tests: several times α
    assert naive.mean() > 3 * always_valid.mean()


def test_the_benchmark_judges_as_the_gate_does():
    # The benchmark calls cxe_gate.sequential on arrays; the gate calls judge() per criterion on
    # Measurements. Both must give the same verdicts, look by look.
    sim = bench.simulate(np.random.default_rng(3), 2_000, 12, {"conversion": 0.9})
    criteria = {
        "conversion": criterion_of(
            {"name": "c", "metric": "conversion", "journey": "j", "max_drop": "2%"}
        ),
        "error rate": criterion_of({"name": "e", "metric": "error_rate", "max_rise": "25%"}),
        "latency": criterion_of(
            {"name": "l", "metric": "custom", "query": "q", "unit": "ms", "max_rise": "10%"}
        ),
    }
    seen_verdicts = set()
    for k in (1, 4, 12, 24):
        outcomes = bench.sequential_outcomes(sim, k)
        for metric, criterion in criteria.items():
            release, baseline = (
                bench._counts(sim.release, metric, k),
                bench._counts(sim.baseline, metric),
            )
            for i in range(12):
                result = judge(
                    criterion,
                    provider="p",
                    unit=Unit.RATIO,
                    release=_measurement(release, i),
                    baseline=_measurement(baseline, i),
                    sequential=True,
                )
                expected = {1: Verdict.FAIL, -1: Verdict.PASS, 0: Verdict.INCONCLUSIVE}
                assert result.verdict == expected[int(outcomes[metric][i])], (metric, k, i)
                seen_verdicts.add(result.verdict)
    assert seen_verdicts == {Verdict.FAIL, Verdict.PASS, Verdict.INCONCLUSIVE}


def _measurement(counts: sequential.Counts, i: int) -> Measurement:
    if counts.is_rate:
        return metrics.proportion(int(counts.successes[i]), int(counts.samples[i]))
    return Measurement(
        value=float(counts.mean[i]),
        samples=int(counts.samples[i]),
        variance=float(counts.variance[i]),
    )


def test_the_benchmark_runs_and_the_gate_blocks_no_good_release():
    result = bench.run(good=20, regressed=4, seed=1)
    gate = {cell: methods["cxe-gate sequential"] for cell, methods in result.decisions.items()}
    assert all((d.verdict != 1).all() for (scenario, _), d in gate.items() if scenario == "good")
    big_drop = gate["conversion -10%", 100_000]
    assert (big_drop.verdict == 1).all() and (big_drop.minutes <= 30).all()
    # Good releases stay inside every tolerance: blocking one would be a false block.
    assert all(result.drift[m.name] < m.tolerance for m in bench.MODELS)
    assert len(bench.table(result)) > len(bench.SCENARIOS) * len(bench.TRAFFIC)
