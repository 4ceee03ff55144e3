"""analysis.group: the paper's descriptives and tests of listener accuracies against chance, checked by hand."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from analysis_helpers import PAPER_LIKE, counts_table
from scipy import stats

from analysis.exclusions import score
from analysis.group import group_summary, t_test, wilcoxon
from analysis.listeners import per_listener
from analysis.load import tidy



@pytest.fixture(scope="module")
def summary() -> dict:
    scored, _ = score(tidy(counts_table({f"L{i:02d}": (k, 24) for i, k in enumerate(PAPER_LIKE)})))
    return group_summary(per_listener(scored))


def test_descriptives_by_hand(summary):
    acc = [k / 24 for k in PAPER_LIKE]
    assert summary["n_listeners"] == 16
    assert summary["mean"] == pytest.approx(statistics.mean(acc))
    assert summary["sd"] == pytest.approx(statistics.stdev(acc))
    assert summary["median"] == pytest.approx(statistics.median(acc))
    assert (summary["min"], summary["max"]) == pytest.approx((16 / 24, 23 / 24))
    assert round(100 * summary["max"], 2) == 95.83 and round(100 * summary["min"], 2) == 66.67


def test_pooled_is_descriptive(summary):
    pooled = summary["pooled"]
    assert (pooled["trials"], pooled["correct"]) == (16 * 24, sum(PAPER_LIKE))
    assert "descriptive" in pooled["note"]


def test_t_test_by_hand(summary):
    acc = [k / 24 for k in PAPER_LIKE]
    n, mean, sd = len(acc), statistics.mean(acc), statistics.stdev(acc)
    t = (mean - 0.5) / (sd / math.sqrt(n))
    result = summary["t_test"]
    assert result["t"] == pytest.approx(t) and result["df"] == n - 1
    assert result["p_greater"] == pytest.approx(stats.t.sf(t, n - 1))
    assert result["p_two_sided"] == pytest.approx(2 * stats.t.sf(t, n - 1))
    assert result["cohen_d"] == pytest.approx((mean - 0.5) / sd)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert (result["mean_ci_low"], result["mean_ci_high"]) == pytest.approx((mean - half, mean + half))


def test_wilcoxon_matches_scipy_on_hand_counts(summary):
    diff = np.array(PAPER_LIKE) / 24 - 0.5
    assert summary["wilcoxon"]["p_greater"] == pytest.approx(stats.wilcoxon(diff, alternative="greater").pvalue)
    assert summary["wilcoxon"]["n_nonzero"] == 16


def test_wilcoxon_drops_listeners_at_chance():
    acc = np.array([0.5, 0.5, 0.75, 0.8, 0.9])
    assert wilcoxon(acc)["n_nonzero"] == 3


def test_listeners_above_chance(summary):
    # one-sided binomial p < .05 needs ≥ 17/24 (P(X ≥ 17) = 0.032, P(X ≥ 16) = 0.076)
    assert summary["n_above_chance"] == sum(k >= 17 for k in PAPER_LIKE)


@pytest.mark.parametrize("accuracies", [[0.8], [0.75, 0.75, 0.75]])
def test_t_test_undefined(accuracies):
    assert "error" in t_test(np.array(accuracies))


def test_wilcoxon_undefined_at_chance():
    assert "error" in wilcoxon(np.array([0.5, 0.5]))
