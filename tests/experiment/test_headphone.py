"""The Huggins-pitch stimuli: the tone band is inverted between ears in the target interval only."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from experiment import headphone


def decode(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, headphone.SR)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2).astype(float)


def band_correlation(x: np.ndarray) -> float:
    """Correlation of left and right within the Huggins band."""
    freqs = np.fft.rfftfreq(len(x), 1 / headphone.SR)
    band = np.abs(freqs - headphone.CENTRE_HZ) <= headphone.CENTRE_HZ * headphone.BANDWIDTH * 0.8
    left, right = np.fft.rfft(x[:, 0])[band], np.fft.rfft(x[:, 1])[band]
    return float(np.real(np.vdot(left, right)) / (np.linalg.norm(left) * np.linalg.norm(right)))


@pytest.mark.parametrize("target", [1, 2, 3])
def test_only_the_target_interval_is_dichotic(target):
    x = decode(headphone.huggins_trial(target, seed=5))
    n, gap = int(headphone.SR * headphone.INTERVAL_S), int(headphone.SR * headphone.GAP_S)
    for i in (1, 2, 3):
        burst = x[(i - 1) * (n + gap):(i - 1) * (n + gap) + n]
        corr = band_correlation(burst)
        if i == target:
            assert corr < -0.9
            assert np.corrcoef(burst[:, 0], burst[:, 1])[0, 1] > 0.8  # outside the band the ears agree
        else:
            assert corr > 0.99 and np.allclose(burst[:, 0], burst[:, 1])


def test_sizes_are_equal_and_deterministic():
    sizes = {len(headphone.huggins_trial(t, seed=s)) for t in (1, 2, 3) for s in (1, 2)}
    assert len(sizes) == 1
    assert headphone.huggins_trial(2, seed=9) == headphone.huggins_trial(2, seed=9)


def test_bad_interval():
    with pytest.raises(ValueError, match="target_interval=4"):
        headphone.huggins_trial(4, seed=1)
