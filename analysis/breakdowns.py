"""Where accuracy comes from: by foil kind (same or different song), song, position, version, EEG participant, correct side and trial order.

Each breakdown pairs descriptive accuracies (Wilson CIs, which ignore clustering) with one test that
respects it: a Wald test from a logistic GEE clustered by listener.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import chi2, norm

from analysis.listeners import wilson_ci
from analysis.mixed import SEPARATED, Z95, fit_gee

FACTORS = ("foil", "song", "position", "version", "eeg_participant", "correct_side")
LEVEL_ORDER = {"position": ("beginning", "middle", "end")}
DESCRIPTIVE = "Wilson CIs per level pool trials and ignore clustering; use the GEE test to compare levels"


def by_factor(scored: pd.DataFrame, column: str) -> dict:
    """Accuracy per level of `column`, plus a listener-clustered test that all levels are equal."""
    levels = _level_table(scored, column)
    return {"factor": column, "levels": levels.to_dict("records"), "test": factor_test(scored, column),
            "note": DESCRIPTIVE}


def all_breakdowns(scored: pd.DataFrame) -> dict:
    """Every factor breakdown, keyed by factor, plus song × position for the report's plot."""
    result = {column: by_factor(scored, column) for column in FACTORS}
    result["song_by_position"] = cross_table(scored, "song", "position")
    return result


def cross_table(scored: pd.DataFrame, rows: str, columns: str) -> list[dict]:
    """Accuracy and Wilson CI for every combination of two factors (descriptive)."""
    records = []
    for value, part in scored.groupby(rows, sort=True):
        table = _level_table(part, columns).rename(columns={"level": columns})
        records += table.assign(**{rows: value}).to_dict("records")
    return records


def factor_test(scored: pd.DataFrame, column: str) -> dict:
    """Robust Wald χ² (GEE, clustered by listener) that accuracy is equal across the levels."""
    codes, names = pd.factorize(scored[column].astype(str), sort=True)
    if len(names) < 2:
        return {"error": f"{column} has a single level ({names[0]}); nothing to compare"}
    uniform = scored.groupby(codes)["correct"].nunique() < 2
    if uniform.any():
        return {"error": f"{column} level(s) {', '.join(names[uniform.index[uniform]])} have every answer the "
                         "same: the logistic Wald test is unreliable there (compare the Wilson CIs instead)"}
    exog = np.column_stack([np.ones(len(scored))] + [(codes == j).astype(float) for j in range(1, len(names))])
    try:
        result, notes = fit_gee(scored, exog)
        b = np.asarray(result.params)[1:]
        cov = np.asarray(result.cov_params())[1:, 1:]
        stat = float(b @ np.linalg.pinv(cov) @ b)
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        return {"error": f"GEE test failed: {exc}"}
    if not np.isfinite(stat):
        return {"error": "GEE test not finite (a level with all answers identical?)"}
    df = len(names) - 1
    return {"method": "logistic GEE, exchangeable within listener, robust Wald χ²", "chi2": stat, "df": df,
            "p": float(chi2.sf(stat, df)), "notes": notes}


def learning(scored: pd.DataFrame, *, bin_size: int = 6) -> dict:
    """Accuracy over the session (by trial_index bins and per trial) and a logistic slope per trial."""
    frame = scored.assign(bin=(scored["trial_index"] - 1) // bin_size)
    bins = _level_table(frame, "bin")
    bins["label"] = [f"{b * bin_size + 1}–{(b + 1) * bin_size}" for b in bins["level"]]
    per_trial = _level_table(scored, "trial_index")
    return {"bin_size": bin_size, "bins": bins.to_dict("records"), "per_trial": per_trial.to_dict("records"),
            "slope": learning_slope(scored), "note": DESCRIPTIVE}


def learning_slope(scored: pd.DataFrame) -> dict:
    """Logit slope of correctness on trial index (GEE clustered by listener); > 0 means learning."""
    t = scored["trial_index"].to_numpy(dtype=float)
    if np.ptp(t) == 0:
        return {"error": "every trial has the same trial_index"}
    if scored["correct"].nunique() < 2:
        return {"error": SEPARATED}
    centre = float(t.mean())
    try:
        result, notes = fit_gee(scored, np.column_stack([np.ones(t.size), t - centre]))
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        return {"error": f"GEE failed: {exc}"}
    b0, b1 = (float(x) for x in result.params)
    se = float(result.bse[1])
    if not (np.isfinite(b1) and np.isfinite(se) and se > 0):
        return {"error": "slope not finite (all answers identical?)"}
    grid = np.arange(int(t.min()), int(t.max()) + 1)
    return {"model": "logit P(correct) = b0 + b1·(trial_index − mean), GEE clustered by listener",
            "slope_per_trial": b1, "se": se, "z": b1 / se, "p_two_sided": float(2 * norm.sf(abs(b1 / se))),
            "odds_ratio_per_trial": float(np.exp(b1)),
            "odds_ratio_ci": [float(np.exp(b1 - Z95 * se)), float(np.exp(b1 + Z95 * se))],
            "centre": centre, "fitted": {"trial_index": grid.tolist(),
                                         "accuracy": expit(b0 + b1 * (grid - centre)).tolist()},
            "notes": notes}


def _level_table(scored: pd.DataFrame, column: str) -> pd.DataFrame:
    """Trials, correct, listeners, accuracy and Wilson CI per level, in a meaningful level order."""
    table = scored.groupby(column, sort=True).agg(
        trials=("correct", "size"), correct=("correct", "sum"), listeners=("listener", "nunique"))
    table = table.reindex(_order(table.index, column)).reset_index().rename(columns={column: "level"})
    table["accuracy"] = table["correct"] / table["trials"]
    table["ci_low"], table["ci_high"] = wilson_ci(table["correct"], table["trials"])
    table[["trials", "correct", "listeners"]] = table[["trials", "correct", "listeners"]].astype(int)
    return table


def _order(levels: pd.Index, column: str) -> list:
    """Known orders first (beginning, middle, end), anything else after, sorted."""
    known = [v for v in LEVEL_ORDER.get(column, ()) if v in levels]
    return known + sorted(v for v in levels if v not in known)
