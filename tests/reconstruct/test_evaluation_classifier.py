"""The song-ID classifier on a tiny synthetic set: trained on clean 'true' spectra, it must recognise
blurred, shrunk, noisy 'reconstructions' of them, and score pure noise at chance."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.errors import ParameterError
from reconstruct.evaluation.classifier import (
    ClassifierConfig,
    SongClassifier,
    cached_classifier,
    confusion_matrix,
    score_reconstructions,
    train_classifier,
)

SONGS = ["a", "b", "c"]
FAST = ClassifierConfig(epochs=6, seed=0)


def _song_spectra(rng: np.random.Generator, n_per_song: int) -> tuple[np.ndarray, np.ndarray]:
    """Each song: energy in its own band of bins, pulsing at its own tempo, plus noise [shape=(n, 44, 128)]."""
    t = np.arange(44)[:, None]
    f = np.arange(128)[None, :]
    x, y = [], []
    for label, (centre, period) in enumerate([(20, 6), (60, 11), (100, 4)]):
        for _ in range(n_per_song):
            phase = rng.integers(0, period)
            band = np.exp(-0.5 * ((f - centre) / 6) ** 2)
            pulse = 0.5 + 0.5 * (((t + phase) % period) < period / 2)
            x.append(np.clip(0.2 + 0.6 * band * pulse + 0.05 * rng.standard_normal((44, 128)), 0, 1))
            y.append(label)
    return np.array(x, dtype=np.float32), np.array(y)


@pytest.fixture(scope="module")
def trained() -> tuple[SongClassifier, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x, y = _song_spectra(rng, 40)
    return train_classifier(x, y, SONGS, config=FAST), x, y


def test_recognises_degraded_reconstructions(trained):
    clf, x, _ = trained
    rng = np.random.default_rng(1)
    xt, yt = _song_spectra(rng, 10)
    mean = x.mean(axis=0)
    recon = (0.35 * xt + 0.65 * mean + 0.05 * rng.standard_normal(xt.shape)).astype(np.float32)  # shrunk + noisy
    score = score_reconstructions(clf, recon, yt)
    assert score["per_example"]["accuracy"] >= 0.9
    assert score["per_example"]["above_chance"]
    assert np.trace(np.array(score["confusion"])) == score["per_example"]["correct"]


def test_noise_scores_at_chance(trained):
    clf, x, _ = trained
    rng = np.random.default_rng(2)
    noise = np.clip(x.mean(axis=0) + 0.05 * rng.standard_normal((300, 44, 128)), 0, 1).astype(np.float32)
    labels = np.repeat(np.arange(3), 100)
    score = score_reconstructions(clf, noise, labels)
    assert score["per_example"]["at_chance"]
    assert score["per_chunk"]["n"] == 60  # 300 seconds = 60 chunks of 5


def test_chunk_vote_sums_log_probabilities(trained):
    clf, _, _ = trained
    rng = np.random.default_rng(3)
    xt, yt = _song_spectra(rng, 5)
    score = score_reconstructions(clf, xt, yt, chunk_ids=yt)  # one 'chunk' per song
    assert score["per_chunk"]["n"] == 3 and score["per_chunk"]["correct"] == 3


def test_save_load_and_cache_give_the_same_classifier(trained, tmp_path):
    clf, x, y = trained
    clf.save(tmp_path / "c.pt")
    again = SongClassifier.load(tmp_path / "c.pt")
    assert np.allclose(clf.log_proba(x[:8]), again.log_proba(x[:8]), atol=1e-5)
    first = cached_classifier(x[::4], y[::4], SONGS, config=ClassifierConfig(epochs=1), cache_dir=tmp_path)
    cached = list(tmp_path.glob("classifier-*.pt"))
    second = cached_classifier(x[::4], y[::4], SONGS, config=ClassifierConfig(epochs=1), cache_dir=tmp_path)
    assert len(cached) == 1 and np.allclose(first.log_proba(x[:4]), second.log_proba(x[:4]), atol=1e-5)


def test_linear_spectrograms_are_pooled_to_at_most_128_bins():
    rng = np.random.default_rng(4)
    x = rng.random((12, 44, 1025)).astype(np.float32)
    clf = train_classifier(x, np.arange(12) % 2, ["a", "b"], config=ClassifierConfig(epochs=1))
    assert clf.normalizer.transform(x[:2]).shape == (2, 44, 1025 // 9)  # mean of 9 neighbouring bins
    assert clf.predict(x).shape == (12,)


def test_confusion_matrix_counts():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


@pytest.mark.parametrize("labels", [np.array([0, 3]), np.array([0]), np.array([-1, 0])])
def test_bad_labels_are_refused(labels):
    with pytest.raises(ParameterError):
        train_classifier(np.zeros((len(labels), 44, 128), np.float32), labels, SONGS, config=FAST)


def test_bad_settings_are_refused():
    with pytest.raises(ParameterError):
        ClassifierConfig(epochs=0)
