"""The 48 clips obey the design: 4 songs × 12 participants, 4/4/4 by position, halves 6 per song, 2 per cell."""

from collections import Counter

import pytest

from reconstruct.errors import ParameterError
from reconstruct.select import POSITIONS, default_pairs, position_of, select_clips
from reconstruct.split import make_split

RECORDINGS = [(f"p{p:02d}", f"song{s}") for p in range(1, 13) for s in range(1, 5)]


@pytest.mark.parametrize("seed", range(8))
def test_balance_rules(seed):
    split = make_split([s for _, s in RECORDINGS], seed=seed)
    choices = select_clips(RECORDINGS, split, seed=seed)
    main = [c for c in choices if c.role == "reconstruction"]
    assert len(main) == 48
    assert Counter(c.song for c in main) == {f"song{s}": 12 for s in range(1, 5)}
    for song in {c.song for c in main}:
        assert len({c.participant for c in main if c.song == song}) == 12
    assert Counter((c.song, c.position) for c in main) == {(f"song{s}", p): 4 for s in range(1, 5) for p in POSITIONS}
    assert Counter((c.song, c.position, c.half) for c in main) == {
        (f"song{s}", p, h): 2 for s in range(1, 5) for p in POSITIONS for h in (1, 2)}
    for c in choices:
        assert c.chunk in split.test_chunks(c.recording), "only held-out chunks may become clips"
        assert position_of(c.chunk) == c.position
    practice = [c for c in choices if c.role == "practice_reconstruction"]
    assert sorted(c.song for c in practice) == sorted([f"song{s}" for s in range(1, 5)] * 2)
    for song in {c.song for c in practice}:  # the second is a same-song practice foil: another participant and time
        first, second = [c for c in practice if c.song == song]
        assert first.participant != second.participant and first.chunk != second.chunk


@pytest.mark.parametrize("seed", range(8))
def test_observer_pairs_are_valid_trials(seed):
    choices = select_clips(RECORDINGS, make_split([s for _, s in RECORDINGS], seed=seed), seed=seed)
    pairs = default_pairs(choices, seed=seed)
    assert len(pairs) == 48
    assert sorted(m for m, _ in pairs) == sorted(f for _, f in pairs)
    for m, f in pairs:
        assert choices[m].song != choices[f].song
        assert choices[m].participant != choices[f].participant
        assert choices[m].half != choices[f].half
    for half in (1, 2):
        for song in {c.song for c in choices}:
            foil_songs = Counter(choices[f].song for m, f in pairs if choices[m].half == half and choices[m].song == song)
            assert song not in foil_songs and set(foil_songs.values()) == {2}


@pytest.mark.parametrize("recordings,match", [
    (RECORDINGS[:20], "need 12 EEG participants"),
    ([r for r in RECORDINGS if r[1] == "song1"], "at least 2 songs"),
])
def test_impossible_selection(recordings, match):
    with pytest.raises(ParameterError, match=match):
        select_clips(recordings, make_split([s for _, s in recordings], seed=0), seed=0)
