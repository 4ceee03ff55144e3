"""The used length flows from the config to every stage (issue 27): `--length 120` runs load → select with the
split adapting (24 five-second chunks per recording, one pattern per song) and positions by thirds of 120 s."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from reconstruct.config import RunConfig
from reconstruct.datasets.options import FolderOptions
from reconstruct.errors import ParameterError
from reconstruct.run import run_stage
from reconstruct.select import POSITIONS, position_of, select_clips
from reconstruct.split import CHUNK_S, make_split

SONGS, PARTICIPANTS, FS, SECONDS = 4, 12, 125, 125


@pytest.fixture(scope="module")
def short_folder(tmp_path_factory):
    """48 noise recordings (12 participants per song, NMED-H's design) of 125 s, 8 channels, and 125-s songs."""
    root = tmp_path_factory.mktemp("short")
    (root / "eeg").mkdir()
    rng = np.random.default_rng(0)
    lines = ["eeg_file,participant,song,audio_file,fs"]
    for s in range(1, SONGS + 1):
        sf.write(root / f"s{s}.wav", 0.1 * rng.standard_normal(SECONDS * 22050).astype(np.float32), 22050)
        for k in range(PARTICIPANTS):
            name = f"eeg/s{s}p{k:02d}.npy"
            np.save(root / name, rng.standard_normal((8, FS * SECONDS)).astype(np.float32))
            lines.append(f"{name},p{s}{k:02d},s{s},s{s}.wav,{FS}")
    (root / "recordings.csv").write_text("\n".join(lines) + "\n")
    return root


def test_a_120_s_folder_runs_through_predict_and_select(short_folder, tmp_path):
    config = RunConfig(run_dir=tmp_path / "run", dataset="folder", eeg_path=str(short_folder), decoder="ridge",
                       folder=FolderOptions(length_s=120))
    summaries = {s: run_stage(config, s, progress=False, log=lambda _: None)
                 for s in ("load", "features", "split", "train", "predict", "select")}
    assert np.load(tmp_path / "run" / "data" / "eeg.npy").shape[2] == 120 * FS
    assert summaries["features"]["n_examples"] == 48 * 120
    roles = np.load(tmp_path / "run" / "split.npy", allow_pickle=True)
    assert roles.shape == (48, 120 // CHUNK_S)
    by_song = {}
    for i, row in enumerate(roles):
        by_song.setdefault(i // PARTICIPANTS, set()).add(tuple(row))
    assert all(len(patterns) == 1 for patterns in by_song.values())  # one pattern per song
    assert summaries["predict"]["n_test_examples"] == int((roles == "test").sum()) * CHUNK_S
    assert summaries["select"]["n_reconstructions"] == 48
    import json
    choices = json.loads((tmp_path / "run" / "selection.json").read_text())["choices"]
    for c in choices:
        assert c["chunk"] < 24 and c["position"] == POSITIONS[min(c["chunk"] * CHUNK_S * 3 // 120, 2)]
    study = [c for c in choices if c["role"] == "reconstruction"]
    assert {p: sum(c["position"] == p for c in study) for p in POSITIONS} == {p: 16 for p in POSITIONS}


def test_positions_are_thirds_of_the_used_length():
    assert [position_of(c, used_s=120) for c in (0, 7, 8, 15, 16, 23)] == ["beginning", "beginning", "middle",
                                                                           "middle", "end", "end"]


def test_too_few_chunks_for_4_4_4_is_refused_in_one_line():
    table = [(f"p{s}{k:02d}", f"song{s}") for s in range(1, 5) for k in range(12)]
    split = make_split([song for _, song in table], seed=0, used_s=20)
    with pytest.raises(ParameterError, match=r"used length 20 s gives 4 chunks .* use a longer --length") as info:
        select_clips(table, split, seed=0)
    assert "\n" not in str(info.value)
