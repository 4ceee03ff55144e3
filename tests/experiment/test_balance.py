"""EEG-participant balance (issue 15): as often a match as a foil in each version, crossed with positions;
a manifest that cannot give it is refused, saying what is missing."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from experiment.balance import design_problems, manifest_problems
from experiment.design import build_design, check_design
from experiment.errors import ExperimentError
from experiment.manifest import POSITIONS, load_manifest
from experiment_factory import make_manifest

SEEDS = range(100)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """12 EEG participants who each heard all 4 songs (NMED-T style)."""
    return load_manifest(make_manifest(tmp_path_factory.mktemp("shared"))).clips


@pytest.fixture(scope="module")
def distinct(tmp_path_factory):
    """48 EEG participants with one clip each (the NMED-H design)."""
    return load_manifest(make_manifest(tmp_path_factory.mktemp("distinct"), shared_participants=False)).clips


def roles(design, clips):
    """Per version: (participant, role) → count, and (participant, role) → positions."""
    by_id = {c.id: c for c in clips}
    out = []
    for v in design.versions:
        counts, positions = Counter(), {}
        for t in v.trials:
            for role, cid in (("match", t.match), ("foil", t.foil)):
                c = by_id[cid]
                counts[(c.eeg_participant, role)] += 1
                positions.setdefault((c.eeg_participant, role), []).append(c.position)
        out.append((counts, positions))
    return out


def tied(clips):
    """The pre-issue-15 test layout: a participant's slot fixes its position and its half (so its version)."""
    out = []
    for c in clips:
        if c.role == "reconstruction":
            i = int(c.eeg_participant[1:]) - 1
            c = replace(c, position=POSITIONS[i % 3], half=1 if (i // 3) % 2 == 0 else 2)
        out.append(c)
    return out


@pytest.mark.parametrize("policy", ["mixed", "different-song", "same-song"])
def test_twelve_participants_two_matches_two_foils_each_over_seeds(shared, policy):
    for seed in SEEDS:
        design = build_design(shared, seed=seed, foil_policy=policy)
        assert check_design(design, shared) == []
        for counts, positions in roles(design, shared):
            participants = {p for p, _ in counts}
            assert len(participants) == 12
            assert {counts[(p, r)] for p in participants for r in ("match", "foil")} == {2}
            assert all(len(set(pos)) == 2 for pos in positions.values())  # crossed with positions


def test_forty_eight_participants_none_twice_in_a_version(distinct):
    for seed in range(0, 100, 7):
        design = build_design(distinct, seed=seed)
        assert check_design(design, distinct) == []
        for counts, _ in roles(design, distinct):
            heard = Counter()
            for (p, _), n in counts.items():
                heard[p] += n
            assert len(heard) == 48 and set(heard.values()) == {1}


def test_participant_tied_to_version_and_position_is_refused(shared):
    with pytest.raises(ExperimentError) as info:
        build_design(tied(shared))
    message = str(info.value)
    assert "not split evenly over the halves" in message and "p01 (4 in half 1, 0 in half 2)" in message
    assert "tied to position" in message and "p01 (all 4 from the beginning)" in message


def test_unequal_contributions_are_refused(shared):
    """Give p02's song-1 clip to p01: cells still balance, but p01 gives 5 clips and p02 3."""
    song1_p02 = next(c for c in shared if c.role == "reconstruction" and c.song == "song1" and c.eeg_participant == "p02")
    clips = [replace(c, eeg_participant="p01") if c is song1_p02 else c for c in shared]
    with pytest.raises(ExperimentError, match=r"contribute unequally: most have 4 .*p01 \(5\), p02 \(3\)"):
        build_design(clips)


def test_participant_not_crossed_within_a_half_is_refused(shared):
    """Swap the halves of two of p01's clips so both half-1 clips sit at one position (cells stay balanced)."""
    mine = sorted((c for c in shared if c.role == "reconstruction" and c.eeg_participant == "p01"),
                  key=lambda c: c.song)
    # p01: song1 beginning h1, song2 middle h2, song3 end h1, song4 beginning h2
    assert [(c.position, c.half) for c in mine] == [("beginning", 1), ("middle", 2), ("end", 1), ("beginning", 2)]
    swap = {mine[2].id: 2, mine[3].id: 1}  # now half 1: beginning, beginning
    partner = {}  # keep every (song, position, half) cell at 2 by swapping another participant the other way
    for c in shared:
        if c.role == "reconstruction" and c.eeg_participant != "p01" and c.id not in partner.values():
            for target in (mine[2], mine[3]):
                if (c.song, c.position) == (target.song, target.position) and c.half == swap[target.id] \
                        and target.id not in partner:
                    partner[target.id] = c.id
    flips = {**swap, **{partner[t]: 3 - swap[t] for t in swap}}
    clips = [replace(c, half=flips[c.id]) if c.id in flips else c for c in shared]
    problems = manifest_problems([c for c in clips if c.role == "reconstruction"])
    assert any("not crossed with position within a half" in p and "p01 (half 1: beginning, beginning)" in p
               for p in problems), problems
    with pytest.raises(ExperimentError, match="not crossed with position"):
        build_design(clips)


def test_design_check_catches_unbalanced_trials(shared):
    """check_design verifies from the trials: the same design read against tied participant labels fails."""
    design = build_design(shared, seed=4)
    relabelled = [replace(c, eeg_participant=f"q{c.half}{c.position}") if c.role == "reconstruction" else c
                  for c in shared]
    problems = design_problems(((v.number, v.trials) for v in design.versions), relabelled)
    assert any("is a match 8 times and a foil 0 times" in p for p in problems), problems
    assert any("matches are all from the" in p for p in problems) is False  # one position each: nothing to cross
    assert check_design(design, shared) == []
