"""Ridge regression from standardised inputs to each second's spectrogram (a linear reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reconstruct.decoders.base import Decoder, TrainingData
from reconstruct.models.ridge import RidgeDecoder
from reconstruct.train import InputScaler


class Ridge(Decoder):
    """Closed-form ridge on scaled inputs (log-PSD when the input is PSD)."""

    name = "ridge"

    def fit(self, data: TrainingData) -> tuple[tuple[RidgeDecoder, InputScaler], dict]:
        config = data.config
        scaler = InputScaler(config.input_kind == "psd").fit(data.x_train)
        ridge = RidgeDecoder(config.ridge_alpha).fit(scaler.transform(data.x_train), data.y_train)
        val_loss = float(np.mean((ridge.predict(scaler.transform(data.x_val)).clip(0, 1) - data.y_val) ** 2))
        return (ridge, scaler), {"decoder": "ridge", "alpha": config.ridge_alpha, "val_loss": val_loss}

    def save(self, model: tuple[RidgeDecoder, InputScaler], model_dir: Path) -> None:
        ridge, scaler = model
        model_dir.mkdir(parents=True, exist_ok=True)
        np.savez(model_dir / "ridge.npz", coef=ridge.coef_, intercept=ridge.intercept_,
                 out_shape=np.array(ridge.out_shape), **{f"scaler_{k}": v for k, v in scaler.state().items()})

    def load(self, model_dir: Path, config) -> tuple[RidgeDecoder, InputScaler]:  # noqa: ANN001 - RunConfig
        z = np.load(model_dir / "ridge.npz")
        scaler = InputScaler.from_state({k: z[f"scaler_{k}"] for k in ("log", "mean", "std")})
        return RidgeDecoder.from_arrays(config.ridge_alpha, z["coef"], z["intercept"], tuple(z["out_shape"])), scaler

    def predict(self, model: tuple[RidgeDecoder, InputScaler], data: np.ndarray) -> np.ndarray:
        ridge, scaler = model
        return ridge.predict(scaler.transform(data)).clip(0, 1)
