"""The stimulus-leak guard: refuse a "EEG" channel that follows the song far closer than scalp EEG can.

A sound card's loopback, a StimTrak or an envelope aux channel recorded beside the EEG carries the music
itself, at (almost) no delay; a decoder fed it reconstructs the song with no brain involved. Scalp EEG
follows the envelope weakly (single-channel r of a few hundredths) and 50-200 ms late, so a channel
whose signal or broadband power correlates with the song's envelope at lags 0-50 ms above
:data:`THRESHOLD` is refused, naming it and the figure, unless the user names it in an explicit allow list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import butter, hilbert, resample_poly, sosfiltfilt

from reconstruct.errors import DataFormatError

if TYPE_CHECKING:
    from reconstruct.recording import Dataset

MAX_LAG_S = 0.050
MIN_JUDGED_S = 10.0  # under this much EEG chance correlations of slow envelopes reach the threshold: not judged
THRESHOLD = 0.5
"""|r| at 0-50 ms above which a channel counts as a copy of the stimulus. Measured here (2026-12-06): the
simulated data set at its default SNR 0.4 (music-driven far beyond scalp EEG, 90-180 ms late) peaks at
0.26 (nmedh shape) and 0.32 (nmedt shape) over 12 recordings; an envelope aux channel under three times
its amplitude of noise 0.70; a song's waveform recorded as a channel, at 125 Hz, 0.80 (its power); pure
noise 0.02. Scalp EEG follows the envelope at a few hundredths."""
_SMOOTH_HZ = 8.0  # the envelope's band: slower than syllable/beat rate, where EEG tracks music


@dataclass(frozen=True)
class LeakScore:
    """One channel's closest following of the song: |r|, at which lag, and whether signal or power."""

    channel: str
    r: float
    lag_ms: float
    of: str  # "signal" or "power"

    def describe(self) -> str:
        """``'Audio': r=0.97 (signal, lag 4 ms)``."""
        return f"{self.channel!r}: r={self.r:.2f} ({self.of}, lag {self.lag_ms:.0f} ms)"


def song_envelope(audio: np.ndarray, sr: int, fs: float, n: int) -> np.ndarray:
    """The song's broadband amplitude envelope at the EEG rate `fs`, `n` samples (zero-padded past its end)."""
    ratio = (Fraction(fs).limit_denominator(10_000) / Fraction(sr)).limit_denominator(100_000)
    env = resample_poly(np.abs(np.asarray(audio, dtype=np.float64)), ratio.numerator, ratio.denominator)
    out = np.zeros(n)
    out[:min(n, len(env))] = env[:n]
    return _smooth(out, fs)


def _smooth(x: np.ndarray, fs: float) -> np.ndarray:
    sos = butter(2, min(_SMOOTH_HZ, 0.4 * fs) / (fs / 2), output="sos")
    return sosfiltfilt(sos, x, axis=-1)


def _standardise(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    sd = x.std(axis=-1, keepdims=True)
    return np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)


def leak_scores(eeg: np.ndarray, fs: float, env: np.ndarray, names: Sequence[str]) -> list[LeakScore]:
    """Per channel, the largest |r| of its signal and of its power envelope with `env` at lags 0-50 ms."""
    n = min(eeg.shape[1], len(env))
    x = np.asarray(eeg[:, :n], dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    series = {"signal": _standardise(_smooth(x, fs)), "power": _standardise(_smooth(np.abs(hilbert(x, axis=1)), fs))}
    e = _standardise(env[:n])
    best = [LeakScore(str(name), 0.0, 0.0, "signal") for name in names]
    for lag in range(int(round(MAX_LAG_S * fs)) + 1):  # the channel lags the song by `lag` samples
        m = n - lag
        if m < fs:  # under a second left: too little to judge
            break
        for of, z in series.items():
            r = np.abs(z[:, lag:] @ e[:m]) / m
            for i in np.flatnonzero(r > [b.r for b in best]):
                best[i] = LeakScore(best[i].channel, float(r[i]), 1000 * lag / fs, of)
    return best


def check_leak(eeg: np.ndarray, fs: float, audio: np.ndarray, sr: int, names: Sequence[str], *, where: str,
               allow: Iterable[str] = (), threshold: float = THRESHOLD) -> list[LeakScore]:
    """Refuse (one line, naming channel and figure) a channel following the song above `threshold`.

    Channels in `allow` are scored but never refused: the user has said, explicitly, that they are scalp EEG.
    Returns every channel's score, for the run's record; none for under :data:`MIN_JUDGED_S` of EEG (the load
    stage always has 240 s)."""
    if eeg.shape[1] < MIN_JUDGED_S * fs:
        return []
    scores = leak_scores(eeg, fs, song_envelope(audio, sr, fs, eeg.shape[1]), names)
    allowed = set(allow)
    flagged = [s for s in scores if s.r > threshold and s.channel not in allowed]
    if flagged:
        worst = sorted(flagged, key=lambda s: -s.r)
        listed = "; ".join(s.describe() for s in worst[:4]) + (f" and {len(worst) - 4} more" if len(worst) > 4 else "")
        raise DataFormatError(
            f"{where}: {len(worst)} channel(s) follow the song's envelope far closer than scalp EEG can "
            f"(|r| > {threshold:g} at 0-{MAX_LAG_S * 1000:.0f} ms), so they would leak the stimulus into the "
            f"decoder: {listed}. Drop them (--channels -{worst[0].channel}), or, only if they are truly scalp "
            f"EEG, pass --allow-stimulus-like {worst[0].channel}")
    return scores


def peak_scores(scores: Sequence[LeakScore], k: int = 3) -> list[dict]:
    """The `k` channels that follow the song most closely, as plain dicts for dataset.json."""
    return [{"channel": s.channel, "r": round(s.r, 3), "lag_ms": round(s.lag_ms, 1), "of": s.of}
            for s in sorted(scores, key=lambda s: -s.r)[:k]]


__all__ = ["GUARD_VERSION", "MAX_LAG_S", "MIN_JUDGED_S", "THRESHOLD", "LeakScore", "check_leak", "guard_dataset",
           "leak_scores", "peak_scores", "song_envelope"]


GUARD_VERSION = 1  # in the load stage's fingerprint: a real data set loaded before the guard is loaded again


def guard_dataset(ds: Dataset, *, n_samples: int, allow: Iterable[str] = (), threshold: float = THRESHOLD) -> dict:
    """Run :func:`check_leak` on every recording of a real data set (first `n_samples`); the run's record of it."""
    names = ds.meta.get("channel_names") or [f"ch{i + 1}" for i in range(ds.recordings[0].eeg.shape[0])]
    allow = tuple(allow)
    unknown = sorted(set(allow) - set(names))
    if unknown:
        raise DataFormatError(f"--allow-stimulus-like names {', '.join(unknown)}, which no recording has "
                              f"(channels: {', '.join(names[:12])}{' …' if len(names) > 12 else ''})")
    record: dict = {"threshold": threshold, "max_lag_ms": MAX_LAG_S * 1000, "allowed": list(allow), "recordings": {}}
    for r in [*ds.recordings, *ds.held_out]:
        label = f"{r.participant}/{r.song}" + (f"/{r.presentation}" if r.presentation else "")
        scores = check_leak(r.eeg[:, :n_samples], r.fs, ds.audio[r.song], ds.sr, names, where=label,
                            allow=allow, threshold=threshold)
        record["recordings"][label] = peak_scores(scores)
    record["allowed_over_threshold"] = sorted({s["channel"] for peaks in record["recordings"].values()
                                               for s in peaks if s["r"] > threshold})
    return record
