"""Group accuracy: the paper's mean/SD/min/max, a pooled CI, and tests of listener accuracies against chance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analysis.listeners import CHANCE, wilson_ci


def group_summary(listeners: pd.DataFrame, *, chance: float = CHANCE, alpha: float = 0.05) -> dict:
    """Summarise per-listener accuracies, so the group claim rests on listeners, not pooled trials."""
    accuracy = listeners["accuracy"].to_numpy(dtype=float)
    return {
        "n_listeners": int(accuracy.size),
        **describe_accuracies(accuracy),
        "pooled": pooled(listeners),
        "t_test": t_test(accuracy, chance=chance),
        "wilcoxon": wilcoxon(accuracy, chance=chance),
        "n_above_chance": int(listeners["above_chance"].sum()),
        "n_above_chance_holm": int(listeners["above_chance_holm"].sum()),
        "alpha": alpha,
    }


def describe_accuracies(accuracy: np.ndarray) -> dict:
    """Mean, SD (n − 1), median, min and max, as the paper reports them."""
    n = accuracy.size
    return {
        "mean": float(np.mean(accuracy)),
        "sd": float(np.std(accuracy, ddof=1)) if n > 1 else None,
        "median": float(np.median(accuracy)),
        "min": float(np.min(accuracy)),
        "max": float(np.max(accuracy)),
    }


def pooled(listeners: pd.DataFrame) -> dict:
    """All trials pooled with a Wilson CI; descriptive only, as trials of one listener are not independent."""
    k, n = int(listeners["correct"].sum()), int(listeners["trials"].sum())
    low, high = wilson_ci(k, n)
    return {"trials": n, "correct": k, "accuracy": k / n, "ci_low": float(low), "ci_high": float(high),
            "note": "descriptive: ignores that trials are clustered within listeners and items"}


def t_test(accuracy: np.ndarray, *, chance: float = CHANCE) -> dict:
    """One-sample t-test of listener accuracies against chance, with the mean's 95% CI and Cohen's d."""
    n = accuracy.size
    sd = float(np.std(accuracy, ddof=1)) if n > 1 else 0.0
    if n < 2 or sd == 0.0:
        return {"error": f"needs at least 2 listeners with differing accuracies (n={n}, sd={sd:g})"}
    two = stats.ttest_1samp(accuracy, chance)
    greater = stats.ttest_1samp(accuracy, chance, alternative="greater")
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    mean = float(np.mean(accuracy))
    # a proportion's CI stays inside [0, 1]: the t interval can overshoot near ceiling with few listeners
    return {"t": float(two.statistic), "df": n - 1, "p_two_sided": float(two.pvalue),
            "p_greater": float(greater.pvalue), "mean_ci_low": max(0.0, mean - half),
            "mean_ci_high": min(1.0, mean + half), "cohen_d": (mean - chance) / sd}


def wilcoxon(accuracy: np.ndarray, *, chance: float = CHANCE) -> dict:
    """Wilcoxon signed-rank test against chance: no normality assumption on 24-trial accuracies."""
    diff = accuracy - chance
    n_nonzero = int(np.count_nonzero(diff))
    if n_nonzero == 0:
        return {"error": "every listener is exactly at chance; the signed-rank test is undefined"}
    two = stats.wilcoxon(diff, zero_method="wilcox")
    greater = stats.wilcoxon(diff, zero_method="wilcox", alternative="greater")
    return {"statistic": float(two.statistic), "w_plus": float(greater.statistic), "p_two_sided": float(two.pvalue),
            "p_greater": float(greater.pvalue), "n_nonzero": n_nonzero,
            "method": "scipy.stats.wilcoxon, zero_method='wilcox' (listeners exactly at chance dropped), "
                      "method='auto': exact when n ≤ 50 without ties; with ties, exhaustive permutation when "
                      "n ≤ 13, else the tie-corrected normal approximation"}
