"""Accuracy against chance: exact binomial tests and Clopper–Pearson intervals, and a clustered interval for
trials that are not independent."""

from __future__ import annotations

import numpy as np
from scipy import stats

from reconstruct.errors import ParameterError


def accuracy_vs_chance(correct: int, n: int, chance: float, *, level: float = 0.95) -> dict:
    """Accuracy with an exact (Clopper–Pearson) CI and exact binomial p-values against `chance`.

    ``at_chance`` is True when `chance` lies inside the CI (what a control must show);
    ``above_chance`` when the one-sided p (H1: accuracy > chance) is below 1 − `level`.
    """
    if not 0 < chance < 1:
        raise ParameterError(f"chance={chance} must be in (0, 1)")
    if n < 1:
        raise ParameterError(f"n={n} must be >= 1")
    if not 0 <= correct <= n:
        raise ParameterError(f"correct={correct} must be in [0, n={n}]")
    test = stats.binomtest(int(correct), int(n), chance, alternative="greater")
    ci = stats.binomtest(int(correct), int(n), chance).proportion_ci(level, method="exact")
    return {"n": int(n), "correct": int(correct), "accuracy": correct / n, "chance": chance,
            "ci": [float(ci.low), float(ci.high)], "ci_level": level,
            "p_greater": float(test.pvalue),
            "p_two_sided": float(stats.binomtest(int(correct), int(n), chance).pvalue),
            "at_chance": bool(ci.low <= chance <= ci.high),
            "above_chance": bool(test.pvalue < 1 - level)}


def two_way_cluster_ci(hits: np.ndarray, rows: np.ndarray, cols: np.ndarray, *,
                       level: float = 0.95) -> list[float]:
    """A CI of a hit rate whose trials share two crossed factors (e.g. the true span and the participant),
    so that neither is counted as independent: the Clopper–Pearson interval at the effective sample size
    n / deff, where the design effect deff is the two-way cluster-robust variance of the mean (Cameron,
    Gelbach & Miller; statsmodels' `cov_cluster_2groups`) over the binomial one, never below 1."""
    hits = np.asarray(hits, dtype=float)
    n = hits.size
    if n == 0 or not (len(rows) == len(cols) == n):
        raise ParameterError(f"need one row and one column label per trial (got {len(rows)}, {len(cols)} "
                             f"for {n} trials)")
    p = hits.mean()
    deff = 1.0
    if 0 < p < 1:
        from statsmodels.regression.linear_model import OLS  # statsmodels takes a second to import
        from statsmodels.stats.sandwich_covariance import cov_cluster_2groups

        fit = OLS(hits, np.ones((n, 1))).fit()
        both, one, two = cov_cluster_2groups(fit, np.unique(rows, return_inverse=True)[1],
                                             np.unique(cols, return_inverse=True)[1])
        variance = max(both[0, 0], one[0, 0], two[0, 0])  # the two-way estimate can fall below a one-way one
        deff = max(1.0, variance / (p * (1 - p) / n))
    k, m = p * n / deff, n / deff
    alpha = 1 - level
    lo = stats.beta.ppf(alpha / 2, k, m - k + 1) if k > 0 else 0.0
    hi = stats.beta.ppf(1 - alpha / 2, k + 1, m - k) if k < m else 1.0
    return [float(lo), float(hi)]


def family_at_chance(checks: list[tuple[int, int, float]], *, alpha: float = 0.05) -> tuple[list[bool], float]:
    """Is chance inside each (correct, n, chance) check's Bonferroni interval (level 1 − alpha/m)?

    A verdict "every null check is at chance" over m checks at 95 % each fails for a perfect null with
    probability 1 − 0.95^m (68 % for m = 22); judging each on its 1 − alpha/m interval keeps the
    family-wise false alarm at most alpha. Returns the verdicts and the level used."""
    level = 1 - alpha / max(len(checks), 1)
    return [accuracy_vs_chance(k, n, chance, level=level)["at_chance"] for k, n, chance in checks], level


def p_text(p: float, *, equals: bool = False) -> str:
    """A p-value for people: '3.1e-07', or '< 1e-300' where the float underflowed to 0 (never 'p = 0')."""
    if p < 1e-300:
        return "<1e-300" if equals else "< 1e-300"
    return f"={p:.2g}" if equals else f"{p:.2g}"
