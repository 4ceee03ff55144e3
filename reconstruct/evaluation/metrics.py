"""Image metrics of reconstructed spectrograms (paper Figs 3–4): SSIM and PSNR per example and per mel bin.

Spectrograms are in the training units t ∈ [0, 1] [shape=(n, 44 frames, bins)], so ``data_range = 1``.
Per example the metrics are scikit-image's ``structural_similarity`` (7 × 7 uniform window, sample
covariance, K1 = 0.01, K2 = 0.03, borders cropped) and ``peak_signal_noise_ratio`` on the (44, bins) image.
Per bin (paper Fig. 4: "for every example we paired up each 1 second frequency bin") they are the same
functions on the 1-D time course of 44 frames of one bin. The per-bin SSIM of thousands of examples
× 128 (or 1025) bins is vectorised here (`ssim_batch`); the tests check it equals scikit-image's.

PSNR of two identical images is +inf. Values are kept as they are; summaries cap them at `PSNR_CAP_DB`
and say how many were infinite, and the JSON writer turns any remaining inf into null.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from reconstruct.errors import ParameterError

DATA_RANGE = 1.0
WIN_SIZE = 7
PSNR_CAP_DB = 100.0
_K1, _K2 = 0.01, 0.03


def _check_pair(target: np.ndarray, recon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    target, recon = np.asarray(target), np.asarray(recon)
    if target.shape != recon.shape:
        raise ParameterError(f"target shape {target.shape} != reconstruction shape {recon.shape}")
    if target.ndim != 3:
        raise ParameterError(f"spectrograms must be [shape=(n, frames, bins)], got shape {target.shape}")
    if min(target.shape[1:]) < WIN_SIZE:
        raise ParameterError(f"spectrograms of shape {target.shape[1:]} are smaller than the {WIN_SIZE}-point "
                             "SSIM window")
    return target, recon


def ssim_batch(a: np.ndarray, b: np.ndarray, *, axes: tuple[int, ...], data_range: float = DATA_RANGE,
               win_size: int = WIN_SIZE) -> np.ndarray:
    """Mean SSIM over `axes` of every other index, exactly as scikit-image computes it per image.

    Parameters
    ----------
    a, b : np.ndarray
        Same shape; the SSIM window runs along `axes` only (size 1 along the others).
    axes : tuple of int
        The image axes, e.g. ``(1, 2)`` for (n, frames, bins) images or ``(1,)`` for per-bin time courses.

    Returns
    -------
    np.ndarray [shape = a.shape without `axes`]
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    size = [win_size if ax in axes else 1 for ax in range(a.ndim)]
    n_points = win_size ** len(axes)
    cov_norm = n_points / (n_points - 1)
    ux, uy = uniform_filter(a, size=size), uniform_filter(b, size=size)
    vx = cov_norm * (uniform_filter(a * a, size=size) - ux * ux)
    vy = cov_norm * (uniform_filter(b * b, size=size) - uy * uy)
    vxy = cov_norm * (uniform_filter(a * b, size=size) - ux * uy)
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    crop = tuple(slice(pad, s.shape[ax] - pad) if ax in axes else slice(None) for ax in range(s.ndim))
    return s[crop].mean(axis=axes)


def psnr_batch(a: np.ndarray, b: np.ndarray, *, axes: tuple[int, ...], data_range: float = DATA_RANGE) -> np.ndarray:
    """PSNR in dB over `axes` (10·log10(range² / MSE)); +inf where the two are identical."""
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=axes)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range ** 2 / mse)


def example_metrics(target: np.ndarray, recon: np.ndarray) -> dict[str, np.ndarray]:
    """SSIM and PSNR of every example's whole (frames, bins) image, with scikit-image itself.

    Returns ``{"ssim": [shape=(n,)], "psnr": [shape=(n,)]}``.
    """
    target, recon = _check_pair(target, recon)
    ssim = np.array([structural_similarity(t, r, data_range=DATA_RANGE, win_size=WIN_SIZE)
                     for t, r in zip(target.astype(np.float64), recon.astype(np.float64))])
    with np.errstate(divide="ignore"):
        psnr = np.array([_psnr(t, r) for t, r in zip(target, recon)])
    return {"ssim": ssim, "psnr": psnr}


def _psnr(t: np.ndarray, r: np.ndarray) -> float:
    if np.array_equal(t, r):
        return float("inf")
    return float(peak_signal_noise_ratio(t.astype(np.float64), r.astype(np.float64), data_range=DATA_RANGE))


def bin_metrics(target: np.ndarray, recon: np.ndarray, *, batch: int = 256) -> dict[str, np.ndarray]:
    """SSIM and PSNR of every example's every bin over its frames (paper Fig. 4).

    Returns ``{"ssim": [shape=(n, bins)], "psnr": [shape=(n, bins)]}``.
    """
    target, recon = _check_pair(target, recon)
    ssim, psnr = [], []
    for start in range(0, len(target), batch):
        t, r = target[start:start + batch], recon[start:start + batch]
        ssim.append(ssim_batch(t, r, axes=(1,)))
        psnr.append(psnr_batch(t, r, axes=(1,)))
    return {"ssim": np.concatenate(ssim), "psnr": np.concatenate(psnr)}


def summarize(values: np.ndarray, *, cap: float | None = None) -> dict:
    """Mean, SD, median, quartiles, min and max of a metric; PSNR values are capped at `cap` first
    and the count of infinite ones reported."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n_inf = int(np.isinf(v).sum())
    if cap is not None:
        v = np.minimum(v, cap)
    out = {"n": int(v.size), "mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if v.size > 1 else 0.0,
           "median": float(np.median(v)), "q1": float(np.percentile(v, 25)), "q3": float(np.percentile(v, 75)),
           "min": float(v.min()), "max": float(v.max())}
    if cap is not None:
        out.update(n_infinite=n_inf, capped_at=cap)
    return out


def spectrogram_metrics(target: np.ndarray, recon: np.ndarray) -> dict:
    """All of Figs 3–4 for one set of test examples: per-example arrays, per-bin arrays and summaries.

    Returns a dict with ``per_example`` (ssim, psnr arrays), ``per_bin`` (ssim, psnr arrays
    [shape=(n, bins)]), ``summary`` (JSON-able summaries of the per-example values) and
    ``per_bin_mean`` (mean over examples per bin, PSNR capped).
    """
    ex = example_metrics(target, recon)
    bins = bin_metrics(target, recon)
    return {
        "per_example": ex,
        "per_bin": bins,
        "summary": {"ssim": summarize(ex["ssim"]), "psnr_db": summarize(ex["psnr"], cap=PSNR_CAP_DB)},
        "per_bin_mean": {"ssim": bins["ssim"].mean(axis=0).tolist(),
                         "psnr_db": np.minimum(bins["psnr"], PSNR_CAP_DB).mean(axis=0).tolist()},
    }
