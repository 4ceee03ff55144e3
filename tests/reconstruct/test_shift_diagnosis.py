"""The diagnosis' oracles and block scramble, on a tiny simulated run (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.config import RunConfig
from reconstruct.errors import ReconstructError
from reconstruct.evaluation.shift_diagnosis import (
    block_order,
    nearest_training_oracle,
    offset_truth_oracle,
)
from reconstruct.evaluation.time_specific import HeldOutChunks, score_spectra, true_spans
from reconstruct.pipeline import load_split, recordings_table
from reconstruct.stages import read_summary
from reconstruct.run import run_all
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.split import CHUNK_S, TEST

SIM = SimulatedDataConfig(n_songs=2, n_participants=2, duration_s=245, snr=0.5, n_channels=8, presentations="a")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[RunConfig, HeldOutChunks]:
    config = RunConfig(run_dir=tmp_path_factory.mktemp("diag") / "run", simulation=SIM, decoder="ridge")
    run_all(config, until="split", progress=False, log=lambda _: None)
    table = recordings_table(config)
    rec, chunk = np.nonzero(load_split(config).chunk_roles == TEST)
    song = np.array([table[r][1] for r in rec])
    truth = true_spans(config, song, chunk * CHUNK_S)
    chunks = HeldOutChunks(recording=rec, participant=np.array([table[r][0] for r in rec]), song=song, chunk=chunk,
                           recon=truth.copy(), truth=truth)
    return config, chunks


def test_offset_truth_oracle_at_offset_zero_is_the_truth_and_scores_perfectly(run):
    config, chunks = run
    recon = offset_truth_oracle(config, chunks, shift=0)
    assert np.array_equal(recon, chunks.truth)
    assert score_spectra(chunks, recon)["same_song"]["accuracy"] == 1.0
    assert not np.array_equal(offset_truth_oracle(config, chunks, shift=7), chunks.truth)


def test_nearest_training_oracle_uses_only_seconds_a_split_trains_on(run):
    config, chunks = run
    targets = np.load(config.run_dir / "features" / "targets.npy")
    songs = read_summary(config, "features")["songs"]
    recon = nearest_training_oracle(config, chunks, guard_s=0)
    first = chunks.chunk[0] * CHUNK_S  # the test chunk's first second: its nearest training second is just before
    song = targets[songs.index(chunks.song[0])]
    nearest = song[first - 1] if first else song[first + CHUNK_S]
    assert np.allclose(recon[0][:nearest.shape[0]], nearest)
    assert not np.allclose(nearest_training_oracle(config, chunks, guard_s=1), recon)


@pytest.mark.parametrize("block", [4, 12])
def test_block_order_moves_whole_blocks(block):
    order = block_order(48, block, seed=0)
    assert sorted(order) == list(range(48))
    starts = order.reshape(-1, block)
    assert np.all(np.diff(starts, axis=1) == 1) and np.all(starts[:, 0] % block == 0)
    assert np.all(starts[:, 0] != np.arange(0, 48, block))


@pytest.mark.parametrize("block", [5, 48])
def test_block_order_refuses_what_cannot_be_blocked(block):
    with pytest.raises(ReconstructError):
        block_order(48, block, seed=0)
