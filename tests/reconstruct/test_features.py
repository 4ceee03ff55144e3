"""Feature shapes and scaling follow the paper (§2.3) exactly."""

import numpy as np
import pytest
from scipy import signal

from reconstruct.errors import ParameterError
from reconstruct.features import (audio_targets, db_to_unit, eeg_input, spectrogram_db, unit_to_db)


@pytest.fixture(scope="module")
def eeg():
    return np.random.default_rng(0).standard_normal((125, 125 * 3)).astype(np.float32)


def test_psd_input_is_periodogram_per_channel(eeg):
    x = eeg_input(eeg, kind="psd", n_seconds=3)
    assert x.shape == (3, 63, 125)
    _, expected = signal.periodogram(eeg[7, 125:250], fs=125)
    np.testing.assert_allclose(x[1, :, 7], expected, rtol=1e-5)


def test_raw_input_is_samples_by_channels(eeg):
    x = eeg_input(eeg, kind="raw", n_seconds=3)
    assert x.shape == (3, 125, 125)
    np.testing.assert_array_equal(x[2, :, 5], eeg[5, 250:375])


@pytest.mark.parametrize("kind,bins", [("mel", 128), ("linear", 1025)])
def test_target_shapes_and_range(kind, bins):
    y = np.sin(2 * np.pi * 440 * np.arange(22050 * 2) / 22050).astype(np.float32)
    t = audio_targets(y, kind=kind, n_seconds=2, ref_db=40.0)
    assert t.shape == (2, 44, bins)
    assert t.min() >= 0 and t.max() <= 1 and t.max() > 0.5


def test_db_floor_is_minus_100():
    assert spectrogram_db(np.zeros(22050, dtype=np.float32), kind="mel").min() == pytest.approx(-100)


def test_scaling_round_trips_eq1():
    db = np.array([-150.0, -60.0, 0.0, 30.0])
    t = db_to_unit(db, ref_db=30.0)
    np.testing.assert_allclose(t, [0.0, 0.1, 0.7, 1.0], atol=1e-6)
    np.testing.assert_allclose(unit_to_db(t[1:], ref_db=30.0), db[1:])


@pytest.mark.parametrize("call", [
    lambda e: eeg_input(e, kind="fft", n_seconds=1),
    lambda e: eeg_input(e, kind="psd", n_seconds=10),
    lambda e: spectrogram_db(e[0], kind="cqt"),
])
def test_bad_feature_requests(eeg, call):
    with pytest.raises(ParameterError):
        call(eeg)
