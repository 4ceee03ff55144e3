"""Contiguous EEG segments for decoders that use time (lags, context): whole runs of one split role in a chunk.

The per-second examples of the pipeline are cut back into *segments*: maximal runs of consecutive seconds
of one recording that lie in one 5-s chunk (a whole chunk unless a guard gap took its edge seconds). A
segment is the only context a temporal decoder sees: lags and ±1-s windows are zero-padded at its edges,
so EEG of a test chunk never enters a training or validation input, and a test prediction uses only its
own chunk's EEG. Segments are resampled from 125 Hz to the target frame rate (44 frames per second, the
mel frames of each second), chunk by chunk, so that EEG sample k and target frame k are the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from reconstruct.errors import ParameterError
from reconstruct.recording import EEG_FS
from reconstruct.split import CHUNK_S, USED_S

FRAMES_PER_S = 44  # mel frames per 1-s target (hop 512 at 22 050 Hz)


@dataclass
class Segments:
    """Contiguous runs of examples: ``starts[i]`` (flat example index) and ``lengths[i]`` seconds."""

    starts: np.ndarray
    lengths: np.ndarray
    used_s: int = USED_S  # seconds per recording (the run's used length)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def recordings(self) -> np.ndarray:
        """Recording index of each segment."""
        return self.starts // self.used_s

    @property
    def chunks(self) -> np.ndarray:
        """Chunk id (recording-major) of each segment."""
        return self.starts // CHUNK_S

    def positions(self, indices: np.ndarray) -> list[np.ndarray]:
        """Row positions in `indices` of each segment's seconds, in order."""
        where = {int(v): i for i, v in enumerate(indices)}
        return [np.array([where[int(s) + k] for k in range(int(n))]) for s, n in zip(self.starts, self.lengths)]


def segments_of(indices: np.ndarray, *, used_s: int = USED_S) -> Segments:
    """Cut sorted flat example indices into runs of consecutive seconds that never cross a chunk edge."""
    idx = np.asarray(indices, dtype=np.int64)
    if len(idx) == 0:
        return Segments(np.zeros(0, np.int64), np.zeros(0, np.int64), used_s)
    if np.any(np.diff(idx) <= 0):
        raise ParameterError("example indices must be sorted and distinct")
    breaks = np.flatnonzero((np.diff(idx) != 1) | (idx[1:] // CHUNK_S != idx[:-1] // CHUNK_S)) + 1
    starts = idx[np.concatenate([[0], breaks])]
    lengths = np.diff(np.concatenate([[0], breaks, [len(idx)]]))
    return Segments(starts, lengths, used_s)


def segment_eeg(x_seconds: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """One segment's EEG at the frame rate [shape=(seconds × 44, channels)] from raw 1-s inputs
    [shape=(n, fs, channels)]; resampled within the segment only (nothing from outside it)."""
    x = np.concatenate([np.asarray(x_seconds[p], dtype=np.float64) for p in positions])  # (samples, channels)
    return signal.resample_poly(x, FRAMES_PER_S, EEG_FS, axis=0, padtype="line").astype(np.float32)


def segment_frames(y_seconds: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """One segment's target frames [shape=(seconds × 44, bins)] from 1-s targets [shape=(n, 44, bins)]."""
    return np.concatenate([np.asarray(y_seconds[p]) for p in positions]).astype(np.float32)


def check_raw(x_seconds: np.ndarray) -> None:
    """Temporal decoders read raw 1-s EEG windows [shape=(n, 125, channels)]; refuse PSD inputs."""
    if x_seconds.ndim != 3 or x_seconds.shape[1] != EEG_FS:
        raise ParameterError(f"temporal decoders need raw EEG inputs (--input raw) of shape (n, {EEG_FS}, "
                             f"channels), got {tuple(x_seconds.shape)}")
