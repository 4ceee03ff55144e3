"""The counterbalanced AB-X design, as pure seeded functions: versions from a manifest, orders per session.

Version v uses the reconstructions of half v as matches and those of the other half as foils, so each
reconstruction is a match exactly once and a foil exactly once in the whole study, and no clip is heard
twice by one listener (the paper: "foils balanced to minimize the repetition of reconstructions"). The halves
therefore decide the EEG-participant balance: experiment.balance refuses halves that cannot give it.

Foil policies: `different-song` (the paper's: song identity decides it), `same-song` (another time of the same
song: only a reconstruction that decoded the music in time wins) and `mixed` (the default, issue 25): in every
(song, position) cell half the matches take a different-song foil and half a same-song one, so each listener
gets 12 + 12 scored trials balanced by song, position, correct side and EEG participant, and the practice
shows both kinds where the manifest has a second practice clip of a song.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from experiment.balance import design_problems, manifest_problems
from experiment.errors import ExperimentError
from experiment.manifest import POSITIONS, ManifestClip
from experiment.status import DEFAULT_FOIL_POLICY, FoilPolicy

MAX_RUN = 3
"""At most this many trials in a row from one song, or with the correct answer on one side."""

_PAIRING_RESTARTS = 200
_ORDER_ATTEMPTS = 20_000


@dataclass(frozen=True)
class TrialSpec:
    """One AB-X item of a version: X (`target`), its matching reconstruction and the foil, by clip id."""

    item: str
    version: int
    practice: bool
    index: int
    song: str
    position: str | None
    target: str
    match: str
    foil: str
    match_participant: str | None
    foil_song: str
    foil_participant: str | None
    correct_side: str

    @property
    def foil_kind(self) -> str:
        """'same-song' when the foil is another time of X's song, else 'different-song'."""
        return foil_kind(self.song, self.foil_song)


def foil_kind(song: str, foil_song: str) -> str:
    """The kind of an AB-X trial from its song and its foil's song."""
    return FoilPolicy.SAME_SONG.value if song == foil_song else FoilPolicy.DIFFERENT_SONG.value


@dataclass(frozen=True)
class VersionDesign:
    """A version's practice items (first, with feedback) and its scored trials."""

    number: int
    practice: tuple[TrialSpec, ...]
    trials: tuple[TrialSpec, ...]


@dataclass(frozen=True)
class StudyDesign:
    """Both versions, and the seed and foil policy they were drawn with."""

    seed: int
    foil_policy: str
    versions: tuple[VersionDesign, ...]


@dataclass(frozen=True)
class PlannedTrial:
    """One row of a session's plan: which item, in which place, with the match on which side."""

    item: str
    practice: bool
    order_index: int
    correct_side: str


def build_design(clips: Sequence[ManifestClip], *, seed: int = 0,
                 foil_policy: str | FoilPolicy = DEFAULT_FOIL_POLICY) -> StudyDesign:
    """Build the two versions from the manifest's clips, obeying every balance rule, deterministically.

    Raises ExperimentError naming what is missing when the manifest cannot support the design.
    """
    policy = _policy(foil_policy)
    recon = [c for c in clips if c.role == "reconstruction"]
    practice = [c for c in clips if c.role == "practice_reconstruction"]
    check_structure(recon, practice, policy)
    by_id = {c.id: c for c in clips}
    versions = []
    for number in (1, 2):
        rng = random.Random(f"tuneback-design:{seed}:{policy.value}:{number}")
        matches = sorted((c for c in recon if c.half == number), key=_canonical)
        foils = sorted((c for c in recon if c.half != number), key=_canonical)
        pairs = _pair_main(matches, foils, policy, rng)
        sides = _balanced_sides(matches, rng, kinds={m.id: foil_kind(m.song, pairs[m.id].song) for m in matches})
        trials = tuple(
            _spec(number, False, i, m, pairs[m.id], by_id, sides[m.id]) for i, m in enumerate(matches, start=1)
        )
        prac = _practice_matches(practice)
        prac_pairs = _pair_practice(prac, practice, policy, rng)
        prac_sides = _shuffled_balance(len(prac), rng)
        practice_specs = tuple(
            _spec(number, True, i, m, prac_pairs[m.id], by_id, prac_sides[i - 1]) for i, m in enumerate(prac, start=1)
        )
        versions.append(VersionDesign(number, practice_specs, trials))
    design = StudyDesign(seed, policy.value, tuple(versions))
    problems = check_design(design, clips)
    if problems:  # a bug, not bad input: the builder must never break its own rules
        raise AssertionError("design breaks its own rules: " + "; ".join(problems))
    return design


def check_structure(recon: Sequence[ManifestClip], practice: Sequence[ManifestClip], policy: FoilPolicy) -> None:
    """Refuse, with every reason at once, a manifest that cannot give two balanced versions."""
    problems: list[str] = []
    songs = sorted({c.song for c in recon})
    positions = sorted({c.position for c in recon if c.position}, key=_position_rank)
    if not recon:
        problems.append("no clips with role 'reconstruction' (the design needs 48: 4 songs x 12 EEG participants)")
    if len(songs) < 2 and policy is not FoilPolicy.SAME_SONG:
        problems.append(
            f"only {len(songs)} song ({', '.join(songs) or 'none'}) among the reconstructions: "
            f"the {policy.value} foil policy needs at least 2 songs"
        )
    if len(positions) < 2 and policy is not FoilPolicy.DIFFERENT_SONG:
        problems.append(f"the {policy.value} foil policy needs reconstructions from at least 2 positions in each song")
    halves = Counter(c.half for c in recon)
    for half in (1, 2):
        if recon and not halves.get(half):
            problems.append(f"no reconstructions in half {half} (each version uses one half as its matches)")
    cells = Counter((c.half, c.song, c.position) for c in recon)
    expected = max(cells.values(), default=0)
    short = [
        f"half {h}, {s}, {p}: {cells.get((h, s, p), 0)}"
        for h in (1, 2) for s in songs for p in positions if cells.get((h, s, p), 0) != expected
    ]
    if recon and short:
        problems.append(
            f"each half needs the same number of reconstructions per song and position ({expected} in the "
            f"fullest cell); these cells differ: {', '.join(short)}"
        )
    if recon:
        problems += manifest_problems(recon)
    if len(practice) < 2 or len({c.song for c in practice}) < 2:
        problems.append(
            f"{len(practice)} practice reconstruction(s) from {len({c.song for c in practice})} song(s): "
            "practice needs at least 2 (the design: 4, one per song), from at least 2 songs"
        )
    if problems:
        raise ExperimentError("the manifest cannot support a balanced AB-X design:\n  - " + "\n  - ".join(problems))


def check_design(design: StudyDesign, clips: Sequence[ManifestClip]) -> list[str]:
    """Every balance rule of the design, checked independently of how it was built; [] when all hold."""
    by_id = {c.id: c for c in clips}
    recon = [c for c in clips if c.role == "reconstruction"]
    problems: list[str] = []
    match_uses: Counter[str] = Counter()
    foil_uses: Counter[str] = Counter()
    for v in design.versions:
        trials = v.trials
        songs = Counter(t.song for t in trials)
        cells = Counter((t.song, t.position) for t in trials)
        if len(set(songs.values())) > 1:
            problems.append(f"v{v.number}: trials per song differ {dict(songs)}")
        if len(set(cells.values())) > 1:
            problems.append(f"v{v.number}: trials per song and position differ {dict(cells)}")
        foil_songs = Counter(t.foil_song for t in trials)
        if len(set(foil_songs.values())) > 1:
            problems.append(f"v{v.number}: foils per song differ {dict(foil_songs)}")
        sides = Counter(t.correct_side for t in trials)
        if abs(sides["A"] - sides["B"]) > 1:
            problems.append(f"v{v.number}: correct sides unbalanced {dict(sides)}")
        if Counter(c.song for c in recon if c.half == v.number) != songs:
            problems.append(f"v{v.number}: matches are not exactly half {v.number}")
        for t in (*v.practice, *trials):
            m, f, x = by_id[t.match], by_id[t.foil], by_id[t.target]
            if m.eeg_participant == f.eeg_participant:
                problems.append(f"{t.item}: match and foil from the same EEG participant {m.eeg_participant}")
            if m.target != x.id or x.song != m.song:
                problems.append(f"{t.item}: X is not the target of its match")
            if t.match == t.foil:
                problems.append(f"{t.item}: match and foil are the same clip")
            problems += _kind_problems(t, m, f, design.foil_policy)
        match_uses.update(t.match for t in trials)
        foil_uses.update(t.foil for t in trials)
        in_session = Counter([t.match for t in trials] + [t.foil for t in trials])
        if any(n > 1 for n in in_session.values()):
            problems.append(f"v{v.number}: a reconstruction is heard twice in one session")
    if design.foil_policy == FoilPolicy.MIXED.value:
        problems += mixed_problems(design, clips)
    problems += design_problems(((v.number, v.trials) for v in design.versions), clips)
    problems += [f"{cid} is a match {n} times" for cid, n in match_uses.items() if n != 1]
    problems += [f"{cid} is a foil {n} times" for cid, n in foil_uses.items() if n > 1]
    problems += [f"{c.id} is never a match" for c in recon if c.id not in match_uses]
    return problems


def draw_session(design: VersionDesign, seed: int, *, max_run: int = MAX_RUN) -> list[PlannedTrial]:
    """Draw one session's order and sides from its seed: practice first, then the trials.

    Sides are permuted within each (song, position) cell, so every session keeps the version's side
    balance; no more than `max_run` trials in a row share a song or a correct side.
    """
    rng = random.Random(f"tuneback-session:{seed}")
    practice = _draw_block(design.practice, rng, max_run)
    trials = _draw_block(design.trials, rng, max_run)
    return [
        PlannedTrial(t.item, is_practice, i, side)
        for is_practice, block in ((True, practice), (False, trials))
        for i, (t, side) in enumerate(block, start=1)
    ]


def longest_run(values: Sequence[Hashable]) -> int:
    """The length of the longest run of equal neighbours."""
    best = run = 0
    previous: object = object()
    for value in values:
        run = run + 1 if value == previous else 1
        best, previous = max(best, run), value
    return best


def _draw_block(specs: Sequence[TrialSpec], rng: random.Random, max_run: int) -> list[tuple[TrialSpec, str]]:
    """Rejection-sample an order and a side relabelling that keep both runs short (uniform over valid ones)."""
    if not specs:
        return []
    cells: dict[tuple, list[int]] = defaultdict(list)
    for i, t in enumerate(specs):
        cells[(t.song, t.position)].append(i)
    kinds = [t.foil_kind for t in specs]
    kind_sides = Counter(zip(kinds, (t.correct_side for t in specs)))
    mixed = len(set(kinds)) > 1
    for _ in range(_ORDER_ATTEMPTS):
        sides = [t.correct_side for t in specs]
        for members in cells.values():
            labels = [sides[i] for i in members]
            rng.shuffle(labels)
            for i, label in zip(members, labels, strict=True):
                sides[i] = label
        if mixed and Counter(zip(kinds, sides)) != kind_sides:
            continue  # each kind keeps the version's side balance in every session
        order = list(range(len(specs)))
        rng.shuffle(order)
        if (longest_run([specs[i].song for i in order]) <= max_run and longest_run([sides[i] for i in order]) <= max_run
                and (not mixed or longest_run([kinds[i] for i in order]) <= max_run)):
            return [(specs[i], sides[i]) for i in order]
    raise ExperimentError(
        f"no order of these {len(specs)} trials keeps at most {max_run} in a row from one song and one side"
    )


def _policy(value: str | FoilPolicy) -> FoilPolicy:
    """Parse a foil policy, naming the choices when it is unknown."""
    try:
        return FoilPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in FoilPolicy)
        raise ExperimentError(f"foil policy {value!r} is not one of {choices}") from None


def _position_rank(position: str | None) -> int:
    """Beginning, middle, end, then anything else."""
    return POSITIONS.index(position) if position in POSITIONS else len(POSITIONS)


def _canonical(c: ManifestClip) -> tuple:
    """A stable order for clips (song, position, onset, id) so the seed alone decides the draw."""
    return (c.song, _position_rank(c.position), c.onset_s or 0.0, c.id)


def _different_song(m: ManifestClip, f: ManifestClip) -> bool:
    """A foil of another song by another EEG participant."""
    return f.song != m.song and f.eeg_participant != m.eeg_participant


def _same_song_other_time(m: ManifestClip, f: ManifestClip) -> bool:
    """A foil of the same song from another position (another time), by another EEG participant."""
    return (f.song == m.song and f.position != m.position and f.onset_s != m.onset_s
            and f.eeg_participant != m.eeg_participant)


def _song(c: ManifestClip) -> Hashable:
    return c.song


def _cell(c: ManifestClip) -> Hashable:
    return (c.song, c.position)


def _pair_main(matches: list[ManifestClip], foils: list[ManifestClip], policy: FoilPolicy,
               rng: random.Random) -> dict[str, ManifestClip]:
    """Pair each match with a foil of the other half, spreading foils evenly over songs (or positions)."""
    if policy is FoilPolicy.DIFFERENT_SONG:
        return _pair(matches, foils, rng, compatible=_different_song, quota_key=_song)
    if policy is FoilPolicy.SAME_SONG:
        return _pair(matches, foils, rng, compatible=_same_song_other_time, quota_key=_cell)
    return _pair_mixed(matches, foils, rng)


def _even_blocks(clips: Sequence[ManifestClip], key: Callable[[ManifestClip], Hashable],
                 block: Callable[[Hashable], Hashable]) -> bool:
    """Whether the circulant quota applies: every block has >= 2 groups, all of one size."""
    sizes = Counter(key(c) for c in clips)
    blocks: dict[Hashable, list[int]] = defaultdict(list)
    for group, n in sizes.items():
        blocks[block(group)].append(n)
    return all(len(ns) >= 2 and len(set(ns)) == 1 for ns in blocks.values())


def _mixed_kinds(matches: Sequence[ManifestClip], rng: random.Random) -> dict[str, str]:
    """Half of every (song, position) cell's matches get a same-song foil, the rest a different-song one, and each
    EEG participant's matches split the same way: members of each cell (cells' odd ones out within their song,
    then overall) and each participant's matches are paired at random, and a pair must differ. With two matches
    a cell and a participant the pairs form paths and even cycles, always two-colourable; otherwise a draw
    whose pairs cannot all differ is redrawn, keeping the most level one."""
    best: tuple[int, dict[str, str]] | None = None
    for attempt in range(_PAIRING_RESTARTS):
        with_participants = attempt < _PAIRING_RESTARTS // 2
        kinds = _colour(matches, _difference_pairs(matches, rng, with_participants), rng)
        if kinds is None:
            continue
        score = _kind_spread(matches, kinds)
        if best is None or score < best[0]:
            best = (score, kinds)
        if score == 0:
            break
    if best is None:
        raise ExperimentError("no split of the matches into same-song and different-song trials balances the cells")
    return best[1]


def _difference_pairs(matches: Sequence[ManifestClip], rng: random.Random,
                      with_participants: bool) -> dict[str, list[str]]:
    """Random pairs of matches that must get different foil kinds: within cells, cells' odd ones out within a
    song and then overall, and (optionally) within each EEG participant's matches."""
    partners: dict[str, list[str]] = defaultdict(list)

    def pair_up(groups: dict[Hashable, list[str]]) -> list[str]:
        left = []
        for group in sorted(groups, key=repr):
            members = groups[group]
            rng.shuffle(members)
            for a, b in zip(members[0::2], members[1::2]):
                partners[a].append(b)
                partners[b].append(a)
            left += members[len(members) // 2 * 2:]
        return left

    by_id = {m.id: m for m in matches}
    cells: dict[Hashable, list[str]] = defaultdict(list)
    for m in matches:
        cells[_cell(m)].append(m.id)
    odd = pair_up(cells)
    by_song: dict[Hashable, list[str]] = defaultdict(list)
    for cid in odd:
        by_song[by_id[cid].song].append(cid)
    pair_up({0: pair_up(by_song)})
    if with_participants:
        people: dict[Hashable, list[str]] = defaultdict(list)
        for m in matches:
            if m.eeg_participant is not None:
                people[m.eeg_participant].append(m.id)
        pair_up(people)
    return partners


def _colour(matches: Sequence[ManifestClip], partners: dict[str, list[str]],
            rng: random.Random) -> dict[str, str] | None:
    """Two-colour the must-differ pairs (None if a cycle is odd), each component's colours keeping totals level."""
    kinds: dict[str, str] = {}
    level = 0  # same-song minus different-song so far
    ids = [m.id for m in matches]
    rng.shuffle(ids)
    for start in ids:
        if start in kinds:
            continue
        parity, stack = {start: 0}, [start]
        while stack:
            a = stack.pop()
            for b in partners[a]:
                if b not in parity:
                    parity[b] = 1 - parity[a]
                    stack.append(b)
                elif parity[b] == parity[a]:
                    return None
        diff = sum(1 for v in parity.values() if v == 0) - sum(parity.values())
        zero_same = abs(level + diff) < abs(level - diff) or (abs(level + diff) == abs(level - diff)
                                                              and rng.random() < 0.5)
        level += diff if zero_same else -diff
        for cid, v in parity.items():
            kinds[cid] = FoilPolicy.SAME_SONG.value if (v == 0) == zero_same else FoilPolicy.DIFFERENT_SONG.value
    return kinds


def _kind_spread(matches: Sequence[ManifestClip], kinds: dict[str, str]) -> int:
    """How far a split is from level: per song and per position within each kind, and per participant."""
    score = _kind_imbalance((m.eeg_participant, kinds[m.id]) for m in matches)
    for key in (_song, lambda c: c.position):
        counts = Counter((kinds[m.id], key(m)) for m in matches)
        for kind in set(kinds.values()):
            values = [counts.get((kind, k), 0) for k in {key(m) for m in matches}]
            score += max(0, max(values) - min(values) - 1)
    return score


def _kind_imbalance(pairs: Iterable[tuple[str | None, str]]) -> int:
    """How far EEG participants' trials are from splitting evenly over the foil kinds (0: within one each)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for participant, kind in pairs:
        if participant is not None:
            counts[participant][kind] += 1
    return sum(max(0, abs(c[FoilPolicy.SAME_SONG.value] - c[FoilPolicy.DIFFERENT_SONG.value]) - 1)
               for c in counts.values())


def _pair_mixed(matches: list[ManifestClip], foils: list[ManifestClip], rng: random.Random) -> dict[str, ManifestClip]:
    """Mixed policy: same-song matches take foils of their song at another position (circulant over positions),
    the rest take different-song foils spread evenly over the other songs; each foil is used once."""
    kinds = _mixed_kinds(matches, rng)
    same = [m for m in matches if kinds[m.id] == FoilPolicy.SAME_SONG.value]
    other = [m for m in matches if kinds[m.id] != FoilPolicy.SAME_SONG.value]
    need = Counter(_cell(m) for m in same)
    pool: list[ManifestClip] = []
    for cell in sorted(need, key=repr):
        in_cell = [f for f in foils if _cell(f) == cell]
        pool += rng.sample(in_cell, min(need[cell], len(in_cell)))
    if Counter(_cell(f) for f in pool) == need and _even_blocks(same, _cell, lambda g: g[0]):
        pairs = _pair(same, pool, rng, compatible=_same_song_other_time, quota_key=_cell)
    else:  # uneven cells (a small manifest): any same-song foil at another time
        pairs = _pair(same, foils, rng, compatible=_same_song_other_time, quota_key=None)
    used = {f.id for f in pairs.values()}
    rest = [f for f in foils if f.id not in used]
    even = _even_blocks(other, _song, lambda g: 0) and Counter(map(_song, rest)) == Counter(map(_song, other))
    pairs.update(_pair(other, rest, rng, compatible=_different_song, quota_key=_song if even else None))
    return pairs


def _practice_matches(practice: Sequence[ManifestClip]) -> list[ManifestClip]:
    """One practice trial per song: its first practice clip is the match (any others serve as same-song foils)."""
    first: dict[str, ManifestClip] = {}
    for c in sorted(practice, key=_canonical):
        first.setdefault(c.song, c)
    return sorted(first.values(), key=_canonical)


def _practice_same_song(m: ManifestClip, f: ManifestClip) -> bool:
    """A practice same-song foil: the same song at another onset, by another EEG participant."""
    return f.song == m.song and f.onset_s != m.onset_s and f.eeg_participant != m.eeg_participant and f.id != m.id


def _pair_practice(prac: list[ManifestClip], practice: Sequence[ManifestClip], policy: FoilPolicy,
                   rng: random.Random) -> dict[str, ManifestClip]:
    """Practice foils: different-song among the practice matches; under the mixed policy half the practice
    trials (as many as the manifest's extra practice clips allow) take a same-song foil instead."""
    if policy is not FoilPolicy.MIXED:
        return _pair(prac, prac, rng, compatible=_different_song, quota_key=None)
    extras = [c for c in sorted(practice, key=_canonical) if c not in prac]
    options = {m.id: [f for f in extras if _practice_same_song(m, f)] for m in prac}
    able = [m for m in prac if options[m.id]]
    rng.shuffle(able)
    same = able[:len(prac) // 2]
    pairs = {m.id: rng.choice(options[m.id]) for m in same}
    rest = [m for m in prac if m.id not in pairs]
    pairs.update(_pair(rest, prac, rng, compatible=_different_song, quota_key=None))
    return pairs


def has_same_song_practice(practice: Sequence[ManifestClip]) -> bool:
    """Whether the manifest's practice clips allow a same-song practice trial (a second clip of a song)."""
    prac = _practice_matches(practice)
    return any(_practice_same_song(m, f) for m in prac for f in practice if f not in prac)


def _kind_problems(t: TrialSpec, m: ManifestClip, f: ManifestClip, policy: str) -> list[str]:
    """Whether a trial's foil is of a kind its policy allows (practice: different-song, or both kinds if mixed)."""
    same_song = f.song == m.song
    if not same_song:
        if policy == FoilPolicy.SAME_SONG.value and not t.practice:
            return [f"{t.item}: same-song policy needs the same song at another time"]
        return []
    if t.practice:
        if policy == FoilPolicy.MIXED.value and _practice_same_song(m, f):
            return []
        return [f"{t.item}: practice foil from the same song at the same time, or under the {policy} policy"]
    if policy == FoilPolicy.DIFFERENT_SONG.value:
        return [f"{t.item}: foil from the same song under the different-song policy"]
    if f.position == m.position or f.onset_s == m.onset_s:
        return [f"{t.item}: same-song policy needs the same song at another time"]
    return []


def mixed_problems(design: StudyDesign, clips: Sequence[ManifestClip]) -> list[str]:
    """The mixed policy's own balance rules, per version: as many trials of each kind (within one), and within
    each kind songs, positions, foil songs and correct sides balanced (within one), each EEG participant's
    matches split evenly over the kinds, and the practice showing both kinds where the manifest allows."""
    by_id = {c.id: c for c in clips}
    practice = [c for c in clips if c.role == "practice_reconstruction"]
    problems: list[str] = []
    for v in design.versions:
        kinds = Counter(t.foil_kind for t in v.trials)
        if len(kinds) < 2 or max(kinds.values()) - min(kinds.values()) > 1:
            problems.append(f"v{v.number}: mixed design needs both kinds in equal numbers, has {dict(kinds)}")
        for kind in kinds:
            trials = [t for t in v.trials if t.foil_kind == kind]
            for what, key in (("songs", lambda t: t.song), ("positions", lambda t: t.position),
                              ("foil songs", lambda t: t.foil_song), ("correct sides", lambda t: t.correct_side)):
                counts = Counter(key(t) for t in trials)
                full = {k: counts.get(k, 0) for k in {key(t) for t in v.trials}}
                if what == "correct sides":
                    full = {k: counts.get(k, 0) for k in ("A", "B")}
                if max(full.values()) - min(full.values()) > 1:
                    problems.append(f"v{v.number}: {kind} trials unbalanced over {what} {dict(sorted(full.items()))}")
        if _kind_imbalance((by_id[t.match].eeg_participant, t.foil_kind) for t in v.trials):
            problems.append(f"v{v.number}: an EEG participant's matches do not split evenly over the foil kinds")
        shown = {t.foil_kind for t in v.practice}
        if has_same_song_practice(practice) and len(shown) < 2:
            problems.append(f"v{v.number}: the practice shows only {', '.join(sorted(shown))} trials")
    return problems


def _circulant_quota(groups: list[Hashable], sizes: Counter, rng: random.Random,
                     same_block: Callable[[Hashable, Hashable], bool]) -> dict[tuple, int]:
    """How many foils each match group draws from each other group: as even as possible, rows = columns = size.

    Groups are split into blocks (all songs; or the positions of one song); within a block of L groups
    each of size n, group i takes base or base+1 foils from group i+d (d = 1..L-1).
    """
    quota: dict[tuple, int] = {}
    blocks: list[list[Hashable]] = []
    for g in groups:
        for block in blocks:
            if same_block(block[0], g):
                block.append(g)
                break
        else:
            blocks.append([g])
    for block in blocks:
        rng.shuffle(block)
        size, others = sizes[block[0]], len(block) - 1
        if others == 0:
            raise ExperimentError(f"group {block[0]!r} has no other group to draw foils from")
        base, extra = divmod(size, others)
        for i, g in enumerate(block):
            for d in range(1, others + 1):
                quota[(g, block[(i + d) % len(block)])] = base + (1 if d <= extra else 0)
    return quota


def _pair(matches: list[ManifestClip], foils: list[ManifestClip], rng: random.Random, *,
          compatible: Callable[[ManifestClip, ManifestClip], bool],
          quota_key: Callable[[ManifestClip], Hashable] | None) -> dict[str, ManifestClip]:
    """Backtracking search for a one-to-one match → foil pairing under `compatible` and the group quotas."""
    for _ in range(_PAIRING_RESTARTS):
        quota: dict[tuple, int] | None = None
        if quota_key is not None:
            groups = sorted({quota_key(c) for c in matches}, key=repr)
            sizes = Counter(quota_key(c) for c in matches)
            if Counter(quota_key(c) for c in foils) != sizes:
                raise ExperimentError("the two halves do not have the same songs and positions")
            same_block = (lambda a, b: True) if not isinstance(groups[0], tuple) else (lambda a, b: a[0] == b[0])
            quota = _circulant_quota(groups, sizes, rng, same_block)
        result = _search(matches, foils, rng, compatible, quota_key, quota)
        if result is not None:
            return result
    raise ExperimentError(
        "no foil assignment keeps match and foil from different EEG participants under the foil policy; "
        "the reconstructions need more distinct EEG participants per song"
    )


def _search(matches: list[ManifestClip], foils: list[ManifestClip], rng: random.Random,
            compatible: Callable[[ManifestClip, ManifestClip], bool],
            quota_key: Callable[[ManifestClip], Hashable] | None,
            quota: dict[tuple, int] | None) -> dict[str, ManifestClip] | None:
    """Depth-first with the most-constrained match first and shuffled candidates; a step budget per try."""
    left = dict(quota or {})
    used: set[str] = set()
    assigned: dict[str, ManifestClip] = {}
    order = {c.id: rng.random() for c in foils}
    budget = [5_000]

    def candidates(m: ManifestClip) -> list[ManifestClip]:
        out = [f for f in foils if f.id not in used and f.id != m.id and compatible(m, f)
               and (quota is None or left.get((quota_key(m), quota_key(f)), 0) > 0)]
        return sorted(out, key=lambda f: order[f.id])

    def step() -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        pending = [m for m in matches if m.id not in assigned]
        if not pending:
            return True
        options = [(len(candidates(m)), rng.random(), m) for m in pending]
        _, _, m = min(options, key=lambda o: (o[0], o[1]))
        for f in candidates(m):
            key = (quota_key(m), quota_key(f)) if quota is not None else None
            assigned[m.id] = f
            used.add(f.id)
            if key is not None:
                left[key] -= 1
            if step():
                return True
            del assigned[m.id]
            used.discard(f.id)
            if key is not None:
                left[key] += 1
        return False

    return assigned if step() else None


def _balanced_sides(matches: list[ManifestClip], rng: random.Random,
                    kinds: dict[str, str] | None = None) -> dict[str, str]:
    """Correct sides balanced within every (song, position) cell, overall, and within each foil kind (A/B
    differ by at most 1): draws are repeated until every kind is balanced too."""
    for _ in range(_ORDER_ATTEMPTS):
        sides = _cell_sides(matches, rng)
        per_kind = Counter((kinds or {}).get(m.id, "") + sides[m.id] for m in matches)
        if all(abs(per_kind[k + "A"] - per_kind[k + "B"]) <= 1 for k in {(kinds or {}).get(m.id, "") for m in matches}):
            return sides
    raise ExperimentError("no side assignment balances the correct side within each foil kind")


def _cell_sides(matches: list[ManifestClip], rng: random.Random) -> dict[str, str]:
    """Correct sides balanced within every (song, position) cell, and overall (A/B differ by at most 1)."""
    cells: dict[tuple, list[ManifestClip]] = defaultdict(list)
    for m in matches:
        cells[(m.song, m.position)].append(m)
    sides: dict[str, str] = {}
    surplus = 0  # A minus B so far, to place the odd cell's extra label on the lighter side
    for key in sorted(cells, key=repr):
        members = cells[key]
        labels = ["A", "B"] * (len(members) // 2)
        if len(members) % 2:
            extra = "B" if surplus > 0 else "A" if surplus < 0 else rng.choice("AB")
            labels.append(extra)
            surplus += 1 if extra == "A" else -1
        rng.shuffle(labels)
        sides.update({m.id: label for m, label in zip(members, labels, strict=True)})
    return sides


def _shuffled_balance(n: int, rng: random.Random) -> list[str]:
    """n sides, half A and half B (one extra at random when n is odd), shuffled."""
    labels = ["A", "B"] * (n // 2) + ([rng.choice("AB")] if n % 2 else [])
    rng.shuffle(labels)
    return labels


def _spec(number: int, practice: bool, index: int, m: ManifestClip, f: ManifestClip,
          by_id: dict[str, ManifestClip], side: str) -> TrialSpec:
    """Assemble one TrialSpec; the item id is stable across listeners of the version."""
    item = f"v{number}-p{index}" if practice else f"v{number}-{index:02d}"
    x = by_id[m.target or ""]
    return TrialSpec(
        item=item, version=number, practice=practice, index=index, song=m.song, position=m.position,
        target=x.id, match=m.id, foil=f.id, match_participant=m.eeg_participant, foil_song=f.song,
        foil_participant=f.eeg_participant, correct_side=side,
    )
