"""A temporal deep decoder: raw EEG with ±1 s of context → mel frames, fully convolutional over a segment.

Per-participant spatial input layer (125 channels → k components, one matrix per EEG participant, as
heads and electrode contact differ), then shared weights: a stack of dilated 1-D convolutions at the
frame rate (44 Hz) whose receptive field spans ±1 s (kernel 7, dilations 1, 2, 4, 8: 91 frames), with
residual connections, and a 1×1 convolution to the mel bins. Run over one segment (a 5-s chunk) with
zero padding, so the context of every frame comes from its own chunk only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from reconstruct.errors import ParameterError


@dataclass(frozen=True)
class TemporalConfig:
    """Architecture and optimisation of the temporal decoder (seeded; early stopping on validation)."""

    components: int = 16
    width: int = 48
    kernel: int = 7
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 16
    max_epochs: int = 30
    patience: int = 5
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if min(self.components, self.width, self.kernel, self.batch_size, self.max_epochs, self.patience) < 1 \
                or self.kernel % 2 == 0 or not self.dilations or self.lr <= 0 or not 0 <= self.dropout < 1:
            raise ParameterError(f"bad temporal-decoder settings: {self}")

    @property
    def context_frames(self) -> int:
        """Frames of context on each side of a frame (half the receptive field)."""
        return (self.kernel - 1) // 2 * sum(self.dilations)

    def to_dict(self) -> dict:
        """Plain dict for manifests and checkpoints."""
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, width: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel, dilation=dilation, padding=(kernel - 1) // 2 * dilation)
        self.norm = nn.LayerNorm(width)  # over channels, frame by frame: no statistics across time
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.conv(x).transpose(1, 2)).transpose(1, 2)
        return x + self.drop(torch.relu(h))


class TemporalDecoder(nn.Module):
    """EEG segments [shape=(batch, channels, frames)] of participants `pid` → mel frames (batch, frames, bins)."""

    def __init__(self, n_participants: int, n_channels: int, n_bins: int, config: TemporalConfig) -> None:
        super().__init__()
        k = config.components
        self.spatial = nn.Parameter(torch.randn(n_participants, k, n_channels) / math.sqrt(n_channels))
        self.spatial_bias = nn.Parameter(torch.zeros(n_participants, k, 1))
        first = config.dilations[0]
        self.inp = nn.Conv1d(k, config.width, config.kernel, dilation=first,
                             padding=(config.kernel - 1) // 2 * first)
        self.blocks = nn.Sequential(*[_Block(config.width, config.kernel, d, config.dropout)
                                      for d in config.dilations[1:]])
        self.out = nn.Conv1d(config.width, n_bins, 1)

    def forward(self, x: torch.Tensor, pid: torch.Tensor) -> torch.Tensor:
        """Predict frames; positions where x is zero padding still get outputs (the loss masks them)."""
        z = torch.einsum("bkc,bct->bkt", self.spatial[pid], x) + self.spatial_bias[pid]
        h = self.blocks(torch.relu(self.inp(z)))
        return self.out(h).transpose(1, 2)
