"""The ideal observer on hand-made spectrograms with known answers; the floor no longer decides."""

import numpy as np
import pytest

from reconstruct.evaluation.observer import (
    correlation_distance,
    ideal_observer,
    level_relative,
    log_mel_distance,
    ssim_db,
)


@pytest.fixture
def spectra():
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((20, 8)) for _ in range(10)]
    match = [a + 0.3 * rng.standard_normal(a.shape) for a in x]
    foil = [rng.standard_normal((20, 8)) for _ in range(10)]
    return x, match, foil


@pytest.mark.parametrize("distance", ["mse", "correlation", "ssim"])
def test_perfect_and_reversed(spectra, distance):
    x, match, foil = spectra
    assert ideal_observer(x, match, foil, distance=distance)["accuracy"] == 1.0
    result = ideal_observer(x, foil, match, distance=distance)
    assert result["accuracy"] == 0.0 and result["ci95"][1] < 0.5


def test_correlation_ignores_level_but_mse_does_not():
    a = np.arange(12.0).reshape(3, 4)
    assert correlation_distance(a, a + 20) == pytest.approx(0)
    assert log_mel_distance(a, a + 20) == pytest.approx(400)


def _music(rng, frames=200, bins=32):
    return -30 + 10 * rng.standard_normal((frames, bins))


def test_silent_stretches_at_the_floor_no_longer_decide():
    """X and its faithful match share the music but not where silence falls; the foil is other music with
    X's exact silences. On a floored-at-−100 dB comparison the silences win; on the top 80 dB they don't."""
    rng = np.random.default_rng(3)
    x, other = _music(rng), _music(rng)
    match = x + 2 * rng.standard_normal(x.shape)
    foil = other.copy()
    x[:80], foil[:80] = -100.0, -100.0  # the same long silence in X and the foil, at the −100 dB floor
    match[:80] = x[:80] + 55  # quiet but not floored in the match (e.g. reverb tail of a reconstruction)

    def floored_r(a, b):  # the old comparison: raw dB down to the −100 dB floor
        return 1 - np.corrcoef(a.ravel(), b.ravel())[0, 1]

    assert floored_r(foil, x) < floored_r(match, x)  # the floor picks the foil
    assert correlation_distance(match, x) < correlation_distance(foil, x)
    assert ssim_db(match, x) > ssim_db(foil, x)
    assert level_relative(x).min() == pytest.approx(x.max() - 80)


def test_ties_are_coin_flips_not_losses():
    x = [np.arange(20.0).reshape(5, 4)] * 200
    same = [np.ones((5, 4)) * np.arange(4)] * 200
    result = ideal_observer(x, same, same, seed=1)
    assert result["ties"] == 200 and result["chance_in_ci95"]
    assert ideal_observer(x, same, same, seed=1) == result  # seeded


def test_unrelated_candidates_score_near_chance():
    rng = np.random.default_rng(1)
    accuracies = []
    for _ in range(40):
        x = [rng.standard_normal((5, 4)) for _ in range(48)]
        result = ideal_observer(x, [rng.standard_normal((5, 4)) for _ in x], [rng.standard_normal((5, 4)) for _ in x])
        accuracies.append(result["accuracy"])
    assert result["n"] == 48
    assert abs(np.mean(accuracies) - 0.5) < 0.03


def _clip(cid, song, participant, position, onset, role="reconstruction", target=None):
    return {"id": cid, "song": song, "eeg_participant": participant, "position": position, "onset_s": onset,
            "role": role, "target": target}


def test_admissible_pairs_follow_the_design_rules():
    from reconstruct.evaluation.observer import every_admissible_pair, pair_kind

    m = _clip("r1", "s1", "p1", "beginning", 10.0, target="x1")
    assert pair_kind(m, _clip("r2", "s2", "p2", "beginning", 10.0)) == "different-song"
    assert pair_kind(m, _clip("r3", "s1", "p2", "end", 200.0)) == "same-song"
    assert pair_kind(m, _clip("r4", "s1", "p2", "beginning", 15.0)) is None  # same position: not another time
    assert pair_kind(m, _clip("r5", "s2", "p1", "end", 200.0)) is None  # same EEG participant
    clips = [_clip(f"r{s}{p}", f"s{s}", f"p{s}{p}", ("beginning", "middle", "end")[p % 3], 10.0 + 50 * p,
                   target=f"x{s}{p}") for s in range(4) for p in range(12)]
    pairs = every_admissible_pair(clips)
    assert sum(k == "different-song" for *_, k in pairs) == 48 * 36
    assert sum(k == "same-song" for *_, k in pairs) == 48 * 8
    assert all(x == f"x{m[1:]}" for x, m, _, _ in pairs)


def test_kind_lines_identity_is_a_coin_on_same_song_and_time_beats_it():
    """Reconstructions that carry time beat identity-only clips on same-song pairs; identity ties there."""
    from reconstruct.evaluation.observer import foil_kind_lines

    rng = np.random.default_rng(3)
    clips, mel, identity = [], {}, {}
    for s in range(4):
        identity[f"s{s}"] = rng.standard_normal((40, 16)) + 3 * s
        for p in range(12):
            x = identity[f"s{s}"] + rng.standard_normal((40, 16))  # a span: the song's sound plus its own time
            cid = f"r{s}{p:02d}"
            mel[f"x{cid}"] = x
            mel[cid] = x + 0.5 * rng.standard_normal(x.shape)
            clips.append(_clip(cid, f"s{s}", f"p{s}{p}", ("beginning", "middle", "end")[p % 3], 10.0 * p,
                               target=f"x{cid}"))
            clips.append(_clip(f"x{cid}", f"s{s}", None, ("beginning", "middle", "end")[p % 3], 10.0 * p, "target"))
    study = [(f"xr{s}00", f"r{s}00", f"r{s}01") for s in range(4)] + [(f"xr{s}00", f"r{s}00", f"r{(s + 1) % 4}05")
                                                                       for s in range(4)]
    lines = foil_kind_lines(clips, mel, identity, study=study, seed=0)
    same, different = lines["kinds"]["same-song"], lines["kinds"]["different-song"]
    assert same["every_pair"]["ci95"][0] > 0.9 and same["identity_every_pair"]["ties"] == same["every_pair"]["n"]
    assert 0.4 < same["identity_every_pair"]["accuracy"] < 0.6
    assert different["identity_every_pair"]["accuracy"] > 0.99 and different["every_pair"]["accuracy"] > 0.99
    assert same["study_trials"]["n"] == different["study_trials"]["n"] == 4
    assert "ci95_clustered" in same["every_pair"]
