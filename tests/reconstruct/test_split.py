"""The split: chunks stay whole, and no (song, second) of a test example is a training or validation target
of any recording, for any seed and any recordings table; the per-recording pattern is shown to leak."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconstruct.errors import ParameterError
from reconstruct.split import CHUNK_S, GUARD, TEST, TRAIN, USED_S, VAL, make_split, target_overlap

# a recordings table: the song of each recording (random songs, unequal counts per song)
tables = st.lists(st.sampled_from(["s1", "s2", "s3", "s4", "s5"]), min_size=1, max_size=24)


def _targets(split, songs, roles):
    """(song, second) targets of every example with one of `roles`."""
    per_rec = split.example_roles().reshape(len(songs), -1)
    return {(songs[r], t) for r in range(len(songs)) for t in np.flatnonzero(np.isin(per_rec[r], roles))}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), songs=tables, scope=st.sampled_from(["song", "dataset"]),
       guard_s=st.integers(0, 2))
def test_no_test_target_is_ever_a_training_or_validation_target(seed, songs, scope, guard_s):
    split = make_split(songs, seed=seed, scope=scope, guard_s=guard_s)
    assert not _targets(split, songs, [TEST]) & _targets(split, songs, [TRAIN, VAL])
    overlap = target_overlap(split, songs)
    assert overlap["test_targets_in_training"] == overlap["test_targets_in_validation"] == 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), songs=tables)
def test_validation_never_shares_a_target_with_training(seed, songs):
    split = make_split(songs, seed=seed)
    assert not _targets(split, songs, [VAL]) & _targets(split, songs, [TRAIN])


def test_the_per_recording_pattern_leaks_and_the_overlap_count_says_so():
    songs = ["a"] * 12 + ["b"] * 12
    leaky = target_overlap(make_split(songs, seed=0, scope="recording"), songs)
    assert leaky["test_targets_in_training"] > 0.9 * leaky["n_test_examples"]
    assert target_overlap(make_split(songs, seed=0), songs)["test_targets_in_training"] == 0


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), songs=tables)
def test_no_chunk_on_both_sides(seed, songs):
    split = make_split(songs, seed=seed)
    roles = split.example_roles().reshape(len(songs), -1, CHUNK_S)
    assert (roles == roles[..., :1]).all(), "a chunk's seconds were split across sets"


def test_recordings_of_one_song_share_one_pattern_and_songs_differ():
    songs = ["a", "b", "a", "c", "b", "a"]
    split = make_split(songs, seed=3)
    for s in set(songs):
        rows = split.chunk_roles[[i for i, x in enumerate(songs) if x == s]]
        assert (rows == rows[0]).all()
    assert len({tuple(split.chunk_roles[songs.index(s)]) for s in "abc"}) > 1
    one = make_split(songs, seed=3, scope="dataset")
    assert (one.chunk_roles == one.chunk_roles[0]).all()


@pytest.mark.parametrize("seed", range(5))
def test_interleaved_75_25_spanning_the_song(seed):
    split = make_split(["a", "b", "c"], seed=seed)
    for r in range(3):
        test = split.test_chunks(r)
        assert len(test) == 12 and np.all(np.diff(test) == 4)
        assert test.min() < 4 and test.max() >= 44
        assert (split.chunk_roles[r] == VAL).sum() == round(0.1 * 36)


@pytest.mark.parametrize("guard_s", [1, 2])
def test_guard_seconds_border_every_test_chunk(guard_s):
    split = make_split(["a"], seed=0, guard_s=guard_s)
    roles = split.example_roles()
    for chunk in split.test_chunks(0):
        first, last = chunk * CHUNK_S, (chunk + 1) * CHUNK_S
        if first >= guard_s:
            assert (roles[first - guard_s:first] == GUARD).all()
        if last + guard_s <= USED_S:
            assert (roles[last:last + guard_s] == GUARD).all()
    assert (roles == TEST).sum() == 12 * CHUNK_S and (roles == GUARD).sum() > 0


def test_validation_comes_from_training_chunks_only():
    split = make_split(["a", "b", "a", "b"], seed=1)
    assert not set(split.indices(VAL)) & set(split.indices(TEST))
    assert len(split.indices(TRAIN)) + len(split.indices(VAL)) == 3 * len(split.indices(TEST))


@pytest.mark.parametrize("kwargs", [{"used_s": 242}, {"val_fraction": 1.0}, {"val_fraction": -0.1},
                                    {"test_every": 1}, {"scope": "chunk"}, {"guard_s": 3}, {"guard_s": -1}])
def test_bad_split_parameters(kwargs):
    with pytest.raises(ParameterError):
        make_split(["a", "b"], seed=0, **kwargs)
