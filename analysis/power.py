"""Power for the next study: exact per-listener binomial power, and listeners needed by simulation.

The group simulation draws data from the crossed mixed model (listener and item random intercepts,
with SDs taken from the fitted model where there is one) at a chosen population-averaged accuracy,
analyses each simulated study, and counts how often the effect is detected. Every draw comes from a
recorded seed, so the numbers can be reproduced exactly.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from scipy.special import expit

from analysis.errors import AnalysisError
from analysis.listeners import CHANCE
from analysis.mixed import fit_crossed, intercept_for_accuracy

DEFAULT_GRID = (4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 100, 128, 160, 200)
TESTS = ("t", "mixed")
DEFAULT_SD = 0.5
_BATCH_CELLS = 2_000_000


@dataclass(frozen=True)
class Setup:
    """Everything a simulated study depends on; recorded verbatim in results.json."""

    accuracy: float = 0.6
    sd_listener: float = DEFAULT_SD
    sd_item: float = DEFAULT_SD
    trials: int = 24
    versions: int = 2
    alpha: float = 0.05
    test: str = "t"
    reps: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        """Reject impossible setups before simulating."""
        if not CHANCE < self.accuracy < 1:
            raise AnalysisError(f"accuracy={self.accuracy} must be in ({CHANCE}, 1)")
        if self.test not in TESTS:
            raise AnalysisError(f"test={self.test!r} must be one of {', '.join(TESTS)}")
        if self.reps < 1 or self.trials < 1 or self.versions < 1:
            raise AnalysisError(f"reps={self.reps}, trials={self.trials}, versions={self.versions} must be ≥ 1")


def binomial_power(accuracy: float, *, trials: int = 24, alpha: float = 0.05, chance: float = CHANCE) -> dict:
    """Exact power of one listener's one-sided binomial test: P(X ≥ k_crit | accuracy)."""
    if not 0 <= accuracy <= 1 or trials < 1:
        raise AnalysisError(f"accuracy={accuracy} must be in [0, 1] and trials={trials} ≥ 1")
    k = np.arange(trials + 1)
    tail = stats.binom.sf(k - 1, trials, chance)
    passing = np.flatnonzero(tail <= alpha)
    if passing.size == 0:
        return {"accuracy": accuracy, "trials": trials, "alpha": alpha, "critical_correct": None,
                "actual_alpha": 0.0, "power": 0.0}
    k_crit = int(passing[0])
    return {"accuracy": accuracy, "trials": trials, "alpha": alpha, "critical_correct": k_crit,
            "actual_alpha": float(tail[k_crit]), "power": float(stats.binom.sf(k_crit - 1, trials, accuracy))}


def group_power(n_listeners: int, setup: Setup) -> float:
    """Share of simulated studies of `n_listeners` in which the chosen test detects the effect."""
    rng = np.random.default_rng([setup.seed, n_listeners])
    if setup.test == "mixed":
        hits = [_mixed_detects(n_listeners, setup, rng) for _ in range(setup.reps)]
        return float(np.mean(hits))
    hits = 0
    for size in _batches(setup.reps, n_listeners * setup.trials):
        accuracy = simulate_accuracies(n_listeners, setup, rng, reps=size)
        with warnings.catch_warnings():  # identical accuracies in a tiny study: p is nan, counted as a miss
            warnings.simplefilter("ignore", RuntimeWarning)
            p = stats.ttest_1samp(accuracy, CHANCE, axis=1, alternative="greater").pvalue
        hits += int(np.sum(np.nan_to_num(p, nan=1.0) < setup.alpha))
    return hits / setup.reps


def listeners_needed(setup: Setup, *, target: float = 0.8, grid: tuple[int, ...] = DEFAULT_GRID) -> dict:
    """Walk the grid of study sizes until simulated power reaches `target`; report the whole curve."""
    curve = []
    for n in grid:
        power = group_power(n, setup)
        curve.append({"listeners": n, "power": power, "mc_se": float(np.sqrt(power * (1 - power) / setup.reps))})
        if power >= target:
            break
    needed = curve[-1]["listeners"] if curve[-1]["power"] >= target else None
    return {"setup": asdict(setup), "target_power": target, "listeners_needed": needed, "curve": curve,
            "analysis": _analysis_text(setup),
            "note": None if needed else f"power stays below {target} up to {grid[-1]} listeners"}


def simulate_accuracies(n_listeners: int, setup: Setup, rng: np.random.Generator, *, reps: int) -> np.ndarray:
    """Listener accuracies [shape=(reps, n_listeners)] drawn from the crossed mixed model."""
    b0 = intercept_for_accuracy(setup.accuracy, float(np.hypot(setup.sd_listener, setup.sd_item)))
    version = np.arange(n_listeners) % setup.versions
    u = rng.normal(0.0, setup.sd_listener, size=(reps, n_listeners, 1))
    v = rng.normal(0.0, setup.sd_item, size=(reps, setup.versions, setup.trials))[:, version, :]
    correct = rng.random((reps, n_listeners, setup.trials)) < expit(b0 + u + v)
    return correct.mean(axis=2)


def simulate_trials(n_listeners: int, setup: Setup, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """One simulated study as trial vectors: correct, listener index, item index (items unique per version)."""
    b0 = intercept_for_accuracy(setup.accuracy, float(np.hypot(setup.sd_listener, setup.sd_item)))
    listener = np.repeat(np.arange(n_listeners), setup.trials)
    version = listener % setup.versions
    item = version * setup.trials + np.tile(np.arange(setup.trials), n_listeners)
    u = rng.normal(0.0, setup.sd_listener, size=n_listeners)
    v = rng.normal(0.0, setup.sd_item, size=setup.versions * setup.trials)
    correct = (rng.random(listener.size) < expit(b0 + u[listener] + v[item])).astype(float)
    used = np.unique(item, return_inverse=True)[1]
    return correct, listener, used


def power_report(fitted: dict | None = None, *, listener_accuracy: float = 0.75, group_accuracy: float = 0.6,
                 trials: int = 24, reps: int = 1000, seed: int = 0, test: str = "t") -> dict:
    """Per-listener exact power and listeners needed, with SDs from the fitted mixed model when given."""
    sds, source = _variance_components(fitted)
    setup = Setup(accuracy=group_accuracy, trials=trials, reps=reps, seed=seed, test=test, **sds)
    curve_at = sorted({*np.round(np.arange(0.55, 0.96, 0.05), 2).tolist(), listener_accuracy})
    return {
        "per_listener": binomial_power(listener_accuracy, trials=trials),
        "per_listener_curve": [binomial_power(a, trials=trials) for a in curve_at],
        "group": listeners_needed(setup),
        "variance_components_from": source,
    }


def _variance_components(fitted: dict | None) -> tuple[dict, str]:
    """SDs for the simulation: the fitted model's when it converged to finite values, else stated defaults."""
    if fitted and "error" not in fitted:
        sd_l, sd_i = fitted.get("sd_listener"), fitted.get("sd_item")
        if all(isinstance(s, float) and np.isfinite(s) for s in (sd_l, sd_i)):
            return {"sd_listener": sd_l, "sd_item": sd_i}, "fitted mixed model (posterior SDs, log-odds scale)"
    return ({"sd_listener": DEFAULT_SD, "sd_item": DEFAULT_SD},
            f"assumed (no fitted model): SD {DEFAULT_SD} on the log-odds scale for listeners and items")


def _mixed_detects(n_listeners: int, setup: Setup, rng: np.random.Generator) -> bool:
    """Simulate one study and test its mixed-model intercept against chance."""
    correct, listener, item = simulate_trials(n_listeners, setup, rng)
    fit = fit_crossed(correct, listener, item, seed=int(rng.integers(2**31)))
    return bool(stats.norm.sf(fit.intercept / fit.se) < setup.alpha)


def _batches(reps: int, cells_per_rep: int) -> list[int]:
    """Split `reps` so each batch of simulated trials stays within a bounded memory footprint."""
    size = max(1, _BATCH_CELLS // max(1, cells_per_rep))
    return [min(size, reps - start) for start in range(0, reps, size)]


def _analysis_text(setup: Setup) -> str:
    """Say which test each simulated study gets."""
    if setup.test == "mixed":
        return "crossed mixed logistic model per simulated study; one-sided z-test of the intercept"
    return "one-sample t-test of listener accuracies against 0.5, one-sided (the paper's group test)"

