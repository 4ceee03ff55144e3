"""Response-time summaries: robust (median, IQR), split by outcome and by listener.

Response times are long-tailed (listeners may replay X, A and B for up to a minute), so medians and
quartiles lead; means are given for completeness. Time-outs have no response time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr


def describe_rt(rt: np.ndarray) -> dict:
    """n, median, quartiles, mean and SD of response times in milliseconds."""
    if rt.size == 0:
        return {"n": 0}
    q25, median, q75 = np.percentile(rt, [25, 50, 75])
    return {"n": int(rt.size), "median_ms": float(median), "q25_ms": float(q25), "q75_ms": float(q75),
            "mean_ms": float(np.mean(rt)), "sd_ms": float(np.std(rt, ddof=1)) if rt.size > 1 else None,
            "min_ms": float(np.min(rt)), "max_ms": float(np.max(rt))}


def rt_summary(scored: pd.DataFrame, listeners: pd.DataFrame) -> dict:
    """Overall, correct vs error, per-listener medians, and whether slower listeners are more accurate."""
    answered = scored[~scored["timed_out"] & scored["rt_ms"].notna()]
    if answered.empty:
        return {"error": "no answered trials with a response time"}
    medians = answered.groupby("listener")["rt_ms"].median()
    return {
        "overall": describe_rt(answered["rt_ms"].to_numpy()),
        "correct_trials": describe_rt(answered.loc[answered["correct"] == 1, "rt_ms"].to_numpy()),
        "error_trials": describe_rt(answered.loc[answered["correct"] == 0, "rt_ms"].to_numpy()),
        "listener_medians": describe_rt(medians.to_numpy()),
        "accuracy_vs_median_rt": _rank_correlation(medians, listeners),
        "timed_out_trials": int(scored["timed_out"].sum()),
    }


def _rank_correlation(medians: pd.Series, listeners: pd.DataFrame) -> dict:
    """Spearman correlation of listener accuracy with listener median response time."""
    accuracy = listeners.set_index("listener")["accuracy"].reindex(medians.index)
    if len(medians) < 3 or medians.nunique() < 2 or accuracy.nunique() < 2:
        return {"error": "needs at least 3 listeners with varying accuracy and response time"}
    result = spearmanr(accuracy.to_numpy(), medians.to_numpy())
    return {"spearman_rho": float(result.statistic), "p_two_sided": float(result.pvalue),
            "n_listeners": int(len(medians))}
