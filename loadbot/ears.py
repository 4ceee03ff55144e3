"""The simulated listener's ears: which of A and B sounds like X, which burst carries the Huggins pitch."""

from __future__ import annotations

import functools
import hashlib
import io
import math
import random
import wave

import numpy as np


@functools.lru_cache(maxsize=512)
def _band_spectrum(digest: str, data: bytes) -> np.ndarray:
    """Log power in 40 log-spaced bands (60 Hz - 8 kHz) of a WAV, averaged over 2048-sample frames."""
    del digest  # the cache key; the bytes themselves are hashed once by the caller
    samples, sr = _read_wav(data)
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    n_fft = 2048
    if mono.size < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.size))
    frames = mono[: mono.size // n_fft * n_fft].reshape(-1, n_fft) * np.hanning(n_fft)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    edges = np.geomspace(60.0, min(8000.0, sr / 2), 41)
    bands = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    return np.log10(bands + 1e-10)


def spectrum(data: bytes) -> np.ndarray:
    """The ear's view of a clip (cached: all listeners hear the same few clips)."""
    return _band_spectrum(hashlib.sha1(data).hexdigest(), data)


def hear(x: bytes, a: bytes, b: bytes, rng: random.Random) -> str:
    """The identity-only listener: which of A and B sounds more like X by the time-averaged band spectrum (it
    hears which song a clip is, never when in the song)."""
    sx, sa, sb = spectrum(x), spectrum(a), spectrum(b)
    return _closer(_corr(sx, sa), _corr(sx, sb), rng)


def _closer(ca: float, cb: float, rng: random.Random) -> str:
    """The side whose similarity to X is higher; a tie is a coin flip."""
    if math.isclose(ca, cb, abs_tol=1e-9):
        return rng.choice("AB")
    return "A" if ca > cb else "B"


EARS = ("identity", "temporal")
"""identity: time-averaged band spectra, so it hears which song but never when (at chance on same-song
trials by construction); temporal: the spectro-temporal pattern, so it can hear when in the song too."""


@functools.lru_cache(maxsize=512)
def _band_frames(digest: str, data: bytes) -> np.ndarray:
    """Log power in 40 log-spaced bands (60 Hz - 8 kHz) per 1024-sample frame (hop 512): a time-frequency pattern."""
    del digest
    samples, sr = _read_wav(data)
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    n_fft, hop = 1024, 512
    if mono.size < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.size))
    starts = np.arange(0, mono.size - n_fft + 1, hop)
    frames = np.stack([mono[s:s + n_fft] for s in starts]) * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    edges = np.geomspace(60.0, min(8000.0, sr / 2), 41)
    bands = np.stack([power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in zip(edges[:-1], edges[1:])],
                     axis=1)
    return np.log10(bands + 1e-10)


def pattern(data: bytes) -> np.ndarray:
    """The temporal ear's view of a clip: its band energies frame by frame (cached)."""
    return _band_frames(hashlib.sha1(data).hexdigest(), data)


def hear_in_time(x: bytes, a: bytes, b: bytes, rng: random.Random, *, noise: float = 0.0) -> str:
    """Which of A and B sounds more like X, heard in time: the side whose spectro-temporal pattern correlates
    better with X's, frame by frame; `noise` (SD added to each correlation) models an imperfect listener."""
    px, pa, pb = pattern(x), pattern(a), pattern(b)
    frames = min(len(px), len(pa), len(pb))
    ca = _corr(px[:frames].ravel(), pa[:frames].ravel()) + rng.gauss(0.0, noise) * (noise > 0)
    cb = _corr(px[:frames].ravel(), pb[:frames].ravel()) + rng.gauss(0.0, noise) * (noise > 0)
    return _closer(ca, cb, rng)


def listen(ear: str, x: bytes, a: bytes, b: bytes, rng: random.Random, *, noise: float = 0.0) -> str:
    """Answer with the named ear: 'identity' (the time-averaged spectrum) or 'temporal' (the pattern in time)."""
    if ear == "temporal":
        return hear_in_time(x, a, b, rng, noise=noise)
    if ear == "identity":
        return hear(x, a, b, rng)
    raise ValueError(f"ear {ear!r} is not one of {', '.join(EARS)}")


def huggins_interval(data: bytes) -> int:
    """Which of the three noise bursts (1-3) carries the Huggins pitch: where left and right differ."""
    samples, _ = _read_wav(data)
    if samples.ndim != 2 or samples.shape[1] != 2:
        return 1
    diff = np.abs(samples[:, 0] - samples[:, 1])
    if not diff.any():
        return 1
    where = np.flatnonzero(diff > diff.max() * 0.05)
    centre = (where[0] + where[-1]) / 2 / samples.shape[0]
    return int(min(2, centre * 3)) + 1


def clip_seconds(data: bytes) -> float:
    """A WAV's duration from its header (0 if unreadable)."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError):
        return 0.0


def _read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV bytes → float samples (frames, channels) or (frames,), and the sample rate."""
    with wave.open(io.BytesIO(data)) as w:
        channels, sr, raw = w.getnchannels(), w.getframerate(), w.readframes(w.getnframes())
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    return (pcm.reshape(-1, channels) if channels > 1 else pcm), sr


def _corr(u: np.ndarray, v: np.ndarray) -> float:
    """Pearson correlation (0 when either is constant)."""
    u, v = u - u.mean(), v - v.mean()
    denominator = float(np.sqrt((u * u).sum() * (v * v).sum()))
    return float((u * v).sum() / denominator) if denominator > 0 else 0.0
