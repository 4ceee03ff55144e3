"""Loop pieces shared by the deep segment decoders (temporal, contrastive): padded batches of whole segments,
the masked regression loss, early stopping on a validation score, and seeded epoch order."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


def pad_segments(eeg: list[np.ndarray], frames: list[np.ndarray] | None) -> tuple[torch.Tensor, ...]:
    """Pad segments to the longest: x [shape=(n, channels, T)], mask [shape=(n, T)], y [shape=(n, T, bins)]."""
    t = max(len(e) for e in eeg)
    x = np.zeros((len(eeg), eeg[0].shape[1], t), np.float32)
    mask = np.zeros((len(eeg), t), np.float32)
    for i, e in enumerate(eeg):
        x[i, :, :len(e)] = e.T
        mask[i, :len(e)] = 1
    out = [torch.from_numpy(x), torch.from_numpy(mask)]
    if frames is not None:
        y = np.zeros((len(eeg), t, frames[0].shape[1]), np.float32)
        for i, f in enumerate(frames):
            y[i, :len(f)] = f
        out.append(torch.from_numpy(y))
    return tuple(out)


def masked_mse(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the frames the mask keeps (padding never counts)."""
    err = ((pred - y) ** 2).mean(-1) * mask
    return err.sum() / mask.sum().clamp(min=1)


@dataclass
class EarlyStopping:
    """Keeps the best epoch by a validation score (lower is better unless `higher_is_better`) and says when
    `patience` epochs have passed without a better one."""

    patience: int
    higher_is_better: bool = False
    best: float = field(init=False)
    best_epoch: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.best = -float("inf") if self.higher_is_better else float("inf")

    def improved(self, score: float, epoch: int) -> bool:
        """Record an epoch's score; True when it is the best so far (the caller saves the model then)."""
        better = score > self.best if self.higher_is_better else score < self.best
        if better:
            self.best, self.best_epoch = score, epoch
        return better

    def should_stop(self, epoch: int) -> bool:
        """True once `patience` epochs have gone by since the best one."""
        return epoch - self.best_epoch >= self.patience
