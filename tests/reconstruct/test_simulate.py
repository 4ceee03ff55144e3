"""The simulated data set: named so, distinct songs, envelopes in the EEG at SNR > 0 and none at SNR 0."""

import numpy as np
import pytest

from reconstruct.errors import ParameterError
from reconstruct.simulate import SimulationConfig, band_envelopes, simulate_dataset


@pytest.fixture(scope="module")
def small():
    return SimulationConfig(n_songs=2, n_participants=2, duration_s=20, snr=4.0, seed=3)


@pytest.fixture(scope="module")
def dataset(small):
    return simulate_dataset(small, progress=False)


def test_shape_and_label(dataset, small):
    assert dataset.simulated and "simulated" in dataset.name
    assert len(dataset.recordings) == 4 and dataset.songs == ["song1", "song2"]
    r = dataset.recordings[0]
    assert r.eeg.shape == (125, 20 * 125) and r.eeg.dtype == np.float32 and r.fs == 125
    assert len(dataset.audio["song1"]) == 20 * 22050


def test_songs_differ_in_tempo_key_and_timbre(dataset):
    songs = dataset.meta["songs"]
    assert len({s["bpm"] for s in songs}) == len({s["root_midi"] for s in songs}) == len(songs)
    a, b = (band_envelopes(dataset.audio[s], sr=22050, n_bands=16) for s in ("song1", "song2"))
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.5


def _envelope_fit(recording, env) -> float:
    """Best R² of any channel regressed on the lagged band envelopes."""
    n = recording.eeg.shape[1]
    lagged = np.concatenate([np.roll(env[:, :n], lag, axis=1) for lag in range(10, 26, 3)])
    coef, *_ = np.linalg.lstsq(lagged.T, recording.eeg.T, rcond=None)
    resid = recording.eeg.T - lagged.T @ coef
    return float(1 - resid.var() / recording.eeg.T.var())


def test_eeg_carries_its_own_song_more_than_the_other(dataset):
    env = {s: band_envelopes(dataset.audio[s], sr=22050, n_bands=16) for s in dataset.songs}
    for r in dataset.recordings:
        other = [s for s in dataset.songs if s != r.song][0]
        assert _envelope_fit(r, env[r.song]) > _envelope_fit(r, env[other]) + 0.05


def test_snr_zero_is_noise_only(small):
    ds = simulate_dataset(SimulationConfig(**{**small.__dict__, "snr": 0.0}), progress=False)
    env = {s: band_envelopes(ds.audio[s], sr=22050, n_bands=16) for s in ds.songs}
    for r in ds.recordings:
        other = [s for s in ds.songs if s != r.song][0]
        assert abs(_envelope_fit(r, env[r.song]) - _envelope_fit(r, env[other])) < 0.05


def test_deterministic(small):
    a, b = (simulate_dataset(small, progress=False) for _ in range(2))
    np.testing.assert_array_equal(a.recordings[3].eeg, b.recordings[3].eeg)


@pytest.mark.parametrize("kwargs", [{"snr": -1}, {"shape": "nmedx"}, {"duration_s": 5}])
def test_bad_simulation_settings(kwargs):
    with pytest.raises(ParameterError):
        SimulationConfig(**kwargs)
