"""Fit and apply the decoders that read EEG as time series (``trf``, ``temporal``) on the pipeline's arrays.

The pipeline stores one raw 1-s EEG window per example (``features/inputs.npy`` with ``--input raw``) and
one target per (song, second). These decoders cut the examples of a split role back into segments
(`reconstruct.segments`), standardise each participant's channels on their *training* frames, and predict
whole segments, which are cut back into 1-s predictions for the rest of the pipeline.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import signal

from reconstruct.models.trf import TRFConfig, fit_trf, predict_trf, trf_folds
from reconstruct.segments import FRAMES_PER_S, check_raw, segment_eeg, segment_frames, segments_of
from reconstruct.split import CHUNK_S, USED_S

if TYPE_CHECKING:
    from reconstruct.models.temporal import TemporalConfig



class SegmentData:
    """The segments of some examples: EEG at the frame rate, targets, participant and chunk of each."""

    def __init__(self, inputs: np.ndarray, indices: np.ndarray, participants: list[str],
                 targets_of: Callable[[np.ndarray], np.ndarray] | None = None, *, used_s: int = USED_S) -> None:
        check_raw(inputs)
        self.indices = np.asarray(indices)
        self.segments = segments_of(self.indices, used_s=used_s)
        pos = self.segments.positions(self.indices)
        self.positions = pos
        self.eeg = [segment_eeg(inputs, self.indices[p]) for p in pos]  # rows of `inputs` are flat indices
        y = targets_of(self.indices) if targets_of is not None else None
        self.frames = [segment_frames(y, p) for p in pos] if y is not None else None
        rec = self.segments.recordings
        self.participant = np.array([participants[r] for r in rec])
        self.chunk_in_song = (self.segments.starts % used_s) // CHUNK_S

    def __len__(self) -> int:
        return len(self.eeg)


def read_segments(inputs: np.ndarray, indices: np.ndarray, participants: list[str],
                  targets_of: Callable[[np.ndarray], np.ndarray] | None = None, *,
                  used_s: int = USED_S) -> SegmentData:
    """Segments of `indices` (sorted flat example indices, `used_s` seconds per recording) from the raw inputs."""
    return SegmentData(inputs, indices, participants, targets_of, used_s=used_s)


def channel_scaler(eeg: list[np.ndarray]) -> dict:
    """Per-channel mean and std over a participant's training frames."""
    x = np.concatenate(eeg)
    return {"mean": x.mean(0).astype(np.float32), "std": (x.std(0) + 1e-6).astype(np.float32)}


def _scaled(x: np.ndarray, scaler: dict) -> np.ndarray:
    return (x - scaler["mean"]) / scaler["std"]


def band_passed(x: np.ndarray, band_hz: tuple[float, float] | None) -> np.ndarray:
    """One segment's EEG [shape=(T, channels)] band-passed along time, zero-phase (2nd-order Butterworth run
    forwards and back), inside the segment only: no sample of another chunk reaches it."""
    if band_hz is None:
        return x
    sos = signal.butter(2, list(band_hz), btype="bandpass", fs=FRAMES_PER_S, output="sos")
    return signal.sosfiltfilt(sos, x, axis=0, padlen=min(3 * (2 * len(sos) + 1), len(x) - 1)).astype(np.float32)


def band_passed_all(xs: list[np.ndarray], band_hz: tuple[float, float] | None) -> list[np.ndarray]:
    """`band_passed` of every segment, those of one length filtered as one stack (the same numbers, bit for bit:
    each series is filtered on its own either way, without a Python call per segment)."""
    out: list[np.ndarray] = list(xs)
    by_length: dict[int, list[int]] = {}
    for i, x in enumerate(xs):
        by_length.setdefault(len(x), []).append(i)
    for rows in by_length.values():
        stacked = band_passed(np.stack([xs[i] for i in rows], axis=1), band_hz)  # (T, segments, channels)
        for j, i in enumerate(rows):
            out[i] = np.ascontiguousarray(stacked[:, j])
    return out


def _trf_input(x: np.ndarray, scaler: dict, band_hz: tuple[float, float] | None) -> np.ndarray:
    return band_passed(_scaled(x, scaler), band_hz)


def seconds_from_segments(preds: list[np.ndarray], data: SegmentData) -> np.ndarray:
    """1-s predictions [shape=(n, 44, bins)] in `data.indices` order from per-segment frames."""
    out = np.zeros((len(data.indices), FRAMES_PER_S, preds[0].shape[1]), np.float32)
    for frames, pos in zip(preds, data.positions):
        out[pos] = frames.reshape(len(pos), FRAMES_PER_S, -1)
    return out


# ---- trf -------------------------------------------------------------------------------------------

def train_trf(train: SegmentData, val: SegmentData, config: TRFConfig, model_dir: Path) -> dict:
    """One backward model per participant, its lags and penalty cross-validated on training chunks only.

    BLAS runs single-threaded here: many ~1000² Cholesky solves are 10× slower with OpenBLAS threads
    spinning on a shared 2-core machine (measured), and gain little from them on an idle one."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_trf(train, val, config, model_dir)


def _trf_problem(train: SegmentData, p: str, config: TRFConfig) -> tuple[dict, tuple]:
    """One participant's scaler and the arguments of its `fit_trf`."""
    rows = np.flatnonzero(train.participant == p)
    scaler = channel_scaler([train.eeg[r] for r in rows])
    eeg = band_passed_all([_scaled(train.eeg[r], scaler) for r in rows], config.band_hz)
    return scaler, (eeg, [train.frames[r] for r in rows], trf_folds(train.chunk_in_song[rows], config), config)


def _fit_one(args: tuple) -> dict:
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        return fit_trf(*args)


def _fits(problems: list[tuple]) -> list[dict]:
    """`fit_trf` on every participant, on as many processes as there are cores (spawned, each single-threaded, so the
    models are bit for bit those of one process)."""
    workers = min(len(problems), len(os.sched_getaffinity(0)))
    if workers < 2:
        return [_fit_one(p) for p in problems]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_fit_one, problems))


def _train_trf(train: SegmentData, val: SegmentData, config: TRFConfig, model_dir: Path) -> dict:
    model_dir.mkdir(parents=True, exist_ok=True)
    arrays, chosen = {}, {}
    participants = sorted(set(train.participant))
    problems = [_trf_problem(train, p, config) for p in participants]
    fits = _fits([args for _, args in problems])
    for i, (p, (scaler, _), fit) in enumerate(zip(participants, problems, fits)):
        arrays.update({f"{i}_coef": fit["coef"], f"{i}_intercept": fit["intercept"], f"{i}_lags": fit["lags"],
                       f"{i}_mean": scaler["mean"], f"{i}_std": scaler["std"]})
        best = next(g for g in fit["grid"] if all(g[k] == fit[k] for k in ("tmax", "alpha", "rank")))
        chosen[p] = {"index": i, "tmin": fit["tmin"], "tmax": fit["tmax"], "alpha": fit["alpha"], "rank": fit["rank"],
                     "cv_mse": best["cv_mse"], "cv_r": best["cv_r"], **_nested_of(fit), "grid": fit["grid"]}
    np.savez(model_dir / "trf.npz", **arrays)
    save_patterns(model_dir, participants, fits)
    (model_dir / "trf.json").write_text(json.dumps({"config": config.to_dict(), "participants": chosen,
                                                    "patterns": PATTERNS_FILE}, indent=2))
    val_loss = _val_loss(predict_trf_segments(val, model_dir), val) if len(val) else float("nan")
    per = {p: {k: v for k, v in c.items() if k not in ("grid", "outer")} for p, c in chosen.items()}
    return {"decoder": "trf", "val_loss": val_loss, "per_participant": per, **_cv_summary(per)}


def _nested_of(fit: dict) -> dict:
    nested = fit["nested"] or {"nested_r": None, "nested_mse": None, "outer": []}
    return {"nested_r": nested["nested_r"], "nested_mse": nested["nested_mse"], "outer": nested["outer"]}


def _cv_summary(per: dict[str, dict]) -> dict:
    """Mean over participants of the selection-CV r (optimistic: chosen on those folds) and the nested-CV r."""
    nested = [c["nested_r"] for c in per.values() if c["nested_r"] is not None]
    return {"cv_r_mean": float(np.mean([c["cv_r"] for c in per.values()])),
            "nested_r_mean": float(np.mean(nested)) if nested else None,
            "nested_mse_mean": float(np.mean([c["nested_mse"] for c in per.values() if c["nested_mse"] is not None]))
            if nested else None}


PATTERNS_FILE = "trf_patterns.npz"


def save_patterns(model_dir: Path, participants: list[str], fits: list[dict]) -> None:
    """Each participant's Haufe forward pattern [shape=(channels, lags)] and their mean on every lag any of them
    has (a lag outside a participant's chosen window does not count for them), into ``trf_patterns.npz``."""
    model_dir.mkdir(parents=True, exist_ok=True)
    lags = np.unique(np.concatenate([f["lags"] for f in fits]))
    stack = np.full((len(fits), fits[0]["pattern"].shape[0], len(lags)), np.nan, np.float32)
    for i, f in enumerate(fits):
        stack[i][:, np.searchsorted(lags, f["lags"])] = f["pattern"]
    np.savez(model_dir / PATTERNS_FILE, patterns=stack, lags=lags, participants=np.array(participants),
             mean=np.nanmean(stack, axis=0), fps=np.float32(FRAMES_PER_S))


def load_patterns(model_dir: Path) -> dict[str, np.ndarray]:
    """The saved forward patterns (``patterns`` per participant, ``mean``, ``lags`` in frames, ``participants``)."""
    path = model_dir / PATTERNS_FILE
    if not path.is_file():
        from reconstruct.errors import ReconstructError
        raise ReconstructError(f"{path} not found: forward patterns are written by the trf decoder's train stage")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def predict_trf_segments(data: SegmentData, model_dir: Path) -> list[np.ndarray]:
    """Each segment's predicted frames, by its participant's model, clipped to [0, 1]."""
    saved = json.loads((model_dir / "trf.json").read_text())
    info, band = saved["participants"], saved["config"].get("band_hz")  # models saved before the band: none
    z = np.load(model_dir / "trf.npz")
    out = []
    for x, p in zip(data.eeg, data.participant):
        if p not in info:
            from reconstruct.errors import ReconstructError
            raise ReconstructError(f"participant {p} has no trf model (no training chunks)")
        i = info[p]["index"]
        scaler = {"mean": z[f"{i}_mean"], "std": z[f"{i}_std"]}
        pred = predict_trf(_trf_input(x, scaler, band), z[f"{i}_coef"], z[f"{i}_intercept"], z[f"{i}_lags"])
        out.append(pred.clip(0, 1))
    return out


def _val_loss(preds: list[np.ndarray], data: SegmentData) -> float:
    return float(np.mean(np.concatenate([(p - y).ravel() ** 2 for p, y in zip(preds, data.frames)])))


# ---- temporal --------------------------------------------------------------------------------------

def participant_scalers(train: SegmentData) -> dict[str, dict]:
    """Each participant's channel scaler from their training segments."""
    return {p: channel_scaler([train.eeg[r] for r in np.flatnonzero(train.participant == p)])
            for p in sorted(set(train.participant))}


def standardised_segments(data: SegmentData, scalers: dict[str, dict], names: list[str], *,
                          decoder: str = "temporal") -> dict:
    """{"eeg", "frames", "pid"} of `data` with each participant's channels scaled (pid = index in `names`)."""
    missing = sorted(set(data.participant) - set(names))
    if missing:
        from reconstruct.errors import ReconstructError
        raise ReconstructError(f"participants {missing} have no training chunks for the {decoder} decoder")
    return {"eeg": [_scaled(x, scalers[p]) for x, p in zip(data.eeg, data.participant)],
            "frames": data.frames, "pid": [names.index(p) for p in data.participant]}


def train_temporal_decoder(train: SegmentData, val: SegmentData, config: TemporalConfig, model_dir: Path, *,
                           progress: bool = True) -> dict:
    """Per-participant channel scaling on training frames, then the seeded loop with early stopping."""
    from reconstruct.train_temporal import train_temporal
    scalers = participant_scalers(train)
    names = sorted(scalers)
    summary = train_temporal(standardised_segments(train, scalers, names), standardised_segments(val, scalers, names),
                             n_participants=len(names), config=config, out_dir=model_dir,
                             extra={"participants": names, "scalers": scalers}, progress=progress)
    return {k: v for k, v in summary.items() if k != "history"} | {"val_loss": summary["best_val_loss"]}


def predict_temporal_segments(data: SegmentData, model_dir: Path, device: str = "auto") -> list[np.ndarray]:
    """Each segment's predicted frames by the saved best temporal model."""
    from reconstruct.train_temporal import load_temporal, predict_temporal
    model, payload = load_temporal(model_dir / "best_temporal.pt", device=device)
    names = payload["participants"]
    std = standardised_segments(data, payload["scalers"], names)
    return predict_temporal(model, std["eeg"], std["pid"])
