"""A new decoder is one class plus one registration (issue 27): this file adds a toy one and runs it through
train and predict, and `--decoder auto` tries it because the choice iterates the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reconstruct.config import RunConfig
from reconstruct.decoders import registry
from reconstruct.decoders.base import Decoder, TrainingData
from reconstruct.run import run_stage
from reconstruct.simulate import SimulatedDataConfig


class SongBlind(Decoder):
    """Predicts the mean training spectrogram for every second, whatever the EEG says."""

    name = "toy"

    def fit(self, data: TrainingData) -> tuple[np.ndarray, dict]:
        mean = data.y_train.mean(axis=0)
        return mean, {"decoder": self.name, "val_loss": float(np.mean((mean - data.y_val) ** 2))}

    def save(self, model: np.ndarray, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        np.save(model_dir / "toy.npy", model)

    def load(self, model_dir: Path, config: RunConfig) -> np.ndarray:
        return np.load(model_dir / "toy.npy")

    def predict(self, model: np.ndarray, data: np.ndarray) -> np.ndarray:
        return np.broadcast_to(model, (len(data), *model.shape)).clip(0, 1)


@pytest.fixture
def toy():
    registry.register(SongBlind())  # the one registration
    yield
    registry.unregister("toy")


SIM = SimulatedDataConfig(n_songs=4, n_participants=1, duration_s=245, snr=0.4, n_channels=8, presentations="a")


def test_a_registered_decoder_trains_and_predicts(toy, tmp_path):
    config = RunConfig(run_dir=tmp_path / "run", simulation=SIM, decoder="toy")
    summaries = {s: run_stage(config, s, progress=False, log=lambda _: None)
                 for s in ("load", "features", "split", "train", "predict")}
    assert summaries["train"]["decoder"] == "toy" and summaries["train"]["n_train"] > 0
    mean = np.load(tmp_path / "run" / "model" / "toy.npy")
    pred = np.load(tmp_path / "run" / "predictions.npy")
    assert pred.shape[1:] == mean.shape and np.allclose(pred, mean.clip(0, 1))


def test_the_validation_choice_iterates_the_registry(toy, tmp_path, monkeypatch):
    from reconstruct.decoder_choice import choose_decoder

    monkeypatch.setattr(registry, "_REGISTRY", {n: registry.get_decoder(n) for n in ("ridge", "toy")})
    config = RunConfig(run_dir=tmp_path / "run", simulation=SIM, decoder="auto")
    choice = choose_decoder(config, progress=False, log=lambda _: None)
    assert choice["candidates"] == ["ridge", "toy"] and set(choice["validation"]) == {"ridge", "toy"}


def test_an_unregistered_decoder_is_refused_in_one_line():
    from reconstruct.errors import ParameterError

    with pytest.raises(ParameterError, match=r"decoder='toy' must be one of \['cnn', 'ridge', 'trf', 'temporal', "):
        RunConfig(decoder="toy")
