"""Pearson r per mel band (the mTRF / ICASSP challenge convention) with a time-shift null that never leaves
a recording's test frames.

Per recording, its test chunks in time order are concatenated; each band's r between prediction and truth is
taken over those frames (level-relative dB, as every similarity here) and averaged over recordings. The null
re-pairs whole 5-s chunks: the prediction of chunk i against the truth of chunk π(i) ≠ i of the same
recording (π a random derangement, seeded): the shifts are whole chunks, longer than the within-chunk
autocorrelation, and never reach a training or validation frame. A song's average sound survives the shift,
so only time-specific agreement beats the null.
"""

from __future__ import annotations

import numpy as np

from reconstruct.errors import ParameterError
from reconstruct.evaluation.observer import RANGE_DB, level_relative, units_to_db
from reconstruct.evaluation.time_specific import HeldOutChunks

N_NULL = 999


def _z(chunks_db: np.ndarray) -> np.ndarray:
    """Per band z-scores over all frames of a recording's chunks [shape=(k, frames, bins)], 0 where constant."""
    flat = chunks_db.reshape(-1, chunks_db.shape[2])
    sd = flat.std(axis=0)
    z = np.divide(flat - flat.mean(axis=0), sd, out=np.zeros_like(flat), where=sd > 0)
    return z.reshape(chunks_db.shape)


def derangements(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` random permutations of range(n) that move every element [shape=(size, n)] (rejection sampling)."""
    out = rng.permuted(np.tile(np.arange(n), (size, 1)), axis=1)
    while True:
        bad = np.flatnonzero((out == np.arange(n)).any(axis=1))
        if not len(bad):
            return out
        out[bad] = rng.permuted(np.tile(np.arange(n), (len(bad), 1)), axis=1)


def _recording_pairs(chunks: HeldOutChunks, recon: np.ndarray) -> list[np.ndarray]:
    """Per recording with >= 2 test chunks: D[i, j, band] = Σ_frames z(pred_i) · z(truth_j) / frames."""
    out = []
    for rec in np.unique(chunks.recording):
        rows = np.flatnonzero(chunks.recording == rec)
        rows = rows[np.argsort(chunks.chunk[rows])]
        if len(rows) < 2:
            continue
        pred = _z(np.stack([level_relative(units_to_db(r), range_db=RANGE_DB) for r in recon[rows]]))
        true = _z(np.stack([level_relative(units_to_db(t), range_db=RANGE_DB) for t in chunks.truth[rows]]))
        out.append(np.einsum("ifb,jfb->ijb", pred, true) / (len(rows) * pred.shape[1]))
    return out


def band_correlations(chunks: HeldOutChunks, recon: np.ndarray, *, seed: int = 0, n_null: int = N_NULL) -> dict:
    """r per band averaged over recordings, the pooled mean, and per band the time-shift null's mean, 2.5th and
    95th percentiles, a one-sided p (obs above the null) and how many bands exceed the null's 95th percentile."""
    if np.shape(recon) != np.shape(chunks.truth):
        raise ParameterError(f"reconstructions of shape {np.shape(recon)} must match the truths' "
                             f"{np.shape(chunks.truth)}")
    if n_null < 19:
        raise ParameterError(f"n_null={n_null} must be >= 19 (a p-value below 0.05 needs 19 shifts)")
    pairs = _recording_pairs(chunks, recon)
    if not pairs:
        return {"skipped": "no recording has two test chunks: no time-shift null"}
    observed = np.mean([np.trace(d, axis1=0, axis2=1) for d in pairs], axis=0)
    rng = np.random.default_rng(seed)
    null = np.mean([d[derangements(len(d), n_null, rng), np.arange(len(d))].sum(axis=1) for d in pairs],
                   axis=0)  # [n_null, bands]: chunk i's prediction against chunk π(i)'s truth, every recording
    p_band = (1 + (null >= observed).sum(axis=0)) / (1 + n_null)
    pooled, pooled_null = observed.mean(), null.mean(axis=1)
    above = observed > np.percentile(null, 95, axis=0)
    return {"r": observed.round(5).tolist(), "mean_r": float(pooled),
            "null_mean": null.mean(axis=0).round(5).tolist(),
            "null_p025": np.percentile(null, 2.5, axis=0).round(5).tolist(),
            "null_p95": np.percentile(null, 95, axis=0).round(5).tolist(),
            "p": p_band.round(5).tolist(), "n_bands": int(len(observed)),
            "n_bands_above_null95": int(above.sum()), "expected_by_chance": float(0.05 * len(observed)),
            "null_mean_r": float(pooled_null.mean()), "null_mean_r_p95": float(np.percentile(pooled_null, 95)),
            "p_mean_r": float((1 + (pooled_null >= pooled).sum()) / (1 + n_null)),
            "n_recordings": len(pairs), "n_null": n_null, "seed": seed,
            "null": "each recording's test chunks re-paired by a random derangement of whole 5-s chunks "
                    "(test frames only)"}


def band_r_plot(decoder: dict, baseline: dict, *, label: str = "decoder") -> bytes:
    """Decoder r and song-mean baseline r per mel band, with the decoder's time-shift null (2.5–95th pct)."""
    from reconstruct.evaluation.figures import _png, plt
    fig, ax = plt.subplots(figsize=(9, 3.5))
    x = np.arange(decoder["n_bands"])
    ax.fill_between(x, decoder["null_p025"], decoder["null_p95"], color="grey", alpha=0.3,
                    label="time-shift null (2.5–95th percentile)")
    ax.plot(x, decoder["r"], lw=1.2, label=f"{label} (mean r {decoder['mean_r']:.3f}, p {decoder['p_mean_r']:.3g})")
    if "r" in baseline:
        ax.plot(x, baseline["r"], "--", color="tab:orange", lw=1,
                label=f"song-mean baseline (mean r {baseline['mean_r']:.3f})")
    ax.axhline(0, color="k", lw=0.5, ls=":")
    ax.set_xlabel("mel band")
    ax.set_ylabel("Pearson r over test frames")
    ax.set_title(f"r per band, mean over {decoder['n_recordings']} recordings; "
                 f"{decoder['n_bands_above_null95']} of {decoder['n_bands']} bands above the null's 95th pct",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return _png(fig)
