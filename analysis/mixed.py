"""Model-based tests: a crossed listener × item mixed logistic model, and GEE clustered by listener.

Listener accuracies (group.py) treat the 24 items as fixed. The mixed model lets the conclusion reach
new reconstructions too; GEE gives the population-averaged accuracy with listener-robust errors.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.special import expit, logit
from scipy.stats import norm

from analysis._blas import single_threaded
from analysis.listeners import CHANCE

if TYPE_CHECKING:
    from statsmodels.genmod.generalized_estimating_equations import GEEResults

Z95 = float(norm.ppf(0.975))
SEPARATED = "every answer is correct (or every answer wrong): a logistic model has no finite estimate"

INTERPRETATION = {
    "mixed": (
        "Mixed logistic model with crossed random intercepts for listener and item (statsmodels "
        "BinomialBayesMixedGLM, variational Bayes). It CAN say whether a typical listener on a typical item "
        "scores above chance in a way that generalises to new listeners and to new items (reconstructions) "
        "drawn like these, and how much accuracy varies between listeners and between items (SDs on the "
        "log-odds scale). It CANNOT say what the population-average accuracy is directly (the intercept is "
        "conditional on a typical listener and item; the marginal figure is derived by integrating over the "
        "random effects), anything about songs, EEG data or listeners unlike these, or give exact p-values: "
        "the test uses a Laplace standard error conditional on the estimated variance components (the "
        "mean-field VB posterior SD, also reported, is known to understate the uncertainty), and with few "
        "items the item variance is poorly determined."
    ),
    "gee": (
        "GEE, logit link, exchangeable working correlation, robust (sandwich) standard errors clustered by "
        "listener. It CAN say whether the population-averaged accuracy over listeners exceeds chance, valid "
        "whatever the correlation of trials within a listener. It CANNOT generalise to new items: items are "
        "treated as fixed, so item-to-item variability is not in its standard error (the mixed model covers "
        "that); with fewer than about 40 listeners the sandwich error is biased downward, making p-values "
        "optimistic; and it gives no listener-level estimates."
    ),
}


@dataclass(frozen=True)
class CrossedFit:
    """A crossed random-intercept logistic fit, reduced to the numbers the report and the power use."""

    intercept: float
    se: float
    vb_sd: float
    sd_listener: float
    sd_item: float
    converged: bool
    message: str


def crossed_design(listener_idx: np.ndarray, item_idx: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse indicator design [listeners | items] and its component labels (0 listener, 1 item)."""
    n = listener_idx.size
    n_listeners, n_items = int(listener_idx.max()) + 1, int(item_idx.max()) + 1
    rows = np.r_[np.arange(n), np.arange(n)]
    cols = np.r_[listener_idx, n_listeners + item_idx]
    design = sp.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, n_listeners + n_items))
    ident = np.r_[np.zeros(n_listeners, dtype=int), np.ones(n_items, dtype=int)]
    return design, ident


def fit_crossed(y: np.ndarray, listener_idx: np.ndarray, item_idx: np.ndarray, *, seed: int = 0,
                vcp_p: float = 1.0, fe_p: float = 2.0) -> CrossedFit:
    """Fit logit P(correct) = b0 + u_listener + v_item by VB, then a Laplace SE for b0."""
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    design, ident = crossed_design(listener_idx, item_idx)
    model = BinomialBayesMixedGLM(np.asarray(y, dtype=float), np.ones((y.size, 1)), design, ident,
                                  vcp_p=vcp_p, fe_p=fe_p)
    with single_threaded(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit_vb(fit_method="L-BFGS-B", rng=seed)
    sds = np.exp(result.vcp_mean)
    intercept = float(result.fe_mean[0])
    se = laplace_se(y, design, intercept, result.vc_mean, sds[ident])
    retvals = result.optim_retvals
    return CrossedFit(intercept=intercept, se=se, vb_sd=float(result.fe_sd[0]), sd_listener=float(sds[0]),
                      sd_item=float(sds[1]), converged=bool(retvals.success), message=str(retvals.message))


def laplace_se(y: np.ndarray, design: sp.csr_matrix, intercept: float, effects: np.ndarray,
               effect_sd: np.ndarray) -> float:
    """SE of the intercept from the joint curvature with the random effects (variance components fixed).

    Mean-field VB treats the intercept as independent of the random effects and so understates its
    uncertainty (about half the item-driven SE in our simulations); the Schur complement does not.
    """
    eta = intercept + design @ effects
    p = expit(eta)
    w = p * (1 - p)
    curvature = (design.T @ sp.diags(w) @ design + sp.diags(1.0 / effect_sd**2)).tocsc()
    cross = design.T @ w
    information = float(w.sum() - cross @ spsolve(curvature, cross))
    return float(1.0 / np.sqrt(information)) if information > 0 else float("inf")


def marginal_accuracy(intercept: float, sd_total: float) -> float:
    """Population-averaged P(correct): expit(b0 + e) averaged over e ~ N(0, sd_total²)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    return float(np.sum(weights * expit(intercept + sd_total * nodes)) / np.sum(weights))


def intercept_for_accuracy(accuracy: float, sd_total: float) -> float:
    """The conditional intercept whose population-averaged accuracy is `accuracy` (for simulation)."""
    from scipy.optimize import brentq

    return float(brentq(lambda b: marginal_accuracy(b, sd_total) - accuracy, -20.0, 20.0))


def mixed_model(scored: pd.DataFrame, *, seed: int = 0, chance: float = CHANCE) -> dict:
    """Fit the crossed model to the scored trials and report intercept, test and variance components."""
    if scored["correct"].nunique() < 2:
        return {"error": SEPARATED, "interpretation": INTERPRETATION["mixed"]}
    listener_idx = pd.factorize(scored["listener"], sort=True)[0]
    item_idx = pd.factorize(scored["item_key"], sort=True)[0]
    try:
        fit = fit_crossed(scored["correct"].to_numpy(dtype=float), listener_idx, item_idx, seed=seed)
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        return {"error": f"not fitted: {exc}", "interpretation": INTERPRETATION["mixed"]}
    return _mixed_report(fit, scored, chance) | {"seed": seed, "interpretation": INTERPRETATION["mixed"]}


def _mixed_report(fit: CrossedFit, scored: pd.DataFrame, chance: float) -> dict:
    """Turn a fit into test statistics on the logit and accuracy scales."""
    z = (fit.intercept - logit(chance)) / fit.se
    low, high = fit.intercept - Z95 * fit.se, fit.intercept + Z95 * fit.se
    sd_total = float(np.hypot(fit.sd_listener, fit.sd_item))
    return {
        "model": "logit P(correct) = b0 + u_listener + v_item; u ~ N(0, sd_listener²), v ~ N(0, sd_item²)",
        "method": "statsmodels BinomialBayesMixedGLM.fit_vb (L-BFGS-B), priors vcp_p=1, fe_p=2; "
                  "Laplace SE of b0 conditional on the variance components",
        "n_trials": int(len(scored)), "n_listeners": int(scored["listener"].nunique()),
        "n_items": int(scored["item_key"].nunique()),
        **{k: v for k, v in asdict(fit).items()},
        "z": float(z), "p_greater": float(norm.sf(z)), "p_two_sided": float(2 * norm.sf(abs(z))),
        "ci_low": float(low), "ci_high": float(high),
        "accuracy_typical": float(expit(fit.intercept)),
        "accuracy_typical_ci": [float(expit(low)), float(expit(high))],
        "accuracy_population_averaged": marginal_accuracy(fit.intercept, sd_total),
    }


def gee_model(scored: pd.DataFrame, *, chance: float = CHANCE) -> dict:
    """Intercept-only logistic GEE clustered by listener: population-averaged accuracy with robust SE."""
    if scored["correct"].nunique() < 2:
        return {"error": SEPARATED, "interpretation": INTERPRETATION["gee"]}
    try:
        result, notes = fit_gee(scored)
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        return {"error": f"not fitted: {exc}", "interpretation": INTERPRETATION["gee"]}
    b, se = float(result.params[0]), float(result.bse[0])
    if not (np.isfinite(b) and np.isfinite(se) and se > 0):
        return {"error": "GEE did not give a finite estimate (all answers identical?)",
                "interpretation": INTERPRETATION["gee"]}
    z = (b - logit(chance)) / se
    n_clusters = int(scored["listener"].nunique())
    if n_clusters < 40:
        notes.append(f"only {n_clusters} listeners: the sandwich SE is biased downward")
    return {
        "model": "logit P(correct) = b0, exchangeable working correlation within listener",
        "intercept": b, "se_robust": se, "z": float(z), "p_greater": float(norm.sf(z)),
        "p_two_sided": float(2 * norm.sf(abs(z))),
        "accuracy": float(expit(b)), "accuracy_ci": [float(expit(b - Z95 * se)), float(expit(b + Z95 * se))],
        "working_correlation": float(np.ravel(result.cov_struct.dep_params)[0]),
        "n_clusters": n_clusters, "notes": notes, "interpretation": INTERPRETATION["gee"],
    }


def fit_gee(scored: pd.DataFrame, exog: np.ndarray | None = None) -> tuple[GEEResults, list[str]]:
    """Fit a logistic GEE clustered by listener (intercept only by default); return it and its warnings."""
    import statsmodels.api as sm

    exog = np.ones((len(scored), 1)) if exog is None else exog
    groups = pd.factorize(scored["listener"], sort=True)[0]
    if groups.max() < 1:
        raise ValueError("a listener-clustered GEE needs at least 2 listeners")
    model = sm.GEE(scored["correct"].to_numpy(dtype=float), exog, groups=groups,
                   family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable())
    with single_threaded(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit()
    return result, sorted({str(w.message).splitlines()[0] for w in caught})
