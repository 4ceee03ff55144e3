"""The report's figures, drawn from the results dict alone and returned as base64 PNG.

Built on matplotlib's object API with the Agg renderer (no pyplot state, no display needed), so the
HTML report is one self-contained file.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.axes import Axes
from matplotlib.figure import Figure

CHANCE_STYLE = {"color": "0.35", "linestyle": "--", "linewidth": 1}
POSITION_COLOURS = {"beginning": "#1b9e77", "middle": "#d95f02", "end": "#7570b3"}


def to_base64(figure: Figure) -> str:
    """Render a figure as base64 PNG, for embedding in HTML."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def listener_accuracy(listeners: list[dict], group_mean: float) -> str:
    """Each listener's accuracy with its Wilson CI, sorted, against the chance line."""
    rows = sorted(listeners, key=lambda r: (r["accuracy"], str(r["listener"])))
    acc = np.array([r["accuracy"] for r in rows])
    err = _errors(rows)
    x = np.arange(len(rows))
    figure = Figure(figsize=(max(6.0, min(14.0, 0.3 * len(rows))), 3.8))
    ax = figure.add_subplot()
    colours = ["#1f77b4" if r["above_chance_holm"] else "#999999" for r in rows]
    ax.errorbar(x, acc, yerr=err, fmt="none", ecolor="0.7", elinewidth=1 if len(rows) < 100 else 0.3)
    ax.scatter(x, acc, c=colours, s=18 if len(rows) < 100 else 4, zorder=3)
    ax.axhline(group_mean, color="#1f77b4", linewidth=1, label=f"group mean {group_mean:.1%}")
    if len(rows) <= 40:
        ax.set_xticks(x, [str(r["listener"]) for r in rows], rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
    _finish(ax, "listener (sorted by accuracy; blue: above chance after Holm)", "accuracy")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Accuracy per listener with Wilson 95% CI")
    return to_base64(figure)


def song_position(cells: list[dict], positions: list[dict]) -> str:
    """Accuracy by song split by position, and by position overall, with Wilson CIs."""
    figure = Figure(figsize=(10, 3.8))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    songs = sorted({str(c["song"]) for c in cells})
    names = [str(p["level"]) for p in positions]
    width = 0.8 / max(1, len(names))
    for j, name in enumerate(names):
        mine = {str(c["song"]): c for c in cells if str(c["position"]) == name}
        xs = [i + (j - (len(names) - 1) / 2) * width for i, s in enumerate(songs) if s in mine]
        _points(left, xs, [mine[s] for s in songs if s in mine], POSITION_COLOURS.get(name, None), name)
    left.set_xticks(range(len(songs)), songs, rotation=30 if len(songs) > 6 else 0)
    _finish(left, "song", "accuracy")
    left.legend(fontsize=8, loc="lower right")
    _points(right, list(range(len(names))), positions, "#333333", None)
    right.set_xticks(range(len(names)), names)
    _finish(right, "position in song", None)
    figure.suptitle("Accuracy by song and position (Wilson 95% CI, descriptive)")
    return to_base64(figure)


def learning_curve(learning: dict) -> str:
    """Accuracy over the session: per trial, per bin with CIs, and the fitted logistic trend."""
    figure = Figure(figsize=(7, 3.8))
    ax = figure.add_subplot()
    per_trial = learning["per_trial"]
    ax.plot([r["level"] for r in per_trial], [r["accuracy"] for r in per_trial], color="0.7", linewidth=1,
            marker=".", label="per trial")
    bins = learning["bins"]
    centres = [r["level"] * learning["bin_size"] + (learning["bin_size"] + 1) / 2 for r in bins]
    _points(ax, centres, bins, "#1f77b4", f"trials in bins of {learning['bin_size']}")
    slope = learning.get("slope", {})
    if "fitted" in slope:
        ax.plot(slope["fitted"]["trial_index"], slope["fitted"]["accuracy"], color="#d62728", linewidth=1.5,
                label=f"logistic trend (OR/trial {slope['odds_ratio_per_trial']:.3f}, p={slope['p_two_sided']:.2g})")
    _finish(ax, "trial number in session", "accuracy")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Learning across the session")
    return to_base64(figure)


def accuracy_histogram(listeners: list[dict]) -> str:
    """Distribution of listener accuracies next to what pure guessing would produce."""
    from scipy.stats import binom

    trials = int(np.median([r["trials"] for r in listeners]))
    acc = np.array([r["accuracy"] for r in listeners])
    edges = (np.arange(trials + 2) - 0.5) / trials
    figure = Figure(figsize=(7, 3.4))
    ax = figure.add_subplot()
    ax.hist(acc, bins=edges, color="#1f77b4", alpha=0.8, label="listeners")
    k = np.arange(trials + 1)
    ax.plot(k / trials, binom.pmf(k, trials, 0.5) * len(acc), color="0.3", marker=".",
            label=f"expected under guessing ({trials} trials)")
    ax.axvline(0.5, **CHANCE_STYLE)
    ax.set_xlabel("accuracy")
    ax.set_ylabel("listeners")
    ax.legend(fontsize=8)
    ax.set_title("Listener accuracies against the chance distribution")
    return to_base64(figure)


def _points(ax: Axes, xs: list[float], rows: list[dict], colour: str | None, label: str | None) -> None:
    """Accuracy points with asymmetric Wilson error bars."""
    acc = np.array([r["accuracy"] for r in rows])
    err = _errors(rows)
    ax.errorbar(xs, acc, yerr=err, fmt="o", color=colour, markersize=5, capsize=3, label=label)


def _errors(rows: list[dict]) -> np.ndarray:
    """Asymmetric error-bar lengths from CI bounds (clipped at 0 against rounding at 0% and 100%)."""
    acc = np.array([r["accuracy"] for r in rows])
    low, high = np.array([r["ci_low"] for r in rows]), np.array([r["ci_high"] for r in rows])
    return np.clip(np.vstack([acc - low, high - acc]), 0.0, None)


def _finish(ax: Axes, xlabel: str, ylabel: str | None) -> None:
    """Common axis styling: 0–1 accuracy scale with a chance line."""
    ax.set_ylim(0, 1.02)
    ax.axhline(0.5, label="chance", **CHANCE_STYLE)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
