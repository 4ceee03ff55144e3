"""Loudness-normalise clips (ITU-R BS.1770 via pyloudnorm) so level never tells one clip from another."""

from __future__ import annotations

import warnings

import numpy as np
import pyloudnorm

from reconstruct.recording import AUDIO_SR

TARGET_LUFS = -23.0
PEAK_CEILING = 0.98


def integrated_loudness(y: np.ndarray, *, sr: int = AUDIO_SR) -> float:
    """Integrated loudness of one clip in LUFS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64)))


def normalize_clips(clips: np.ndarray, *, sr: int = AUDIO_SR, target_lufs: float = TARGET_LUFS) -> tuple[np.ndarray, float]:
    """Bring every clip [shape=(n, samples)] to one loudness; lower the common target until no clip clips.

    Returns the clips and the loudness they were given."""
    loudness = np.array([integrated_loudness(c, sr=sr) for c in clips])
    if not np.all(np.isfinite(loudness)):
        raise ValueError("a clip is silent: its loudness cannot be measured")
    gains = 10.0 ** ((target_lufs - loudness) / 20.0)
    peak = float(np.max(np.abs(clips) * gains[:, None]))
    if peak > PEAK_CEILING:
        shift_db = 20.0 * np.log10(PEAK_CEILING / peak)
        target_lufs += shift_db
        gains *= 10.0 ** (shift_db / 20.0)
    return (clips * gains[:, None]).astype(np.float32), float(target_lufs)
