"""The headphone screen of Milne et al. (2021): Huggins-pitch intervals, and the antiphase test, with numpy.

Huggins pitch: each check trial plays three 1-s noise bursts; in one of them a narrow band around 600 Hz is
phase-inverted in one ear only, which over headphones (and only over headphones) is heard as a faint tone.

Antiphase (Woods et al. 2017, the second test of Milne et al. 2021): three 1-s 200-Hz tones; one is 6 dB softer
(the answer: "which is the quietest?"); another is played in antiphase between the ears, which over loudspeakers
partly cancels and sounds quietest, but over headphones is as loud as the in-phase one. Milne et al. report that
Huggins pitch alone passes about 20% of loudspeaker users; requiring both tests, about 7%.
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
    _check_target(target_interval)
    rng = np.random.default_rng(seed)
    return _three_intervals([_interval(rng, huggins=i == target_interval) for i in (1, 2, 3)])


def _check_target(target_interval: int) -> None:
    if target_interval not in (1, 2, 3):
        raise ValueError(f"target_interval={target_interval} must be 1, 2 or 3")


def _three_intervals(intervals: list[np.ndarray]) -> bytes:
    """The WAV of three stereo intervals with a silent gap between each two."""
    gap = np.zeros((int(SR * GAP_S), 2))
    return _wav(np.concatenate([intervals[0], gap, intervals[1], gap, intervals[2]]))


TONE_HZ = 200.0
SOFTER_DB = 6.0


def antiphase_trial(target_interval: int, seed: int) -> bytes:
    """A stereo WAV of three tones: the `target_interval`-th (1-3) 6 dB softer, one other in antiphase."""
    _check_target(target_interval)
    rng = np.random.default_rng(seed)
    antiphase = int(rng.choice([i for i in (1, 2, 3) if i != target_interval]))
    n = int(SR * INTERVAL_S)
    tone = _ramp(np.sin(2 * np.pi * TONE_HZ * np.arange(n) / SR) * LEVEL)
    intervals = []
    for i in (1, 2, 3):
        level = 10 ** (-SOFTER_DB / 20) if i == target_interval else 1.0
        right = -tone if i == antiphase else tone
        intervals.append(np.stack([tone * level, right * level], axis=1))
    return _three_intervals(intervals)


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
