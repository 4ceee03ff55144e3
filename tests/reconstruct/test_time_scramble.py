"""The time-misaligned control's permutation, and why it replaced the circular shift.

On periodic music (a steady tempo, a repeating chord cycle) the music a fixed time later is a function of
the music now, so a decoder can learn a constantly shifted pairing; a scramble moves every chunk by a
different amount and leaves nothing to learn."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.errors import ReconstructError
from reconstruct.evaluation.controls import MIN_DISPLACEMENT, time_scramble


@pytest.mark.parametrize("seed", range(5))
def test_scramble_is_a_permutation_moving_every_chunk_past_its_neighbours(seed):
    order = time_scramble(48, seed=seed)
    assert sorted(order) == list(range(48))
    assert np.all(np.abs(order - np.arange(48)) >= MIN_DISPLACEMENT)


def test_scramble_is_seeded():
    assert np.array_equal(time_scramble(48, seed=3), time_scramble(48, seed=3))
    assert not np.array_equal(time_scramble(48, seed=3), time_scramble(48, seed=4))


@pytest.mark.parametrize("n_chunks", [1, 2, 4])
def test_too_few_chunks_to_scramble_is_refused(n_chunks):
    with pytest.raises(ReconstructError, match="cannot scramble"):
        time_scramble(n_chunks, seed=0)


def _held_out_fit(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares map from x to y fitted on a random 3/4 of the chunks, R² on the rest."""
    test = np.random.default_rng(1).permutation(len(x)) < len(x) // 4
    w, *_ = np.linalg.lstsq(x[~test], y[~test], rcond=None)
    resid = y[test] - x[test] @ w
    return 1.0 - resid.var() / y[test].var()


def test_a_constant_shift_of_periodic_music_is_learnable_and_a_scramble_is_not():
    rng = np.random.default_rng(0)
    n, period = 480, 12
    states = np.eye(period)[np.arange(n) % period]  # the music's state: where it is in its cycle
    music = states @ rng.standard_normal((period, 16))  # what each state sounds like
    eeg = music + 0.3 * rng.standard_normal(music.shape)
    shifted = np.roll(music, -7, axis=0)  # target of chunk k: the music 7 chunks on
    scrambled = music[time_scramble(n, seed=0)]
    assert _held_out_fit(eeg, music) > 0.8
    assert _held_out_fit(eeg, shifted) > 0.8  # the circular shift is no null here
    assert _held_out_fit(eeg, scrambled) < 0.2
