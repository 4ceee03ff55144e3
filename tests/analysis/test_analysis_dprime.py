"""analysis.dprime against closed forms written here with the standard library's NormalDist."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
from analysis_helpers import counts_table, hand_table

from analysis.dprime import (
    MODELS, adjust_extremes, bias_corrected, dprime, dprime_2afc, dprime_abx, dprime_report, pc_abx,
)
from analysis.exclusions import score
from analysis.listeners import per_listener
from analysis.load import tidy

PHI = NormalDist().cdf
Z = NormalDist().inv_cdf


def abx_by_hand(d: float, strategy: str) -> float:
    """Macmillan & Creelman: Φ(d/√2)Φ(d/b) + Φ(−d/√2)Φ(−d/b), b = √6 (differencing) or 2 (independent)."""
    b = math.sqrt(6) if strategy == "abx_differencing" else 2.0
    return PHI(d / math.sqrt(2)) * PHI(d / b) + PHI(-d / math.sqrt(2)) * PHI(-d / b)


@pytest.mark.parametrize("pc", [0.55, 0.6666667, 0.75, 0.85, 0.9583333, 0.99])
def test_2afc_closed_form(pc):
    assert float(dprime_2afc(pc)) == pytest.approx(math.sqrt(2) * Z(pc), rel=1e-9)


@pytest.mark.parametrize("strategy", ["abx_differencing", "abx_independent"])
@pytest.mark.parametrize("d", [0.3, 1.0, 2.0, 3.5])
def test_abx_mapping_matches_formula(strategy, d):
    assert pc_abx(d, strategy) == pytest.approx(abx_by_hand(d, strategy), abs=1e-12)


@pytest.mark.parametrize("strategy", ["abx_differencing", "abx_independent"])
@pytest.mark.parametrize("d", [0.3, 1.0, 2.0, 3.5])
def test_abx_inverse_recovers_d(strategy, d):
    assert float(dprime_abx(abx_by_hand(d, strategy), strategy)) == pytest.approx(d, abs=1e-7)


def test_models_ordered_at_same_accuracy():
    """The differencing observer is least efficient, so the same accuracy implies the largest d′."""
    values = {m: float(dprime(0.85, m)) for m in MODELS}
    assert values["abx_differencing"] > values["abx_independent"] > values["2afc"] > 0


@pytest.mark.parametrize("model", list(MODELS))
def test_chance_is_zero_and_below_chance_is_signed(model):
    assert float(dprime(0.5, model)) == pytest.approx(0.0, abs=1e-9)
    assert float(dprime(0.3, model)) == pytest.approx(-float(dprime(0.7, model)))


def test_extremes_adjusted_by_half_a_trial():
    assert adjust_extremes([24, 0, 12], [24, 24, 24]).tolist() == pytest.approx([1 - 1 / 48, 1 / 48, 0.5])


def test_unknown_strategy():
    with pytest.raises(ValueError, match="strategy"):
        dprime_abx(0.7, "guessing")


def test_report_labels_every_model():
    scored, _ = score(tidy(counts_table({"a": (18, 24), "b": (24, 24)})))
    report = dprime_report(per_listener(scored), scored)
    assert set(report["at_pooled_accuracy"]) == set(MODELS) == set(report["models"])
    assert report["at_pooled_accuracy"]["2afc"] == pytest.approx(math.sqrt(2) * Z(42 / 48))
    perfect = math.sqrt(2) * Z(1 - 1 / 48)
    assert report["listener_mean"]["2afc"] == pytest.approx((math.sqrt(2) * Z(18 / 24) + perfect) / 2)


def test_bias_corrected_equals_accuracy_without_bias():
    """Sides alternate A/B; 3 of 4 right on each side: H = 0.75, F = 0.25, so pc_unbiased = 0.75."""
    scored, _ = score(tidy(hand_table({"a": [1, 1, 1, 1, 1, 1, 0, 0]})))
    result = bias_corrected(scored)
    assert (result["hit_rate_A"], result["false_alarm_rate_A"]) == pytest.approx((0.75, 0.25))
    assert result["pc_unbiased"] == pytest.approx(0.75) and result["criterion_c"] == pytest.approx(0.0, abs=1e-12)


def test_bias_corrected_with_a_preference_for_A():
    """Always answering A: H = 1 − 1/2N, F = 1 − 1/2N: no sensitivity left once bias is removed."""
    scored, _ = score(tidy(hand_table({"a": [1, 0, 1, 0, 1, 0]})))
    result = bias_corrected(scored)
    assert result["pc_unbiased"] == pytest.approx(0.5) and result["criterion_c"] < 0
