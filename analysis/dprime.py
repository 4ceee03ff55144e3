"""d′ for the AB-X task under its two observer strategies, and the 2AFC figure for comparison.

Proportion correct depends on the task; d′ is meant not to. AB-X has no single d′: Macmillan &
Creelman (2005, ch. 9) give one mapping for an observer who compares X with A and with B
(differencing) and one for an observer who classifies each interval alone (independent observation).
Each value is therefore labelled with the model that produced it. Below chance, d′ is signed:
d′(pc) = −d′(1 − pc).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.stats import norm

MODELS = {
    "abx_differencing": "AB-X, differencing strategy (Macmillan & Creelman 2005, ch. 9): "
                        "pc = Φ(d′/√2)Φ(d′/√6) + Φ(−d′/√2)Φ(−d′/√6)",
    "abx_independent": "AB-X, independent-observation strategy (Macmillan & Creelman 2005, ch. 9): "
                       "pc = Φ(d′/√2)Φ(d′/2) + Φ(−d′/√2)Φ(−d′/2)",
    "2afc": "2AFC, unbiased observer: pc = Φ(d′/√2), so d′ = √2·z(pc) (for comparison; not the AB-X task)",
}
EXTREMES = "proportions of 0 or 1 replaced by 1/(2N) and 1 − 1/(2N) (Macmillan & Kaplan 1985)"
_SECOND = {"abx_differencing": math.sqrt(6), "abx_independent": 2.0}


def pc_abx(d: float, strategy: str) -> float:
    """Proportion correct of an unbiased AB-X observer with sensitivity d′ under `strategy`."""
    a, b = d / math.sqrt(2), d / _SECOND[strategy]
    return float(norm.cdf(a) * norm.cdf(b) + norm.cdf(-a) * norm.cdf(-b))


def pc_2afc(d: float) -> float:
    """Proportion correct of an unbiased 2AFC observer with sensitivity d′."""
    return float(norm.cdf(d / math.sqrt(2)))


def dprime_2afc(pc: ArrayLike) -> np.ndarray:
    """d′ = √2·z(pc): the 2AFC closed form."""
    return math.sqrt(2) * norm.ppf(np.asarray(pc, dtype=float))


def dprime_abx(pc: ArrayLike, strategy: str) -> np.ndarray:
    """Invert the AB-X mapping numerically (it is monotone in d′ ≥ 0); signed below chance."""
    if strategy not in _SECOND:
        raise ValueError(f"strategy={strategy!r} must be one of {', '.join(_SECOND)}")
    values = np.asarray(pc, dtype=float)
    lookup = {p: _invert_abx(p, strategy) for p in np.unique(values[np.isfinite(values)]).tolist()}
    return np.vectorize(lambda p: lookup.get(p, float("nan")), otypes=[float])(values)


def dprime(pc: ArrayLike, model: str) -> np.ndarray:
    """d′ under a named model from MODELS."""
    if model == "2afc":
        return dprime_2afc(pc)
    return dprime_abx(pc, model)


def adjust_extremes(correct: ArrayLike, trials: ArrayLike) -> np.ndarray:
    """Proportion correct with 0 and 1 pulled in by half a trial, so d′ stays finite."""
    k, n = np.asarray(correct, dtype=float), np.asarray(trials, dtype=float)
    return np.clip(k / n, 0.5 / n, 1 - 0.5 / n)


def dprime_table(listeners: pd.DataFrame) -> pd.DataFrame:
    """Per-listener d′ under every model, from extreme-adjusted accuracy."""
    pc = adjust_extremes(listeners["correct"], listeners["trials"])
    return pd.DataFrame({"listener": listeners["listener"].to_numpy(),
                         **{f"dprime_{m}": dprime(pc, m) for m in MODELS}})


def dprime_report(listeners: pd.DataFrame, scored: pd.DataFrame) -> dict:
    """Group d′: at pooled accuracy, mean and median over listeners, and bias-corrected from A/B rates."""
    table = dprime_table(listeners)
    pooled_pc = float(adjust_extremes(listeners["correct"].sum(), listeners["trials"].sum()))
    return {
        "models": MODELS, "extremes": EXTREMES,
        "pooled_accuracy": pooled_pc,
        "at_pooled_accuracy": {m: float(dprime(pooled_pc, m)) for m in MODELS},
        "listener_mean": {m: float(table[f"dprime_{m}"].mean()) for m in MODELS},
        "listener_median": {m: float(table[f"dprime_{m}"].median()) for m in MODELS},
        "bias_corrected": bias_corrected(scored),
    }


def bias_corrected(scored: pd.DataFrame) -> dict:
    """Pooled d′ with any preference for answering A removed: pc_max = Φ((z(H) − z(F))/2).

    H = P(answer A | X matches A), F = P(answer A | X matches B), over answered trials only.
    """
    answered = scored[scored["answer"].notna()]
    on_a, on_b = answered[answered["correct_side"] == "A"], answered[answered["correct_side"] == "B"]
    if on_a.empty or on_b.empty:
        return {"error": "needs answered trials with the match on each side"}
    h = float(adjust_extremes((on_a["answer"] == "A").sum(), len(on_a)))
    f = float(adjust_extremes((on_b["answer"] == "A").sum(), len(on_b)))
    zh, zf = norm.ppf(h), norm.ppf(f)
    pc_max = float(norm.cdf((zh - zf) / 2))
    return {"hit_rate_A": h, "false_alarm_rate_A": f, "criterion_c": float(-(zh + zf) / 2),
            "pc_unbiased": pc_max, **{m: float(dprime(pc_max, m)) for m in MODELS}}


def _invert_abx(pc: float, strategy: str) -> float:
    """Solve pc_abx(d) = pc for d; ±inf at 0 or 1, 0 at chance."""
    if pc in (0.0, 1.0):
        return math.copysign(math.inf, pc - 0.5)
    target = max(pc, 1 - pc)
    if target == 0.5:
        return 0.0
    d = brentq(lambda x: pc_abx(x, strategy) - target, 0.0, 40.0, xtol=1e-12)
    return d if pc >= 0.5 else -d
