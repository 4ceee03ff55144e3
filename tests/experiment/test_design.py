"""Every balance rule of the design, checked rule by rule over many seeds; refusals; session draws."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from experiment.design import (
    MAX_RUN, build_design, check_design, draw_session, longest_run,
)
from experiment.errors import ExperimentError
from experiment.manifest import load_manifest
from experiment_factory import make_manifest

SEEDS = range(60)
POLICIES = ("mixed", "different-song", "same-song")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The contract's 48 + 48 + 4 + 4 clips, with EEG participant ids shared across songs."""
    return load_manifest(make_manifest(tmp_path_factory.mktemp("m"))).clips


@pytest.fixture(scope="module")
def designs(clips):
    """One design per (policy, seed)."""
    return {(p, s): build_design(clips, seed=s, foil_policy=p) for p in POLICIES for s in SEEDS}


def by_id(clips):
    return {c.id: c for c in clips}


def all_designs(designs):
    return list(designs.items())


def test_two_versions_of_24_trials_and_4_practice(designs):
    for design in designs.values():
        assert [v.number for v in design.versions] == [1, 2]
        for v in design.versions:
            assert len(v.trials) == 24 and len(v.practice) == 4
            assert all(t.practice for t in v.practice) and not any(t.practice for t in v.trials)


def test_six_trials_per_song_two_per_song_per_position(designs):
    for design in designs.values():
        for v in design.versions:
            assert set(Counter(t.song for t in v.trials).values()) == {6}
            assert set(Counter((t.song, t.position) for t in v.trials).values()) == {2}


def test_version_matches_are_its_half(designs, clips):
    ids = by_id(clips)
    for design in designs.values():
        for v in design.versions:
            assert {ids[t.match].half for t in v.trials} == {v.number}
            assert {ids[t.foil].half for t in v.trials} == {3 - v.number}


def test_x_is_the_target_of_the_match(designs, clips):
    ids = by_id(clips)
    for design in designs.values():
        for v in design.versions:
            for t in (*v.practice, *v.trials):
                assert ids[t.match].target == t.target and ids[t.target].song == t.song


def test_match_and_foil_from_different_eeg_participants(designs, clips):
    ids = by_id(clips)
    for design in designs.values():
        for v in design.versions:
            for t in (*v.practice, *v.trials):
                assert ids[t.match].eeg_participant != ids[t.foil].eeg_participant


def test_each_reconstruction_once_as_match_at_most_once_as_foil(designs, clips):
    recon = [c.id for c in clips if c.role == "reconstruction"]
    for design in designs.values():
        matches = Counter(t.match for v in design.versions for t in v.trials)
        foils = Counter(t.foil for v in design.versions for t in v.trials)
        assert all(matches[r] == 1 for r in recon)
        assert max(foils.values()) == 1
        for v in design.versions:  # and nobody hears a reconstruction twice in the scored trials
            heard = Counter([t.match for t in v.trials] + [t.foil for t in v.trials])
            assert max(heard.values()) == 1


def test_foils_balanced_over_songs(designs):
    for (policy, _), design in designs.items():
        for v in design.versions:
            assert set(Counter(t.foil_song for t in v.trials).values()) == {6}
            if policy == "different-song":  # 2 foils from each other song for every song's 6 trials
                assert set(Counter((t.song, t.foil_song) for t in v.trials).values()) == {2}


def test_foil_policy_decides_foil_song(designs, clips):
    ids = by_id(clips)
    for (policy, _), design in designs.items():
        for v in design.versions:
            for t in v.trials:
                m, f = ids[t.match], ids[t.foil]
                if policy == "different-song" or (policy == "mixed" and f.song != m.song):
                    assert f.song != m.song
                else:
                    assert f.song == m.song and f.position != m.position and f.onset_s != m.onset_s
            if policy != "mixed":
                assert all(ids[t.foil].song != ids[t.match].song for t in v.practice)


def test_correct_side_balanced_12_12(designs):
    for design in designs.values():
        for v in design.versions:
            assert Counter(t.correct_side for t in v.trials) == {"A": 12, "B": 12}
            assert Counter(t.correct_side for t in v.practice) == {"A": 2, "B": 2}
            for cell in {(t.song, t.position) for t in v.trials}:
                assert Counter(t.correct_side for t in v.trials if (t.song, t.position) == cell) == {"A": 1, "B": 1}


def test_items_unique_and_stable(designs):
    for design in designs.values():
        items = [t.item for v in design.versions for t in (*v.practice, *v.trials)]
        assert len(items) == len(set(items)) == 56


def test_deterministic_and_seed_dependent(clips):
    a = build_design(clips, seed=7)
    assert a == build_design(clips, seed=7)
    assert a != build_design(clips, seed=8)


def test_check_design_passes_and_catches_a_broken_design(designs, clips):
    design = designs[("different-song", 0)]
    assert check_design(design, clips) == []
    v1 = design.versions[0]
    broken_trial = replace(v1.trials[0], foil=v1.trials[0].match)
    broken = replace(design, versions=(replace(v1, trials=(broken_trial, *v1.trials[1:])), design.versions[1]))
    assert check_design(broken, clips)


def test_distinct_participants_per_song_also_work(tmp_path):
    clips = load_manifest(make_manifest(tmp_path, shared_participants=False)).clips
    assert check_design(build_design(clips, seed=3), clips) == []


@pytest.mark.parametrize(
    ("kwargs", "policy", "message"),
    [
        ({"n_songs": 1}, "different-song", "only 1 song"),
        ({"drop": ("r01",)}, "different-song", "same number of reconstructions per song and position"),
        ({"practice": 0}, "different-song", "practice"),
        ({"practice": 1}, "different-song", "practice"),
        ({"n_participants": 6, "per_cell": 1, "drop": tuple(f"r{i:02d}" for i in range(1, 25) if i % 6 in (2,))},
         "different-song", "half"),
    ],
)
def test_impossible_manifest_refused_with_reason(tmp_path, kwargs, policy, message):
    clips = load_manifest(make_manifest(tmp_path, **kwargs)).clips
    with pytest.raises(ExperimentError, match=message):
        build_design(clips, foil_policy=policy)


def test_no_reconstructions_refused(tmp_path):
    clips = [c for c in load_manifest(make_manifest(tmp_path)).clips if c.role != "reconstruction"]
    with pytest.raises(ExperimentError, match="no clips with role 'reconstruction'"):
        build_design(clips)


def test_unknown_foil_policy_refused(clips):
    with pytest.raises(ExperimentError, match="foil policy 'nope'"):
        build_design(clips, foil_policy="nope")


def test_one_participant_everywhere_is_infeasible(tmp_path):
    clips = [replace(c, eeg_participant="p01") if c.eeg_participant else c
             for c in load_manifest(make_manifest(tmp_path)).clips]
    with pytest.raises(ExperimentError, match="different EEG participants"):
        build_design(clips)


def test_longest_run():
    assert longest_run([]) == 0
    assert longest_run("AABBBA") == 3


@pytest.mark.parametrize("policy", POLICIES)
def test_session_draw_constraints_over_many_seeds(designs, policy):
    version = designs[(policy, 0)].versions[0]
    specs = {t.item: t for t in (*version.practice, *version.trials)}
    orders = set()
    for seed in range(300):
        plan = draw_session(version, seed)
        practice = [p for p in plan if p.practice]
        trials = [p for p in plan if not p.practice]
        assert plan[:4] == practice  # practice first
        assert [p.order_index for p in trials] == list(range(1, 25))
        assert sorted(p.item for p in trials) == sorted(t.item for t in version.trials)
        assert longest_run([specs[p.item].song for p in trials]) <= MAX_RUN
        assert longest_run([p.correct_side for p in trials]) <= MAX_RUN
        assert Counter(p.correct_side for p in trials) == {"A": 12, "B": 12}
        for cell in {(t.song, t.position) for t in version.trials}:
            sides = [p.correct_side for p in trials if (specs[p.item].song, specs[p.item].position) == cell]
            assert sorted(sides) == ["A", "B"]
        orders.add(tuple((p.item, p.correct_side) for p in trials))
    assert len(orders) == 300  # seeds give different orders
    assert draw_session(version, 5) == draw_session(version, 5)


def test_mixed_is_the_default_and_gives_12_plus_12_balanced(designs, clips):
    assert build_design(clips, seed=0).foil_policy == "mixed"
    ids = by_id(clips)
    for seed in SEEDS:
        for v in designs[("mixed", seed)].versions:
            kinds = Counter(t.foil_kind for t in v.trials)
            assert kinds == {"different-song": 12, "same-song": 12}
            for kind in kinds:
                trials = [t for t in v.trials if t.foil_kind == kind]
                assert set(Counter(t.song for t in trials).values()) == {3}
                assert set(Counter((t.song, t.position) for t in trials).values()) == {1}
                assert Counter(t.correct_side for t in trials) == {"A": 6, "B": 6}
                assert set(Counter(t.foil_song for t in trials).values()) == {3}
                assert set(Counter(ids[t.foil].position for t in trials).values()) == {4}
            per_participant = Counter((ids[t.match].eeg_participant, t.foil_kind) for t in v.trials)
            for p in {ids[t.match].eeg_participant for t in v.trials}:  # 2 matches each: one of each kind
                assert per_participant[(p, "same-song")] == per_participant[(p, "different-song")] == 1
            assert {t.foil_kind for t in v.practice} == {"different-song", "same-song"}


def test_mixed_check_catches_an_unbalanced_kind_split(designs, clips):
    design = designs[("mixed", 0)]
    v1 = design.versions[0]
    same = next(t for t in v1.trials if t.foil_kind == "same-song")
    other = next(t for t in v1.trials if t.foil_kind == "different-song" and t.song != same.song)
    swapped = tuple(replace(t, foil=other.foil, foil_song=other.foil_song, foil_participant=other.foil_participant)
                    if t.item == same.item else replace(t, foil=same.foil, foil_song=same.foil_song)
                    if t.item == other.item else t for t in v1.trials)
    broken = replace(design, versions=(replace(v1, trials=swapped), design.versions[1]))
    assert any("mixed design needs both kinds" in p or "unbalanced" in p for p in check_design(broken, clips))


def test_mixed_practice_without_a_second_clip_of_a_song_stays_different_song(tmp_path):
    clips = load_manifest(make_manifest(tmp_path, practice=4)).clips
    design = build_design(clips, seed=1)
    assert check_design(design, clips) == []
    assert {t.foil_kind for v in design.versions for t in v.practice} == {"different-song"}


@pytest.mark.parametrize("seed", range(40))
def test_mixed_sessions_keep_each_kind_balanced_and_short_runs(designs, seed):
    version = designs[("mixed", seed % 5)].versions[seed % 2]
    specs = {t.item: t for t in version.trials}
    trials = [p for p in draw_session(version, seed) if not p.practice]
    kinds = [specs[p.item].foil_kind for p in trials]
    assert longest_run(kinds) <= MAX_RUN
    assert Counter(zip(kinds, (p.correct_side for p in trials))) == {
        ("same-song", "A"): 6, ("same-song", "B"): 6, ("different-song", "A"): 6, ("different-song", "B"): 6}


def test_session_draw_sides_vary_per_session(designs):
    version = designs[("different-song", 0)].versions[0]
    first = version.trials[0].item
    sides = {next(p.correct_side for p in draw_session(version, s) if p.item == first) for s in range(20)}
    assert sides == {"A", "B"}
