"""The contrastive decoder: subject layer, shared body, low-rank regression head and a CLIP-style objective."""

from __future__ import annotations

from pathlib import Path

from reconstruct.decoders.base import Decoder, TrainingData


class Contrastive(Decoder):
    """Per-participant spatial layer, shared dilated convolutions, regression + InfoNCE (early-stopped)."""

    name = "contrastive"
    input_kind, input_required, per_second, settings_field = "raw", True, False, "contrastive"

    def fit(self, data: TrainingData) -> tuple[Path, dict]:
        """Train; the best checkpoint is written while it trains."""
        from reconstruct.train_contrastive import train_contrastive_decoder

        return data.model_dir, train_contrastive_decoder(data.train, data.val, data.config.contrastive,
                                                         data.model_dir, progress=data.progress)

    def save(self, model: Path, model_dir: Path) -> None:
        """Written while training (best_contrastive.pt)."""

    def load(self, model_dir: Path, config) -> tuple[Path, str]:  # noqa: ANN001 - RunConfig
        return model_dir, config.contrastive.device

    def predict(self, model: tuple[Path, str], data) -> list:  # noqa: ANN001 - SegmentData
        from reconstruct.train_contrastive import predict_contrastive_segments

        model_dir, device = model
        return predict_contrastive_segments(data, model_dir, device=device)
