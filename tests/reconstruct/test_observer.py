"""The ideal observer on hand-made spectrograms with known answers."""

import numpy as np
import pytest

from reconstruct.observer import correlation_distance, ideal_observer, log_mel_distance


@pytest.fixture
def spectra():
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((20, 8)) for _ in range(10)]
    match = [a + 0.3 * rng.standard_normal(a.shape) for a in x]
    foil = [rng.standard_normal((20, 8)) for _ in range(10)]
    return x, match, foil


@pytest.mark.parametrize("distance", ["mse", "correlation"])
def test_perfect_and_reversed(spectra, distance):
    x, match, foil = spectra
    assert ideal_observer(x, match, foil, distance=distance)["accuracy"] == 1.0
    result = ideal_observer(x, foil, match, distance=distance)
    assert result["accuracy"] == 0.0 and result["ci95"][1] < 0.5


def test_correlation_ignores_level_but_mse_does_not():
    a = np.arange(12.0).reshape(3, 4)
    assert correlation_distance(a, a + 20) == pytest.approx(0)
    assert log_mel_distance(a, a + 20) == pytest.approx(400)


def test_unrelated_candidates_score_near_chance():
    rng = np.random.default_rng(1)
    accuracies = []
    for _ in range(40):
        x = [rng.standard_normal((5, 4)) for _ in range(48)]
        result = ideal_observer(x, [rng.standard_normal((5, 4)) for _ in x], [rng.standard_normal((5, 4)) for _ in x])
        accuracies.append(result["accuracy"])
    assert result["n"] == 48
    assert abs(np.mean(accuracies) - 0.5) < 0.03
