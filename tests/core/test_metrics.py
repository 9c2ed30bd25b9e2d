"""The exact metric definitions, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from cxe_gate import metrics, stats


def test_apdex_counts_tolerating_as_half():
    # 60 satisfied, 30 tolerating, 10 frustrated: (60 + 30/2) / 100 = 0.75
    m = metrics.apdex(60, 30, 10)
    assert m.value == pytest.approx(0.75)
    assert m.samples == 100
    # scores 1, 0.5, 0 → variance = (60·0.25² + 30·0.25² + 10·0.75²) / 99
    assert m.variance == pytest.approx((60 * 0.0625 + 30 * 0.0625 + 10 * 0.5625) / 99)
    assert m.details == {"satisfied": 60, "tolerating": 30, "frustrated": 10}


def test_apdex_with_no_requests_is_no_data_not_zero():
    m = metrics.apdex(0, 0, 0)
    assert m.value is None
    assert not m.has_data


def test_nps_is_promoters_minus_detractors_in_points():
    # 50 promoters, 30 passives, 20 detractors: 50% - 20% = 30
    m = metrics.nps(50, 30, 20)
    assert m.value == pytest.approx(30.0)
    assert m.samples == 100


def test_csat_is_share_of_four_and_five():
    m = metrics.csat(42, 50)
    assert m.value == pytest.approx(0.84)
    assert m.successes == 42


def test_proportion_refuses_impossible_counts():
    with pytest.raises(ValueError, match="between 0 and trials"):
        metrics.proportion(11, 10)


def test_two_proportion_test_matches_hand_computation():
    # release 40/200 = 0.20, baseline 300/1000 = 0.30; pooled 340/1200
    pooled = 340 / 1200
    z = (0.20 - 0.30) / math.sqrt(pooled * (1 - pooled) * (1 / 200 + 1 / 1000))
    p = stats.two_proportion(40, 200, 300, 1000, "less")
    assert z == pytest.approx(-2.865, abs=1e-3)
    assert p == pytest.approx(0.00209, abs=1e-5)
    # the other direction is the complement
    assert stats.two_proportion(40, 200, 300, 1000, "greater") == pytest.approx(1 - p)


def test_two_proportion_with_identical_zero_rates_is_no_difference():
    assert stats.two_proportion(0, 100, 0, 1000, "greater") == 1.0


def test_binomial_test_against_a_bound():
    # 5 errors of 100 against a 1% bound: P(X >= 5 | n=100, p=0.01) ≈ 0.00343
    assert stats.proportion_vs_bound(5, 100, 0.01, "greater") == pytest.approx(0.00343, abs=5e-5)
