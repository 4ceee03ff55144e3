"""Time-specific measures on hand-made chunks: perfect reconstructions identify their span, a song's mean
spectrogram knows the song but not the time, and noise knows neither."""

import numpy as np
import pytest

from reconstruct.evaluation.time_specific import (HeldOutChunks, at_chance, beats_baseline, score_spectra,
                                                  span_identification)


def _chunks(n_songs: int = 2, n_recs: int = 3, n_spans: int = 12, seed: int = 0) -> HeldOutChunks:
    rng = np.random.default_rng(seed)
    spans = {(s, k): rng.random((20, 16)) for s in range(n_songs) for k in range(n_spans)}
    rows = [(r, s, k) for s in range(n_songs) for r in range(n_recs) for k in range(n_spans)]
    truth = np.stack([spans[(s, k)] for _, s, k in rows])
    return HeldOutChunks(recording=np.array([s * n_recs + r for r, s, _ in rows]),
                      participant=np.array([f"p{r}" for r, _, _ in rows]),
                      song=np.array([f"s{s}" for _, s, _ in rows]), chunk=np.array([k for *_, k in rows]),
                      recon=truth.copy(), truth=truth)


def test_perfect_reconstructions_identify_their_span():
    c = _chunks()
    scores = score_spectra(c, c.truth)
    assert scores["span_id"]["top1"]["accuracy"] == 1.0 and scores["span_id"]["top1"]["chance"] == pytest.approx(1 / 12)
    assert scores["same_song"]["accuracy"] == 1.0 and scores["different_song"]["accuracy"] == 1.0


def test_a_song_mean_knows_the_song_not_the_time():
    c = _chunks()
    song_offset = {"s0": 0.0, "s1": 0.5}
    truth = c.truth + np.array([song_offset[s] for s in c.song])[:, None, None] * np.linspace(0, 1, 16)
    c = HeldOutChunks(c.recording, c.participant, c.song, c.chunk, truth, truth)
    means = np.stack([truth[c.song == s].mean(axis=0) for s in c.song])
    scores = score_spectra(c, means)
    assert scores["different_song"]["accuracy"] > 0.9
    verdict = at_chance(scores)
    assert verdict["same_song"] and verdict["top1"] and verdict["top3"]
    assert scores["same_song"]["ties"] == len(c)  # identical candidates: coin flips, not losses
    assert beats_baseline(score_spectra(c, truth), scores) == {
        "different_song": False, "same_song": True, "top1": True, "top3": True}


def test_every_measure_carries_a_clustered_ci_around_its_accuracy():
    c = _chunks(n_recs=6)
    noise = np.random.default_rng(4).random(c.truth.shape)
    scores = score_spectra(c, (c.truth + noise) / 2)
    for s in (scores["same_song"], scores["different_song"]):
        assert s["ci95_clustered"][0] <= s["accuracy"] <= s["ci95_clustered"][1]
    for k in ("top1", "top3"):
        s = scores["span_id"][k]
        assert s["ci_clustered"][0] <= s["accuracy"] <= s["ci_clustered"][1]


def test_noise_is_at_chance_on_every_measure():
    c = _chunks(n_recs=6)
    noise = np.random.default_rng(9).random(c.truth.shape)
    assert all(at_chance(score_spectra(c, noise)).values())


def test_candidates_are_the_song_s_test_spans_only():
    c = _chunks(n_spans=4)
    out = span_identification(c, c.truth, ks=(1, 3, 4))
    assert out["n_candidates_per_song"] == {"s0": 4, "s1": 4}
    assert out["top3"]["chance"] == pytest.approx(0.75)
    assert "top4" not in out  # every span is in the top 4: a measure that cannot fail is not reported


def _scores(same_song, ci_low):
    span = {"accuracy": 0.083, "ci": [0.06, 0.11], "at_chance": True, "chance": 1 / 12}
    pair = {"accuracy": 0.99, "ci95": [0.98, 1.0], "chance_in_ci95": False}
    return {"different_song": pair, "same_song": {"accuracy": same_song, "ci95": [ci_low, same_song + 0.04],
                                                  "chance_in_ci95": ci_low <= 0.5},
            "span_id": {"top1": span, "top3": {**span, "chance": 0.25, "accuracy": 0.25, "ci": [0.21, 0.29]}}}


def test_beating_a_baseline_that_sits_below_chance_is_not_evidence():
    baseline = _scores(0.457, 0.415)  # identical match and foil: ties, so below chance
    snr0_like = _scores(0.521, 0.479)  # above the baseline's 45.7 %, but chance is in its CI
    assert beats_baseline(snr0_like, baseline)["same_song"] is False
    assert beats_baseline(_scores(0.62, 0.58), baseline)["same_song"] is True
