"""A deep decoder with the field's levers (Défossez et al. 2023): a subject layer, a shared body, a
low-rank regression head for rendering and a CLIP-style contrastive objective between EEG and mel windows.

* **Subject layer**: one spatial matrix per EEG participant (channels → k components), as heads and electrode
  contact differ; everything after it is shared, so the body learns from every participant's data at once
  (the per-participant trf sees one participant's).
* **Shared body**: dilated 1-D convolutions at the frame rate (44 Hz) with ±1 s of receptive field and
  residual connections (`reconstruct.models.temporal`'s blocks), run over one 5-s segment with zero padding.
* **Regression head** (what the pipeline renders): the participant's mean training spectrogram (as the trf's
  intercept; on NMED-H it is their song's) plus a few principal components of the participant's training
  mel frames (``rank``; 0 = every bin; signs aligned across participants), the low-rank target that made the
  trf work at low SNR. The squared error is taken on the components' standardised scores, so it weighs as
  much as the contrastive term whatever the spectra's scale.
* **Contrastive heads**: a window of ``window_s`` seconds of the body's output and the matching window of mel
  frames, each projected to a unit vector; InfoNCE over the batch (negatives: the batch's other windows,
  which include other times of the same song, so the objective is time-specific). Windows with identical
  mel targets (the same song and time heard by another participant or presentation) are not negatives.

The input is band-passed (1–8 Hz by default) within each segment by the caller, like the trf's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional

from reconstruct.errors import ParameterError
from reconstruct.models.temporal import _Block
from reconstruct.segments import FRAMES_PER_S


@dataclass(frozen=True)
class ContrastiveConfig:
    """Architecture, objective and optimisation of the contrastive decoder (seeded; early-stopped)."""

    components: int = 4  # per participant: fewer per-participant weights than trf's (measured: 16 overfits)
    width: int = 16
    kernel: int = 7
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    dropout: float = 0.3
    rank: int = 1  # principal components of each participant's training mel frames predicted; 0: every bin
    band_hz: tuple[float, float] | None = (1.0, 8.0)  # EEG band-pass within each segment; None: as recorded
    window_s: float = 2.0  # contrastive window
    embed_dim: int = 64
    contrastive_weight: float = 0.1  # lambda in loss = MSE + lambda × InfoNCE
    embed_from: str = "body"  # the EEG side embeds the body's features ("body"), the head's predicted components
    # ("head"), or the rendered prediction against the true window, each z-scored: Pearson logits ("render")
    temperature: float = 0.1  # initial; learnt (CLIP's logit scale)
    stop_on: str = "r"  # validation score of early stopping: time-course r, or the same-song observer's rate
    lr: float = 3e-3
    weight_decay: float = 1e-2
    batch_size: int = 32
    max_epochs: int = 40
    patience: int = 5
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        bad_band = self.band_hz is not None and not (len(self.band_hz) == 2
                                                     and 0 < self.band_hz[0] < self.band_hz[1] < FRAMES_PER_S / 2)
        if min(self.components, self.width, self.kernel, self.embed_dim, self.batch_size, self.max_epochs,
               self.patience) < 1 or self.kernel % 2 == 0 or not self.dilations or self.lr <= 0 \
                or not 0 <= self.dropout < 1 or self.rank < 0 or bad_band or self.contrastive_weight < 0 \
                or self.temperature <= 0 or not 0 < self.window_s <= 5 or self.batch_size < 2 \
                or self.embed_from not in ("body", "head", "render") or self.stop_on not in ("r", "same_song"):
            raise ParameterError(f"bad contrastive-decoder settings: {self}")

    @property
    def window_frames(self) -> int:
        """Frames in one contrastive window."""
        return int(round(self.window_s * FRAMES_PER_S))

    def to_dict(self) -> dict:
        """Plain dict for manifests and checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ContrastiveConfig:
        """Inverse of `to_dict` (tuples come back from JSON/pickles as lists)."""
        band = d.get("band_hz")
        return cls(**{**d, "dilations": tuple(d["dilations"]), "band_hz": tuple(band) if band else None})


POOL = 4  # frames averaged before a window is flattened into an embedding (~90 ms)


class _WindowEmbedding(nn.Module):
    """(batch, channels, window frames) → unit vectors (batch, dim): pooled over time, flattened, projected."""

    def __init__(self, channels: int, window: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(channels * (window // POOL), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = functional.avg_pool1d(x, POOL).flatten(1)
        return functional.normalize(self.proj(z), dim=-1)


class ContrastiveDecoder(nn.Module):
    """EEG segments [shape=(batch, channels, frames)] of participants `pid` → mel frames (batch, frames, bins),
    plus window embeddings of the EEG and of mel frames for the contrastive objective."""

    def __init__(self, n_participants: int, n_channels: int, basis: torch.Tensor, mean: torch.Tensor,
                 scale: torch.Tensor, config: ContrastiveConfig) -> None:
        super().__init__()
        k, w = config.components, config.width
        self.spatial = nn.Parameter(torch.randn(n_participants, k, n_channels) / math.sqrt(n_channels))
        self.spatial_bias = nn.Parameter(torch.zeros(n_participants, k, 1))
        first = config.dilations[0]
        self.inp = nn.Conv1d(k, w, config.kernel, dilation=first, padding=(config.kernel - 1) // 2 * first)
        self.blocks = nn.Sequential(*[_Block(w, config.kernel, d, config.dropout) for d in config.dilations[1:]])
        self.register_buffer("basis", basis)  # (participants, rank, bins): principal axes of their training frames
        self.register_buffer("mean", mean)  # (participants, bins): each participant's mean training frame
        self.register_buffer("scale", scale)  # (participants, rank): std of each component's training scores
        rank = basis.shape[1]
        self.out = nn.Conv1d(w, rank, 1)
        nn.init.zeros_(self.out.bias)
        with torch.no_grad():
            self.out.weight.mul_(0.1)
        self.embed_from = config.embed_from
        emb = 8 if config.embed_from == "body" else rank  # channels per frame entering an embedding
        self.eeg_head = nn.Conv1d(w, emb, 1) if config.embed_from == "body" else nn.Identity()
        self.mel_head = nn.Conv1d(rank, emb, 1) if config.embed_from == "body" else nn.Identity()
        self.eeg_embed = _WindowEmbedding(emb, config.window_frames, config.embed_dim)
        self.mel_embed = _WindowEmbedding(emb, config.window_frames, config.embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / config.temperature)))

    def body(self, x: torch.Tensor, pid: torch.Tensor) -> torch.Tensor:
        """Shared features [shape=(batch, width, frames)] after the participant's spatial layer."""
        z = torch.einsum("bkc,bct->bkt", self.spatial[pid], x) + self.spatial_bias[pid]
        return self.blocks(torch.relu(self.inp(z)))

    def scores(self, h: torch.Tensor) -> torch.Tensor:
        """Standardised component scores (batch, frames, rank) from body features: what the regression fits."""
        return self.out(h).transpose(1, 2)

    def target_scores(self, y: torch.Tensor, pid: torch.Tensor) -> torch.Tensor:
        """Mel frames (batch, frames, bins) as standardised component scores (batch, frames, rank)."""
        return (y - self.mean[pid, None]) @ self.basis[pid].transpose(1, 2) / self.scale[pid, None]

    def regress(self, h: torch.Tensor, pid: torch.Tensor) -> torch.Tensor:
        """Mel frames (batch, frames, bins) from body features: the participant's mean plus the low-rank part."""
        return (self.scores(h) * self.scale[pid, None]) @ self.basis[pid] + self.mean[pid, None]

    def forward(self, x: torch.Tensor, pid: torch.Tensor) -> torch.Tensor:
        """Predicted mel frames (unclipped); positions where x is zero padding still get outputs."""
        return self.regress(self.body(x, pid), pid)

    def embed_eeg(self, h: torch.Tensor, pid: torch.Tensor) -> torch.Tensor:
        """Unit embeddings of body-feature windows [shape=(batch, width, window)] (or of the head's predicted
        components there, with ``embed_from="head"``, or of the rendered frames, with "render")."""
        if self.embed_from == "render":
            return _pearson_unit(self.regress(h, pid).clamp(0, 1))
        if self.embed_from == "head":
            h = self.scores(h).transpose(1, 2)
        return self.eeg_embed(self.eeg_head(h))

    def embed_mel(self, y: torch.Tensor, pid: torch.Tensor) -> torch.Tensor:
        """Unit embeddings of mel windows [shape=(batch, window, bins)], read as their component scores (or, with
        "render", as the observer reads them: floored 80 dB below their maximum, z-scored)."""
        if self.embed_from == "render":
            floor = y.flatten(1).max(1).values - RANGE_UNITS
            return _pearson_unit(torch.maximum(y, floor[:, None, None]))
        return self.mel_embed(self.mel_head(self.target_scores(y, pid).transpose(1, 2)))


RANGE_UNITS = 0.8  # the observer's level-relative range (80 dB) in training units (100 dB per unit)


def _pearson_unit(x: torch.Tensor) -> torch.Tensor:
    """Windows [shape=(batch, frames, bins)] flattened, centred and scaled to unit length: dot products are
    Pearson correlations, as the ideal observer and N-way identification compute them."""
    flat = x.flatten(1)
    return functional.normalize(flat - flat.mean(1, keepdim=True), dim=-1)


def info_nce(eeg: torch.Tensor, mel: torch.Tensor, scale: torch.Tensor | float,
             same_target: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) between matched rows of unit embeddings [shape=(batch, dim)]: ~log(batch) when
    unrelated, ~0 when each row is far closer to its own partner. `same_target` [shape=(batch, batch)] marks
    pairs whose targets are identical; off-diagonal ones are left out of the negatives."""
    logits = scale * eeg @ mel.T
    if same_target is not None:
        off = same_target & ~torch.eye(len(eeg), dtype=torch.bool, device=eeg.device)
        logits = logits.masked_fill(off, float("-inf"))
    labels = torch.arange(len(eeg), device=eeg.device)
    return (functional.cross_entropy(logits, labels) + functional.cross_entropy(logits.T, labels)) / 2
