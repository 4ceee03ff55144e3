"""The interface every decoder implements: fit / save / load / predict, the input it needs and what it reads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from reconstruct.chunk_decoders import SegmentData
    from reconstruct.distributed import World

RunConfig = Any
"""A reconstruct.config.RunConfig: not imported here, because the config checks its decoder against the registry."""


@dataclass
class TrainingData:
    """What a decoder trains on: training and validation examples only (the stage never hands it a test one).

    Per-second decoders get `x_*` (inputs of 1-s examples) and `y_*` (their targets); segment decoders get
    `train` and `val` (contiguous runs within a chunk, EEG and target frames)."""

    config: RunConfig
    model_dir: Path
    n_train: int
    n_val: int
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    train: SegmentData | None = None
    val: SegmentData | None = None
    progress: bool = True
    world: World | None = None


class Decoder(ABC):
    """One way to turn EEG inputs into per-second spectrogram targets in [0, 1]."""

    name: str = ""
    input_kind: str = "psd"
    """The input it reads unless told otherwise: `psd` (per-second spectra) or `raw` (EEG time series)."""
    input_required: bool = False
    """True when it cannot read any other input kind (a `--input` other than `input_kind` is refused)."""
    per_second: bool = True
    """True when it predicts each 1-s example alone from `x`; False when it reads whole segments (lags, context)."""
    settings_field: str | None = None
    """The RunConfig field holding its own settings, part of the train stage's parameters (None: none)."""

    @abstractmethod
    def fit(self, data: TrainingData) -> tuple[Any, dict]:
        """Fit on training data (validation for early stopping / selection); return the model and a summary."""

    @abstractmethod
    def save(self, model: Any, model_dir: Path) -> None:
        """Write the fitted model into `model_dir`."""

    @abstractmethod
    def load(self, model_dir: Path, config: RunConfig) -> Any:
        """Read a model that `save` wrote."""

    @abstractmethod
    def predict(self, model: Any, data: np.ndarray | SegmentData) -> np.ndarray | list[np.ndarray]:
        """Per-second decoders: predictions [shape=(n, frames, bins)] of inputs `data`; segment decoders: each
        segment's predicted frames. Clipped to [0, 1]."""

    def train(self, data: TrainingData) -> dict:
        """Fit and save; the train stage's summary."""
        model, summary = self.fit(data)
        self.save(model, data.model_dir)
        return {**summary, "n_train": data.n_train, "n_val": data.n_val}
