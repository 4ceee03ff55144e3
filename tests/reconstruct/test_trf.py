"""The trf decoder: the fast lagged ridge agrees with MNE's ReceptiveField, and its cross-validation
chooses lags and penalty from training chunks only."""

import numpy as np
import pytest

from reconstruct.errors import ParameterError
from reconstruct.models.trf import TRFConfig, chunk_folds, fit_fixed, fit_trf, lagged, lags_of, predict_trf
from reconstruct.segments import FRAMES_PER_S, segments_of


def _epochs(seed=0, n_epochs=6, t=60, c=4, bins=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_epochs, t, c)).astype(np.float32)
    w = rng.standard_normal((c, bins))
    # the target at t is carried by the EEG 2-4 frames later (the EEG follows the music)
    y = np.stack([sum(np.roll(e, -k, axis=0) @ w for k in (2, 3, 4)) for e in x]).astype(np.float32)
    return x, y


def test_fast_path_agrees_with_mne_receptive_field():
    from mne.decoding import ReceptiveField
    from sklearn.linear_model import Ridge
    x, y = _epochs()
    tmax, alpha = 0.1, 3.0
    lags = lags_of(0.0, tmax)
    coef, b = fit_fixed(list(x), list(y), lags, alpha, intercept=False)
    rf = ReceptiveField(-tmax, 0.0, FRAMES_PER_S, estimator=Ridge(alpha=alpha, fit_intercept=False),
                        fit_intercept=False)  # MNE's lags run the other way: EEG after the music is tmin < 0
    rf.fit(x.transpose(1, 0, 2), y.transpose(1, 0, 2))  # MNE: (n_times, n_epochs, n_features)
    ours = np.stack([predict_trf(e, coef, b, lags) for e in x])
    theirs = rf.predict(x.transpose(1, 0, 2)).transpose(1, 0, 2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_decimated_lags_are_mne_s_delayed_design_with_every_other_lag():
    from mne.decoding.receptive_field import _delay_time_series, _times_to_delays
    from sklearn.linear_model import Ridge
    x, y = _epochs()
    tmax, alpha, step = 0.2, 3.0, 2
    delayed = _delay_time_series(x.transpose(1, 0, 2), -tmax, 0.0, FRAMES_PER_S)  # (times, epochs, feats, delays)
    keep = (-_times_to_delays(-tmax, 0.0, FRAMES_PER_S)) % step == 0
    design = delayed[..., keep].transpose(1, 0, 2, 3).reshape(-1, x.shape[2] * keep.sum())
    ridge = Ridge(alpha=alpha, fit_intercept=False).fit(design, y.reshape(-1, y.shape[2]))
    lags = lags_of(0.0, tmax, step=step)
    coef, b = fit_fixed(list(x), list(y), lags, alpha, intercept=False)
    ours = np.concatenate([predict_trf(e, coef, b, lags) for e in x])
    np.testing.assert_allclose(ours, ridge.predict(design), rtol=1e-4, atol=1e-4)


def test_cross_validation_finds_the_lags_and_beats_a_too_short_window():
    x, y = _epochs(n_epochs=12)
    config = TRFConfig(tmax_grid=(0.03, 0.12), alphas=(1e-3, 1e2), n_folds=3, lag_step=1)  # 0.03 s = 1 lag: misses 2-4
    fit = fit_trf(list(x), list(y), chunk_folds(np.arange(12), 3), config)
    assert fit["tmax"] == 0.12 and fit["alpha"] == 1e-3
    by = {(g["tmax"], g["alpha"]): g["cv_mse"] for g in fit["grid"]}
    assert by[(0.12, 1e-3)] < 0.1 * by[(0.03, 1e-3)]


def test_cv_error_from_statistics_equals_explicit_held_out_error():
    x, y = _epochs(n_epochs=6)
    folds = np.array([0, 1, 0, 1, 0, 1])
    config = TRFConfig(tmax_grid=(0.1,), alphas=(0.5,), n_folds=2, lag_step=1)
    fit = fit_trf(list(x), list(y), folds, config)
    lags = lags_of(0.0, 0.1)
    scale = np.mean(np.sum(np.concatenate([lagged(e, lags) for e in x]) ** 2, axis=0))
    sse = 0.0
    for k in (0, 1):
        coef, b = fit_fixed([e for e, f in zip(x, folds) if f != k], [t for t, f in zip(y, folds) if f != k],
                            lags, 0.5 * scale)
        sse += sum(np.sum((predict_trf(e, coef, b, lags) - t) ** 2) for e, t, f in zip(x, y, folds) if f == k)
    assert fit["grid"][0]["cv_mse"] == pytest.approx(sse / (y.size), rel=1e-4)


def test_lags_stay_inside_their_segment():
    x = np.arange(10, dtype=np.float32)[:, None]
    d = lagged(x, np.array([0, 2]))
    assert d[:, 1].tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 0, 0]


def test_folds_group_chunks_by_time_in_the_song():
    folds = chunk_folds(np.array([3, 7, 3, 11, 7]), 2)  # two recordings of one song share chunks 3 and 7
    assert folds[0] == folds[2] and folds[1] == folds[4]


def test_segments_never_cross_a_chunk_edge():
    seg = segments_of(np.array([0, 1, 2, 3, 4, 5, 6, 8, 9]))
    assert seg.starts.tolist() == [0, 5, 8] and seg.lengths.tolist() == [5, 2, 2]


@pytest.mark.parametrize("kwargs", [{"tmax_grid": ()}, {"tmax_grid": (0.0,)}, {"n_folds": 1}, {"alphas": (0.0,)}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ParameterError):
        TRFConfig(**kwargs)
