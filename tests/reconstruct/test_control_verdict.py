"""The null controls' verdict is family-wise: a marginal miss among many checks is chance, an effect is not."""

from __future__ import annotations

from reconstruct.evaluation.evaluate import NULL_CONTROLS, _family_verdict

AT_CHANCE = {"same_song": [290, 576, 0.5], "top1": [48, 576, 1 / 12], "top3": [144, 576, 0.25]}


def _controls(overrides: dict) -> dict:
    out = {name: {d: {"judged_on": dict(AT_CHANCE), "at_chance": False} for d in ("cnn", "ridge")}
           for name in NULL_CONTROLS}
    out["noise_only"] = {"skipped": "real EEG"}
    out["time_shifted"] = {"cnn": {"judged_on": {"same_song": [343, 576, 0.5]}, "at_chance": False, "diagnostic": True}}
    for (name, decoder, measure), value in overrides.items():
        out[name][decoder]["judged_on"][measure] = value
    return out


def test_a_marginal_miss_among_many_checks_is_chance():
    controls = _controls({("time_scrambled", "cnn", "top1"): [62, 576, 1 / 12]})  # p = 0.024 alone
    family = _family_verdict(controls)
    assert family["n_checks"] == 12 and family["level"] > 0.995
    assert all(x["at_chance"] for name in NULL_CONTROLS if name != "noise_only" for x in controls[name].values())
    assert controls["noise_only"] == {"skipped": "real EEG"}
    assert controls["time_shifted"]["cnn"]["at_chance"] is False  # a diagnostic keeps its own verdict


def test_a_real_effect_still_fails_its_control_and_only_that_one():
    controls = _controls({("shuffled_chunks", "ridge", "same_song"): [380, 576, 0.5]})
    _family_verdict(controls)
    assert not controls["shuffled_chunks"]["ridge"]["at_chance"]
    assert controls["shuffled_chunks"]["cnn"]["at_chance"] and controls["time_scrambled"]["ridge"]["at_chance"]
