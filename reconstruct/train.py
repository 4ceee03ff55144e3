"""Train a decoder with early stopping on validation loss, a checkpoint every epoch, and resume."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from reconstruct import distributed as ddp
from reconstruct.distributed import World
from reconstruct.errors import ParameterError
from reconstruct.heap import keep_large_blocks
from reconstruct.models.cnn import MODEL_LAYOUT, EEG2MelCNN, preset


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (paper: Adam, lr 0.0015, MSE, 100–300 epochs to plateau)."""

    architecture: str = "small"
    lr: float = 0.0015
    batch_size: int = 64
    max_epochs: int = 40
    patience: int = 6
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    mean_output_bias: bool = True

    def __post_init__(self) -> None:
        preset(self.architecture)
        if self.lr <= 0 or self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ParameterError(f"bad training settings: {self}")

    def to_dict(self) -> dict:
        """Plain dict for manifests and checkpoints."""
        return asdict(self)


class InputScaler:
    """Per-feature standardisation fitted on training inputs (log power for PSD inputs)."""

    def __init__(self, log: bool) -> None:
        self.log = log
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def _pre(self, x: np.ndarray) -> np.ndarray:
        return np.log10(x + 1e-12) if self.log else x

    def fit(self, x: np.ndarray) -> InputScaler:
        """Learn mean and std per feature from x [shape=(n, H, W)]."""
        xp = self._pre(x)
        self.mean, self.std = xp.mean(0), xp.std(0) + 1e-6
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardise x like the training inputs."""
        return ((self._pre(x) - self.mean) / self.std).astype(np.float32)

    def state(self) -> dict:
        """Serialisable state."""
        return {"log": self.log, "mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, state: dict) -> InputScaler:
        """Rebuild from `state()`."""
        scaler = cls(state["log"])
        scaler.mean, scaler.std = state["mean"], state["std"]
        return scaler


def pick_device(name: str = "auto") -> torch.device:
    """CUDA when present (and asked for by 'auto'), else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int,
           optimizer: torch.optim.Optimizer | None, generator: torch.Generator | None) -> float:
    training = optimizer is not None
    model.train(training)
    order = torch.randperm(len(x), generator=generator) if training else torch.arange(len(x))
    total = 0.0
    with torch.set_grad_enabled(training):
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            if training and len(idx) < 2:
                continue
            xb, yb = x[idx], y[idx]
            loss = nn.functional.mse_loss(model(xb), yb)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total += loss.item() * len(idx)
    return total / len(x)


def _model_settings(config: dict) -> dict:
    """Settings a checkpoint must share to be resumed (the stopping rule may change)."""
    return {k: v for k, v in config.items() if k not in ("max_epochs", "patience", "device", "threads")}


def checkpoint_compatible(out_dir: Path, config: TrainConfig) -> bool:
    """Whether `out_dir` holds no checkpoint, or one that `config` can resume."""
    path = Path(out_dir) / "checkpoint.pt"
    if not path.exists():
        return True
    saved = torch.load(path, map_location="cpu", weights_only=False)
    return saved.get("layout") == MODEL_LAYOUT and _model_settings(saved["config"]) == _model_settings(config.to_dict())


def _checkpoint(model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator, state: dict,
                config: TrainConfig, device: torch.device) -> dict:
    """Everything a resumed run needs to continue exactly: weights, optimiser, generators, history."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(), "state": state, "config": config.to_dict(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "layout": MODEL_LAYOUT}


def train_cnn(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *,
              config: TrainConfig, out_dir: Path, log_inputs: bool, progress: bool = True,
              world: World | None = None) -> dict:
    """Fit the CNN; write `checkpoint.pt` every epoch and `best.pt`; resume from `checkpoint.pt` if present.

    With a `world` of several ranks (torchrun, process group joined), train data-parallel on the same global
    batches; only rank 0 writes files.
    """
    world = world or World()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = ddp.local_device(pick_device(config.device), world)
    if device.type == "cpu":
        keep_large_blocks()
    torch.manual_seed(config.seed)
    scaler = InputScaler(log_inputs).fit(x_train)
    xt, xv = (torch.from_numpy(scaler.transform(a)).to(device) for a in (x_train, x_val))
    yt, yv = torch.from_numpy(y_train).to(device), torch.from_numpy(y_val).to(device)
    model = EEG2MelCNN(x_train.shape[1:], y_train.shape[1:], preset(config.architecture))
    if config.mean_output_bias:
        # Start near the mean training spectrogram instead of He-initialised noise (outputs of std ~2 on a
        # [0, 1] target): the first epochs then learn the EEG's contribution, not the average level.
        with torch.no_grad():
            model.head[-1].bias.copy_(torch.from_numpy(y_train.mean(0).reshape(-1)))
            model.head[-1].weight.mul_(0.1)
    model = model.to(device)
    net, place = ddp.data_parallel(model, world, device) if world.distributed else (model, None)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    state = {"epoch": 0, "history": [], "best_val": float("inf"), "best_epoch": 0}
    ckpt_path = out_dir / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ckpt.get("layout") != MODEL_LAYOUT or _model_settings(ckpt["config"]) != _model_settings(config.to_dict()):
            raise ParameterError(f"{ckpt_path} was made with other settings; use a new run dir or --force")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        if device.type == "cuda" and ckpt.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ckpt["cuda_rng"].cpu(), device)
        state = ckpt["state"]
    bar = tqdm(total=config.max_epochs, initial=state["epoch"], desc="training", unit="epoch",
               disable=not (progress and world.main))
    while ddp.agree(state["epoch"] < config.max_epochs and state["epoch"] - state["best_epoch"] < config.patience,
                    world, device):
        started = time.perf_counter()
        if world.distributed:
            train_loss = ddp.train_epoch(net, place, xt, yt, batch_size=config.batch_size, optimizer=optimizer,
                                         generator=generator, world=world)
            val_loss = ddp.validate(model, xv, yv, world=world)
        else:
            train_loss = _epoch(model, xt, yt, batch_size=config.batch_size, optimizer=optimizer, generator=generator)
            val_loss = _epoch(model, xv, yv, batch_size=512, optimizer=None, generator=None)
        state["epoch"] += 1
        state["history"].append({"epoch": state["epoch"], "train_loss": train_loss, "val_loss": val_loss,
                                 "seconds": time.perf_counter() - started})
        payload = {"model_state": model.state_dict(), "scaler": scaler.state(), "config": config.to_dict(),
                   "layout": MODEL_LAYOUT,
                   "in_shape": list(x_train.shape[1:]), "out_shape": list(y_train.shape[1:])}
        if val_loss < state["best_val"]:
            state["best_val"], state["best_epoch"] = val_loss, state["epoch"]
            if world.main:
                torch.save(payload, out_dir / "best.pt")
        if world.main:
            torch.save(_checkpoint(model, optimizer, generator, state, config, device), ckpt_path)
        bar.update(1)
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}", best=state["best_epoch"])
    bar.close()
    summary = {"config": config.to_dict(), "device": str(device), "epochs": state["epoch"],
               "best_epoch": state["best_epoch"], "best_val_loss": state["best_val"], "history": state["history"]}
    if world.distributed:
        summary["world_size"] = world.size
    if world.main:
        (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    ddp.barrier(world)  # every rank returns once the files are there
    return summary


def load_cnn(path: Path, device: str = "auto") -> tuple[EEG2MelCNN, InputScaler]:
    """Load `best.pt` written by `train_cnn`."""
    payload = torch.load(path, map_location=pick_device(device), weights_only=False)
    if payload.get("layout") != MODEL_LAYOUT:
        raise ParameterError(f"{path} holds a model saved by an older version of tuneback; train it again")
    config = TrainConfig(**payload["config"])
    model = EEG2MelCNN(tuple(payload["in_shape"]), tuple(payload["out_shape"]), preset(config.architecture))
    model.load_state_dict(payload["model_state"])
    return model.to(pick_device(device)).eval(), InputScaler.from_state(payload["scaler"])


def predict_cnn(model: EEG2MelCNN, scaler: InputScaler, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Predict targets for raw inputs x, clipped to the training range [0, 1]."""
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(scaler.transform(x[start:start + batch_size])).to(device)
            out.append(model(xb).clamp(0, 1).cpu().numpy())
    return np.concatenate(out)
