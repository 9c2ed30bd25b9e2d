"""Group-sequential tests: the boundary's numbers by hand, and its promise under repeated looks."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy.special import ndtr
from scipy.stats import multivariate_normal, norm

from benchmarks import bench_decision as bench
from cxe_gate import metrics, sequential
from cxe_gate.config import Criterion
from cxe_gate.judge import judge
from cxe_gate.measurement import Measurement, Unit
from cxe_gate.results import Verdict

criterion_of = TypeAdapter(Criterion).validate_python


AT_THE_END = sequential.Schedule(look=1, share=1.0)


def test_alpha_is_spent_pocock_like():
    assert sequential.spent(0.0, 0.05) == 0.0
    assert sequential.spent(1.0, 0.05) == pytest.approx(0.05)
    # α ln(1 + (e - 1) t): 0.05 × ln(1.859) = 0.0310 by half the information, most of it early.
    assert sequential.spent(0.5, 0.05) == pytest.approx(0.05 * math.log(1 + (math.e - 1) / 2))
    assert sequential.spent(np.array([0.25, 2.0]), 0.05) == pytest.approx(
        [0.05 * math.log(1 + (math.e - 1) / 4), 0.05]
    )


def test_one_look_is_the_fixed_one_sided_test():
    assert sequential.boundary(1, 1.0, 0.05) == pytest.approx(norm.isf(0.05), abs=1e-9)
    # Half the information: only the α spent by then.
    assert sequential.boundary(1, 0.5, 0.05) == pytest.approx(
        norm.isf(sequential.spent(0.5, 0.05)), abs=1e-9
    )


def test_two_looks_by_the_bivariate_normal():
    # Looks at t = 1/2 and 1: corr(Z1, Z2) = sqrt(1/2). The second boundary crosses, without
    # the first having crossed, with the rest of α.
    c1, c2 = sequential.boundary(1, 0.5, 0.05), sequential.boundary(2, 1.0, 0.05)
    assert c1 == pytest.approx(norm.isf(sequential.spent(0.5, 0.05)), abs=1e-9)
    both = multivariate_normal([0, 0], [[1, math.sqrt(0.5)], [math.sqrt(0.5), 1]])
    first_not_second_not = both.cdf([c1, c2])
    crossed_second_only = norm.cdf(c1) - first_not_second_not
    assert crossed_second_only == pytest.approx(0.05 - sequential.spent(0.5, 0.05), abs=2e-5)
    assert c2 > norm.isf(0.05)  # the price of the first look


def test_the_boundary_keeps_alpha_over_many_looks():
    # A Brownian motion at the threshold, 24 looks equally spaced: it crosses with chance α.
    looks = 24
    rng = np.random.default_rng(5)
    paths = np.cumsum(rng.standard_normal((200_000, looks)), axis=1)
    z = paths / np.sqrt(np.arange(1, looks + 1))
    for reached, expected in ((1.0, 0.05), (0.3, sequential.spent(0.3, 0.05))):
        c = np.array([sequential.boundary(k, reached * k / looks, 0.05) for k in range(1, 25)])
        crossed = (z >= c).any(axis=1).mean()
        assert crossed == pytest.approx(expected, abs=0.0015)  # 3 standard errors
    # Each look alone at the fixed 1.645 would cross far more often.
    assert (z >= norm.isf(0.05)).any(axis=1).mean() > 0.2


def test_looks_unequally_spaced_cost_little_alpha():
    # Boundaries assume the looks so far equally spaced in information. A wait started 30 minutes
    # after the window opened looks first at 30 of 150 minutes, then every 5: the first look holds
    # far more than its equal share, and α is exceeded, but only by a twentieth of itself.
    shares = np.array([(30 + 5 * j) / 150 for j in range(25)])
    rng = np.random.default_rng(7)
    steps = rng.standard_normal((200_000, len(shares))) * np.sqrt(np.diff(shares, prepend=0))
    z = np.cumsum(steps, axis=1) / np.sqrt(shares)
    c = np.array([sequential.boundary(k, t, 0.05) for k, t in enumerate(shares, 1)])
    assert 0.05 < (z >= c).any(axis=1).mean() < 0.055


def test_the_boundary_is_cached_per_grid_step_and_conservative():
    exact = sequential.boundary(3, 0.5, 0.05)
    nudged = sequential.boundary(3, 0.5 * 1.01, 0.05)  # inside the same 2.2% step
    assert nudged == exact
    assert sequential.boundary(3, np.array([0.5, 0.505, 0.9]), 0.05) == pytest.approx(
        [exact, exact, sequential.boundary(3, 0.9, 0.05)]
    )
    # Nothing spent yet: no look can decide.
    assert sequential.boundary(2, 0.0, 0.05) == math.inf
    with pytest.raises(ValueError, match=r"outside 1\.\.300"):
        sequential.boundary(301, 1.0, 0.05)


def test_planned_information_by_hand():
    # (z_0.95 + z_0.9)² / δ² = (1.6449 + 1.2816)² / 0.006² = 237,880 for a 0.6pp effect.
    assert sequential.planned_information(0.006, 0.05) == pytest.approx(
        (norm.isf(0.05) + norm.isf(0.1)) ** 2 / 0.006**2
    )


def test_a_drop_rule_at_one_look_by_hand():
    baseline = sequential.Counts(samples=24_000, successes=7_200)  # 30%
    release = sequential.Counts(samples=4_000, successes=1_140)  # 28.5%
    rule = sequential.relative_rule("less", 0.02, baseline)
    assert rule.factor == 0.98 and rule.limit == -0.02
    nudged = 7_200.5 / 24_001  # half a success either way
    assert rule.effect == pytest.approx(0.02 * nudged)
    halfway = sequential.Schedule(look=12, share=0.5)
    seen = sequential.look(rule, release, baseline, 0.05, halfway)
    # D = 0.285 - 0.98 × 0.30 = -0.009; W = 0.294 × 0.706 / 4000 + 0.98² × 0.3 × 0.7 / 24000
    assert seen.estimate == pytest.approx(-0.009)
    variance = 0.294 * 0.706 / 4000 + 0.98**2 * nudged * (1 - nudged) / 24_000
    assert seen.variance == pytest.approx(variance)
    assert seen.z == pytest.approx(-0.009 / math.sqrt(variance))  # -1.21
    # 1/W = 11,800 of the 237,000 planned for a 0.6pp effect: 5% of the information, less
    # than half the wait's share, so that is the fraction.
    planned = sequential.planned_information(rule.effect, 0.05)
    assert seen.information == pytest.approx(1 / variance / planned)
    assert seen.boundary == sequential.boundary(12, seen.information, 0.05)
    # Read as the change from the baseline: -5% ± c × SE / 0.30, around the limit -2%.
    half = seen.boundary * math.sqrt(variance)
    assert seen.bounds.lower == pytest.approx(-0.02 + (-0.009 - half) / 0.3)
    assert seen.bounds.lower < -0.02 < seen.bounds.upper
    assert not seen.breach and not seen.clear  # 4,000 units cannot tell -5% from -2% yet
    assert seen.p_value == pytest.approx(norm.cdf(seen.z))
    assert seen.level == pytest.approx(norm.sf(seen.boundary))
    # Ten times both windows: the drop shows.
    baseline = sequential.Counts(samples=240_000, successes=72_000)
    rule = sequential.relative_rule("less", 0.02, baseline)
    bigger = sequential.look(
        rule, sequential.Counts(samples=40_000, successes=11_400), baseline, 0.05, halfway
    )
    assert bigger.breach and bigger.bounds.upper < -0.02
    assert bigger.p_value < bigger.level


def test_an_exact_mean_decides_on_its_side():
    rule = sequential.bound_rule("greater", 1.0, None)  # max: 1
    flat = sequential.Counts(samples=50, mean=0.5, variance=0.0)
    seen = sequential.look(rule, flat, None, 0.05, sequential.Schedule(look=1, share=0.1))
    assert seen.clear and not seen.breach
    assert seen.bounds.lower == seen.bounds.upper == 0.5


def test_a_window_without_errors_yet_is_not_certain():
    # The variance is taken at the threshold (0.5%), not at the 0 seen: 100 requests hold 0.5 expected
    # errors, too few for the normal limit, so the look decides nothing.
    baseline = sequential.Counts(samples=100_000, successes=500)
    rule = sequential.relative_rule("greater", 0.0, baseline)
    seen = sequential.look(
        rule, sequential.Counts(samples=100, successes=0), baseline, 0.05, AT_THE_END
    )
    assert not seen.testable and not seen.clear
    later = sequential.look(
        rule, sequential.Counts(samples=20_000, successes=40), baseline, 0.05, AT_THE_END
    )
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
    releases = 2_000
    sim = bench.simulate(np.random.default_rng(11), traffic, releases, {metric: at_limit}, models)
    baseline = bench._counts(sim.baseline, metric)
    rule = sequential.relative_rule(model.breach, model.tolerance, baseline)
    always_valid = np.zeros(releases, dtype=bool)
    naive = np.zeros(releases, dtype=bool)
    for k in range(1, bench.LOOKS + 1):
        schedule = sequential.Schedule(look=k, share=k / bench.LOOKS)
        seen = sequential.look(
            rule, bench._counts(sim.release, metric, k), baseline, 0.05, schedule
        )
        always_valid |= seen.breach
        # The same estimate and variance, judged each time as if it were the only look.
        z = seen.estimate / np.sqrt(seen.variance)
        naive |= (ndtr(z) if model.breach == "less" else ndtr(-z)) < 0.05
    # At most α, give or take two standard errors of the simulation (0.5%).
    assert always_valid.mean() <= 0.06
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
                    sequential=sequential.Schedule(look=k, share=k / bench.LOOKS),
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
