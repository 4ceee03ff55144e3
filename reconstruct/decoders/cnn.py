"""The paper's Table-1 CNN (EEG2Mel), exactly as in :mod:`reconstruct.models.cnn`: the reference in every table."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from reconstruct.decoders.base import Decoder, TrainingData
from reconstruct.distributed import World, barrier


class PaperCNN(Decoder):
    """Trained by :func:`reconstruct.train.train_cnn` (data-parallel under torchrun, resumable)."""

    name = "cnn"

    def fit(self, data: TrainingData) -> tuple[None, dict]:
        """Train; the checkpoints are written into the model dir while it trains (so a stopped run resumes)."""
        from reconstruct.train import checkpoint_compatible, train_cnn

        world = data.world or World()
        if world.main and not checkpoint_compatible(data.model_dir, data.config.train):
            shutil.rmtree(data.model_dir)  # made with other settings: start afresh rather than resume
        barrier(world)  # no rank reads model/ while rank 0 may be clearing it
        summary = train_cnn(data.x_train, data.y_train, data.x_val, data.y_val, config=data.config.train,
                            out_dir=data.model_dir, log_inputs=data.config.input_kind == "psd",
                            progress=data.progress, world=world)
        return None, {"decoder": "cnn", **{k: v for k, v in summary.items() if k != "history"}}

    def save(self, model: None, model_dir: Path) -> None:
        """Nothing left to write: training saved `best.pt` (and its resumable checkpoint) as it went."""

    def load(self, model_dir: Path, config) -> Any:  # noqa: ANN001 - RunConfig
        from reconstruct.train import load_cnn

        return load_cnn(model_dir / "best.pt", device=config.train.device)

    def predict(self, model: Any, data: np.ndarray) -> np.ndarray:
        from reconstruct.train import predict_cnn

        net, scaler = model
        return predict_cnn(net, scaler, data)

    def train(self, data: TrainingData) -> dict:
        """The train stage's summary, keys in the order earlier runs recorded them."""
        _, summary = self.fit(data)
        return {"decoder": "cnn", "n_train": data.n_train, "n_val": data.n_val,
                **{k: v for k, v in summary.items() if k != "decoder"}}
