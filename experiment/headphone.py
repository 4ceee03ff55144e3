"""The headphone screen of Milne et al. (2021): Huggins-pitch intervals synthesised with numpy.

Each check trial plays three 1-s noise bursts; in one of them a narrow band around 600 Hz is phase-inverted
in one ear only, which over headphones (and only over headphones) is heard as a faint tone.
"""

from __future__ import annotations

import io
import wave

import numpy as np

SR = 22050
CENTRE_HZ = 600.0
BANDWIDTH = 0.06  # ±6% around the centre, as in Milne et al.
INTERVAL_S = 1.0
GAP_S = 0.5
RAMP_S = 0.02
LEVEL = 0.25


def huggins_trial(target_interval: int, seed: int) -> bytes:
    """A stereo WAV of three noise intervals, the `target_interval`-th (1-3) carrying the Huggins pitch."""
    if target_interval not in (1, 2, 3):
        raise ValueError(f"target_interval={target_interval} must be 1, 2 or 3")
    rng = np.random.default_rng(seed)
    gap = np.zeros((int(SR * GAP_S), 2))
    parts = []
    for i in (1, 2, 3):
        parts.append(_interval(rng, huggins=i == target_interval))
        if i < 3:
            parts.append(gap)
    return _wav(np.concatenate(parts))


def calibration_noise(seed: int, seconds: float = 3.0) -> bytes:
    """Diotic noise at the level of the check and the task, for setting a comfortable volume."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    mono = _ramp(rng.standard_normal(n) * LEVEL / 3.0)
    return _wav(np.stack([mono, mono], axis=1))


def _interval(rng: np.random.Generator, *, huggins: bool) -> np.ndarray:
    """One noise burst, diotic or with the band phase-inverted in the right ear."""
    n = int(SR * INTERVAL_S)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    left = np.fft.irfft(spectrum, n)
    if huggins:
        freqs = np.fft.rfftfreq(n, 1 / SR)
        band = np.abs(freqs - CENTRE_HZ) <= CENTRE_HZ * BANDWIDTH
        right = np.fft.irfft(np.where(band, -spectrum, spectrum), n)
    else:
        right = left.copy()
    scale = LEVEL / 3.0 / max(np.std(left), 1e-9)
    return np.stack([_ramp(left * scale), _ramp(right * scale)], axis=1)


def _ramp(x: np.ndarray) -> np.ndarray:
    """Raised-cosine on/off ramps so no burst clicks."""
    k = int(SR * RAMP_S)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k))
    x = x.copy()
    x[:k] *= ramp
    x[-k:] *= ramp[::-1]
    return x


def _wav(samples: np.ndarray) -> bytes:
    """16-bit stereo PCM WAV bytes."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()
