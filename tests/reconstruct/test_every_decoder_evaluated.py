"""Every registered decoder, per-second and segment alike, takes part in the scale sweep, the held-out
presentation and the fingerprint control, through the one path the stages take (issue 28); a segment decoder
is refused PSD input in one line; the held-out presentation is never a training example."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from reconstruct.config import RunConfig
from reconstruct.decoders import registry
from reconstruct.decoders.base import Decoder, TrainingData
from reconstruct.decoding import check_input
from reconstruct.errors import ParameterError
from reconstruct.evaluation.classifier import ClassifierConfig
from reconstruct.evaluation.fingerprint import fingerprint_control, other_presentation_chunks
from reconstruct.evaluation.runs import share_upstream
from reconstruct.evaluation.sweep import SimulatedComponents, SweepConfig, run_sweep
from reconstruct.evaluation.time_specific import load_test_chunks
from reconstruct.models.trf import TRFConfig
from reconstruct.rundir import RunDir
from reconstruct.run import run_stage
from reconstruct.recording import EEG_FS
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.split import USED_S

STAGES = ("load", "features", "split", "train", "predict")
SWEEP_SIM = SimulatedDataConfig(shape="nmedt", n_songs=2, n_participants=1, duration_s=245, n_channels=4)
NMEDH = SimulatedDataConfig(n_songs=2, n_participants=1, duration_s=245, n_channels=6, snr=0.5)
FAST_TRF = TRFConfig(tmax_grid=(0.25,), alphas=(1.0, 100.0), n_folds=2, ranks=(0,))


class SegmentMean(Decoder):
    """A toy segment decoder: each participant's mean training frame, for every frame of a segment."""

    name, input_kind, per_second = "toyseg", "raw", False

    def fit(self, data: TrainingData) -> tuple[dict, dict]:
        means = {p: np.concatenate([data.train.frames[r] for r in np.flatnonzero(data.train.participant == p)]).mean(0)
                 for p in set(data.train.participant)}
        return means, {"decoder": self.name, "val_loss": 0.0}

    def save(self, model: dict, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        np.savez(model_dir / "toyseg.npz", **model)

    def load(self, model_dir: Path, config: RunConfig) -> dict:
        return dict(np.load(model_dir / "toyseg.npz"))

    def predict(self, model: dict, data) -> list[np.ndarray]:  # noqa: ANN001 - SegmentData
        return [np.broadcast_to(model[p], (len(x), len(model[p]))) for x, p in zip(data.eeg, data.participant)]


def _digest(rows: np.ndarray) -> list[str]:
    return [hashlib.sha1(np.ascontiguousarray(r).tobytes()).hexdigest() for r in rows]


class Recorder(Decoder):
    """A toy per-second decoder that remembers every input it trained on: predicts 1 for an input it saw, 0 else."""

    name = "recorder"

    def fit(self, data: TrainingData) -> tuple[np.ndarray, dict]:
        seen = np.array(_digest(data.x_train) + _digest(data.x_val))
        return seen, {"decoder": self.name, "val_loss": 0.0, "shape": list(data.y_train.shape[1:])}

    def save(self, model: np.ndarray, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        np.save(model_dir / "seen.npy", model)

    def load(self, model_dir: Path, config: RunConfig) -> set[str]:
        return set(np.load(model_dir / "seen.npy"))

    def predict(self, model: set[str], data: np.ndarray) -> np.ndarray:
        seen = np.array([d in model for d in _digest(data)], np.float32)
        return np.broadcast_to(seen[:, None, None], (len(data), 44, 128)).copy()


@pytest.fixture
def toys():
    for toy in (SegmentMean(), Recorder()):
        registry.register(toy)
    yield
    for name in ("toyseg", "recorder"):
        registry.unregister(name)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> RunConfig:
    """The small NMED-H-shaped run (held-out presentation b) with the trf, through its predictions."""
    config = RunConfig(run_dir=tmp_path_factory.mktemp("every") / "trf", decoder="trf", input_kind="raw",
                       simulation=NMEDH, trf=FAST_TRF)
    for stage in STAGES:
        run_stage(config, stage, progress=False, log=lambda _: None)
    return config


def _run(base: RunConfig, name: str, decoder: str, **changes) -> RunConfig:
    """Another decoder on the base run's very data (and features and split where the input is the same)."""
    config = base.with_(run_dir=Path(base.run_dir).parent / name, decoder=decoder, **changes)
    share_upstream(base, config)
    for stage in STAGES:
        run_stage(config, stage, progress=False, log=lambda _: None)
    return config


def _components() -> SimulatedComponents:
    """SIMULATED sweep parts, made by hand (no song synthesis): two tones, EEG of random numbers."""
    rng = np.random.default_rng(0)
    t = np.arange(USED_S * 22050) / 22050
    audio = {s: (0.1 * np.sin(2 * np.pi * f * t)).astype(np.float32) for s, f in (("s1", 330.0), ("s2", 880.0))}
    eeg = [rng.standard_normal((4, USED_S * EEG_FS)).astype(np.float32) for _ in range(4)]
    return SimulatedComponents(table=[("p1", "s1"), ("p1", "s2")], audio=audio, signal=eeg[:2], noise=eeg[2:])


def test_the_sweep_accepts_every_registered_decoder_with_its_own_input(toys):
    for name in registry.decoder_names():
        config = SweepConfig(simulation=SWEEP_SIM, decoder=name)
        assert config.input_kind == registry.get_decoder(name).input_kind
        assert config.to_dict()["decoder"] == name


@pytest.mark.parametrize("decoder", ["trf", "toyseg"])
def test_a_segment_decoder_is_refused_psd_input_in_one_line(toys, decoder):
    with pytest.raises(ParameterError, match=r"^[^\n]*reads EEG time series[^\n]*$"):
        SweepConfig(simulation=SWEEP_SIM, decoder=decoder, input_kind="psd")
    with pytest.raises(ParameterError, match="reads EEG time series"):
        check_input(registry.get_decoder(decoder), "psd")
    if decoder == "toyseg":  # the run config lets this toy through on PSD; the held-out presentation does not
        config = RunConfig(run_dir=Path("unused"), decoder=decoder, input_kind="psd")
        with pytest.raises(ParameterError, match="reads EEG time series"):
            other_presentation_chunks(config, [("p1", "s1")], [("p1", "s1")])


def test_the_sweep_fits_a_segment_decoder_through_the_decoder_interface():
    config = SweepConfig(simulation=SWEEP_SIM, snrs=(1.0,), decoder="trf", classifier=ClassifierConfig(epochs=2),
                         settings=RunConfig(trf=FAST_TRF))
    sweep = run_sweep(config, progress=False, components=_components())
    point = sweep["points"][0]
    assert sweep["decoder"] == "trf" and config.to_dict()["input_kind"] == "raw"
    assert tuple(config.to_dict()["trf"]["alphas"]) == (1.0, 100.0)  # its own settings are part of the point's key
    assert point["n_train_examples"] > 0 and point["per_example"]["n"] > 0
    assert point["per_example"]["at_chance"]  # EEG of random numbers: nothing to decode


@pytest.mark.parametrize("decoder", ["trf", "toyseg", "ridge"])
def test_the_held_out_path_decodes_a_recording_as_the_predict_stage_does(toys, base, monkeypatch, decoder):
    """Fed the training presentation as the 'held-out' one, the held-out path must give the predict stage's
    test predictions exactly: one code path for per-second and segment decoders."""
    config = base if decoder == "trf" else _run(base, decoder, decoder, input_kind="psd" if decoder == "ridge" else "raw")
    table, own = RunDir.of(config).recordings(), load_test_chunks(config)
    train_eeg = RunDir.of(config).eeg()
    monkeypatch.setattr(RunDir, "eeg", lambda self, held_out=False: train_eeg)
    other = other_presentation_chunks(config, table, table)
    assert len(other) == len(own) and np.array_equal(other.chunk, own.chunk)
    assert np.allclose(other.recon, own.recon, atol=1e-6) and np.array_equal(other.truth, own.truth)


def test_the_fingerprint_control_decodes_the_other_presentation_with_a_segment_decoder(base):
    fp = fingerprint_control(base)
    assert "other_presentation_skipped" not in fp
    assert fp["other_presentation"]["n_test_chunks"] == fp["participant_id"]["n"] > 0
    assert fp["other_presentation"]["decoder"]["different_song"]["n"] > 0


def _held_out_seen(config: RunConfig) -> int:
    """How many seconds of the held-out presentation the recorder was trained on."""
    from reconstruct import features as feat
    seen = registry.get_decoder("recorder").load(RunDir.of(config).model, config)
    eeg = RunDir.of(config).eeg(held_out=True)
    return sum(d in seen for h in range(len(eeg))
               for d in _digest(feat.eeg_input(np.asarray(eeg[h]), kind=config.input_kind, n_seconds=config.used_s)))


def test_the_held_out_presentation_is_never_a_training_example(toys, base):
    clean = _run(base, "recorder", "recorder", input_kind="psd")
    assert _held_out_seen(clean) == 0
    other = fingerprint_control(clean)["other_presentation"]
    assert other["n_test_chunks"] > 0
    recon = other_presentation_chunks(clean, RunDir.of(clean).recordings(), RunDir.of(clean).recordings(held_out=True))
    assert not recon.recon.any()  # no held-out test input was a training input
    # the control fails on a deliberately leaky pipeline: the held-out presentation written into the training arrays
    leaky = clean.with_(run_dir=Path(base.run_dir).parent / "leaky")
    shutil.copytree(RunDir.of(base).data, RunDir.of(leaky).data)
    RunDir.of(leaky).stage_done("load").parent.mkdir()
    shutil.copyfile(RunDir.of(base).stage_done("load"), RunDir.of(leaky).stage_done("load"))
    shutil.copyfile(RunDir.of(leaky).eeg_file(held_out=True), RunDir.of(leaky).eeg_file())
    for stage in STAGES[1:]:
        run_stage(leaky, stage, progress=False, log=lambda _: None)
    assert _held_out_seen(leaky) > 0
