"""The decoders that read contiguous EEG segments (lags, context): the field's TRF and the temporal CNN."""

from __future__ import annotations

from pathlib import Path

from reconstruct.decoders.base import Decoder, TrainingData


class TRF(Decoder):
    """Per-participant multivariate TRF (lagged ridge), cross-validated within the training segments."""

    name = "trf"
    input_kind, input_required, per_second, settings_field = "raw", True, False, "trf"

    def fit(self, data: TrainingData) -> tuple[Path, dict]:
        """Fit and write the per-participant models (`trf.npz`, `trf.json`) in one step, as train_trf does."""
        from reconstruct.chunk_decoders import train_trf

        return data.model_dir, train_trf(data.train, data.val, data.config.trf, data.model_dir)

    def save(self, model: Path, model_dir: Path) -> None:
        """Written by `fit` (train_trf saves the models it scores on validation)."""

    def load(self, model_dir: Path, config) -> Path:  # noqa: ANN001 - RunConfig
        return model_dir

    def predict(self, model: Path, data) -> list:  # noqa: ANN001 - SegmentData
        from reconstruct.chunk_decoders import predict_trf_segments

        return predict_trf_segments(data, model)


class Temporal(Decoder):
    """A small temporal CNN over whole segments with a participant embedding (early-stopped)."""

    name = "temporal"
    input_kind, input_required, per_second, settings_field = "raw", True, False, "temporal"

    def fit(self, data: TrainingData) -> tuple[Path, dict]:
        """Train; the best checkpoint is written while it trains."""
        from reconstruct.chunk_decoders import train_temporal_decoder

        return data.model_dir, train_temporal_decoder(data.train, data.val, data.config.temporal, data.model_dir,
                                                      progress=data.progress)

    def save(self, model: Path, model_dir: Path) -> None:
        """Written while training (best_temporal.pt)."""

    def load(self, model_dir: Path, config) -> tuple[Path, str]:  # noqa: ANN001 - RunConfig
        return model_dir, config.temporal.device

    def predict(self, model: tuple[Path, str], data) -> list:  # noqa: ANN001 - SegmentData
        from reconstruct.chunk_decoders import predict_temporal_segments

        model_dir, device = model
        return predict_temporal_segments(data, model_dir, device=device)
