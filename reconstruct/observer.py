"""The ideal observer of an AB-X trial: it picks the candidate whose spectrogram is closer to X."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats


def log_mel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference of two spectrograms in the same units [shape=(frames, bins)]."""
    frames = min(len(a), len(b))
    return float(np.mean((a[:frames] - b[:frames]) ** 2))


def correlation_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 − Pearson r of two dB spectrograms: blind to overall level, which loudness normalisation removes
    from what listeners hear anyway."""
    frames = min(len(a), len(b))
    return float(1.0 - np.corrcoef(a[:frames].ravel(), b[:frames].ravel())[0, 1])


DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "mse": log_mel_distance, "correlation": correlation_distance}


def ideal_observer(targets: list[np.ndarray], matches: list[np.ndarray], foils: list[np.ndarray], *,
                   distance: str = "mse") -> dict:
    """Share of trials where the match is closer to X than the foil, with an exact 95% CI and p vs 0.5."""
    d = DISTANCES[distance]
    wins = np.array([d(m, x) < d(f, x) for x, m, f in zip(targets, matches, foils)])
    n, k = len(wins), int(wins.sum())
    test = stats.binomtest(k, n, 0.5) if n else None
    ci = test.proportion_ci(0.95, method="exact") if n else None
    return {"distance": distance, "n": n, "correct": k, "accuracy": k / n if n else float("nan"),
            "ci95": [float(ci.low), float(ci.high)] if ci else None,
            "p_two_sided": float(test.pvalue) if n else None,
            "chance_in_ci95": bool(ci.low <= 0.5 <= ci.high) if ci else None}
