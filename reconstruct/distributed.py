"""Data-parallel training under torchrun, arranged so that N processes train exactly as one process would.

Every rank draws the same seeded batch order and takes its contiguous share of each global batch. The
layers whose output depends on the whole batch are swapped for versions that see the global batch:
batch norm normalises with statistics all-reduced over every rank's share (torch's SyncBatchNorm runs
only on GPUs, so this one is written in plain tensor ops and runs on gloo/CPU and NCCL/GPU alike), and
dropout draws the global batch's mask and keeps its rows, so the generators stay in step with a
one-process run. Each rank scales its summed loss so that DDP's gradient average is the global batch's
mean-loss gradient. The swapped layers keep their state-dict keys: checkpoints load either way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from reconstruct.errors import ParameterError
from reconstruct.models.fused import ReLUDropoutPad, _ReLUDropoutPad, keep_mask


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process alone: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.size < 1 or not 0 <= self.rank < self.size or self.local_rank < 0:
            raise ParameterError(f"bad torchrun environment: rank {self.rank} of world size {self.size}, "
                                 f"local rank {self.local_rank}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> World:
        """Read torchrun's WORLD_SIZE, RANK and LOCAL_RANK; without them, one process."""
        try:
            return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))
        except ValueError:
            raise ParameterError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.size > 1

    @property
    def main(self) -> bool:
        """The rank that writes checkpoints, manifests and progress bars."""
        return self.rank == 0


def local_device(device: torch.device, world: World) -> torch.device:
    """This rank's device: its own GPU (LOCAL_RANK) when training on CUDA."""
    if device.type != "cuda" or not world.distributed:
        return device
    if world.local_rank >= torch.cuda.device_count():
        raise ParameterError(f"LOCAL_RANK {world.local_rank} but this machine has {torch.cuda.device_count()} "
                             f"GPU(s): start at most one process per GPU (torchrun --nproc_per_node)")
    return torch.device("cuda", world.local_rank)


@contextmanager
def joined(world: World, device: torch.device) -> Iterator[None]:
    """Join the process group (NCCL on GPUs, gloo on CPU) for the duration; nothing for one process."""
    if not world.distributed or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(local_device(device, world))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size)
    try:
        yield
    finally:
        dist.destroy_process_group()


def barrier(world: World) -> None:
    """Wait for every rank (a no-op for one process)."""
    if world.distributed:
        dist.barrier()


def agree(flag: bool, world: World, device: torch.device) -> bool:
    """Rank 0's decision, on every rank (so a stopping rule can never split the ranks)."""
    if not world.distributed:
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.broadcast(value, 0)
    return bool(value.item())


def all_sum(value: torch.Tensor, world: World) -> torch.Tensor:
    """The sum of `value` over every rank."""
    if world.distributed:
        dist.all_reduce(value)
    return value


class BatchPlace:
    """Where this rank's rows sit in the current global batch; the global-batch layers read it."""

    def __init__(self) -> None:
        self.start, self.total = 0, 0


def shard(batch: torch.Tensor, world: World, place: BatchPlace) -> torch.Tensor:
    """This rank's contiguous share of a global batch of indices (shares differ by one at most), noted in place."""
    sizes = [len(part) for part in torch.tensor_split(batch, world.size)]
    place.start, place.total = sum(sizes[:world.rank]), len(batch)
    return batch[place.start:place.start + sizes[world.rank]]


class _GlobalBatchNorm(torch.autograd.Function):
    """Batch norm over the union of every rank's rows: forward and backward all-reduce per-channel sums."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps: float, momentum: float):
        dims = [0, *range(2, x.dim())]
        view = (1, -1) + (1,) * (x.dim() - 2)
        sums = torch.cat([x.sum(dims, dtype=torch.float64), x.new_full((1,), x.numel() / x.shape[1],
                                                                       dtype=torch.float64)])
        dist.all_reduce(sums)
        n = sums[-1]  # a tensor: no device sync per layer
        mean = sums[:-1] / n
        centred = x - mean.to(x.dtype).view(view)
        var = (centred * centred).sum(dims, dtype=torch.float64)
        dist.all_reduce(var)
        var /= n
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean.to(running_mean.dtype))
            running_var.mul_(1 - momentum).add_(momentum * (var * n / (n - 1)).to(running_var.dtype))
        invstd = (var + eps).rsqrt().to(x.dtype)
        ctx.save_for_backward(centred, invstd, weight)
        ctx.n, ctx.view = n, view
        return centred * (invstd * weight).view(view) + bias.view(view)

    @staticmethod
    def backward(ctx, grad):
        centred, invstd, weight = ctx.saved_tensors
        dims = [0, *range(2, grad.dim())]
        xhat = centred * invstd.view(ctx.view)
        grad_bias = grad.sum(dims, dtype=torch.float64)
        grad_weight = (grad * xhat).sum(dims, dtype=torch.float64)
        sums = torch.cat([grad_bias, grad_weight])
        dist.all_reduce(sums)
        mean_dy, mean_dy_xhat = ((s / ctx.n).to(grad.dtype).view(ctx.view) for s in sums.chunk(2))
        grad_x = (weight * invstd).view(ctx.view) * (grad - mean_dy - xhat * mean_dy_xhat)
        return grad_x, grad_weight.to(weight.dtype), grad_bias.to(weight.dtype), None, None, None, None


class GlobalBatchNorm(_BatchNorm):
    """nn.BatchNorm1d/2d whose training statistics span every rank's rows (same state-dict keys).

    Built on torch's batch-norm base rather than nn.SyncBatchNorm, which DDP refuses on CPU modules."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {x.dim()}-D)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise with the global batch's statistics in training, with the running ones otherwise."""
        if self.training:
            self.num_batches_tracked.add_(1)
        if not (self.training and dist.is_initialized()):
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            self.training, self.momentum, self.eps)
        return _GlobalBatchNorm.apply(x, self.weight, self.bias, self.running_mean, self.running_var, self.eps,
                                      self.momentum)


class GlobalReLUDropoutPad(ReLUDropoutPad):
    """ReLUDropoutPad whose mask is this rank's rows of the global batch's mask."""

    def __init__(self, p: float, pad: tuple[int, int, int, int], place: BatchPlace) -> None:
        super().__init__(p, pad)
        self.place = place

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU, dropout with the global batch's mask, then the zero padding."""
        if not (self.training and self.p > 0):
            return super().forward(x)
        like = torch.empty_strided((self.place.total, *x.shape[1:]), x.stride(), dtype=torch.uint8, device=x.device)
        keep = keep_mask(like, self.p)[self.place.start:self.place.start + len(x)]
        return _ReLUDropoutPad.apply(x, keep, 1.0 / (1.0 - self.p), self.pad)


class GlobalDropout(nn.Dropout):
    """nn.Dropout whose mask is this rank's rows of the global batch's mask (as the CPU kernel draws it)."""

    def __init__(self, p: float, place: BatchPlace) -> None:
        super().__init__(p)
        self.place = place

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout with the global batch's mask in training; the identity otherwise."""
        if not (self.training and self.p > 0):
            return x
        noise = x.new_empty((self.place.total, *x.shape[1:])).bernoulli_(1 - self.p)
        return x * noise[self.place.start:self.place.start + len(x)].div_(1 - self.p)


def _global_layer(module: nn.Module, place: BatchPlace) -> nn.Module | None:
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        swapped = GlobalBatchNorm(module.num_features, module.eps, module.momentum).to(module.weight.device)
        swapped.load_state_dict(module.state_dict())
        return swapped
    if isinstance(module, ReLUDropoutPad):
        return GlobalReLUDropoutPad(module.p, module.pad, place)
    if isinstance(module, nn.Dropout):
        return GlobalDropout(module.p, place)
    return None


def data_parallel(model: nn.Module, world: World, device: torch.device) -> tuple[nn.Module, BatchPlace]:
    """Swap `model`'s batch-wide layers for global-batch ones (in place) and wrap it in DDP."""
    place = BatchPlace()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            swapped = _global_layer(child, place)
            if swapped is not None:
                setattr(parent, name, swapped)
    ids = [device.index] if device.type == "cuda" else None
    # no buffer broadcast each step: the running statistics come from all-reduced sums, identical on every rank
    return DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False), place


def global_batch_loss(net: nn.Module, place: BatchPlace, x: torch.Tensor, y: torch.Tensor, batch: torch.Tensor,
                      world: World) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's loss on its share of `batch`, and its summed squared error.

    DDP averages gradients over the ranks, so each rank's squared error is scaled to make that average the
    gradient of the global batch's mean-squared error, whatever the shares' sizes."""
    idx = shard(batch, world, place)
    sse = (net(x[idx]) - y[idx]).square().sum()
    return sse * (world.size / (len(batch) * y[0].numel())), sse


def train_epoch(net: nn.Module, place: BatchPlace, x: torch.Tensor, y: torch.Tensor, *, batch_size: int,
                optimizer: torch.optim.Optimizer, generator: torch.Generator, world: World) -> float:
    """One epoch over the one-process run's seeded batches, this rank taking its share of each."""
    net.train()
    order = torch.randperm(len(x), generator=generator)
    per_example = y[0].numel()
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, len(x), batch_size):
        batch = order[start:start + batch_size]
        if len(batch) < 2:
            continue
        loss, sse = global_batch_loss(net, place, x, y, batch, world)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += sse.detach()
    return all_sum(total, world).item() / per_example / len(x)


def validate(module: nn.Module, x: torch.Tensor, y: torch.Tensor, *, world: World, batch_size: int = 512) -> float:
    """Mean-squared error over all of x, each rank scoring its share (the bare module: no collectives per batch)."""
    module.eval()
    mine = torch.tensor_split(torch.arange(len(x)), world.size)[world.rank]
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    with torch.no_grad():
        for start in range(0, len(mine), batch_size):
            idx = mine[start:start + batch_size]
            total += (module(x[idx]) - y[idx]).square().sum()
    return all_sum(total, world).item() / y[0].numel() / len(x)
