"""analysis.breakdowns: per-level counts by hand, position order, learning bins and slope."""

from __future__ import annotations

import pytest
from analysis_helpers import hand_table

from analysis.breakdowns import FACTORS, all_breakdowns, by_factor, cross_table, factor_test, learning
from analysis.exclusions import score
from analysis.listeners import wilson_ci
from analysis.load import tidy


@pytest.fixture(scope="module")
def scored():
    """Two listeners, 24 trials: correct on song1 and song2 only (trial k plays song k % 4)."""
    pattern = [1 if k % 4 in (0, 1) else 0 for k in range(24)]
    flipped = [1 if k % 4 in (0, 1, 2) else 0 for k in range(24)]
    return score(tidy(hand_table({"a": pattern, "b": flipped, "c": pattern})))[0]


def test_song_levels_counted_by_hand(scored):
    levels = {r["level"]: r for r in by_factor(scored, "song")["levels"]}
    assert {s: (r["trials"], r["correct"]) for s, r in levels.items()} == {
        "song1": (18, 18), "song2": (18, 18), "song3": (18, 6), "song4": (18, 0)}
    low, high = wilson_ci(6, 18)
    assert (levels["song3"]["ci_low"], levels["song3"]["ci_high"]) == pytest.approx((float(low), float(high)))


def test_position_in_song_order(scored):
    assert [r["level"] for r in by_factor(scored, "position")["levels"]] == ["beginning", "middle", "end"]


def test_song_test_detects_the_difference(study):
    s, _ = score(tidy(study))
    halved = (s["song"] != "song4") | (s["trial_index"] % 2 == 0)
    s = s.assign(correct=halved.astype(int) * s["correct"])
    assert factor_test(s, "song")["p"] < 1e-6


def test_single_level_has_no_test(scored):
    assert "error" in factor_test(scored[scored["song"] == "song1"], "song")


def test_level_with_identical_answers_has_no_wald_test(scored):
    assert "song1, song2, song4" in factor_test(scored, "song")["error"]


def test_every_factor_reported(study):
    s, _ = score(tidy(study))
    result = all_breakdowns(s)
    compared = [f for f in FACTORS if f != "foil"]  # every simulated foil is a different song: nothing to compare
    assert set(FACTORS) <= set(result) and all("p" in result[f]["test"] for f in compared)
    assert [r["level"] for r in result["foil"]["levels"]] == ["different song"] and "error" in result["foil"]["test"]
    assert len(result["song_by_position"]) == 12


def test_same_and_different_song_foils_are_told_apart(study):
    table = tidy(study)
    same = table["item"].str.endswith(("1", "3"))  # a fifth of the items get a same-song foil
    table.loc[same, "foil_song"] = table.loc[same, "song"]
    s, _ = score(table)
    levels = {r["level"]: r["trials"] for r in all_breakdowns(s)["foil"]["levels"]}
    assert levels == {"different song": int((s["foil"] == "different song").sum()),
                      "same song": int((s["foil"] == "same song").sum())}
    assert levels["same song"] == int(same[~table["practice"] & table["listener"].isin(s["listener"])].sum())


def test_cross_table_counts(scored):
    cells = {(c["song"], c["position"]): (c["trials"], c["correct"]) for c in cross_table(scored, "song", "position")}
    assert cells[("song3", "end")] == (6, 2)


def test_learning_bins_and_positive_slope():
    early_wrong = [0] * 6 + [0, 1] * 3 + [1, 1, 0] * 2 + [1] * 6
    s, _ = score(tidy(hand_table({f"L{i}": early_wrong for i in range(6)})))
    result = learning(s, bin_size=6)
    assert [b["label"] for b in result["bins"]] == ["1–6", "7–12", "13–18", "19–24"]
    assert [b["trials"] for b in result["bins"]] == [36] * 4
    assert result["slope"]["slope_per_trial"] > 0 and result["slope"]["p_two_sided"] < 0.05
    assert len(result["per_trial"]) == 24 and result["slope"]["fitted"]["trial_index"][0] == 1


def test_learning_with_one_trial_index():
    s, _ = score(tidy(hand_table({"a": [1], "b": [0]})))
    assert "error" in learning(s)["slope"]
