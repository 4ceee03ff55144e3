"""SSIM and PSNR on hand-made spectrograms whose answers are known, and the vectorised forms against
scikit-image itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from reconstruct.errors import ParameterError
from reconstruct.evaluation.metrics import (
    PSNR_CAP_DB,
    bin_metrics,
    example_metrics,
    psnr_batch,
    spectrogram_metrics,
    ssim_batch,
    summarize,
)
from reconstruct.evaluation.report import write_json
from reconstruct.evaluation.stats import accuracy_vs_chance, family_at_chance, p_text, two_way_cluster_ci

C1 = 0.01 ** 2


@pytest.fixture(scope="module")
def spectra() -> np.ndarray:
    """Three smooth 'spectrograms' in [0, 1] [shape=(3, 44, 128)]."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 44)[:, None]
    f = np.linspace(0, 1, 128)[None, :]
    base = [0.5 + 0.4 * np.sin(2 * np.pi * (k + 1) * t) * np.cos(2 * np.pi * (k + 2) * f) for k in range(3)]
    return np.clip(np.stack(base) + 0.02 * rng.standard_normal((3, 44, 128)), 0, 1)


def test_identical_spectrograms_score_ssim_one_and_infinite_psnr(spectra):
    m = example_metrics(spectra, spectra.copy())
    assert np.allclose(m["ssim"], 1.0)
    assert np.all(np.isinf(m["psnr"]))
    b = bin_metrics(spectra, spectra.copy())
    assert np.allclose(b["ssim"], 1.0) and np.all(np.isinf(b["psnr"]))


def test_infinite_psnr_is_capped_in_summaries_and_null_in_json(spectra, tmp_path):
    s = summarize(np.array([np.inf, 20.0]), cap=PSNR_CAP_DB)
    assert s["n_infinite"] == 1 and s["max"] == PSNR_CAP_DB and s["mean"] == pytest.approx(60.0)
    path = write_json({"psnr": float("inf"), "nested": [np.float32(np.nan), np.int64(3)]}, tmp_path / "e.json")
    assert json.loads(path.read_text()) == {"psnr": None, "nested": [None, 3]}


@pytest.mark.parametrize(("level", "offset"), [(0.5, 0.1), (0.2, 0.3), (0.7, -0.05)])
def test_constant_offset_has_closed_form_psnr_and_ssim(level, offset):
    target = np.full((1, 44, 128), level)
    recon = target + offset
    m = example_metrics(target, recon)
    # PSNR = 10·log10(1 / offset²); for flat images SSIM is its luminance term (2ab + C1) / (a² + b² + C1)
    assert m["psnr"][0] == pytest.approx(10 * np.log10(1 / offset ** 2))
    b = level + offset
    assert m["ssim"][0] == pytest.approx((2 * level * b + C1) / (level ** 2 + b ** 2 + C1))


def test_one_bin_shift_hurts_only_the_two_bins_involved():
    target = np.zeros((1, 44, 128))
    target[0, :, 40] = 1.0
    recon = np.roll(target, 1, axis=2)  # the line moves from bin 40 to bin 41
    b = bin_metrics(target, recon)
    assert b["psnr"][0, 40] == pytest.approx(0.0) and b["psnr"][0, 41] == pytest.approx(0.0)  # MSE = 1
    others = np.delete(np.arange(128), [40, 41])
    assert np.all(np.isinf(b["psnr"][0, others])) and np.allclose(b["ssim"][0, others], 1.0)
    # ones vs zeros in one bin: SSIM = C1 / (1 + C1), almost 0
    assert b["ssim"][0, 40] == pytest.approx(C1 / (1 + C1))
    whole = example_metrics(target, recon)
    assert whole["psnr"][0] == pytest.approx(10 * np.log10(128 / 2))  # 2 wrong bins of 128, each MSE 1


def test_time_shift_lowers_ssim_more_the_further_it_goes(spectra):
    shifted = [example_metrics(spectra, np.roll(spectra, k, axis=1))["ssim"].mean() for k in (0, 1, 4, 11)]
    assert shifted[0] == pytest.approx(1.0)
    assert shifted[0] > shifted[1] > shifted[2] > shifted[3]


def test_vectorised_ssim_and_psnr_equal_scikit_image(spectra):
    rng = np.random.default_rng(1)
    recon = np.clip(spectra + 0.1 * rng.standard_normal(spectra.shape), 0, 1)
    per_ex = ssim_batch(spectra, recon, axes=(1, 2))
    expect = [structural_similarity(t, r, data_range=1.0) for t, r in zip(spectra, recon)]
    assert np.allclose(per_ex, expect, atol=1e-10)
    per_bin = bin_metrics(spectra, recon)
    for k in (0, 17, 127):
        assert per_bin["ssim"][1, k] == pytest.approx(structural_similarity(spectra[1, :, k], recon[1, :, k],
                                                                            data_range=1.0), abs=1e-10)
        assert per_bin["psnr"][2, k] == pytest.approx(peak_signal_noise_ratio(spectra[2, :, k], recon[2, :, k],
                                                                              data_range=1.0))
    assert np.allclose(psnr_batch(spectra, recon, axes=(1, 2)),
                       [peak_signal_noise_ratio(t, r, data_range=1.0) for t, r in zip(spectra, recon)])


def test_spectrogram_metrics_summarises_examples_and_bins(spectra):
    out = spectrogram_metrics(spectra, spectra * 0.5)
    assert out["per_bin"]["ssim"].shape == (3, 128)
    assert len(out["per_bin_mean"]["psnr_db"]) == 128
    assert 0 < out["summary"]["ssim"]["mean"] < 1
    json.dumps(out["summary"])


@pytest.mark.parametrize(("a", "b"), [(np.zeros((2, 44, 128)), np.zeros((2, 44, 64))),
                                      (np.zeros((44, 128)), np.zeros((44, 128))),
                                      (np.zeros((2, 5, 128)), np.zeros((2, 5, 128)))])
def test_bad_shapes_are_refused(a, b):
    with pytest.raises(ParameterError):
        example_metrics(a, b)


def test_accuracy_vs_chance_has_exact_clopper_pearson_bounds():
    r = accuracy_vs_chance(10, 10, 0.5)
    assert r["ci"][0] == pytest.approx(0.025 ** (1 / 10)) and r["ci"][1] == pytest.approx(1.0)
    assert r["p_greater"] == pytest.approx(0.5 ** 10) and r["above_chance"] and not r["at_chance"]
    r = accuracy_vs_chance(3, 30, 0.1)
    assert r["at_chance"] and not r["above_chance"]


def test_family_verdict_keeps_a_perfect_null_at_chance_where_95_percent_each_would_not():
    rng = np.random.default_rng(0)
    families = [[(int(rng.binomial(576, 1 / 12)), 576, 1 / 12) for _ in range(22)] for _ in range(60)]
    alone = np.mean([all(accuracy_vs_chance(*c)["at_chance"] for c in f) for f in families])
    together = np.mean([all(family_at_chance(f)[0]) for f in families])
    assert alone < 0.5 and together > 0.9  # 0.95^22 = 0.32 in theory; Bonferroni >= 0.95
    assert family_at_chance([(62, 576, 1 / 12)] * 22)[1] == pytest.approx(1 - 0.05 / 22)


def test_family_verdict_still_catches_a_real_effect():
    ok, _ = family_at_chance([(48, 576, 1 / 12)] * 21 + [(120, 576, 1 / 12)])
    assert all(ok[:21]) and not ok[21]


def _crossed(n_rows: int = 24, n_cols: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    return rows.ravel(), cols.ravel()


def _width(ci: list[float]) -> float:
    return ci[1] - ci[0]


def test_clustered_ci_matches_the_exact_one_when_trials_are_independent():
    rows, cols = _crossed()
    hits = np.random.default_rng(1).random(rows.size) < 0.6
    clustered = two_way_cluster_ci(hits, rows, cols)
    exact = accuracy_vs_chance(int(hits.sum()), hits.size, 0.5)["ci"]
    assert clustered[0] < hits.mean() < clustered[1]
    assert 0.85 < _width(clustered) / _width(exact) < 1.25


def test_clustered_ci_widens_when_a_cluster_shares_its_outcome():
    rows, cols = _crossed()
    span_hit = np.random.default_rng(2).random(24) < 0.6
    hits = span_hit[rows]  # every participant right or wrong together on a span: 24 units, not 576
    clustered = two_way_cluster_ci(hits, rows, cols)
    exact = accuracy_vs_chance(int(hits.sum()), hits.size, 0.5)["ci"]
    assert _width(clustered) > 3 * _width(exact)


def test_clustered_ci_widens_with_either_factor_and_is_exact_at_the_ceiling():
    rows, cols = _crossed()
    rng = np.random.default_rng(3)
    by_participant = (rng.random(24) < 0.6)[cols]
    assert _width(two_way_cluster_ci(by_participant, rows, cols)) > 3 * _width(
        accuracy_vs_chance(int(by_participant.sum()), by_participant.size, 0.5)["ci"])
    every = np.ones(rows.size, bool)
    assert two_way_cluster_ci(every, rows, cols) == pytest.approx(accuracy_vs_chance(rows.size, rows.size, 0.5)["ci"])


@pytest.mark.parametrize(("hits", "rows", "cols"), [([], [], []), ([1, 0], [0], [0, 1]), ([1, 0], [0, 1], [0])])
def test_clustered_ci_refuses_unlabelled_trials(hits, rows, cols):
    with pytest.raises(ParameterError):
        two_way_cluster_ci(np.array(hits), np.array(rows), np.array(cols))


@pytest.mark.parametrize(("correct", "n", "chance"), [(1, 0, 0.5), (5, 4, 0.5), (-1, 4, 0.5), (1, 4, 0.0),
                                                      (1, 4, 1.0)])
def test_accuracy_vs_chance_refuses_bad_input(correct, n, chance):
    with pytest.raises(ParameterError):
        accuracy_vs_chance(correct, n, chance)


@pytest.mark.parametrize("p, text, equals", [(0.0, "< 1e-300", "<1e-300"), (3.14e-7, "3.1e-07", "=3.1e-07"),
                                              (0.5, "0.5", "=0.5")])
def test_p_values_never_read_zero(p, text, equals):
    assert p_text(p) == text and p_text(p, equals=True) == equals


def test_songs_are_listed_in_natural_order():
    from reconstruct.evaluation.figures import natural_order
    names = ["song1", "song10", "song2", "song9"]
    assert [names[i] for i in natural_order(names)] == ["song1", "song2", "song9", "song10"]
