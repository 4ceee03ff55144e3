"""A design built from a real `select` output is EEG-participant balanced (issue 15), over 100 seeds and both shapes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from experiment.design import build_design, check_design
from experiment.manifest import ManifestClip
from reconstruct.select import select_clips
from reconstruct.split import make_split

NMED_T = [(f"p{p:02d}", f"song{s}") for p in range(1, 21) for s in range(21, 31)]
"""20 EEG participants who each heard all 10 songs (the NMED-T shape)."""
NMED_H = [(f"h{s}{p:02d}", f"song{s}") for s in range(1, 5) for p in range(1, 13) for _ in range(2)]
"""48 EEG participants, each heard one of 4 songs twice (the NMED-H shape)."""


def as_manifest(choices) -> list[ManifestClip]:
    """The manifest clips `reconstruct clips` would write for these choices: reconstructions and their targets."""
    clips = []
    for i, c in enumerate(choices):
        practice = c.role == "practice_reconstruction"
        target = f"{'px' if practice else 'x'}{i}"
        common = dict(file=Path("unused.wav"), sha256="", song=c.song, position=c.position, onset_s=c.onset_s,
                      duration_s=5.0)
        clips.append(ManifestClip(id=target, eeg_participant=None, role="practice_target" if practice else "target",
                                  half=None, target=None, **common))
        clips.append(ManifestClip(id=f"{'pr' if practice else 'r'}{i}", eeg_participant=c.participant, role=c.role,
                                  half=c.half, target=target, **common))
    return clips


def per_version_roles(design, clips):
    """Per version: Counter of (participant, role) and the positions of each participant's matches."""
    by_id = {c.id: c for c in clips}
    out = []
    for v in design.versions:
        roles = Counter()
        for t in v.trials:
            roles[(by_id[t.match].eeg_participant, "match")] += 1
            roles[(by_id[t.foil].eeg_participant, "foil")] += 1
        out.append(roles)
    return out


@pytest.mark.parametrize("seed", range(100))
def test_nmed_t_select_gives_two_and_two_per_participant(seed):
    recordings = NMED_T
    choices = select_clips(recordings, make_split([s for _, s in recordings], seed=seed), seed=seed)
    clips = as_manifest(choices)
    design = build_design(clips, seed=seed)
    assert check_design(design, clips) == []
    participants = {c.participant for c in choices if c.role == "reconstruction"}
    assert len(participants) == 12
    for roles in per_version_roles(design, clips):
        assert {roles[(p, r)] for p in participants for r in ("match", "foil")} == {2}


@pytest.mark.parametrize("seed", range(0, 100, 9))
def test_nmed_h_select_never_repeats_a_participant_in_a_version(seed):
    recordings = NMED_H
    choices = select_clips(recordings, make_split([s for _, s in recordings], seed=seed), seed=seed)
    clips = as_manifest(choices)
    design = build_design(clips, seed=seed)
    assert check_design(design, clips) == []
    for roles in per_version_roles(design, clips):
        heard = Counter()
        for (p, _), n in roles.items():
            heard[p] += n
        assert len(heard) == 48 and set(heard.values()) == {1}
