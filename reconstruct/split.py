"""Leakage-safe split (paper §2.3): 5-s chunks go whole to train, validation or test; 1-s examples follow.

Recordings of one song share their targets (the music of second t is the same whatever EEG heard it), so
the interleaving pattern is drawn **per song** and shared by all its recordings: no (song, second) of a
test example is ever a training or validation target of any recording. ``scope="dataset"`` shares one
pattern across all songs; ``scope="recording"`` (a pattern per recording) is the classic leak, kept only
so that tests can show the controls catch it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reconstruct.errors import ParameterError

CHUNK_S = 5
USED_S = 240
TRAIN, VAL, TEST, GUARD = "train", "val", "test", "guard"
SCOPES = ("song", "dataset", "recording")
LEAKY_SCOPES = ("recording",)
MAX_GUARD_S = 2


@dataclass(frozen=True)
class Split:
    """Role of every chunk of every recording [shape=(n_recordings, n_chunks)], and how it was drawn.

    ``guard_s`` seconds of a training or validation chunk next to a test chunk are left out of both
    (role ``guard``): the EEG lags the music by up to ~200 ms, so the first second after a test chunk
    still carries its response."""

    chunk_roles: np.ndarray
    seed: int
    test_every: int
    val_fraction: float
    scope: str = "song"
    guard_s: int = 0

    @property
    def n_chunks(self) -> int:
        """Chunks per recording."""
        return self.chunk_roles.shape[1]

    @property
    def used_s(self) -> int:
        """Seconds of each recording the split covers (the run's used length)."""
        return self.n_chunks * CHUNK_S

    def example_roles(self) -> np.ndarray:
        """Role of every 1-s example [shape=(n_recordings * n_chunks * 5,)], recording-major order."""
        roles = np.repeat(self.chunk_roles, CHUNK_S, axis=1).astype(object)
        if self.guard_s:
            test = self.chunk_roles == TEST
            seconds = roles.reshape(*self.chunk_roles.shape, CHUNK_S)
            next_is_test = np.zeros_like(test)
            next_is_test[:, :-1] = test[:, 1:]
            prev_is_test = np.zeros_like(test)
            prev_is_test[:, 1:] = test[:, :-1]
            seconds[next_is_test & ~test, CHUNK_S - self.guard_s:] = GUARD
            seconds[prev_is_test & ~test, :self.guard_s] = GUARD
        return roles.reshape(-1).astype(str)

    def indices(self, role: str) -> np.ndarray:
        """Flat example indices with `role`."""
        return np.flatnonzero(self.example_roles() == role)

    def test_chunks(self, recording: int) -> np.ndarray:
        """Chunk numbers of one recording held out for test."""
        return np.flatnonzero(self.chunk_roles[recording] == TEST)


def _pattern(rng: np.random.Generator, n_chunks: int, test_every: int, val_fraction: float) -> np.ndarray:
    roles = np.full(n_chunks, TRAIN, dtype=object)
    phase = rng.integers(0, test_every)
    roles[(np.arange(n_chunks) + phase) % test_every == 0] = TEST
    train = np.flatnonzero(roles == TRAIN)
    roles[rng.choice(train, size=int(round(val_fraction * len(train))), replace=False)] = VAL
    return roles


def make_split(songs: Sequence[str], *, seed: int, scope: str = "song", used_s: int = USED_S,
               test_every: int = 4, val_fraction: float = 0.1, guard_s: int = 0) -> Split:
    """Interleave chunks 75/25 (every `test_every`-th chunk, seeded phase), holding out whole training
    chunks for validation, with one pattern per song (`scope`) for the recordings whose songs are `songs`."""
    if used_s % CHUNK_S:
        raise ParameterError(f"used_s={used_s} must be a multiple of {CHUNK_S}")
    if not 0 <= val_fraction < 1:
        raise ParameterError(f"val_fraction={val_fraction} must be in [0, 1)")
    if test_every < 2:
        raise ParameterError(f"test_every={test_every} must be >= 2")
    if scope not in SCOPES:
        raise ParameterError(f"split scope={scope!r} must be one of {list(SCOPES)}")
    if not 0 <= guard_s <= MAX_GUARD_S:
        raise ParameterError(f"guard_s={guard_s} must be a whole number of seconds in [0, {MAX_GUARD_S}]")
    songs = [str(s) for s in songs]
    rng = np.random.default_rng(seed)
    n_chunks = used_s // CHUNK_S
    if scope == "recording":
        patterns = [_pattern(rng, n_chunks, test_every, val_fraction) for _ in songs]
    else:
        groups = sorted(set(songs)) if scope == "song" else ["*"]
        by_group = {g: _pattern(rng, n_chunks, test_every, val_fraction) for g in groups}
        patterns = [by_group[s if scope == "song" else "*"] for s in songs]
    roles = np.array(patterns, dtype=object).reshape(len(songs), n_chunks)
    return Split(chunk_roles=roles.astype(str), seed=seed, test_every=test_every, val_fraction=val_fraction,
                 scope=scope, guard_s=guard_s)


def target_overlap(split: Split, songs: Sequence[str]) -> dict:
    """How many test examples have a (song, second) target that some recording trains or validates on.

    The honest split makes both counts 0; a per-recording pattern makes them large."""
    roles = split.example_roles().reshape(len(songs), -1)
    fitted: set[tuple[str, int]] = set()
    validated: set[tuple[str, int]] = set()
    tested: list[tuple[str, int]] = []
    for song, rec_roles in zip(songs, roles):
        for second, role in enumerate(rec_roles):
            key = (str(song), second)
            if role == TRAIN:
                fitted.add(key)
            elif role == VAL:
                validated.add(key)
            elif role == TEST:
                tested.append(key)
    return {"n_test_examples": len(tested),
            "test_targets_in_training": sum(k in fitted for k in tested),
            "test_targets_in_validation": sum(k in validated for k in tested)}
