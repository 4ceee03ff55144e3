"""What the evaluation reads from a finished run dir (stages load … predict), in one object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reconstruct.config import RunConfig
from reconstruct.errors import ReconstructError
from reconstruct.stages import is_done
from reconstruct.rundir import RunDir
from reconstruct.split import CHUNK_S, TEST, TRAIN, USED_S, VAL


@dataclass
class RunExamples:
    """Classifier training data (true spectra) and test data (truth + reconstruction) of one run.

    ``train_x`` [shape=(n_train, frames, bins)] true targets of every distinct (song, second) covered by a
    training or validation chunk; ``train_labels`` their song index. ``test_true``/``test_recon``
    [shape=(n_test, frames, bins)] of the test examples in ``predictions_index.npy`` order; ``test_labels``
    the song each test recording heard (as the run's recordings.csv says), ``test_recording`` and
    ``test_second`` where each example comes from, ``test_chunk`` a chunk id shared by its 5 seconds.
    """

    songs: list[str]
    target_kind: str
    train_x: np.ndarray
    train_labels: np.ndarray
    train_seconds: np.ndarray
    test_true: np.ndarray
    test_recon: np.ndarray
    test_labels: np.ndarray
    test_recording: np.ndarray
    test_second: np.ndarray
    used_s: int = USED_S  # seconds per recording (the run's used length)

    @property
    def test_chunk(self) -> np.ndarray:
        """Id of each test example's chunk (recording-major)."""
        return self.test_recording * (self.used_s // CHUNK_S) + self.test_second // CHUNK_S

    @property
    def n_songs(self) -> int:
        """Number of songs (classes)."""
        return len(self.songs)

    def seen_test_seconds(self) -> float:
        """Share of test examples whose (song, second) true spectrum is among the classifier's training
        examples (from another recording's training chunk): the classifier knows the songs, not the EEG."""
        seen = {(int(s), int(t)) for s, t in zip(self.train_labels, self.train_seconds)}
        hits = [(int(s), int(t)) in seen for s, t in zip(self.test_labels, self.test_second)]
        return float(np.mean(hits)) if hits else float("nan")


def require_predictions(config: RunConfig) -> None:
    """Fail with the command to run when the run has no predictions for these parameters."""
    if not is_done(config, "predict"):
        raise ReconstructError(f"{config.run_dir} has no predictions for these options; run "
                               "`tuneback reconstruct run --until predict` with the same options first")


def load_run_examples(config: RunConfig, *, recon_path: Path | None = None) -> RunExamples:
    """Read targets, split and predictions of a run dir whose `predict` stage is done."""
    require_predictions(config)
    run = RunDir.of(config)
    table = RunDir.of(config).recordings()
    songs = list(run.target_songs())
    song_of = np.array([songs.index(s) for _, s in table])
    split = RunDir.of(config).split()
    roles, used = split.example_roles(), split.used_s
    targets = run.targets()
    # classifier training set: distinct (song, second) pairs of training/validation chunks
    fit = np.flatnonzero(np.isin(roles, [TRAIN, VAL]))
    pairs = np.unique(np.stack([song_of[fit // used], fit % used], axis=1), axis=0)
    train_x = np.asarray(targets[pairs[:, 0], pairs[:, 1]])
    pred, index = run.predictions()
    if not np.all(roles[index] == TEST):
        raise ReconstructError(f"{run.predictions_index_file} lists examples that are not test examples")
    recon = np.load(recon_path, mmap_mode="r") if recon_path else pred
    rec, sec = index // used, index % used
    labels = song_of[rec]
    return RunExamples(songs=songs, target_kind=config.target_kind, train_x=train_x, train_labels=pairs[:, 0],
                       train_seconds=pairs[:, 1], test_true=np.asarray(targets[labels, sec]),
                       test_recon=np.asarray(recon), test_labels=labels, test_recording=rec, test_second=sec,
                       used_s=used)
