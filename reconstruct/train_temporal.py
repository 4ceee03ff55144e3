"""Train the temporal decoder on training segments, early-stopping on validation segments (seeded).

A small loop of its own (the CNN's loop in `reconstruct.train` works on fixed-size 1-s examples): segments
are padded to the longest (5 s) with a mask, so padding never counts in the loss; the best model by
validation loss is kept in ``best_temporal.pt`` with the participants' channel scalers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from reconstruct.models.temporal import TemporalConfig, TemporalDecoder
from reconstruct.segment_training import EarlyStopping, masked_mse, pad_segments
from reconstruct.train import pick_device


def train_temporal(train: dict, val: dict, *, n_participants: int, config: TemporalConfig, out_dir: Path,
                   extra: dict, progress: bool = True) -> dict:
    """Fit on ``train`` = {"eeg": [...], "frames": [...], "pid": [...]} (standardised segments); keep the best
    model on ``val``'s loss; `extra` (scalers, participant names) is saved beside it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    xt, mt, yt = (a.to(device) for a in pad_segments(train["eeg"], train["frames"]))
    pt = torch.as_tensor(train["pid"], device=device)
    xv, mv, yv = (a.to(device) for a in pad_segments(val["eeg"], val["frames"]))
    pv = torch.as_tensor(val["pid"], device=device)
    n_bins = yt.shape[-1]
    model = TemporalDecoder(n_participants, xt.shape[1], n_bins, config).to(device)
    with torch.no_grad():  # start at the mean training spectrogram, as the CNN does
        mean = (yt * mt[..., None]).sum((0, 1)) / mt.sum()
        model.out.bias.copy_(mean)
        model.out.weight.mul_(0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    stop, history = EarlyStopping(config.patience), []
    bar = tqdm(total=config.max_epochs, desc="training temporal", unit="epoch", disable=not progress)
    for epoch in range(1, config.max_epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(xt), generator=gen).to(device)
        total = 0.0
        for s in range(0, len(order), config.batch_size):
            idx = order[s:s + config.batch_size]
            loss = masked_mse(model(xt[idx], pt[idx]), yt[idx], mt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        val_loss = evaluate_loss(model, xv, mv, yv, pv)
        history.append({"epoch": epoch, "train_loss": total / len(xt), "val_loss": val_loss,
                        "seconds": round(time.perf_counter() - started, 2)})
        if stop.improved(val_loss, epoch):
            torch.save({"model_state": model.state_dict(), "config": config.to_dict(), "n_participants": n_participants,
                        "n_channels": xt.shape[1], "n_bins": n_bins, **extra}, out_dir / "best_temporal.pt")
        bar.update(1)
        bar.set_postfix(val=f"{val_loss:.4f}", best=stop.best_epoch)
        if stop.should_stop(epoch):
            break
    bar.close()
    summary = {"decoder": "temporal", "config": config.to_dict(), "device": str(device), "epochs": len(history),
               "best_epoch": stop.best_epoch, "best_val_loss": stop.best, "history": history}
    (out_dir / "training_temporal.json").write_text(json.dumps(summary, indent=2))
    return summary


def evaluate_loss(model: TemporalDecoder, x: torch.Tensor, mask: torch.Tensor, y: torch.Tensor,
                  pid: torch.Tensor, batch: int = 64) -> float:
    """Masked MSE over all segments, in eval mode."""
    model.eval()
    total, n = 0.0, 0.0
    with torch.inference_mode():
        for s in range(0, len(x), batch):
            m = mask[s:s + batch]
            total += float(masked_mse(model(x[s:s + batch], pid[s:s + batch]), y[s:s + batch], m)) * float(m.sum())
            n += float(m.sum())
    return total / max(n, 1.0)


def load_temporal(path: Path, device: str = "auto") -> tuple[TemporalDecoder, dict]:
    """The saved best model (eval mode) and its saved extras."""
    payload = torch.load(path, map_location=pick_device(device), weights_only=False)
    cfg = payload["config"]
    config = TemporalConfig(**{**cfg, "dilations": tuple(cfg["dilations"])})
    model = TemporalDecoder(payload["n_participants"], payload["n_channels"], payload["n_bins"], config)
    model.load_state_dict(payload["model_state"])
    return model.to(pick_device(device)).eval(), payload


def predict_temporal(model: TemporalDecoder, eeg: list[np.ndarray], pid: list[int], batch: int = 64) -> list[np.ndarray]:
    """Predicted frames of each (standardised) segment, clipped to [0, 1]."""
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for s in range(0, len(eeg), batch):
            x, _ = pad_segments(eeg[s:s + batch], None)
            pred = model(x.to(device), torch.as_tensor(pid[s:s + batch], device=device)).clamp(0, 1).cpu().numpy()
            out += [pred[i, :len(e)] for i, e in enumerate(eeg[s:s + batch])]
    return out
