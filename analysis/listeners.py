"""Per-listener accuracy against chance: exact one-sided binomial p, Wilson 95% CI, Holm across listeners."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

CHANCE = 0.5


def wilson_ci(correct: ArrayLike, trials: ArrayLike, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval: stays inside [0, 1] and keeps its coverage at 24 trials, unlike Wald."""
    low, high = proportion_confint(np.asarray(correct), np.asarray(trials), alpha=1 - confidence,
                                   method="wilson")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def binomial_p(correct: ArrayLike, trials: ArrayLike, *, chance: float = CHANCE) -> np.ndarray:
    """Exact one-sided P(X ≥ k | chance): the question is only whether a listener beats guessing."""
    k = np.asarray(correct, dtype=int).ravel()
    n = np.asarray(trials, dtype=int).ravel()
    cache: dict[tuple[int, int], float] = {}
    for pair in set(zip(k.tolist(), n.tolist())):
        cache[pair] = binomtest(pair[0], pair[1], chance, alternative="greater").pvalue
    return np.array([cache[pair] for pair in zip(k.tolist(), n.tolist())], dtype=float)


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm step-down adjustment: controls the chance of any false 'above chance' across listeners."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p
    return multipletests(p, method="holm")[1]


def per_listener(scored: pd.DataFrame, *, chance: float = CHANCE, alpha: float = 0.05) -> pd.DataFrame:
    """One row per listener: trials, correct, accuracy, binomial p, Holm p, Wilson CI, verdicts."""
    table = scored.groupby("listener", sort=True).agg(
        version=("version", "first"), trials=("correct", "size"), correct=("correct", "sum"),
        timed_out=("timed_out", "sum")).reset_index()
    table["accuracy"] = table["correct"] / table["trials"]
    table["p_binomial"] = binomial_p(table["correct"], table["trials"], chance=chance)
    table["p_holm"] = holm(table["p_binomial"])
    table["ci_low"], table["ci_high"] = wilson_ci(table["correct"], table["trials"])
    table["above_chance"] = table["p_binomial"] < alpha
    table["above_chance_holm"] = table["p_holm"] < alpha
    table[["trials", "correct", "timed_out"]] = table[["trials", "correct", "timed_out"]].astype(int)
    return table
