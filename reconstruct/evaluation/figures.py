"""The report's plots (matplotlib, Agg backend), each returned as PNG bytes to embed in the HTML."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from reconstruct.evaluation.metrics import PSNR_CAP_DB

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def metric_boxplots(sets: dict[str, dict[str, np.ndarray]]) -> bytes:
    """Paper Fig. 3: SSIM and PSNR per test example, one box per result set, means marked.

    `sets` maps a label (e.g. "PSD→mel (cnn)") to ``{"ssim": [n], "psnr": [n]}``."""
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.3 * len(sets), 4))
    labels = list(sets)
    for ax, key, title in ((axes[0], "ssim", "SSIM"), (axes[1], "psnr", "PSNR (dB)")):
        data = [np.minimum(np.asarray(sets[k][key], float), PSNR_CAP_DB) for k in labels]
        ax.boxplot(data, showmeans=True, showfliers=False)
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right")
        for i, d in enumerate(data, start=1):
            ax.annotate(f"{np.mean(d):.3g}", (i, np.mean(d)), textcoords="offset points", xytext=(8, 0), fontsize=8)
        ax.set_title(f"{title} per test example")
    fig.tight_layout()
    return _png(fig)


def per_bin_plot(ssim: np.ndarray, psnr: np.ndarray, *, label: str) -> bytes:
    """Paper Fig. 4: SSIM and PSNR of every example's every bin; box per bin (mel) or median + IQR band."""
    fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    n_bins = ssim.shape[1]
    for ax, values, title in ((axes[0], ssim, "SSIM"), (axes[1], np.minimum(psnr, PSNR_CAP_DB), "PSNR (dB)")):
        if n_bins <= 128:
            ax.boxplot(values, showfliers=False, widths=0.6, medianprops={"linewidth": 0.8},
                       boxprops={"linewidth": 0.5}, whiskerprops={"linewidth": 0.5}, capprops={"linewidth": 0.5})
            ax.set_xticks(range(1, n_bins + 1, 8), range(0, n_bins, 8))
        else:
            q1, med, q3 = np.percentile(values, [25, 50, 75], axis=0)
            x = np.arange(n_bins)
            ax.fill_between(x, q1, q3, alpha=0.3)
            ax.plot(x, med, lw=1)
        ax.plot(np.arange(1, n_bins + 1) if n_bins <= 128 else np.arange(n_bins), values.mean(axis=0), lw=1,
                color="tab:red", label="mean")
        ax.set_ylabel(title)
        ax.legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"{label}: per-bin scores over all test examples")
    axes[1].set_xlabel("frequency bin")
    fig.tight_layout()
    return _png(fig)


def spectrogram_pairs(examples: list[dict]) -> bytes:
    """Paper Fig. 5: the 5-s target (left) and its reconstruction (right), one row per chosen clip.

    Each example: ``{"title", "target": [frames, bins], "reconstruction": [frames, bins]}`` in [0, 1]."""
    fig, axes = plt.subplots(len(examples), 2, figsize=(10, 2.4 * len(examples)), squeeze=False,
                             layout="constrained")
    for row, ex in zip(axes, examples):
        for ax, key in zip(row, ("target", "reconstruction")):
            im = ax.imshow(np.asarray(ex[key]).T, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="magma",
                           extent=(0, len(ex[key]) / 44, 0, ex[key].shape[1]))
            ax.set_title(f"{ex['title']}: {key}", fontsize=9)
            ax.set_ylabel("bin")
        row[1].set_yticks([])
    axes[-1][0].set_xlabel("time (s)")
    axes[-1][1].set_xlabel("time (s)")
    fig.colorbar(im, ax=axes, shrink=0.6, label="t (0–1)")
    return _png(fig)


def natural_order(names: list[str]) -> list[int]:
    """Indices that sort names as people do: song2 before song10."""
    return sorted(range(len(names)), key=lambda i: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", names[i])])


def confusion_plot(cm: np.ndarray, songs: list[str], *, title: str) -> bytes:
    """Row-normalised confusion matrix (true song × predicted song) with counts, songs in natural order."""
    order = natural_order(songs)
    cm, songs = np.asarray(cm)[np.ix_(order, order)], [songs[i] for i in order]
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.45 * len(songs)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(songs)):
        for j in range(len(songs)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(songs)), songs, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(songs)), songs, fontsize=8)
    ax.set_xlabel("predicted song")
    ax.set_ylabel("true song")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _png(fig)


def accuracy_bars(rows: list[dict], *, chance: float, title: str) -> bytes:
    """Accuracy with its exact 95% CI per labelled result (``{"label", "accuracy", "ci"}``), chance dashed."""
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * len(rows), 3.6))
    x = np.arange(len(rows))
    acc = np.array([r["accuracy"] for r in rows])
    err = np.array([[r["accuracy"] - r["ci"][0], r["ci"][1] - r["accuracy"]] for r in rows]).T
    ax.bar(x, acc, color=["tab:blue" if r.get("kind") != "control" else "tab:gray" for r in rows])
    ax.errorbar(x, acc, yerr=err, fmt="none", color="black", capsize=3)
    ax.axhline(chance, ls="--", color="tab:red", label=f"chance {chance:.0%}")
    ax.set_xticks(x, [r["label"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("song-ID accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def sweep_plot(sweep: dict, *, default_snr: float | None = None, literature_snr: float | None = None) -> bytes:
    """Song-ID accuracy against SNR, one colour per amount of training data; per 1-s example solid, per
    5-s chunk dashed; exact 95% CIs; SNR axis linear up to the smallest non-zero SNR (at most 0.1),
    logarithmic above."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    groups: dict[str, list[dict]] = {}
    for p in sweep["points"]:
        minutes = f"{p['minutes_per_recording']:g} min / recording"
        name = f"all training chunks ({minutes})" if p["all_training_chunks"] else minutes
        groups.setdefault(name, []).append(p)
    for colour, (name, pts) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], groups.items()):
        pts = sorted(pts, key=lambda p: p["snr"])
        snr = np.array([p["snr"] for p in pts])
        for key, style in (("per_example", "-"), ("per_chunk", "--")):
            acc = np.array([p[key]["accuracy"] for p in pts])
            lo = acc - np.array([p[key]["ci"][0] for p in pts])
            hi = np.array([p[key]["ci"][1] for p in pts]) - acc
            ax.errorbar(snr, acc, yerr=[lo, hi], marker="o", ms=4, capsize=3, ls=style, color=colour,
                        label=f"{name}, per {'second' if key == 'per_example' else '5-s chunk'}")
    ax.axhline(sweep["chance"], ls="--", color="tab:red", lw=1, label=f"chance {sweep['chance']:.0%}")
    ax.axhline(0.808, ls=":", color="gray", label="paper PSD→mel 80.8%")
    if default_snr is not None:
        ax.axvline(default_snr, ls="-.", color="tab:green", label=f"default SNR {default_snr:g}")
    if literature_snr is not None:
        ax.axvline(literature_snr, ls="-.", color="tab:purple", label=f"literature SNR {literature_snr:g}")
    snrs = sorted({p["snr"] for p in sweep["points"]})
    linthresh = min([s for s in snrs if s > 0] + [0.1])
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_xlim(-linthresh / 20, max(snrs) * 1.2 if max(snrs) > 0 else 1)
    ax.set_xticks(snrs, [f"{s:g}" for s in snrs], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel(f"simulated SNR (signal / noise power; linear below {linthresh:g}, log above)")
    ax.set_ylabel("song-ID accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"{sweep['dataset']} (SIMULATED): {sweep['n_songs']} songs × {sweep['n_participants']} "
                 f"participants, {sweep['decoder']} decoder", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _png(fig)
