"""analysis.listeners against closed forms computed here: Wilson by hand, binomial tails by math.comb, Holm."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from analysis_helpers import counts_table

from analysis.exclusions import score
from analysis.listeners import binomial_p, holm, per_listener, wilson_ci
from analysis.load import tidy

Z = NormalDist().inv_cdf(0.975)


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    """(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


def tail_by_hand(k: int, n: int) -> float:
    """P(X ≥ k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n


def holm_by_hand(p: list[float]) -> list[float]:
    """Step-down: sorted p_(i) × (m − i), made monotone, capped at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


@pytest.mark.parametrize("k, n", [(0, 24), (12, 24), (16, 24), (20, 24), (23, 24), (24, 24), (3, 5)])
def test_wilson_matches_formula(k, n):
    low, high = wilson_ci(k, n)
    assert (float(low), float(high)) == pytest.approx(wilson_by_hand(k, n), abs=1e-12)


@pytest.mark.parametrize("k, n", [(0, 24), (12, 24), (16, 24), (17, 24), (20, 24), (24, 24), (7, 10)])
def test_binomial_tail_matches_comb_sum(k, n):
    assert binomial_p([k], [n])[0] == pytest.approx(tail_by_hand(k, n), rel=1e-12)


def test_binomial_p_per_row_with_repeats():
    p = binomial_p([20, 12, 20], [24, 24, 24])
    assert p[0] == p[2] == pytest.approx(tail_by_hand(20, 24)) and p[1] == pytest.approx(tail_by_hand(12, 24))


def test_holm_matches_hand_adjustment():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    assert holm(p) == pytest.approx(holm_by_hand(p))


def test_holm_empty():
    assert holm([]).size == 0


def test_per_listener_table():
    counts = {"a": (20, 24), "b": (12, 24), "c": (17, 24), "d": (24, 24)}
    scored, _ = score(tidy(counts_table(counts)))
    table = per_listener(scored).set_index("listener")
    for name, (k, n) in counts.items():
        row = table.loc[name]
        assert (row["trials"], row["correct"]) == (n, k) and row["accuracy"] == pytest.approx(k / n)
        assert row["p_binomial"] == pytest.approx(tail_by_hand(k, n))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_by_hand(k, n))
    expected_holm = holm_by_hand([tail_by_hand(k, n) for k, n in counts.values()])
    assert table.loc[list(counts), "p_holm"].to_numpy() == pytest.approx(np.array(expected_holm))
    assert table["above_chance"].to_dict() == {"a": True, "b": False, "c": True, "d": True}


def test_chance_listener_not_significant():
    scored, _ = score(tidy(counts_table({"coin": (12, 24)})))
    row = per_listener(scored).iloc[0]
    assert row["p_binomial"] == pytest.approx(tail_by_hand(12, 24)) and row["p_binomial"] > 0.5
    assert not row["above_chance"]
