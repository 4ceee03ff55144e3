"""The split never puts the 1-s examples of one 5-s chunk on both sides, for any seed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconstruct.errors import ParameterError
from reconstruct.split import CHUNK_S, TEST, TRAIN, VAL, make_split


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_recordings=st.integers(1, 20))
def test_no_chunk_on_both_sides(seed, n_recordings):
    split = make_split(n_recordings, seed=seed)
    roles = split.example_roles().reshape(n_recordings, -1, CHUNK_S)
    assert (roles == roles[..., :1]).all(), "a chunk's seconds were split across sets"
    for role in (TRAIN, VAL, TEST):
        idx = split.indices(role)
        chunks = set(map(tuple, np.stack([idx // 240, (idx % 240) // CHUNK_S], 1)))
        others = set().union(*(set(map(tuple, np.stack([i // 240, (i % 240) // CHUNK_S], 1)))
                               for i in (split.indices(r) for r in (TRAIN, VAL, TEST) if r != role)))
        assert not chunks & others


@pytest.mark.parametrize("seed", range(5))
def test_interleaved_75_25_spanning_the_song(seed):
    split = make_split(3, seed=seed)
    for r in range(3):
        test = split.test_chunks(r)
        assert len(test) == 12 and np.all(np.diff(test) == 4)
        assert test.min() < 4 and test.max() >= 44
        assert (split.chunk_roles[r] == VAL).sum() == round(0.1 * 36)


def test_validation_comes_from_training_chunks_only():
    split = make_split(4, seed=1)
    assert not set(split.indices(VAL)) & set(split.indices(TEST))
    assert len(split.indices(TRAIN)) + len(split.indices(VAL)) == 3 * len(split.indices(TEST))


@pytest.mark.parametrize("kwargs", [{"used_s": 242}, {"val_fraction": 1.0}, {"val_fraction": -0.1},
                                    {"test_every": 1}])
def test_bad_split_parameters(kwargs):
    with pytest.raises(ParameterError):
        make_split(2, seed=0, **kwargs)
