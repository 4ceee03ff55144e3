"""analysis.power: exact binomial power by math.comb; simulation seeded, reproducible and sane."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.errors import AnalysisError
from analysis.power import (
    Setup, binomial_power, group_power, listeners_needed, power_report, simulate_accuracies, simulate_trials,
)


def tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed term by term."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize("accuracy", [0.6, 0.75, 0.85, 0.95])
def test_binomial_power_by_hand(accuracy):
    result = binomial_power(accuracy, trials=24)
    assert result["critical_correct"] == 17  # P(X ≥ 17 | ½) = 0.032 ≤ .05 < P(X ≥ 16 | ½) = 0.076
    assert result["actual_alpha"] == pytest.approx(tail(17, 24, 0.5)) == pytest.approx(536155 / 2**24)
    assert result["power"] == pytest.approx(tail(17, 24, accuracy))


def test_power_at_chance_is_the_actual_alpha():
    result = binomial_power(0.5, trials=24)
    assert result["power"] == pytest.approx(result["actual_alpha"])


def test_too_few_trials_have_no_power():
    assert binomial_power(0.9, trials=3)["power"] == 0.0  # P(X ≥ 3 | ½) = 1/8 > .05


def test_simulated_accuracy_is_population_averaged():
    setup = Setup(accuracy=0.7, sd_listener=0.8, sd_item=0.5)
    acc = simulate_accuracies(200, setup, np.random.default_rng(0), reps=20)
    assert acc.shape == (20, 200) and acc.mean() == pytest.approx(0.7, abs=0.01)


def test_simulated_trials_shape():
    correct, listener, item = simulate_trials(6, Setup(trials=24), np.random.default_rng(0))
    assert correct.size == listener.size == item.size == 144 and item.max() == 47


def test_group_power_seeded_and_monotone():
    setup = Setup(accuracy=0.6, reps=300, seed=4)
    assert group_power(8, setup) == group_power(8, setup)
    assert group_power(4, setup) < group_power(32, setup)


def test_group_power_at_tiny_effect_is_low():
    assert group_power(4, Setup(accuracy=0.501, reps=400)) < 0.15


def test_listeners_needed_stops_at_target():
    result = listeners_needed(Setup(accuracy=0.7, reps=200), grid=(4, 8, 16, 32))
    curve = result["curve"]
    assert result["listeners_needed"] == curve[-1]["listeners"] and curve[-1]["power"] >= 0.8
    assert all(point["power"] < 0.8 for point in curve[:-1]) and result["setup"]["seed"] == 0


def test_listeners_needed_not_reached():
    result = listeners_needed(Setup(accuracy=0.51, reps=50), grid=(4, 6))
    assert result["listeners_needed"] is None and "below" in result["note"]


def test_mixed_model_power_detects_a_strong_effect_and_not_chance():
    assert group_power(8, Setup(accuracy=0.9, reps=4, test="mixed")) == 1.0
    assert group_power(8, Setup(accuracy=0.501, reps=4, test="mixed")) <= 0.25


def test_report_uses_fitted_variance_components():
    report = power_report({"sd_listener": 0.3, "sd_item": 0.2}, reps=20)
    assert report["group"]["setup"]["sd_listener"] == 0.3 and "fitted" in report["variance_components_from"]
    assert power_report(None, reps=20)["variance_components_from"].startswith("assumed")


@pytest.mark.parametrize("make", [
    lambda: Setup(accuracy=0.5), lambda: Setup(accuracy=1.0), lambda: Setup(test="anova"), lambda: Setup(reps=0),
    lambda: binomial_power(1.5),
])
def test_bad_setups(make):
    with pytest.raises(AnalysisError):
        make()
