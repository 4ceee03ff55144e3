"""The trf decoder: the fast lagged ridge agrees with MNE's ReceptiveField, and its cross-validation
chooses lags and penalty from training chunks only."""

import json

import numpy as np
import pytest

from reconstruct.errors import ParameterError
from reconstruct.models.trf import (TRFConfig, chunk_folds, fit_fixed, fit_trf, lagged, lags_of, predict_trf,
                                    trf_folds)
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
    config = TRFConfig(tmax_grid=(0.1,), alphas=(0.5,), n_folds=2, lag_step=1, ranks=(0,))
    fit = fit_trf(list(x), list(y), folds, config)
    lags = lags_of(0.0, 0.1)
    scale = np.mean(np.sum(np.concatenate([lagged(e, lags) for e in x]) ** 2, axis=0))
    sse = 0.0
    for k in (0, 1):
        coef, b = fit_fixed([e for e, f in zip(x, folds) if f != k], [t for t, f in zip(y, folds) if f != k],
                            lags, 0.5 * scale)
        sse += sum(np.sum((predict_trf(e, coef, b, lags) - t) ** 2) for e, t, f in zip(x, y, folds) if f == k)
    assert fit["grid"][0]["cv_mse"] == pytest.approx(sse / (y.size), rel=1e-4)


def _bin_r(pred, true):
    return np.mean([np.corrcoef(pred[:, k], true[:, k])[0, 1] for k in range(true.shape[1])])


def test_cv_r_of_a_rank_cut_model_equals_the_explicit_held_out_r():
    x, y = _epochs(n_epochs=6, bins=5)
    folds = np.array([0, 1, 0, 1, 0, 1])
    config = TRFConfig(tmax_grid=(0.1,), alphas=(0.5,), n_folds=2, lag_step=1, ranks=(2,))
    fit = fit_trf(list(x), list(y), folds, config)
    lags = lags_of(0.0, 0.1)
    scale = np.mean(np.sum(np.concatenate([lagged(e, lags) for e in x]) ** 2, axis=0))
    rs = []
    for k in (0, 1):
        train_y = np.concatenate([t for t, f in zip(y, folds) if f != k]).astype(np.float64)
        coef, b = fit_fixed([e for e, f in zip(x, folds) if f != k], [t for t, f in zip(y, folds) if f != k],
                            lags, 0.5 * scale)
        mean = train_y.mean(0)
        top = np.linalg.svd(train_y - mean, full_matrices=False)[2][:2]  # the training targets' top 2 components
        held = [(predict_trf(e, coef, b, lags), t) for e, t, f in zip(x, y, folds) if f == k]
        pred = np.concatenate([mean + (h - mean) @ top.T @ top for h, _ in held])
        rs.append(_bin_r(pred, np.concatenate([t for _, t in held])))
    assert fit["grid"][0]["cv_r"] == pytest.approx(np.mean(rs), abs=1e-4)


def test_every_grid_point_of_the_shared_factor_path_equals_explicit_fits():
    """Two lag windows from one Cholesky factor, penalties, a rank cut and the triangular held-out products:
    each grid point's CV error and r are those of separate fits scored on the held rows."""
    x, y = _epochs(n_epochs=9, bins=4)
    folds = chunk_folds(np.arange(9), 3)
    config = TRFConfig(tmax_grid=(0.05, 0.1), alphas=(0.1, 10.0), lag_step=1, ranks=(1, 0), band_hz=None)
    fit = fit_trf(list(x), list(y), folds, config)
    widest = lags_of(0.0, 0.1)
    scale = np.mean(np.sum(np.concatenate([lagged(e, widest) for e in x]) ** 2, axis=0))
    for g in fit["grid"]:
        lags, sse, rs = lags_of(0.0, g["tmax"]), 0.0, []
        for k in range(3):
            coef, b = fit_fixed(list(x[folds != k]), list(y[folds != k]), lags, g["alpha"] * scale)
            pred = np.concatenate([predict_trf(e, coef, b, lags) for e in x[folds == k]]).astype(np.float64)
            if g["rank"]:
                train_y = np.concatenate(y[folds != k]).astype(np.float64)
                top = np.linalg.svd(train_y - train_y.mean(0), full_matrices=False)[2][:g["rank"]]
                pred = train_y.mean(0) + (pred - train_y.mean(0)) @ top.T @ top
            true = np.concatenate(y[folds == k])
            sse, rs = sse + np.sum((pred - true) ** 2), rs + [_bin_r(pred, true)]
        assert g["cv_mse"] == pytest.approx(sse / y.size, rel=1e-4) and g["cv_r"] == pytest.approx(np.mean(rs), abs=1e-4)


def _one_loudness_course(seed=0, n_epochs=12, t=120, c=6, bins=8, noise=3.0):
    """Every bin follows one time course a(t) (plus bin noise the EEG does not carry); the EEG carries a(t)
    two frames later, buried in noise: the realistic case a rank-1 model is made for."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n_epochs, t))
    profile = rng.uniform(0.5, 1.5, bins)
    y = 0.5 + 0.1 * (a[..., None] * profile + rng.standard_normal((n_epochs, t, bins)))
    x = noise * rng.standard_normal((n_epochs, t, c)) + np.roll(a, 2, axis=1)[..., None] * rng.standard_normal(c)
    return x.astype(np.float32), y.astype(np.float32)


def test_a_rank_one_cut_wins_when_the_eeg_carries_one_time_course():
    x, y = _one_loudness_course()
    fit = fit_trf(list(x), list(y), chunk_folds(np.arange(12), 3),
                  TRFConfig(tmax_grid=(0.1,), alphas=(1.0, 100.0), lag_step=1, ranks=(1, 0)))
    by_rank = {g["rank"]: g["cv_r"] for g in fit["grid"] if g["alpha"] == fit["alpha"]}
    assert fit["rank"] == 1 and by_rank[1] > by_rank[0]
    pred = predict_trf(x[0], fit["coef"], fit["intercept"], fit["lags"])
    sv = np.linalg.svd((pred - pred.mean(0)).astype(np.float64), compute_uv=False)
    assert sv[1] < 1e-3 * sv[0]  # one time course in every bin


def test_every_bin_on_its_own_wins_when_bins_have_their_own_courses():
    x, y = _epochs(n_epochs=12, bins=4)  # four independent mixtures of the EEG
    fit = fit_trf(list(x), list(y), chunk_folds(np.arange(12), 3),
                  TRFConfig(tmax_grid=(0.12,), alphas=(1e-3,), lag_step=1, ranks=(1, 0)))
    assert fit["rank"] == 0


def test_the_band_pass_keeps_the_tracking_band_and_stays_inside_the_segment():
    from reconstruct.chunk_decoders import band_passed
    t = np.arange(220) / FRAMES_PER_S
    slow, fast = np.sin(2 * np.pi * 4 * t), np.sin(2 * np.pi * 15 * t)
    out = band_passed(np.stack([slow, fast, slow + 3.0], axis=1).astype(np.float32), (1.0, 8.0))
    mid = slice(44, 176)
    assert np.std(out[mid, 0]) > 0.8 * np.std(slow[mid]) and np.std(out[mid, 1]) < 0.1 * np.std(fast[mid])
    np.testing.assert_allclose(out[mid, 2], out[mid, 0], atol=1e-2)  # the offset is gone
    np.testing.assert_array_equal(band_passed(out[:, :1], None), out[:, :1])


def test_segments_band_passed_as_stacks_are_bit_for_bit_those_filtered_one_by_one():
    from reconstruct.chunk_decoders import band_passed, band_passed_all
    rng = np.random.default_rng(0)
    segments = [rng.standard_normal((n, 5)).astype(np.float32) for n in (220, 88, 220, 44, 220)]
    for one, stacked in zip(segments, band_passed_all(segments, (1.0, 8.0))):
        np.testing.assert_array_equal(stacked, band_passed(one, (1.0, 8.0)))


def test_trf_predictions_of_a_segment_ignore_every_other_segment(tmp_path):
    from reconstruct.chunk_decoders import predict_trf_segments, read_segments, train_trf
    from reconstruct.segments import EEG_FS
    rng = np.random.default_rng(0)
    n = 40  # 40 one-second examples of one recording: 8 chunks of 5 s
    inputs = rng.standard_normal((n, EEG_FS, 3)).astype(np.float32)
    targets = rng.uniform(0, 1, (n, FRAMES_PER_S, 4)).astype(np.float32)
    train_idx, test_idx = np.arange(0, 30), np.arange(30, 40)
    data = read_segments(inputs, train_idx, ["p1"], lambda i: targets[i])
    config = TRFConfig(tmax_grid=(0.1,), alphas=(1.0,), n_folds=2)
    train_trf(data, read_segments(inputs, np.zeros(0, np.int64), ["p1"]), config, tmp_path)
    before = predict_trf_segments(read_segments(inputs, test_idx, ["p1"]), tmp_path)
    inputs[35:] = 100.0  # the second test chunk changes beyond recognition
    after = predict_trf_segments(read_segments(inputs, test_idx, ["p1"]), tmp_path)
    np.testing.assert_array_equal(before[0], after[0])
    assert not np.array_equal(before[1], after[1])


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


@pytest.mark.parametrize("kwargs", [{"tmax_grid": ()}, {"tmax_grid": (0.0,)}, {"n_folds": 1}, {"alphas": (0.0,)},
                                    {"band_hz": (8.0, 1.0)}, {"band_hz": (1.0, 30.0)}, {"band_hz": (0.0, 8.0)},
                                    {"ranks": ()}, {"ranks": (-1,)}, {"cv_score": "auc"}, {"cv": "lolo"}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ParameterError):
        TRFConfig(**kwargs)


def test_participants_fitted_on_several_processes_get_the_models_of_one_process(monkeypatch):
    from reconstruct import chunk_decoders

    problems = []
    for seed in (0, 1, 2):
        x, y = _one_loudness_course(seed=seed)
        problems.append((list(x), list(y), np.arange(len(x)) % 3, TRFConfig(tmax_grid=(0.1,), alphas=(1.0, 10.0))))
    monkeypatch.setattr(chunk_decoders.os, "sched_getaffinity", lambda _: {0, 1})
    parallel = chunk_decoders._fits(problems)
    serial = [chunk_decoders._fit_one(p) for p in problems]
    for a, b in zip(parallel, serial):
        assert np.array_equal(a["coef"], b["coef"]) and a["grid"] == b["grid"]
    assert not np.array_equal(parallel[0]["coef"], parallel[1]["coef"])  # each participant its own model


# ---- nested CV, leave-one-chunk-out, forward patterns ---------------------------------------------------------

def test_nested_r_is_unbiased_on_noise_where_the_selection_r_is_not():
    """On targets the EEG does not carry, the r of the grid point chosen on the same folds is biased up (the
    max over 63 points); the nested r, each fold scored at the point an inner CV without it chose, is not."""
    config = TRFConfig(tmax_grid=(0.03, 0.07, 0.1), alphas=(1e-3, 1e-2, 1e-1, 1.0, 10.0, 1e2, 1e3), lag_step=1,
                       ranks=(1, 2, 0), band_hz=None)
    selection, nested = [], []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        x, y = rng.standard_normal((2, 9, 40, 6)).astype(np.float32)[0], rng.standard_normal((9, 40, 3))
        fit = fit_trf(list(x), list(y.astype(np.float32)), chunk_folds(np.arange(9), 3), config)
        selection.append(max(g["cv_r"] for g in fit["grid"]))
        nested.append(fit["nested"]["nested_r"])
    assert abs(np.mean(nested)) < 0.015 and np.mean(selection) > np.mean(nested) + 0.02


def test_the_nested_choice_for_a_fold_never_sees_that_fold():
    x, y = _epochs(n_epochs=9)
    folds = chunk_folds(np.arange(9), 3)
    config = TRFConfig(tmax_grid=(0.03, 0.12), alphas=(1e-3, 10.0, 1e4), lag_step=1, ranks=(1, 0), band_hz=None)
    fit = fit_trf(list(x), list(y), folds, config)
    spoilt = y.copy()
    spoilt[folds == 0] = np.random.default_rng(1).standard_normal(spoilt[folds == 0].shape)
    refit = fit_trf(list(x), list(spoilt), folds, config)
    point = ("tmax", "alpha", "rank")
    assert [fit["nested"]["outer"][0][k] for k in point] == [refit["nested"]["outer"][0][k] for k in point]
    assert refit["nested"]["outer"][0]["r"] < 0.5 < fit["nested"]["outer"][0]["r"]  # scored on fold 0 itself
    assert [g["cv_r"] for g in refit["grid"]] != [g["cv_r"] for g in fit["grid"]]
    assert fit["nested"]["nested_mse"] == pytest.approx(np.mean([o["mse"] for o in fit["nested"]["outer"]]))


def test_fewer_than_three_folds_give_no_nested_estimate_and_the_same_model():
    x, y = _epochs(n_epochs=6)
    config = TRFConfig(tmax_grid=(0.1,), alphas=(1.0,), lag_step=1)
    two = fit_trf(list(x), list(y), chunk_folds(np.arange(6), 2), config)
    assert two["nested"] is None
    off = fit_trf(list(x), list(y), chunk_folds(np.arange(6), 3), TRFConfig(tmax_grid=(0.1,), alphas=(1.0,), lag_step=1,
                                                                             nested=False))
    assert off["nested"] is None


def test_leave_one_chunk_out_holds_out_each_chunk_position_whole():
    chunk_in_song = np.array([3, 7, 3, 11, 7, 15, 11, 15])  # two presentations of each chunk position
    folds = trf_folds(chunk_in_song, TRFConfig(cv="loo"))
    assert len(np.unique(folds)) == 4
    for c in np.unique(chunk_in_song):
        assert len(set(folds[chunk_in_song == c])) == 1 and np.sum(folds == folds[chunk_in_song == c][0]) == 2
    assert len(np.unique(trf_folds(chunk_in_song, TRFConfig(n_folds=3)))) == 3


def test_leave_one_chunk_out_cv_error_equals_explicit_held_out_error():
    x, y = _epochs(n_epochs=4)
    chunk_in_song = np.array([0, 1, 0, 1])
    config = TRFConfig(tmax_grid=(0.1,), alphas=(0.5,), lag_step=1, ranks=(0,), cv="loo", band_hz=None)
    folds = trf_folds(chunk_in_song, config)
    fit = fit_trf(list(x), list(y), folds, config)
    lags = lags_of(0.0, 0.1)
    scale = np.mean(np.sum(np.concatenate([lagged(e, lags) for e in x]) ** 2, axis=0))
    sse = 0.0
    for k in (0, 1):
        coef, b = fit_fixed(list(x[folds != k]), list(y[folds != k]), lags, 0.5 * scale)
        sse += sum(np.sum((predict_trf(e, coef, b, lags) - t) ** 2) for e, t in zip(x[folds == k], y[folds == k]))
    assert fit["grid"][0]["cv_mse"] == pytest.approx(sse / y.size, rel=1e-4)


def _one_source(seed=0, n_epochs=12, t=200, c=8, n_noise=5):
    """EEG = a known spatial pattern × the target's time course two frames later + strong noise from 5 spatial
    sources: the decoder's weights must cancel the noise, so they are not the pattern."""
    rng = np.random.default_rng(seed)
    pattern, s = rng.standard_normal(c), rng.standard_normal((n_epochs, t))
    noise = rng.standard_normal((n_epochs, t, n_noise)) @ (5 * rng.standard_normal((c, n_noise))).T
    x = 3 * np.roll(s, 2, axis=1)[..., None] * pattern + noise + 0.2 * rng.standard_normal((n_epochs, t, c))
    return x.astype(np.float32), np.stack([s, 0.5 * s], -1).astype(np.float32), pattern


@pytest.mark.parametrize("seed", [0, 1])
def test_the_forward_pattern_recovers_a_known_mixing_where_the_weights_do_not(seed):
    x, y, pattern = _one_source(seed)
    fit = fit_trf(list(x), list(y), chunk_folds(np.arange(len(x)), 3),
                  TRFConfig(tmax_grid=(0.1,), alphas=(1e-2, 1.0), lag_step=1, ranks=(0,), band_hz=None))
    assert fit["pattern"].shape == (8, 5)
    lag2 = list(fit["lags"]).index(2)
    assert np.corrcoef(fit["pattern"][:, lag2], pattern)[0, 1] > 0.97
    assert np.corrcoef(fit["coef"].reshape(8, 5, 2)[:, lag2, 0], pattern)[0, 1] < 0.8
    assert np.max(np.abs(np.delete(fit["pattern"], lag2, axis=1))) < 0.5 * np.max(np.abs(fit["pattern"][:, lag2]))


def test_train_writes_patterns_and_the_figure_draws_scalp_maps_where_positions_are_known(tmp_path):
    from reconstruct.chunk_decoders import load_patterns, save_patterns
    from reconstruct.evaluation.forward_patterns import forward_pattern_figure, montage_for
    names = ["Fz", "Cz", "Pz", "Oz", "C3", "C4", "F3", "F4"]
    rng = np.random.default_rng(0)
    fits = [{"pattern": rng.standard_normal((8, n)).astype(np.float32), "lags": np.arange(0, 2 * n, 2)} for n in (3, 5)]
    save_patterns(tmp_path, ["p1", "p2"], fits)
    saved = load_patterns(tmp_path)
    assert saved["mean"].shape == (8, 5) and saved["lags"].tolist() == [0, 2, 4, 6, 8]
    np.testing.assert_allclose(saved["mean"][:, 4], fits[1]["pattern"][:, 4])  # only p2 has lag 8
    np.testing.assert_allclose(saved["mean"][:, 0], (fits[0]["pattern"][:, 0] + fits[1]["pattern"][:, 0]) / 2)
    assert montage_for(names) == "colin27_1005" and montage_for(["E1", "E2", "Cz"]) == "GSN-HydroCel-129"
    assert montage_for([f"ch{i}" for i in range(8)]) is None and montage_for(None) is None
    maps, image = forward_pattern_figure(tmp_path, names), forward_pattern_figure(tmp_path)
    assert maps[:8] == image[:8] == b"\x89PNG\r\n\x1a\n" and maps != image
    run = tmp_path / "run"  # a run folder: the model inside it, the channel names from its load stage
    (run / "data").mkdir(parents=True)
    (run / "data" / "dataset.json").write_text(json.dumps({"meta": {"channel_names": names}}))
    save_patterns(run / "model", ["p1", "p2"], fits)
    assert forward_pattern_figure(run) == maps


def test_the_cli_reaches_leave_one_chunk_out_and_the_nested_switch():
    from reconstruct.cli import build_config, cli

    def parsed(*args: str):
        with cli.commands["load"].make_context("load", ["--run-dir", "r", *args]) as ctx:
            params = dict(ctx.params)
        params.pop("force"), params.pop("quiet")
        return build_config(**params).trf

    assert parsed() == TRFConfig()
    assert parsed("--trf-cv", "loo", "--no-trf-nested") == TRFConfig(cv="loo", nested=False)
