"""The run directory's one owner: every artefact of a run is named here and read through here (issue 27).

No other module builds a path into a run (tests/reconstruct/test_rundir.py keeps it so). The layout::

    stages/<stage>.done.json      what each finished stage recorded (parameters, summary, seconds)
    data/eeg.npy, recordings.csv, dataset.json, songs/<song>.wav, held_out/{eeg.npy,recordings.csv}, shuffle.json
    features/inputs.npy, targets.npy
    split.npy  model/  predictions.npy  predictions_index.npy  selection.json
    clips/manifest.json, observer.json, <clip>.wav, identity/  study_trials.json
    decoders/<name>/ (`--decoder auto`'s candidates)  evaluation/<name>/ (sub-runs)  rearrangement.json
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reconstruct.errors import ReconstructError
from reconstruct.split import CHUNK_S, USED_S, Split

STUDY_TRIALS = "study_trials.json"
CHOICE_FILE = "decoder_choice.json"
STAGE_ARTEFACTS = {"load": ("data",), "features": ("features",), "split": ("split.npy",), "train": ("model",)}
"""What each stage leaves in the run, by name under the root (what a sub-run links to reuse a stage)."""


@dataclass(frozen=True)
class RunDir:
    """Paths and readers of one run directory."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def of(cls, config: object) -> RunDir:
        """The run directory of a RunConfig (anything with a `run_dir`)."""
        return cls(Path(config.run_dir))  # type: ignore[attr-defined]

    # ---- names ----------------------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        """A path inside the run (for the few artefacts without a name of their own below)."""
        return self.root.joinpath(*parts)

    def stage_done(self, stage: str) -> Path:
        return self.root / "stages" / f"{stage}.done.json"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def data_dir(self, *, held_out: bool = False) -> Path:
        """data/, or data/held_out/ for the test presentation saved beside."""
        return self.data / "held_out" if held_out else self.data

    def eeg_file(self, *, held_out: bool = False) -> Path:
        return self.data_dir(held_out=held_out) / "eeg.npy"

    def recordings_file(self, *, held_out: bool = False) -> Path:
        return self.data_dir(held_out=held_out) / "recordings.csv"

    @property
    def dataset_file(self) -> Path:
        return self.data / "dataset.json"

    @property
    def songs_dir(self) -> Path:
        return self.data / "songs"

    def song_file(self, song: str) -> Path:
        return self.songs_dir / f"{song}.wav"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def inputs_file(self) -> Path:
        return self.features / "inputs.npy"

    @property
    def targets_file(self) -> Path:
        return self.features / "targets.npy"

    @property
    def split_file(self) -> Path:
        return self.root / "split.npy"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def predictions_file(self) -> Path:
        return self.root / "predictions.npy"

    @property
    def predictions_index_file(self) -> Path:
        return self.root / "predictions_index.npy"

    @property
    def selection_file(self) -> Path:
        return self.root / "selection.json"

    @property
    def clips(self) -> Path:
        return self.root / "clips"

    @property
    def manifest_file(self) -> Path:
        return self.clips / "manifest.json"

    @property
    def observer_file(self) -> Path:
        return self.clips / "observer.json"

    @property
    def study_trials_file(self) -> Path:
        return self.root / STUDY_TRIALS

    @property
    def choice_file(self) -> Path:
        return self.root / CHOICE_FILE

    def decoder_run(self, decoder: str) -> Path:
        """Where `--decoder auto` trains one candidate."""
        return self.root / "decoders" / decoder

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation"

    @property
    def shuffle_file(self) -> Path:
        """A shuffled-songs control's record of which song each recording was given."""
        return self.data / "shuffle.json"

    @property
    def rearrangement_file(self) -> Path:
        return self.root / "rearrangement.json"

    # ---- readers --------------------------------------------------------------------------------------
    def stage_record(self, stage: str) -> dict:
        """What a finished stage recorded (its `.done.json`)."""
        return json.loads(self.stage_done(stage).read_text())

    def summary(self, stage: str) -> dict:
        """The summary a finished stage recorded."""
        return self.stage_record(stage)["summary"]

    def dataset(self) -> dict:
        """data/dataset.json: what the load stage wrote about the data set."""
        return json.loads(self.dataset_file.read_text())

    def recordings(self, *, held_out: bool = False) -> list[tuple[str, str]]:
        """(participant, song) per recording index (of the held-out presentation with `held_out`; [] if none)."""
        path = self.recordings_file(held_out=held_out)
        if held_out and not path.exists():
            return []
        with open(path) as fh:
            return [(row["participant"], row["song"]) for row in csv.DictReader(fh)]

    def eeg(self, *, held_out: bool = False) -> np.ndarray:
        """The saved EEG [shape=(recordings, channels, samples)], memory-mapped."""
        return np.load(self.eeg_file(held_out=held_out), mmap_mode="r")

    def inputs(self) -> np.ndarray:
        """Per-second decoder inputs, recording-major, memory-mapped."""
        return np.load(self.inputs_file, mmap_mode="r")

    def targets(self) -> np.ndarray:
        """Per-second targets [shape=(songs, seconds, frames, bins)] in [0, 1], memory-mapped."""
        return np.load(self.targets_file, mmap_mode="r")

    def target_songs(self) -> list[str]:
        """The songs in the order of `targets()`."""
        return self.summary("features")["songs"]

    def song_audio(self, song: str) -> np.ndarray:
        """The stimulus audio of one song, mono float32 at 22 050 Hz."""
        import soundfile as sf

        y, _ = sf.read(self.song_file(song), dtype="float32")
        return y

    def predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """The test predictions (memory-mapped) and the flat example index of each."""
        return np.load(self.predictions_file, mmap_mode="r"), np.load(self.predictions_index_file)

    def used_s(self) -> int:
        """Seconds of every recording this run used (recorded by the load stage where not the paper's 240)."""
        return int(self.dataset().get("used_s", USED_S))

    def split(self) -> Split:
        """The saved train/val/test split."""
        s = self.summary("split")
        return Split(np.load(self.split_file), s["seed"], s["test_every"], s["val_fraction"],
                     scope=s.get("scope", "recording"), guard_s=s.get("guard_s", 0))

    def chunk_prediction(self, recording: int, chunk: int) -> np.ndarray:
        """The 5-s predicted spectrogram [shape=(5 × 44, bins)] of one test chunk."""
        pred, index = self.predictions()
        first = recording * self.used_s() + chunk * CHUNK_S
        pos = np.searchsorted(index, first)
        if pos + CHUNK_S > len(index) or index[pos] != first:
            raise ReconstructError(f"chunk {chunk} of recording {recording} is not a test chunk")
        return np.concatenate(np.asarray(pred[pos:pos + CHUNK_S]))

    def selection(self) -> dict:
        return json.loads(self.selection_file.read_text())

    def manifest(self) -> dict:
        return json.loads(self.manifest_file.read_text())
