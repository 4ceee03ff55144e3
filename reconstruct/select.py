"""Choose the 48 study clips (4 songs × 12 EEG participants, 4/4/4 by position, two balanced halves) and practice.

Practice: one chunk per song (the practice trial's match) and, drawn after everything else with its own
seeded stream so the rest of the selection is unchanged, a second one per song from another participant at
another time: the same-song foil a mixed study's practice needs (issue 25)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from reconstruct.errors import ParameterError
from reconstruct.split import CHUNK_S, USED_S, Split

POSITIONS = ("beginning", "middle", "end")


@dataclass(frozen=True)
class Choice:
    """One chosen test chunk: which recording, which chunk, and its place in the study."""

    recording: int
    song: str
    participant: str
    chunk: int
    position: str
    role: str
    half: int | None

    @property
    def onset_s(self) -> float:
        """Start of the chunk in the song, seconds."""
        return float(self.chunk * CHUNK_S)

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return {**asdict(self), "recording": int(self.recording), "onset_s": self.onset_s}


def position_of(chunk: int, *, used_s: int = USED_S) -> str:
    """Beginning, middle or end third of the used part of the song."""
    third = (chunk * CHUNK_S) * 3 // used_s
    return POSITIONS[min(int(third), 2)]


def select_clips(recordings: list[tuple[str, str]], split: Split, *, seed: int, n_songs: int = 4,
                 per_position: int = 4, songs: list[str] | None = None) -> list[Choice]:
    """Pick 4 songs × 12 participants test chunks (4 per position per song), halves 2/2 per song per
    position, plus one practice chunk per song from chunks the study doesn't use.

    `recordings` lists (participant, song) per recording index, in the split's order."""
    _refuse_too_few_chunks(split, per_position)
    rng = np.random.default_rng(seed)
    all_songs = sorted({s for _, s in recordings})
    songs = list(songs) if songs else all_songs[:n_songs]
    n_needed = per_position * len(POSITIONS)
    if len(songs) < 2:
        raise ParameterError(f"need at least 2 songs to build AB-X trials, have {len(songs)}")
    crossed = _crossed_layout(recordings, songs, n_needed, per_position, rng)
    choices: list[Choice] = []
    for si, song in enumerate(songs):
        recs = _one_per_participant([i for i, (_, s) in enumerate(recordings) if s == song], recordings, rng)
        if len(recs) < n_needed:
            raise ParameterError(f"song {song!r} has {len(recs)} EEG participants' recordings, "
                                 f"need {n_needed} EEG participants")
        if crossed is not None:  # every participant hears every song: rotate positions, alternate halves
            layout = [(rec, position, half) for (song_index, rec), (position, half) in crossed.items()
                      if song_index == si]
            recs = [rec for rec, _, _ in layout]
        else:  # one song per participant (NMED-H): each participant gives one clip, so balance is automatic
            recs = list(rng.permutation(recs)[:n_needed])
            layout = []
            for p, position in enumerate(POSITIONS):
                group = recs[p * per_position:(p + 1) * per_position]
                halves = rng.permutation([1, 2] * (per_position // 2))
                layout += [(rec, position, int(half)) for rec, half in zip(group, halves)]
        chosen_chunks: dict[int, int] = {}
        for rec, position, half in layout:
            options = [c for c in split.test_chunks(rec) if position_of(c, used_s=split.used_s) == position]
            if not options:
                raise ParameterError(f"recording {rec} has no test chunk in the {position}")
            chunk = int(rng.choice(options))
            chosen_chunks[rec] = chunk
            choices.append(Choice(rec, song, recordings[rec][0], chunk, position, "reconstruction", int(half)))
        others = {c.participant for c in choices if c.role == "practice_reconstruction"}
        fresh = [r for r in recs if recordings[r][0] not in others]  # practice pairs need distinct participants
        choices.append(_practice(rng, song, fresh or recs, recordings, split, chosen_chunks))
    return choices + _second_practice(choices, recordings, split, seed=seed)


def _refuse_too_few_chunks(split: Split, per_position: int) -> None:
    """One line when the used length leaves a recording without a test chunk in the beginning, middle or end."""
    for rec in range(len(split.chunk_roles)):
        found = {position_of(int(c), used_s=split.used_s) for c in split.test_chunks(rec)}
        if len(found) < len(POSITIONS):
            raise ParameterError(
                f"the used length {split.used_s} s gives {split.n_chunks} chunks of {CHUNK_S} s per recording, "
                f"{len(split.test_chunks(rec))} of them test chunks, not one in each of the {'/'.join(POSITIONS)} "
                f"thirds that a {per_position}/{per_position}/{per_position} study needs: use a longer --length")


def _second_practice(choices: list[Choice], recordings: list[tuple[str, str]], split: Split, *,
                     seed: int) -> list[Choice]:
    """Per song, a second practice chunk by another participant at another onset than the first practice chunk,
    at an onset no study clip of the song uses (when the test chunks allow); its own random stream."""
    rng = np.random.default_rng([seed, 25])
    out: list[Choice] = []
    for first in [c for c in choices if c.role == "practice_reconstruction"]:
        taken = {c.participant for c in choices + out if c.role == "practice_reconstruction"}
        used = {c.chunk for c in choices if c.song == first.song and c.role == "reconstruction"}
        recs = [i for i, (p, s) in enumerate(recordings) if s == first.song and p not in taken]
        options = [(r, c) for r in recs for c in split.test_chunks(r) if c != first.chunk and c not in used]
        options = options or [(r, c) for r in recs for c in split.test_chunks(r) if c != first.chunk]
        if not options:
            continue
        rec, chunk = options[int(rng.integers(len(options)))]
        out.append(Choice(rec, first.song, recordings[rec][0], int(chunk), position_of(chunk, used_s=split.used_s),
                          "practice_reconstruction", None))
    return out


def _one_per_participant(recs: list[int], recordings: list[tuple[str, str]], rng: np.random.Generator) -> list[int]:
    """One recording per EEG participant (NMED-H has two presentations each): a participant gives one clip a song."""
    by_participant: dict[str, list[int]] = {}
    for r in recs:
        by_participant.setdefault(recordings[r][0], []).append(r)
    return [int(rs[int(rng.integers(len(rs)))]) for _, rs in sorted(by_participant.items())]


def _crossed_layout(recordings: list[tuple[str, str]], songs: list[str], n_needed: int, per_position: int,
                    rng: np.random.Generator) -> dict[tuple[int, int], tuple[str, int]] | None:
    """(song index, recording) → (position, half) for participants who heard every song, or None if too few did.

    Participant i of the chosen 12 takes position (i + song + offset) mod 3 and half by the parity of
    (i // 3 + song): each one is in half 1 and half 2 equally often (as often a match as a foil in each
    version), spans the positions, and its clips in one half sit at different positions (issue 15).
    """
    by_participant: dict[str, dict[str, int]] = {}
    for i, (participant, song) in enumerate(recordings):
        by_participant.setdefault(participant, {}).setdefault(song, i)
    common = sorted(p for p, heard in by_participant.items() if all(s in heard for s in songs))
    if len(common) < n_needed or per_position % 2:
        return None
    chosen = [common[int(i)] for i in rng.permutation(len(common))[:n_needed]]
    offset, flip = int(rng.integers(len(POSITIONS))), int(rng.integers(2))
    layout: dict[tuple[int, int], tuple[str, int]] = {}
    for pi, participant in enumerate(chosen):
        for si, song in enumerate(songs):
            position = POSITIONS[(pi + si + offset) % len(POSITIONS)]
            half = 1 + (pi // len(POSITIONS) + si + flip) % 2
            layout[(si, by_participant[participant][song])] = (position, half)
    return layout


def _practice(rng: np.random.Generator, song: str, recs: list[int], recordings: list[tuple[str, str]],
              split: Split, used: dict[int, int]) -> Choice:
    """A practice chunk of `song` whose onset no study clip of that song uses."""
    used_onsets = set(used.values())
    candidates = [(r, c) for r in recs for c in split.test_chunks(r) if c not in used_onsets]
    if not candidates:
        candidates = [(r, c) for r in recs for c in split.test_chunks(r) if c != used.get(r)]
    rec, chunk = candidates[int(rng.integers(len(candidates)))]
    return Choice(rec, song, recordings[rec][0], int(chunk), position_of(chunk, used_s=split.used_s),
                  "practice_reconstruction", None)


def default_pairs(choices: list[Choice], *, seed: int) -> list[tuple[int, int]]:
    """AB-X (match, foil) index pairs as the study builds them by default: version v's matches are half v,
    its foils come from the other half, each clip is a foil exactly once, each song's trials take their
    foils equally from every other song, and match and foil come from different EEG participants."""
    rng = np.random.default_rng(seed)
    pairs: list[tuple[int, int]] = []
    for half in (1, 2):
        matches, foils = _by_song(choices, half), _by_song(choices, 3 - half)
        songs = sorted(matches)
        for _ in range(1000):
            pool: dict[str, list[int]] = {s: [] for s in songs}
            for foil_song in songs:
                others = [s for s in songs if s != foil_song]
                shares = np.array_split(rng.permutation(foils[foil_song]), len(others))
                for target_song, share in zip(others, shares):
                    pool[target_song] += [int(i) for i in share]
            trial = [(m, f) for s in songs for m, f in zip(matches[s], rng.permutation(pool[s]))]
            if all(choices[m].participant != choices[f].participant for m, f in trial):
                break
        pairs += [(int(m), int(f)) for m, f in trial]
    return pairs


def _by_song(choices: list[Choice], half: int) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, c in enumerate(choices):
        if c.role == "reconstruction" and c.half == half:
            out.setdefault(c.song, []).append(i)
    return out
