"""EEG-participant balance (issue 15): each EEG participant is as often the match as the foil in each version,
all contribute equally, and participant is crossed with position as far as the clips allow.

Version v's matches are half v and its foils the other half, so the manifest's halves decide the balance:
`manifest_problems` refuses a manifest that cannot give it (saying what is missing), and `design_problems`
verifies a built design from its trials, independently of how it was built.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from experiment.manifest import ManifestClip

PLURAL = {"match": "matches", "foil": "foils"}
SHOWN = 6
"""At most this many participants are named in one message (then 'and N more')."""


class _Trial(Protocol):
    """What the design check reads of a trial (experiment.design.TrialSpec)."""

    match: str
    foil: str


def _names(items: Sequence[str]) -> str:
    """A short list of names: the first few, then how many more."""
    head = ", ".join(items[:SHOWN])
    return head + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _spread_ok(positions: Iterable[str | None], available: int) -> bool:
    """Whether these clips cover as many distinct positions as they can (their number, at most `available`)."""
    positions = list(positions)
    return len(set(positions)) >= min(len(positions), available)


def _by_participant(clips: Iterable[ManifestClip]) -> dict[str, list[ManifestClip]]:
    """Reconstructions grouped by EEG participant (clips without one are left out)."""
    out: dict[str, list[ManifestClip]] = defaultdict(list)
    for c in clips:
        if c.eeg_participant is not None:
            out[c.eeg_participant].append(c)
    return dict(sorted(out.items()))


def manifest_problems(recon: Sequence[ManifestClip]) -> list[str]:
    """Why these reconstructions cannot give an EEG-participant-balanced design ([] when they can)."""
    groups = _by_participant(recon)
    if not groups:
        return []
    problems: list[str] = []
    n_positions = len({c.position for c in recon if c.position})
    counts = Counter(len(clips) for clips in groups.values())
    if len(counts) > 1:
        usual = counts.most_common(1)[0][0]
        odd = [f"{p} ({len(c)})" for p, c in groups.items() if len(c) != usual]
        problems.append(f"EEG participants contribute unequally: most have {usual} reconstruction(s), but "
                        f"{_names(odd)}; each needs the same number, so each contributes equally")
    lopsided = [f"{p} ({sum(c.half == 1 for c in clips)} in half 1, {sum(c.half == 2 for c in clips)} in half 2)"
                for p, clips in groups.items()
                if abs(sum(c.half == 1 for c in clips) - sum(c.half == 2 for c in clips)) > 1]
    if lopsided:
        problems.append(f"EEG participants not split evenly over the halves: {_names(lopsided)}; each needs as "
                        "many reconstructions in half 1 as in half 2 (±1), to be as often a match as a foil in "
                        "each version")
    confounded = [f"{p} (all {len(clips)} from the {clips[0].position})" for p, clips in groups.items()
                  if not _spread_ok((c.position for c in clips), n_positions)]
    if confounded:
        problems.append(f"EEG participant tied to position: {_names(confounded)}; each participant needs "
                        f"reconstructions from min(its count, {n_positions}) different positions")
    uncrossed = []
    for p, clips in groups.items():
        mine = len({c.position for c in clips})
        for half in (1, 2):
            in_half = [c.position for c in clips if c.half == half]
            if not _spread_ok(in_half, mine):
                uncrossed.append(f"{p} (half {half}: {', '.join(sorted(str(x) for x in in_half))})")
    if uncrossed and not confounded:
        problems.append(f"EEG participant not crossed with position within a half: {_names(uncrossed)}; a "
                        "participant's reconstructions in one half need different positions where it has them")
    return problems


def design_problems(versions: Iterable[tuple[int, Sequence[_Trial]]], clips: Sequence[ManifestClip]) -> list[str]:
    """Check each version's trials: per EEG participant, matches and foils differ by at most one, every
    participant is heard equally often, and its matches (and its foils) spread over its positions."""
    by_id = {c.id: c for c in clips}
    recon = [c for c in clips if c.role == "reconstruction"]
    own_positions = {p: len({c.position for c in cs}) for p, cs in _by_participant(recon).items()}
    problems: list[str] = []
    for number, trials in versions:
        roles: dict[str, dict[str, list[str | None]]] = defaultdict(lambda: {"match": [], "foil": []})
        for t in trials:
            for role, cid in (("match", t.match), ("foil", t.foil)):
                c = by_id[cid]
                if c.eeg_participant is not None:
                    roles[c.eeg_participant][role].append(c.position)
        uses = Counter({p: 0 for p in own_positions})
        for p, r in roles.items():
            m, f = len(r["match"]), len(r["foil"])
            uses[p] = m + f
            if abs(m - f) > 1:
                problems.append(f"v{number}: EEG participant {p} is a match {m} times and a foil {f} times")
            for role, positions in r.items():
                if not _spread_ok(positions, own_positions.get(p, 1)):
                    problems.append(f"v{number}: EEG participant {p}'s {PLURAL[role]} are all from the {positions[0]}")
        if len(set(uses.values())) > 1:
            problems.append(f"v{number}: EEG participants heard unequally often {dict(sorted(uses.items()))}")
    return problems
