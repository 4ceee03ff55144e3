"""The field's metrics on hand-made chunks: a perfect reconstruction identifies its segment, its song and its
span and correlates in every band; noise is at chance on all of them; a song's mean knows the song and
nothing of time; the truth of the same song at another time (identity only) passes neither match-mismatch
nor the band-r null."""

import numpy as np
import pytest

from reconstruct.errors import ParameterError
from reconstruct.evaluation.band_r import band_correlations, band_r_plot, derangements
from reconstruct.evaluation.field_metrics import field_at_chance, field_metrics, field_summary
from reconstruct.evaluation.identification import (bits_per_minute, cut_windows, match_mismatch,
                                                   segment_identification, song_templates, wolpaw_bits)
from reconstruct.evaluation.time_specific import HeldOutChunks

FRAMES, BINS = 20, 16  # 4 frames a second


def _chunks(n_songs: int = 3, n_recs: int = 3, n_spans: int = 12, seed: int = 0) -> HeldOutChunks:
    """Random spans with a per-song spectral slope (so a song's mean knows the song), shared by its recordings."""
    rng = np.random.default_rng(seed)
    slope = {s: np.linspace(0, 1, BINS) * (-1) ** s * (1 + s) / n_songs for s in range(n_songs)}
    spans = {(s, k): np.clip(0.5 + 0.15 * rng.standard_normal((FRAMES, BINS)) + 0.3 * slope[s], 0, 1)
             for s in range(n_songs) for k in range(n_spans)}
    rows = [(r, s, k) for s in range(n_songs) for r in range(n_recs) for k in range(n_spans)]
    truth = np.stack([spans[(s, k)] for _, s, k in rows])
    return HeldOutChunks(recording=np.array([s * n_recs + r for r, s, _ in rows]),
                         participant=np.array([f"p{r}" for r, _, _ in rows]),
                         song=np.array([f"s{s}" for _, s, _ in rows]), chunk=np.array([k for *_, k in rows]),
                         recon=truth.copy(), truth=truth)


def _song_means(c: HeldOutChunks) -> np.ndarray:
    """Each chunk replaced by its song's mean spectrum, tiled (the song-mean baseline's shape)."""
    return np.stack([np.tile(c.truth[c.song == s].mean(axis=(0, 1)), (FRAMES, 1)) for s in c.song])


@pytest.fixture(scope="module")
def chunks():
    return _chunks()


def test_a_perfect_reconstruction_scores_top_on_every_metric(chunks):
    m = field_metrics(chunks, chunks.truth, templates=song_templates(chunks, _song_means(chunks)))
    for win in ("1s", "3s", "5s"):
        assert m["segment_id"][win]["all"]["accuracy"] == 1.0
    assert m["segment_id"]["1s"]["50"]["chance"] == pytest.approx(1 / 50)
    assert m["segment_id"]["3s"]["all"]["n_way"] == 3 * 12 * 3 - 2  # 1-s hop; own chunk's overlapping windows out
    assert "skipped" in m["segment_id"]["5s"]["50"]  # 36 distinct 5-s windows: no 50-way, and it says so
    assert m["match_mismatch"]["2way"]["accuracy"] == m["match_mismatch"]["5way"]["accuracy"] == 1.0
    assert m["song_id_3s"]["accuracy"] > 0.9
    assert m["band_r"]["mean_r"] == pytest.approx(1.0) and m["band_r"]["p_mean_r"] == pytest.approx(1 / 1000)
    assert m["band_r"]["n_bands_above_null95"] == BINS
    assert not any(field_at_chance(m).values())


@pytest.mark.parametrize("seed", [1, 2])
def test_noise_is_at_chance_on_every_metric(chunks, seed):
    noise = np.random.default_rng(seed).random(chunks.truth.shape)
    m = field_metrics(chunks, noise, seed=seed, templates=song_templates(chunks, _song_means(chunks)))
    assert all(field_at_chance(m).values())
    summary = field_summary(m)
    for key in ("idall_5s", "mm2", "mm5", "song_id_3s"):
        lo, hi = summary[key]["ci95_clustered"]
        assert lo <= summary[key]["accuracy"] <= hi


def test_the_song_mean_knows_the_song_and_nothing_of_time(chunks):
    means = _song_means(chunks)
    m = field_metrics(chunks, means, templates=song_templates(chunks, means))
    assert m["song_id_3s"]["accuracy"] == 1.0  # its own template
    verdict = field_at_chance(m, time_only=True)
    assert verdict["mm2"] and verdict["mm5"] and verdict["band_r"] and verdict["idall_5s"]
    # among all songs' segments it rejects the other songs, but no better than 1 / a song's spans
    assert m["segment_id"]["5s"]["all"]["ci"][0] <= 1 / 12
    assert not verdict["id2_5s"]  # 2-way: a distractor from another song is easy for it


def test_the_same_song_at_another_time_passes_neither_match_mismatch_nor_the_band_null(chunks):
    shifted = chunks.truth.copy()  # each chunk's reconstruction = its recording's next test span (identity only)
    for rec in np.unique(chunks.recording):
        rows = np.flatnonzero(chunks.recording == rec)
        shifted[rows] = chunks.truth[np.roll(rows, 1)]
    mm = match_mismatch(chunks, shifted)
    assert not mm["2way"]["above_chance"] and not mm["5way"]["above_chance"]
    band = band_correlations(chunks, shifted, n_null=99)
    assert band["p_mean_r"] > 0.05 and band["n_bands_above_null95"] <= 3


def test_a_leak_through_the_truth_is_caught_by_the_band_null(chunks):
    leaky = 0.2 * chunks.truth + 0.8 * np.random.default_rng(3).random(chunks.truth.shape)
    band = band_correlations(chunks, leaky, n_null=99)
    assert band["p_mean_r"] == pytest.approx(1 / 100)  # the control can fail


@pytest.mark.parametrize(("accuracy", "n", "bits"), [
    (1.0, 2, 1.0), (0.5, 2, 0.0), (0.9, 2, 1 + 0.9 * np.log2(0.9) + 0.1 * np.log2(0.1)),
    (0.25, 50, np.log2(50) + 0.25 * np.log2(0.25) + 0.75 * np.log2(0.75 / 49)), (0.01, 50, 0.0)])
def test_wolpaw_bits_by_hand(accuracy, n, bits):
    assert wolpaw_bits(accuracy, n) == pytest.approx(bits)
    assert bits_per_minute(accuracy, n, 3) == pytest.approx(bits * 20)


def test_itr_of_a_perfect_50_way_on_3_s_is_113_bits_a_minute():
    assert bits_per_minute(1.0, 50, 3) == pytest.approx(np.log2(50) * 20)  # 112.9 bits/min


def test_windows_are_cut_without_overlap_from_each_chunk_start(chunks):
    wins, rows, offsets = cut_windows(chunks.truth[:2], 1)
    assert wins.shape == (10, FRAMES // 5, BINS) and list(offsets[:5]) == [0, 1, 2, 3, 4]
    assert np.array_equal(wins[6], chunks.truth[1][4:8]) and list(rows[4:6]) == [0, 1]
    assert cut_windows(chunks.truth[:2], 3)[0].shape == (2, 12, BINS)
    assert list(cut_windows(chunks.truth[:2], 3, hop_s=1)[2]) == [0, 1, 2, 0, 1, 2]


def test_a_query_is_never_told_from_a_window_overlapping_its_own(chunks):
    # each reconstruction = its truth 1 s early: it equals the overlapping neighbour window (r = 1), which would
    # beat its own every time; barred, the neighbour never competes, and some own windows win
    shifted = np.roll(chunks.truth, -FRAMES // 5, axis=1)
    m = segment_identification(chunks, shifted, window_s=3, hop_s=1, ways=("all",))
    assert m["all"]["n_way"] == m["pool"] - 2 and m["all"]["correct"] >= 3


@pytest.mark.parametrize(("call", "message"), [
    (lambda c: segment_identification(c, c.truth, window_s=6), "window_s=6"),
    (lambda c: segment_identification(c, c.truth, window_s=0), "window_s=0"),
    (lambda c: segment_identification(c, c.truth, ways=(1,)), "N=1"),
    (lambda c: segment_identification(c, c.truth, hop_s=0), "hop_s=0"),
    (lambda c: match_mismatch(c, c.truth, ways=(1,)), "way=1"),
    (lambda c: match_mismatch(c, c.truth[:, :10]), "must match"),
    (lambda c: band_correlations(c, c.truth, n_null=5), "n_null=5")])
def test_bad_input_is_one_line(chunks, call, message):
    with pytest.raises(ParameterError, match=message):
        call(chunks)


def test_distractors_are_seeded(chunks):
    noise = np.random.default_rng(5).random(chunks.truth.shape)
    a, b = (segment_identification(chunks, noise, seed=7, window_s=5) for _ in range(2))
    assert a["10"]["correct"] == b["10"]["correct"] and a["seed"] == 7


def test_the_band_plot_is_a_png(chunks):
    band = band_correlations(chunks, chunks.truth, n_null=19)
    assert band_r_plot(band, band_correlations(chunks, _song_means(chunks), n_null=19))[:4] == b"\x89PNG"


def test_a_null_too_small_to_fail_is_refused(chunks):
    m = field_metrics(chunks, chunks.truth, n_null=19)
    with pytest.raises(ParameterError, match="n_null=19"):
        field_at_chance(m)


@pytest.mark.parametrize("n", [2, 3, 12])
def test_the_null_never_pairs_a_chunk_with_itself(n):
    perms = derangements(n, 500, np.random.default_rng(0))
    assert not (perms == np.arange(n)).any() and (np.sort(perms, axis=1) == np.arange(n)).all()
