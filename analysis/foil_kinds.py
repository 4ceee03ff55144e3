"""Which claim the data support (issue 25): accuracy per foil kind beside what identity alone would score.

A different-song foil is beaten by anything that knows the song, so on a design where song identity is given
away (NMED-H: each EEG participant heard one song) its accuracy says "listeners recognised the song", never
"the music was decoded". A same-song foil (another time of the same song) is beaten only by a reconstruction
that carries *when* in the song it was heard. The decoding claim is therefore: same-song accuracy above 50 %
and above the identity-only line (the ideal observer on identity-only clips, stored with the study).

Figures here: per kind, pooled accuracy with an exact (Clopper-Pearson) 95 % CI and an exact one-sided
binomial p against 0.5 and against the identity-only line (descriptive: pooled trials repeat items across
listeners); a crossed mixed logistic model with foil kind as a fixed effect (listener and item random), whose
same-song log-odds give the claim's tests, against 50 % and against the identity-only line, generalising
over listeners and items.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.special import expit, logit
from scipy.stats import binomtest, norm

from analysis._blas import single_threaded
from analysis.mixed import SEPARATED, Z95, crossed_design

DIFFERENT, SAME = "different song", "same song"
LINE_KEYS = {DIFFERENT: "different-song", SAME: "same-song"}
"""The scored table's foil labels → the stored observer lines' kind names."""
ALPHA = 0.05
MAX_SE = 10.0
"""A log-odds standard error above this means (quasi-)separation, not an estimate."""


def kind_accuracy(scored: pd.DataFrame, lines: dict | None = None) -> dict:
    """Per foil kind: pooled accuracy, exact 95 % CI, exact one-sided p vs 0.5 and vs the identity-only line."""
    out = {}
    for kind in (DIFFERENT, SAME):
        rows = scored[scored["foil"] == kind]
        if rows.empty:
            continue
        k, n = int(rows["correct"].sum()), len(rows)
        test = binomtest(k, n, 0.5, alternative="greater")
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")  # two-sided Clopper-Pearson
        entry = {"n": n, "correct": k, "accuracy": k / n, "ci_low": float(ci.low), "ci_high": float(ci.high),
                 "p_vs_chance": float(test.pvalue), "n_listeners": int(rows["listener"].nunique())}
        identity = identity_line(lines, kind)
        if identity is not None:
            entry["identity_line"] = identity
            entry["p_vs_identity"] = float(binomtest(k, n, min(max(identity["accuracy"], 1e-9), 1 - 1e-9),
                                                     alternative="greater").pvalue)
        observer = observer_line(lines, kind)
        if observer is not None:
            entry["observer_line"] = observer
        out[kind] = entry
    return out


def _line(lines: dict | None, kind: str, keys: tuple[str, ...]) -> dict | None:
    """The first stored line of a kind among `keys` (every admissible pair first: more pairs, a steadier line)."""
    stored = ((lines or {}).get("kinds") or {}).get(LINE_KEYS[kind]) or {}
    for key in keys:
        line = stored.get(key)
        if line and line.get("n"):
            return {"source": key, "accuracy": line["accuracy"], "ci95": line.get("ci95"), "n": line["n"]}
    return None


def identity_line(lines: dict | None, kind: str) -> dict | None:
    """What identity alone scores on this kind (the as-heard observer on identity-only clips), if stored."""
    return _line(lines, kind, ("identity_every_pair", "identity_study_trials"))


def observer_line(lines: dict | None, kind: str) -> dict | None:
    """What the as-heard ideal observer scores on this kind with the study's own clips, if stored."""
    return _line(lines, kind, ("every_pair", "study_trials"))


def kind_effect(scored: pd.DataFrame, *, seed: int = 0) -> dict:
    """Crossed mixed logistic model logit P(correct) = b0 + b1·[same song] + u_listener + v_item: b1 and the
    same-song log-odds b0 + b1 with Laplace SEs (variance components fixed at their VB estimates)."""
    rows = scored[scored["foil"].isin([DIFFERENT, SAME])]
    if rows["foil"].nunique() < 2:
        return {"error": "only one foil kind in the scored trials: no foil-kind effect to estimate"}
    if rows["correct"].nunique() < 2:
        return {"error": SEPARATED}
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    y = rows["correct"].to_numpy(dtype=float)
    x = np.column_stack([np.ones(len(rows)), (rows["foil"] == SAME).to_numpy(dtype=float)])
    design, ident = crossed_design(pd.factorize(rows["listener"], sort=True)[0],
                                   pd.factorize(rows["item_key"], sort=True)[0])
    try:
        model = BinomialBayesMixedGLM(y, x, design, ident, vcp_p=1.0, fe_p=2.0)
        with single_threaded(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = model.fit_vb(fit_method="L-BFGS-B", rng=seed)
        beta = np.asarray(result.fe_mean, dtype=float)
        cov = _laplace_cov(y, x, design, beta, np.asarray(result.vc_mean), np.exp(result.vcp_mean)[ident])
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        return {"error": f"not fitted: {exc}"}
    contrast = np.array([1.0, 1.0])
    same = float(contrast @ beta)
    same_se = float(np.sqrt(contrast @ cov @ contrast))
    b1, b1_se = float(beta[1]), float(np.sqrt(cov[1, 1]))
    if not (np.isfinite(same_se) and np.isfinite(b1_se)) or max(same_se, b1_se) > MAX_SE:
        return {"error": f"no usable estimate (standard error {max(same_se, b1_se):.3g} on the log-odds scale): "
                         "answers are (nearly) identical within items, so item and foil kind cannot be told apart"}
    z_same, z_b1 = same / same_se, b1 / b1_se
    return {
        "model": "logit P(correct) = b0 + b1·[same-song foil] + u_listener + v_item",
        "method": "statsmodels BinomialBayesMixedGLM.fit_vb; Laplace covariance of (b0, b1) given the variance "
                  "components",
        "seed": seed, "n_trials": len(rows),
        "b0_different_song": float(beta[0]), "b1_same_song": b1, "b1_se": b1_se, "b1_z": z_b1,
        "b1_p_two_sided": float(2 * norm.sf(abs(z_b1))),
        "same_song_logit": same, "same_song_se": same_se, "same_song_z": z_same,
        "same_song_p_greater": float(norm.sf(z_same)),
        "same_song_typical": float(expit(same)),
        "same_song_typical_ci": [float(expit(same - Z95 * same_se)), float(expit(same + Z95 * same_se))],
        "different_song_typical": float(expit(beta[0])),
        "different_song_p_greater": (float(norm.sf(beta[0] / np.sqrt(cov[0, 0]))) if np.sqrt(cov[0, 0]) <= MAX_SE
                                     else None),  # every different-song answer alike: the exact test decides
        "sd_listener": float(np.exp(result.vcp_mean)[0]), "sd_item": float(np.exp(result.vcp_mean)[1]),
    }


def _laplace_cov(y: np.ndarray, x: np.ndarray, design: sp.csr_matrix, beta: np.ndarray, effects: np.ndarray,
                 effect_sd: np.ndarray) -> np.ndarray:
    """Covariance of the fixed effects from the joint curvature with the random effects (Schur complement)."""
    p = expit(x @ beta + design @ effects)
    w = p * (1 - p)
    curvature = (design.T @ sp.diags(w) @ design + sp.diags(1.0 / effect_sd**2)).tocsc()
    cross = np.asarray(design.T @ (w[:, None] * x))
    information = x.T @ (w[:, None] * x) - cross.T @ spsolve(curvature, cross).reshape(cross.shape)
    return np.linalg.inv(information)


def claim(per_kind: dict, effect: dict) -> dict:
    """Which claim the data support: decoding needs same-song trials above 50 % (mixed model, one-sided) and,
    where the study stores it, above the identity-only line (exact binomial); identity needs different-song
    trials above 50 %."""
    same, different = per_kind.get(SAME), per_kind.get(DIFFERENT)
    identity_gives_it_away = bool(different and different.get("identity_line")
                                  and different["identity_line"]["accuracy"] >= 0.9)
    # song identity: the exact test on pooled trials (deterministic answers per item make the model's item
    # variance absorb even 100 % correct); the decoding claim below uses the model
    song_p = different["p_vs_chance"] if different else None
    song = bool(different) and song_p is not None and song_p < ALPHA
    tests = {}
    if same:
        model_p = effect.get("same_song_p_greater")
        tests["same_song_vs_chance"] = {"test": "mixed model, same-song log-odds > 0 (one-sided z)",
                                        "p": model_p} if model_p is not None else {
            "test": "exact binomial, pooled same-song trials > 50 % (one-sided)", "p": same["p_vs_chance"]}
        if "p_vs_identity" in same:
            line = min(max(same["identity_line"]["accuracy"], 1e-6), 1 - 1e-6)
            if "same_song_logit" in effect:  # items repeat across listeners: the model's SE carries that
                z = (effect["same_song_logit"] - float(logit(line))) / effect["same_song_se"]
                tests["same_song_vs_identity"] = {
                    "test": f"mixed model, same-song log-odds > logit of the identity-only line ({line:.1%}; "
                            "one-sided z)", "p": float(norm.sf(z))}
            else:
                tests["same_song_vs_identity"] = {
                    "test": f"exact binomial, pooled same-song trials > the identity-only line ({line:.1%}, "
                            "one-sided)", "p": same["p_vs_identity"]}
    decoded = bool(same) and all(t["p"] is not None and t["p"] < ALPHA for t in tests.values())
    return {"decoding": decoded, "song_identity": song, "song_identity_p": song_p, "identity_gives_different_song_away": identity_gives_it_away,
            "identity_line_stored": bool(same and "identity_line" in same), "tests": tests, "alpha": ALPHA,
            "verdict": ("listeners recognised the music in time" if decoded
                        else "listeners recognised the song" if song
                        else "listeners did not recognise the reconstructions above chance")}


def foil_kind_report(scored: pd.DataFrame, *, lines: dict | None = None, seed: int = 0) -> dict:
    """Per-kind accuracy beside the stored lines, the foil-kind effect, and the claim they support."""
    per_kind = kind_accuracy(scored, lines)
    effect = kind_effect(scored, seed=seed) if SAME in per_kind else {"error": "no same-song trials"}
    return {"per_kind": per_kind, "effect": effect, "claim": claim(per_kind, effect),
            "lines_source": (lines or {}).get("source")}


def study_lines(url: str, experiment_id: int) -> dict | None:
    """The observer lines stored with a study (experiment.observer_lines), or None (older study, none stored)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("experiment")}
            if "observer_lines" not in columns:
                return None
            value = conn.execute(sa.text("select observer_lines from experiment where id = :i"),
                                 {"i": experiment_id}).scalar()
    finally:
        engine.dispose()
    if isinstance(value, str):
        import json
        value = json.loads(value)
    return value or None
