"""Inversion: our STFT equals librosa's, NNLS stays non-negative, Griffin-Lim realises the spectrogram."""

import librosa
import numpy as np
import pytest
import torch

from reconstruct.errors import ParameterError
from reconstruct.features import audio_targets, auto_ref_db
from reconstruct.invert import (STFT, InversionConfig, MelBasis, fit_frames, invert_batch, mel_to_magnitude,
                                spectral_convergence, unit_to_power)


@pytest.fixture(scope="module")
def tone_mix():
    t = np.arange(22050 * 5) / 22050
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 660 * t) * (t % 0.5 < 0.25)
    return y.astype(np.float32)


def test_stft_matches_librosa(tone_mix):
    ours = STFT(len(tone_mix)).forward(torch.from_numpy(tone_mix[None]))[0].numpy().T
    np.testing.assert_allclose(ours, librosa.stft(tone_mix, n_fft=2048, hop_length=512), atol=2e-3)


def test_istft_round_trip(tone_mix):
    transform = STFT(len(tone_mix))
    y = transform.inverse(transform.forward(torch.from_numpy(tone_mix[None])))[0].numpy()
    np.testing.assert_allclose(y, tone_mix, atol=1e-5)


def test_sparse_mel_basis_equals_dense():
    basis = MelBasis()
    x = torch.rand(1025, 7)
    torch.testing.assert_close(basis.apply(x), basis.dense @ x, rtol=1e-4, atol=1e-5)
    m = torch.rand(128, 7)
    torch.testing.assert_close(basis.apply_t(m), basis.dense.T @ m, rtol=1e-4, atol=1e-5)


def test_nnls_is_non_negative_and_fits():
    basis = MelBasis()
    power = torch.rand(1025, 30) ** 4
    mel = (basis.dense @ power).T.reshape(1, 30, 128).transpose(1, 2)
    magnitude = mel_to_magnitude(mel.contiguous(), n_iter=50)
    assert (magnitude >= 0).all()
    refit = basis.dense @ magnitude[0].pow(2)
    assert torch.linalg.norm(refit - mel[0]) / torch.linalg.norm(mel[0]) < 0.05


def test_five_one_second_blocks_fit_five_seconds():
    t = np.random.default_rng(0).random((2, 220, 128)).astype(np.float32)
    assert fit_frames(t, 216).shape == (2, 216, 128)


def test_griffin_lim_realises_a_true_spectrogram(tone_mix):
    ref = auto_ref_db(tone_mix, kind="mel")
    t = np.concatenate(audio_targets(tone_mix, kind="mel", n_seconds=5, ref_db=ref))[None]
    y = invert_batch(t, np.array([ref]), kind="mel", length=len(tone_mix), config=InversionConfig(n_iter=32))
    assert y.shape == (1, len(tone_mix))
    target = unit_to_power(fit_frames(t, 216), np.array([ref]))[0]
    noise = np.random.default_rng(0).standard_normal(len(tone_mix)).astype(np.float32) * 0.1
    assert spectral_convergence(y[0], target) < 0.5 < spectral_convergence(noise, target)


def test_inversion_is_seeded(tone_mix):
    t = np.random.default_rng(1).random((1, 220, 128)).astype(np.float32) * 0.5
    a, b = (invert_batch(t, np.array([40.0]), kind="mel", length=22050 * 5, config=InversionConfig(n_iter=4))
            for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_audio_does_not_depend_on_the_chunk_size():
    t = np.random.default_rng(2).random((3, 220, 128)).astype(np.float32) * 0.5
    one, two = (invert_batch(t, np.array([40.0, 42.0, 38.0]), kind="mel", length=22050 * 5,
                             config=InversionConfig(n_iter=3, chunk=chunk)) for chunk in (1, 3))
    np.testing.assert_allclose(one, two, atol=1e-5)


@pytest.mark.parametrize("bad", [{"chunk": 0}, {"n_iter": -1}, {"nnls_iter": -2}])
def test_bad_inversion_settings_are_refused(bad):
    with pytest.raises(ParameterError, match="chunk"):
        InversionConfig(**bad)


def test_linear_targets_invert_to_their_magnitude(tone_mix):
    ref = auto_ref_db(tone_mix, kind="linear")
    t = np.concatenate(audio_targets(tone_mix, kind="linear", n_seconds=5, ref_db=ref))[None]
    y = invert_batch(t, np.array([ref]), kind="linear", length=len(tone_mix), config=InversionConfig(n_iter=32))
    assert y.shape == (1, len(tone_mix))
    target = unit_to_power(fit_frames(t, 216), np.array([ref]))[0]  # |STFT| for linear targets
    got = np.abs(librosa.stft(y[0], n_fft=2048, hop_length=512))[:, :216]
    assert np.linalg.norm(got - target) / np.linalg.norm(target) < 0.5
