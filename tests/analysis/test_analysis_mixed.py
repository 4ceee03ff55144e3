"""analysis.mixed: the crossed mixed model recovers a known intercept; GEE matches its closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_helpers import counts_table, hand_table
from scipy.special import expit, logit
from scipy.stats import norm

from analysis.exclusions import score
from analysis.load import tidy
from analysis.mixed import (
    INTERPRETATION, crossed_design, fit_crossed, gee_model, intercept_for_accuracy, marginal_accuracy, mixed_model,
)
from analysis.power import Setup, simulate_trials


@pytest.fixture(scope="module")
def simulated():
    """60 listeners × 24 items per version from a known crossed model."""
    setup = Setup(accuracy=0.75, sd_listener=0.6, sd_item=0.4)
    return setup, simulate_trials(60, setup, np.random.default_rng(11))


def test_design_has_one_listener_and_one_item_per_row():
    design, ident = crossed_design(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    assert design.shape == (4, 4) and (design.sum(axis=1) == 2).all()
    assert ident.tolist() == [0, 0, 1, 1]


def test_fit_recovers_intercept(simulated):
    setup, (y, listener, item) = simulated
    fit = fit_crossed(y, listener, item, seed=0)
    truth = intercept_for_accuracy(setup.accuracy, math.hypot(setup.sd_listener, setup.sd_item))
    assert fit.converged
    assert abs(fit.intercept - truth) < 3 * fit.se
    assert 0.2 < fit.sd_listener < 1.2


def test_laplace_se_exceeds_mean_field_sd(simulated):
    _, (y, listener, item) = simulated
    fit = fit_crossed(y, listener, item, seed=0)
    assert fit.se > fit.vb_sd


def test_fit_is_reproducible(simulated):
    _, (y, listener, item) = simulated
    assert fit_crossed(y, listener, item, seed=3) == fit_crossed(y, listener, item, seed=3)


def test_marginal_accuracy_without_random_effects_is_expit():
    assert marginal_accuracy(1.2, 0.0) == pytest.approx(expit(1.2))


@pytest.mark.parametrize("accuracy, sd", [(0.6, 0.5), (0.85, 1.0), (0.95, 0.3)])
def test_intercept_for_accuracy_inverts_marginal(accuracy, sd):
    b0 = intercept_for_accuracy(accuracy, sd)
    assert marginal_accuracy(b0, sd) == pytest.approx(accuracy, abs=1e-9)
    assert b0 > logit(accuracy)  # averaging over random effects pulls accuracy towards 0.5


def test_mixed_model_report(study):
    scored, _ = score(tidy(study))
    result = mixed_model(scored, seed=0)
    assert result["p_greater"] == pytest.approx(norm.sf(result["z"]))
    assert result["z"] == pytest.approx(result["intercept"] / result["se"])
    assert result["accuracy_typical"] == pytest.approx(expit(result["intercept"]))
    assert result["n_items"] == 48 and result["n_listeners"] == 14
    assert result["p_greater"] < 1e-6 and result["interpretation"] == INTERPRETATION["mixed"]


def test_gee_matches_closed_form_for_equal_clusters():
    """Intercept-only, equal cluster sizes: b0 = logit(pooled p), robust SE = √Σ(k_i − m p)² / (N p (1 − p))."""
    counts = {"a": (20, 24), "b": (15, 24), "c": (18, 24), "d": (22, 24), "e": (12, 24)}
    scored, _ = score(tidy(counts_table(counts)))
    result = gee_model(scored)
    k = np.array([c for c, _ in counts.values()])
    total, p = 24 * len(k), k.sum() / (24 * len(k))
    se = math.sqrt(np.sum((k - 24 * p) ** 2)) / (total * p * (1 - p))
    assert result["intercept"] == pytest.approx(logit(p), abs=1e-6)
    assert result["se_robust"] == pytest.approx(se, rel=1e-4)
    assert result["accuracy"] == pytest.approx(p, abs=1e-6)
    assert any("biased downward" in note for note in result["notes"])


def test_gee_all_correct_reports_error():
    scored, _ = score(tidy(hand_table({"a": [1] * 6, "b": [1] * 6})))
    assert "error" in gee_model(scored)


def test_interpretations_say_can_and_cannot():
    for text in INTERPRETATION.values():
        assert "CAN" in text and "CANNOT" in text
