"""The ideal observer of an AB-X trial: it picks the candidate whose spectrogram is closer to X."""

from __future__ import annotations

import numpy as np
from scipy import stats


def log_mel_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference of two spectrograms in dB (or [0, 1] units) [shape=(frames, bins)]."""
    frames = min(len(a), len(b))
    return float(np.mean((a[:frames] - b[:frames]) ** 2))


def ideal_observer(targets: list[np.ndarray], matches: list[np.ndarray], foils: list[np.ndarray]) -> dict:
    """Share of trials where the match is closer to X than the foil, with an exact 95% CI and p vs 0.5."""
    wins = np.array([log_mel_distance(m, x) < log_mel_distance(f, x) for x, m, f in zip(targets, matches, foils)])
    n, k = len(wins), int(wins.sum())
    test = stats.binomtest(k, n, 0.5) if n else None
    ci = test.proportion_ci(0.95, method="exact") if n else None
    return {"n": n, "correct": k, "accuracy": k / n if n else float("nan"),
            "ci95": [float(ci.low), float(ci.high)] if ci else None,
            "p_two_sided": float(test.pvalue) if n else None,
            "chance_in_ci95": bool(ci.low <= 0.5 <= ci.high) if ci else None}
