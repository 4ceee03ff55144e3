"""Leakage-safe split (paper §2.3): 5-s chunks go whole to train, validation or test; 1-s examples follow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reconstruct.errors import ParameterError

CHUNK_S = 5
USED_S = 240
TRAIN, VAL, TEST = "train", "val", "test"


@dataclass(frozen=True)
class Split:
    """Role of every chunk of every recording [shape=(n_recordings, n_chunks)], and the seed that drew it."""

    chunk_roles: np.ndarray
    seed: int
    test_every: int
    val_fraction: float

    @property
    def n_chunks(self) -> int:
        """Chunks per recording."""
        return self.chunk_roles.shape[1]

    def example_roles(self) -> np.ndarray:
        """Role of every 1-s example [shape=(n_recordings * n_chunks * 5,)], recording-major order."""
        return np.repeat(self.chunk_roles, CHUNK_S, axis=1).reshape(-1)

    def indices(self, role: str) -> np.ndarray:
        """Flat example indices with `role`."""
        return np.flatnonzero(self.example_roles() == role)

    def test_chunks(self, recording: int) -> np.ndarray:
        """Chunk numbers of one recording held out for test."""
        return np.flatnonzero(self.chunk_roles[recording] == TEST)


def make_split(n_recordings: int, *, seed: int, used_s: int = USED_S, test_every: int = 4,
               val_fraction: float = 0.1) -> Split:
    """Interleave chunks 75/25 (every `test_every`-th chunk, seeded phase per recording), then hold out
    whole training chunks for validation."""
    if used_s % CHUNK_S:
        raise ParameterError(f"used_s={used_s} must be a multiple of {CHUNK_S}")
    if not 0 <= val_fraction < 1:
        raise ParameterError(f"val_fraction={val_fraction} must be in [0, 1)")
    if test_every < 2:
        raise ParameterError(f"test_every={test_every} must be >= 2")
    rng = np.random.default_rng(seed)
    n_chunks = used_s // CHUNK_S
    roles = np.full((n_recordings, n_chunks), TRAIN, dtype=object)
    for r in range(n_recordings):
        phase = rng.integers(0, test_every)
        roles[r, (np.arange(n_chunks) + phase) % test_every == 0] = TEST
        train = np.flatnonzero(roles[r] == TRAIN)
        n_val = int(round(val_fraction * len(train)))
        roles[r, rng.choice(train, size=n_val, replace=False)] = VAL
    return Split(chunk_roles=roles.astype(str), seed=seed, test_every=test_every, val_fraction=val_fraction)
