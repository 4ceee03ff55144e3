"""Train the contrastive decoder on training segments, early-stopping on validation segments (seeded).

Each participant's channels are scaled on their training frames and band-passed within each segment (as the
trf's are). A batch is a set of whole segments: the regression loss covers every frame; the contrastive loss
one window per segment, at a whole-second offset drawn from the seeded generator. The model kept is the one
with the best validation **time-course r**: the Pearson r between predicted and true frames after each
segment's own mean spectrum is removed, so a decoder that knows only the song (or the participant) scores 0.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional
from tqdm.auto import tqdm

from reconstruct.chunk_decoders import SegmentData, band_passed, participant_scalers, standardised_segments
from reconstruct.errors import ReconstructError
from reconstruct.models.contrastive import RANGE_UNITS, ContrastiveConfig, ContrastiveDecoder, info_nce
from reconstruct.segment_training import EarlyStopping, masked_mse, pad_segments
from reconstruct.segments import FRAMES_PER_S
from reconstruct.train import pick_device

CHECKPOINT = "best_contrastive.pt"


def _inputs(data: SegmentData, scalers: dict, names: list[str], band_hz: tuple[float, float] | None) -> dict:
    """Scaled, band-passed segments of `data` as {"eeg", "frames", "pid"}."""
    std = standardised_segments(data, scalers, names, decoder="contrastive")
    std["eeg"] = [band_passed(x, band_hz) for x in std["eeg"]]
    return std


def target_basis(frames: list[np.ndarray], pid: list[int], n_participants: int, rank: int) -> tuple[torch.Tensor, ...]:
    """Per participant, from their training frames only (as the trf's rank cut): the mean frame (participants,
    bins), the top `rank` principal axes (participants, rank, bins; rank 0: the identity), signs aligned with the
    pooled axes so the shared body sees one meaning per component, and the std of the scores (participants, rank)."""
    pid = np.asarray(pid)
    own = [np.concatenate([f for f, q in zip(frames, pid) if q == p]) if (pid == p).any() else np.concatenate(frames)
           for p in range(n_participants)]
    mean = np.stack([y.mean(0) for y in own])
    bins = mean.shape[1]
    pooled = _axes(np.concatenate([y - m for y, m in zip(own, mean)]), rank, bins)
    basis = []
    for y, m in zip(own, mean):
        axes = _axes(y - m, rank, bins)
        basis.append(axes * np.where(np.sum(axes * pooled, axis=1, keepdims=True) < 0, -1.0, 1.0))
    scale = np.stack([((y - m) @ b.T).std(0) + 1e-6 for y, m, b in zip(own, mean, basis)])
    return tuple(torch.as_tensor(a, dtype=torch.float32) for a in (np.stack(basis), mean, scale))


def _axes(y: np.ndarray, rank: int, bins: int) -> np.ndarray:
    if rank == 0:
        return np.eye(bins)
    return np.linalg.svd(y.astype(np.float64), full_matrices=False)[2][:rank]


def time_course_r(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean over segments of the Pearson r of predicted and true frames, each centred on its segment's own
    mean spectrum (what is left is when, not which song)."""
    rs = []
    for p, t, m in zip(pred, y, mask):
        keep = m > 0
        a, b = p[keep] - p[keep].mean(0), t[keep] - t[keep].mean(0)
        den = float(a.norm() * b.norm())
        rs.append(float((a * b).sum()) / den if den > 0 else 0.0)
    return float(np.mean(rs))


def same_song_rate(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, pid: torch.Tensor) -> float:
    """The same-song observer on validation segments: over every pair of one participant's segments, how often
    a segment's true frames (floored 80 dB below their maximum) correlate better with its own prediction than
    with the other's. Segments are cut to the shortest."""
    n = int(mask.sum(1).min())
    truth = y[:, :n].flatten(1)
    truth = torch.maximum(truth, truth.max(1, keepdim=True).values - RANGE_UNITS)
    t = functional.normalize(truth - truth.mean(1, keepdim=True), dim=-1)
    p = pred[:, :n].clamp(0, 1).flatten(1)
    p = functional.normalize(p - p.mean(1, keepdim=True), dim=-1)
    r = t @ p.T  # r[i, j]: truth i against prediction j
    pairs = (pid[:, None] == pid[None, :]) & ~torch.eye(len(pid), dtype=torch.bool, device=pid.device)
    wins = (r.diagonal()[:, None] > r)[pairs]
    return float(wins.float().mean()) if len(wins) else 0.0


def _windows(mask: torch.Tensor, width: int, gen: torch.Generator) -> torch.Tensor:
    """A start frame per segment, on the whole-second grid, with the window inside the segment (-1: too short)."""
    lengths = mask.sum(1).long()
    starts = torch.full((len(mask),), -1, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        choices = (n - width) // FRAMES_PER_S + 1
        if choices > 0:
            starts[i] = int(torch.randint(choices, (1,), generator=gen)) * FRAMES_PER_S
    return starts


def _contrastive_loss(model: ContrastiveDecoder, h: torch.Tensor, y: torch.Tensor, pid: torch.Tensor,
                      starts: torch.Tensor, width: int) -> torch.Tensor:
    """InfoNCE between the body's and the mel's windows at `starts`; identical mel windows are no negatives."""
    rows = torch.nonzero(starts >= 0).flatten().to(h.device)
    if len(rows) < 2:
        return h.new_zeros(())
    idx = starts.to(h.device)[rows, None] + torch.arange(width, device=h.device)  # (n, width) frames
    hw = torch.gather(h[rows], 2, idx[:, None, :].expand(-1, h.shape[1], -1))
    yw = torch.gather(y[rows], 1, idx[:, :, None].expand(-1, -1, y.shape[2]))
    flat = yw.flatten(1)
    same = torch.cdist(flat, flat) < 1e-6
    scale = model.log_scale.exp().clamp(max=100)
    return info_nce(model.embed_eeg(hw, pid[rows]), model.embed_mel(yw, pid[rows]), scale, same)


def _predict(model: ContrastiveDecoder, x: torch.Tensor, pid: torch.Tensor, batch: int = 64) -> torch.Tensor:
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(x[s:s + batch], pid[s:s + batch]) for s in range(0, len(x), batch)])


def _epoch(model: ContrastiveDecoder, opt: torch.optim.Optimizer, tensors: tuple, config: ContrastiveConfig,
           gen: torch.Generator) -> tuple[float, float]:
    """One pass over the training segments; mean regression and contrastive losses."""
    x, m, y, pid = tensors
    model.train()
    order = torch.randperm(len(x), generator=gen).to(x.device)
    totals = np.zeros(2)
    for s in range(0, len(order), config.batch_size):
        idx = order[s:s + config.batch_size]
        h = model.body(x[idx], pid[idx])
        mse = masked_mse(model.scores(h), model.target_scores(y[idx], pid[idx]), m[idx])
        nce = _contrastive_loss(model, h, y[idx], pid[idx], _windows(m[idx].cpu(), config.window_frames, gen),
                                config.window_frames) if config.contrastive_weight > 0 else mse.new_zeros(())
        loss = mse + config.contrastive_weight * nce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        totals += np.array([mse.item(), nce.item()]) * len(idx)
    return tuple(totals / len(x))


def train_contrastive(train: dict, val: dict, *, n_participants: int, config: ContrastiveConfig, out_dir: Path,
                      extra: dict, progress: bool = True) -> dict:
    """Fit on ``train`` = {"eeg", "frames", "pid"} (scaled, band-passed segments); keep the best model by
    ``val``'s time-course r in `CHECKPOINT` with `extra` (scalers, participant names) beside it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    tensors = (*(a.to(device) for a in pad_segments(train["eeg"], train["frames"])),
               torch.as_tensor(train["pid"], device=device))
    xv, mv, yv = (a.to(device) for a in pad_segments(val["eeg"], val["frames"]))
    pv = torch.as_tensor(val["pid"], device=device)
    basis, mean, scale = target_basis(train["frames"], train["pid"], n_participants, config.rank)
    model = ContrastiveDecoder(n_participants, tensors[0].shape[1], basis, mean, scale, config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    stop, history = EarlyStopping(config.patience, higher_is_better=True), []
    bar = tqdm(total=config.max_epochs, desc="training contrastive", unit="epoch", disable=not progress)
    for epoch in range(1, config.max_epochs + 1):
        started = time.perf_counter()
        mse, nce = _epoch(model, opt, tensors, config, gen)
        pred = _predict(model, xv, pv)
        val_r, val_mse = time_course_r(pred, yv, mv), float(masked_mse(pred, yv, mv))
        val_same = same_song_rate(pred, yv, mv, pv)
        history.append({"epoch": epoch, "train_mse": float(mse), "train_info_nce": float(nce), "val_r": val_r,
                        "val_same_song": val_same, "val_mse": val_mse,
                        "seconds": round(time.perf_counter() - started, 2)})
        if stop.improved(val_r if config.stop_on == "r" else val_same, epoch):
            torch.save({"model_state": model.state_dict(), "config": config.to_dict(), "n_participants": n_participants,
                        "n_channels": tensors[0].shape[1], "basis_shape": list(basis.shape), **extra},
                       out_dir / CHECKPOINT)
        bar.update(1)
        bar.set_postfix(val_r=f"{val_r:.4f}", same=f"{val_same:.3f}", best=stop.best_epoch)
        if stop.should_stop(epoch):
            break
    bar.close()
    best = history[stop.best_epoch - 1]
    summary = {"decoder": "contrastive", "config": config.to_dict(), "device": str(device), "epochs": len(history),
               "best_epoch": stop.best_epoch, "best_val_r": best["val_r"],
               "best_val_same_song": best["val_same_song"], "val_loss": best["val_mse"], "history": history}
    (out_dir / "training_contrastive.json").write_text(json.dumps(summary, indent=2))
    return summary


def train_contrastive_decoder(train: SegmentData, val: SegmentData, config: ContrastiveConfig, model_dir: Path, *,
                              progress: bool = True) -> dict:
    """Per-participant channel scaling on training frames, the band-pass, then the seeded loop."""
    if not len(train) or not len(val):
        raise ReconstructError("the contrastive decoder needs training and validation segments")
    scalers = participant_scalers(train)
    names = sorted(scalers)
    summary = train_contrastive(_inputs(train, scalers, names, config.band_hz),
                                _inputs(val, scalers, names, config.band_hz), n_participants=len(names),
                                config=config, out_dir=model_dir, extra={"participants": names, "scalers": scalers},
                                progress=progress)
    return {k: v for k, v in summary.items() if k != "history"}


def load_contrastive(path: Path, device: str = "auto") -> tuple[ContrastiveDecoder, dict]:
    """The saved best model (eval mode) and its saved extras."""
    payload = torch.load(path, map_location=pick_device(device), weights_only=False)
    config = ContrastiveConfig.from_dict(payload["config"])
    n, rank, bins = payload["basis_shape"]
    model = ContrastiveDecoder(n, payload["n_channels"], torch.zeros(n, rank, bins), torch.zeros(n, bins),
                               torch.ones(n, rank), config)
    model.load_state_dict(payload["model_state"])
    return model.to(pick_device(device)).eval(), payload


def predict_contrastive_segments(data: SegmentData, model_dir: Path, device: str = "auto") -> list[np.ndarray]:
    """Each segment's predicted frames by the saved best model, clipped to [0, 1]."""
    model, payload = load_contrastive(model_dir / CHECKPOINT, device=device)
    config = ContrastiveConfig.from_dict(payload["config"])
    std = _inputs(data, payload["scalers"], payload["participants"], config.band_hz)
    device_ = next(model.parameters()).device
    out: list[np.ndarray] = []
    for s in range(0, len(std["eeg"]), 64):
        eeg = std["eeg"][s:s + 64]
        x, _ = pad_segments(eeg, None)
        pred = _predict(model, x.to(device_), torch.as_tensor(std["pid"][s:s + 64], device=device_))
        out += [p[:len(e)].clamp(0, 1).cpu().numpy() for p, e in zip(pred, eeg)]
    return out
