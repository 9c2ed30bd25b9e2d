"""Verdicts from measurements: breaches must be real, missing data is never a pass."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from cxe_gate import metrics
from cxe_gate.config import Criterion, GateSettings
from cxe_gate.judge import judge, overall, score
from cxe_gate.measurement import Measurement, Unit
from cxe_gate.results import Outcome, Verdict
from cxe_gate.sequential import Schedule

criterion_of = TypeAdapter(Criterion).validate_python


def conversion(**rules):
    return criterion_of(
        {"name": "checkout conversion", "metric": "conversion", "journey": "checkout", **rules}
    )


def judged(criterion, release, baseline):
    return judge(criterion, provider="p", unit=Unit.RATIO, release=release, baseline=baseline)


def test_a_significant_drop_beyond_the_limit_fails():
    result = judged(
        conversion(max_drop="5%"), metrics.proportion(250, 1000), metrics.proportion(3000, 10000)
    )
    assert result.verdict == Verdict.FAIL
    assert result.threshold == pytest.approx(0.285)  # 0.30 less 5% of it
    assert result.p_value < 0.001
    assert result.change == pytest.approx(-1 / 6)
    assert "fell 16.7%" in result.message


def test_the_same_drop_on_tiny_traffic_is_inconclusive_not_fail():
    # 5/20 vs 30% looks like the same drop, but 20 sessions cannot tell it from noise.
    result = judged(
        conversion(max_drop="5%", min_samples=10),
        metrics.proportion(5, 20),
        metrics.proportion(3000, 10000),
    )
    assert result.verdict == Verdict.INCONCLUSIVE
    assert result.checks[0].outcome == Outcome.UNSURE
    assert "could be noise" in result.message


def test_below_min_samples_is_inconclusive():
    result = judged(
        conversion(max_drop="5%"), metrics.proportion(30, 99), metrics.proportion(3000, 10000)
    )
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "too few" in result.message


def test_a_drop_within_the_limit_passes():
    result = judged(
        conversion(max_drop="5%"), metrics.proportion(2900, 10000), metrics.proportion(3000, 10000)
    )
    assert result.verdict == Verdict.PASS


def test_no_release_data_is_inconclusive_by_default_and_fail_on_request():
    empty = metrics.proportion(0, 0)
    base = metrics.proportion(3000, 10000)
    assert judged(conversion(max_drop="5%"), empty, base).verdict == Verdict.INCONCLUSIVE
    assert judged(conversion(max_drop="5%", no_data="fail"), empty, base).verdict == Verdict.FAIL


def test_no_baseline_leaves_a_relative_rule_undecided():
    result = judged(
        conversion(max_drop="5%"), metrics.proportion(300, 1000), metrics.proportion(0, 0)
    )
    assert result.verdict == Verdict.INCONCLUSIVE


def test_zero_baseline_is_judged_on_significance_not_a_percentage():
    rate = criterion_of({"name": "errors", "metric": "error_rate", "max_rise": "50%"})
    # 0 of 10,000 before, 40 of 2,000 after: a real rise although no percentage is defined
    result = judged(rate, metrics.proportion(40, 2000), metrics.proportion(0, 10000))
    assert result.verdict == Verdict.FAIL
    assert result.change is None
    assert "not defined" in result.message
    # 1 of 2,000 after 0 of 1,000: could be chance
    result = judged(rate, metrics.proportion(1, 2000), metrics.proportion(0, 1000))
    assert result.verdict == Verdict.INCONCLUSIVE


def test_absolute_max_on_a_rate_uses_a_binomial_test():
    rate = criterion_of({"name": "errors", "metric": "error_rate", "max": "1%", "min_samples": 10})
    assert judged(rate, metrics.proportion(5, 100), None).verdict == Verdict.FAIL  # p ≈ 0.003
    assert (
        judged(rate, metrics.proportion(2, 100), None).verdict == Verdict.INCONCLUSIVE
    )  # p ≈ 0.26
    assert judged(rate, metrics.proportion(0, 100), None).verdict == Verdict.PASS


def test_latency_has_no_test_so_a_breach_is_a_breach():
    p95 = criterion_of({"name": "p95", "metric": "latency", "max": "800ms", "max_rise": "20%"})
    result = judge(
        p95,
        provider="p",
        unit=Unit.MILLISECONDS,
        release=Measurement(value=990.0, samples=500),
        baseline=Measurement(value=800.0, samples=5000),
    )
    assert result.verdict == Verdict.FAIL
    assert [c.outcome for c in result.checks] == [Outcome.BREACH, Outcome.BREACH]
    assert result.p_value is None


def test_warn_severity_turns_a_breach_into_a_warning():
    result = judged(
        conversion(max_drop="5%", severity="warn"),
        metrics.proportion(250, 1000),
        metrics.proportion(3000, 10000),
    )
    assert result.verdict == Verdict.WARN


def test_apdex_drop_uses_the_z_test_on_scores():
    apdex = criterion_of({"name": "apdex", "metric": "apdex", "t": "500ms", "max_drop": "5%"})
    result = judge(
        apdex,
        provider="p",
        unit=Unit.SCORE,
        release=metrics.apdex(700, 200, 100),
        baseline=metrics.apdex(9000, 800, 200),
    )
    # 0.80 vs 0.94: far beyond a 5% drop and significant
    assert result.value == pytest.approx(0.8)
    assert result.verdict == Verdict.FAIL
    assert result.p_value < 1e-6


def _result(verdict, weight=1.0, key=False, severity="fail"):
    base = judged(
        conversion(max_drop="5%", weight=weight, key=key, severity=severity),
        metrics.proportion(3000, 10000),
        metrics.proportion(3000, 10000),
    )
    return base.model_copy(update={"verdict": verdict})


def test_score_weights_pass_fully_warn_half_and_leaves_out_undecided():
    results = [
        _result(Verdict.PASS, 2),
        _result(Verdict.WARN, 1),
        _result(Verdict.FAIL, 1),
        _result(Verdict.INCONCLUSIVE, 5),
        _result(Verdict.ERROR, 5),
    ]
    assert score(results) == pytest.approx(100 * (2 + 0.5) / 4)
    assert score([_result(Verdict.ERROR)]) is None


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([Verdict.PASS] * 4, Verdict.PASS),
        ([Verdict.PASS] * 9 + [Verdict.WARN], Verdict.WARN),  # score 95
        ([Verdict.PASS] * 9 + [Verdict.FAIL], Verdict.WARN),  # score 90, not key
        ([Verdict.PASS] * 3 + [Verdict.FAIL], Verdict.WARN),  # score 75: at the warn line
        ([Verdict.PASS] * 2 + [Verdict.FAIL], Verdict.FAIL),  # score 66.7
        ([Verdict.PASS, Verdict.INCONCLUSIVE], Verdict.INCONCLUSIVE),
        ([Verdict.PASS, Verdict.ERROR], Verdict.ERROR),
        ([Verdict.ERROR, Verdict.INCONCLUSIVE], Verdict.ERROR),
    ],
)
def test_overall_verdict_by_score(verdicts, expected):
    verdict, _ = overall([_result(v) for v in verdicts], GateSettings(policy="score"))
    assert verdict == expected


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([Verdict.PASS] * 4, Verdict.PASS),
        ([Verdict.PASS] * 9 + [Verdict.WARN], Verdict.WARN),
        # One failed criterion of severity fail fails the release, whatever the score (90 here).
        ([Verdict.PASS] * 9 + [Verdict.FAIL], Verdict.FAIL),
        ([Verdict.PASS, Verdict.INCONCLUSIVE], Verdict.INCONCLUSIVE),
        ([Verdict.PASS, Verdict.ERROR], Verdict.ERROR),
        ([Verdict.FAIL, Verdict.ERROR], Verdict.FAIL),  # a proven regression outranks an outage
    ],
)
def test_overall_verdict_any_fail_is_the_default(verdicts, expected):
    verdict, _ = overall([_result(v) for v in verdicts], GateSettings())
    assert verdict == expected


def test_a_failed_criterion_fails_the_release_by_default_and_names_it():
    # The case: four criteria, error rate fails, not key: score 75 used to warn (exit 0).
    results = [
        _result(Verdict.PASS),
        _result(Verdict.PASS),
        _result(Verdict.PASS),
        _result(Verdict.FAIL).model_copy(update={"name": "error rate"}),
    ]
    assert score(results) == 75
    verdict, summary = overall(results, GateSettings())
    assert (verdict, summary) == (Verdict.FAIL, "failed: error rate")
    verdict, summary = overall(results, GateSettings(policy="score"))
    assert verdict == Verdict.WARN
    assert "score 75 is below pass_score 90" in summary and "error rate" in summary


@pytest.mark.parametrize(
    ("on_inconclusive", "expected"),
    [("fail", Verdict.INCONCLUSIVE), ("warn", Verdict.WARN), ("pass", Verdict.PASS)],
)
def test_on_inconclusive_decides_what_an_undecided_criterion_means(on_inconclusive, expected):
    undecided = _result(Verdict.INCONCLUSIVE).model_copy(update={"name": "NPS"})
    verdict, summary = overall(
        [_result(Verdict.PASS), undecided], GateSettings(on_inconclusive=on_inconclusive)
    )
    assert verdict == expected
    assert "NPS" in summary
    if on_inconclusive != "fail":
        assert f"accepted by on_inconclusive: {on_inconclusive}" in summary


@pytest.mark.parametrize("on_inconclusive", ["warn", "pass"])
def test_on_inconclusive_never_accepts_a_window_without_data(on_inconclusive):
    empty = _result(Verdict.INCONCLUSIVE).model_copy(update={"name": "NPS", "value": None})
    verdict, summary = overall(
        [_result(Verdict.PASS), empty], GateSettings(on_inconclusive=on_inconclusive)
    )
    assert verdict == Verdict.INCONCLUSIVE
    assert summary.startswith("no data for: NPS")


def test_an_undecided_warn_only_criterion_warns_but_never_passes_or_blocks():
    results = [_result(Verdict.PASS), _result(Verdict.INCONCLUSIVE, severity="warn")]
    verdict, summary = overall(results, GateSettings())
    assert verdict == Verdict.WARN
    assert "undecided (warn only)" in summary
    results.append(_result(Verdict.INCONCLUSIVE, severity="fail"))
    assert overall(results, GateSettings())[0] == Verdict.INCONCLUSIVE


def test_a_key_failure_fails_the_release_whatever_the_score():
    results = [_result(Verdict.PASS, 100), _result(Verdict.FAIL, 1, key=True)]
    verdict, summary = overall(results, GateSettings())
    assert verdict == Verdict.FAIL
    assert "key criterion" in summary


def test_errors_never_pass_even_when_fail_open():
    verdict, _ = overall([_result(Verdict.ERROR)], GateSettings(on_error="open"))
    assert verdict == Verdict.ERROR
    # Open: the unread criterion does not block, but the release warns and names it.
    unread = _result(Verdict.ERROR).model_copy(update={"name": "uptime"})
    verdict, summary = overall([unread, _result(Verdict.PASS)], GateSettings(on_error="open"))
    assert verdict == Verdict.WARN
    assert summary == "could not read (on_error: open): uptime"


def test_nps_movement_is_told_in_points():
    nps = criterion_of(
        {"name": "NPS", "metric": "feedback", "scale": "nps", "max_drop": 20, "min_samples": 10}
    )
    result = judge(
        nps,
        provider="p",
        unit=Unit.POINTS,
        release=metrics.nps(20, 30, 50),
        baseline=metrics.nps(50, 30, 20),
    )
    assert result.message.startswith("NPS fell 60.0 points (30.0 → -30.0) on 100 responses")
    assert result.verdict == Verdict.FAIL


# ---------------------------------------------------------------------------------------------
# sequential: one look of a polled release window (group-sequential tests)


HALFWAY = Schedule(look=12, share=0.5)  # an hour into a 2-hour wait, polled every 5 minutes


def looked(criterion, release, baseline, unit=Unit.RATIO, schedule=HALFWAY):
    return judge(
        criterion, provider="p", unit=unit, release=release, baseline=baseline, sequential=schedule
    )


def test_sequential_fails_a_clear_regression_and_says_how():
    result = looked(
        conversion(max_drop="2%"),
        metrics.proportion(2500, 10000),
        metrics.proportion(72000, 240000),
    )
    assert result.verdict == Verdict.FAIL
    assert result.p_value < 0.001
    assert result.threshold == pytest.approx(0.294)
    assert "beyond the allowed drop of 2%" in result.message
    assert (
        "nominal p < 0.001 against 0.004 at this look; group-sequential test, look 12, 19% of the "
        "planned information, boundary 2.63 SE, α = 0.05, 10,000 units at this look"
    ) in result.message
    assert any("judged as look 12 of a polled release window" in n for n in result.notes)


def test_a_drop_one_fixed_look_calls_significant_is_not_decided_yet_when_looking_again():
    release, baseline = metrics.proportion(2850, 10000), metrics.proportion(30000, 100000)
    assert judged(conversion(max_drop="2%"), release, baseline).verdict == Verdict.FAIL  # z ≈ -3.1
    result = looked(conversion(max_drop="2%"), release, baseline)
    assert result.verdict == Verdict.INCONCLUSIVE
    assert result.checks[0].outcome == Outcome.UNSURE
    assert ": not decided yet: the change from the baseline lies between" in result.message
    # A nominal p below α, but not below the 0.004 this look's boundary stands for.
    assert 0.004 < result.p_value < 0.05
    assert "nominal p = 0.030 against 0.004 at this look" in result.message


def test_sequential_passes_only_once_the_bounds_exclude_a_breach():
    baseline = metrics.proportion(72000, 240000)
    result = looked(conversion(max_drop="2%"), metrics.proportion(30000, 100000), baseline)
    assert result.verdict == Verdict.PASS
    assert result.p_value is None
    assert "a drop beyond 2% is excluded" in result.message
    # The same rate on a tenth of the traffic passes the fixed judge, but excludes nothing yet.
    small = metrics.proportion(3000, 10000)
    assert judged(conversion(max_drop="2%"), small, baseline).verdict == Verdict.PASS
    assert looked(conversion(max_drop="2%"), small, baseline).verdict == Verdict.INCONCLUSIVE


def test_a_look_with_no_alpha_to_spend_yet_decides_nothing():
    # The first moments of a wait: even a drop to a sixth is not judged before α can be spent.
    drop, base = metrics.proportion(500, 10000), metrics.proportion(72000, 240000)
    result = looked(conversion(max_drop="2%"), drop, base, schedule=Schedule(look=1, share=1e-7))
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "not decided yet: too little information yet for any look to decide" in result.message
    later = looked(conversion(max_drop="2%"), drop, base, schedule=Schedule(look=2, share=0.05))
    assert later.verdict == Verdict.FAIL


def test_sequential_keeps_severity_missing_data_and_min_samples():
    base = metrics.proportion(72000, 240000)
    drop = metrics.proportion(2500, 10000)
    assert looked(conversion(max_drop="2%", severity="warn"), drop, base).verdict == Verdict.WARN
    empty = metrics.proportion(0, 0)
    assert looked(conversion(max_drop="2%"), empty, base).verdict == Verdict.INCONCLUSIVE
    assert looked(conversion(max_drop="2%", no_data="fail"), empty, base).verdict == Verdict.FAIL
    few = looked(conversion(max_drop="2%"), metrics.proportion(20, 99), base)
    assert few.verdict == Verdict.INCONCLUSIVE
    assert "not decided yet: too few to judge (min_samples 100)" in few.message
    no_baseline = looked(conversion(max_drop="2%"), drop, metrics.proportion(0, 0))
    assert no_baseline.verdict == Verdict.INCONCLUSIVE


def test_a_rate_with_too_few_events_is_not_decided_yet():
    rate = criterion_of({"name": "errors", "metric": "error_rate", "max_rise": "50%"})
    # 0.5% of 1,000 requests: 5 errors expected, too few for the normal limit of the test.
    result = looked(rate, metrics.proportion(40, 1000), metrics.proportion(500, 100000))
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "not decided yet: too few events" in result.message
    later = looked(rate, metrics.proportion(400, 10000), metrics.proportion(500, 100000))
    assert later.verdict == Verdict.FAIL  # 4% against 0.5%


def test_a_percentile_without_counts_is_never_decided_early():
    p95 = criterion_of({"name": "p95", "metric": "latency", "max": "800ms", "max_rise": "20%"})
    result = looked(
        p95,
        Measurement(value=990.0, samples=500),
        Measurement(value=800.0, samples=5000),
        unit=Unit.MILLISECONDS,
    )
    assert result.verdict == Verdict.INCONCLUSIVE
    assert all(c.outcome == Outcome.UNSURE for c in result.checks)
    assert "not decided yet: 990 ms comes without the counts or the variance" in result.message


def test_test_none_compares_the_numbers_at_every_look():
    numbers = conversion(max_drop="2%", test="none")
    release, baseline = metrics.proportion(2900, 10000), metrics.proportion(3000, 10000)
    assert looked(numbers, release, baseline).verdict == Verdict.FAIL
    assert looked(numbers, release, baseline) == judged(numbers, release, baseline)


def test_sequential_means_use_the_scores_variance():
    apdex = criterion_of({"name": "apdex", "metric": "apdex", "t": "500ms", "max_drop": "5%"})
    result = looked(
        apdex, metrics.apdex(700, 200, 100), metrics.apdex(9000, 800, 200), unit=Unit.SCORE
    )
    assert result.verdict == Verdict.FAIL
    assert "the change from the baseline is at most" in result.message
    held = looked(
        apdex, metrics.apdex(9000, 800, 200), metrics.apdex(90000, 8000, 2000), unit=Unit.SCORE
    )
    assert held.verdict == Verdict.PASS


# ---------------------------------------------------------------------------------------------
# pinned edges


def test_a_value_exactly_at_the_limit_is_within_it():
    # max 1%: 100 errors of 10,000 is exactly 1% (both 100 / 10000 and 1 / 100 give the same float).
    errors = criterion_of({"name": "errors", "metric": "error_rate", "max": "1%"})
    result = judged(errors, metrics.proportion(100, 10000), None)
    assert result.verdict == Verdict.PASS
    assert "1% is within the maximum 1%" in result.message
    # max_drop 10% of 30%: the threshold is 27% (up to rounding); 2,700 of 10,000 sits on it.
    result = judged(
        conversion(max_drop="10%"), metrics.proportion(2700, 10000), metrics.proportion(3000, 10000)
    )
    assert result.verdict == Verdict.PASS
    assert result.threshold == pytest.approx(0.27)


def test_a_relative_rule_on_a_too_small_baseline_is_inconclusive():
    result = judged(
        conversion(max_drop="10%"), metrics.proportion(100, 1000), metrics.proportion(30, 99)
    )
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "the baseline has only 99 units, too few to compare with (min_samples 100)" in (
        result.message
    )


def test_a_negative_baseline_allows_a_drop_of_its_size_not_its_sign():
    # NPS -20 in the baseline, max_drop 10%: 10% of |-20| = 2 points, so the threshold is -22.
    nps = criterion_of(
        {"name": "NPS", "metric": "feedback", "scale": "nps", "max_drop": "10%", "min_samples": 10}
    )
    # Of 1,000 answers: 300 promoters, 200 passives, 500 detractors: NPS = 30 - 50 = -20.
    baseline = metrics.nps(300, 200, 500)
    held = metrics.nps(290, 200, 510)  # 29 - 51 = -22: exactly at the threshold
    result = judge(nps, provider="p", unit=Unit.POINTS, release=held, baseline=baseline)
    assert result.threshold == pytest.approx(-22)
    assert result.verdict == Verdict.PASS
    fell = metrics.nps(200, 200, 600)  # -40: 20 points down, far beyond 2
    result = judge(nps, provider="p", unit=Unit.POINTS, release=fell, baseline=baseline)
    assert result.verdict == Verdict.FAIL
    assert result.message.startswith("NPS fell 20.0 points (-20.0 → -40.0)")
