"""Per-second features (paper §2.3): EEG PSD or raw inputs, mel or linear spectrogram targets in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
from scipy import signal

from reconstruct.errors import ParameterError
from reconstruct.recording import AUDIO_SR, EEG_FS

MAX_DB = 100.0
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
INPUTS = ("psd", "raw")
TARGETS = ("mel", "linear")


def eeg_windows(eeg: np.ndarray, *, n_seconds: int, fs: int = EEG_FS) -> np.ndarray:
    """Cut EEG [shape=(channels, samples)] into 1-s windows [shape=(n_seconds, channels, fs)]."""
    if eeg.shape[1] < n_seconds * fs:
        raise ParameterError(f"EEG has {eeg.shape[1] / fs:.1f} s, need {n_seconds} s")
    x = eeg[:, : n_seconds * fs].reshape(eeg.shape[0], n_seconds, fs)
    return np.ascontiguousarray(x.transpose(1, 0, 2))


def eeg_input(eeg: np.ndarray, *, kind: str, n_seconds: int, fs: int = EEG_FS) -> np.ndarray:
    """Model inputs per second: PSD [shape=(n, 63, channels)] or raw [shape=(n, fs, channels)], float32."""
    windows = eeg_windows(eeg, n_seconds=n_seconds, fs=fs)
    if kind == "psd":
        _, pxx = signal.periodogram(windows, fs=fs, axis=-1)
        return np.ascontiguousarray(pxx.transpose(0, 2, 1)).astype(np.float32)
    if kind == "raw":
        return np.ascontiguousarray(windows.transpose(0, 2, 1)).astype(np.float32)
    raise ParameterError(f"input kind={kind!r} must be one of {INPUTS}")


def spectrogram_db(y: np.ndarray, *, kind: str, sr: int = AUDIO_SR) -> np.ndarray:
    """Paper dB spectrogram of audio, 20·log10(max(1e-5, S)) [shape=(n_bins, frames)]: mel power or |STFT|."""
    if kind == "mel":
        s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS)
    elif kind == "linear":
        s = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH))
    else:
        raise ParameterError(f"target kind={kind!r} must be one of {TARGETS}")
    return 20.0 * np.log10(np.maximum(1e-5, s))


def db_to_unit(db: np.ndarray, *, ref_db: float, max_db: float = MAX_DB) -> np.ndarray:
    """Scale dB (relative to `ref_db`) to the training range t = clip((dB − ref + MaxdB) / MaxdB, 0, 1)."""
    return np.clip((db - ref_db + max_db) / max_db, 0.0, 1.0).astype(np.float32)


def unit_to_db(t: np.ndarray, *, ref_db: float, max_db: float = MAX_DB) -> np.ndarray:
    """Paper Eq. 1: mel_dB = t·MaxdB − MaxdB + ref_dB."""
    return t * max_db - max_db + ref_db


def auto_ref_db(y: np.ndarray, *, kind: str, sr: int = AUDIO_SR, percentile: float = 99.5) -> float:
    """Choose ref_dB so a song's loud frames sit just below t = 1 (matches each song's target loudness)."""
    return float(np.round(np.percentile(spectrogram_db(y, kind=kind, sr=sr), percentile), 1))


def audio_targets(y: np.ndarray, *, kind: str, n_seconds: int, ref_db: float, sr: int = AUDIO_SR) -> np.ndarray:
    """Targets per second of audio in [0, 1]: mel [shape=(n, 44, 128)] or linear [shape=(n, 44, 1025)]."""
    if len(y) < n_seconds * sr:
        raise ParameterError(f"audio has {len(y) / sr:.1f} s, need {n_seconds} s")
    seconds = y[: n_seconds * sr].reshape(n_seconds, sr)
    db = np.stack([spectrogram_db(s, kind=kind, sr=sr).T for s in seconds])
    return db_to_unit(db, ref_db=ref_db)


def clip_log_mel(path: str | Path) -> np.ndarray:
    """Log-mel dB [shape=(frames, 128)] of a rendered clip, as heard."""
    import soundfile as sf

    y, _ = sf.read(path, dtype="float32")
    return spectrogram_db(y, kind="mel").T
