"""The stimulus-envelope backward model: high r when the EEG carries the envelope, none when it doesn't."""

import numpy as np
import pytest

from reconstruct.errors import ParameterError
from reconstruct.evaluation.envelope import EnvelopeModel, audio_envelope, envelope_r, lagged
from reconstruct.recording import AUDIO_SR, EEG_FS


def _music_and_eeg(gain: float, seed: int = 0, seconds: int = 60):
    rng = np.random.default_rng(seed)
    beats = np.repeat(rng.random(seconds * 4) ** 3, AUDIO_SR // 4)
    y = beats * rng.standard_normal(len(beats))
    env = audio_envelope(y)
    lag = int(0.1 * EEG_FS)
    response = np.concatenate([np.zeros(lag), env[:-lag]])
    mixing = rng.standard_normal((8, 1))
    eeg = gain * mixing @ (response / response.std())[None] + rng.standard_normal((8, len(env)))
    return eeg, env


def test_a_recovered_envelope_correlates_and_noise_does_not():
    eeg, env = _music_and_eeg(gain=1.0)
    assert envelope_r(eeg, env)["r"] > 0.5
    noise, _ = _music_and_eeg(gain=0.0)
    assert abs(envelope_r(noise, env)["r"]) < 0.15


def test_lags_look_forward_in_the_eeg():
    eeg = np.arange(10.0)[None]
    x = lagged(eeg, 3)
    assert x.shape == (10, 3) and list(x[2]) == [2, 3, 4] and list(x[-1]) == [9, 0, 0]


@pytest.mark.parametrize("kwargs", [{"train_fraction": 1.0}, {"max_lag_s": 0}, {"alphas": ()}])
def test_bad_settings(kwargs):
    with pytest.raises(ParameterError):
        EnvelopeModel(**kwargs)
