"""Training throughput of the paper's Table-1 CNN: examples/s, and the share of the machine's measured
conv/matmul FLOP rate it achieves (target ≥ 70%). Run: .venv/bin/python benchmarks/bench_training.py
[--device cuda] [--batch-size 64] [--nmedh-epoch] [--nmedt-epoch] [--ddp N]

--ddp N also times the same steps data-parallel in N processes (gloo on CPU, NCCL on GPUs; one GPU each),
through the code `tuneback reconstruct train` runs under torchrun, with the same global batch.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time

import torch
from torch import nn

from reconstruct.distributed import World, data_parallel, global_batch_loss, joined, local_device
from reconstruct.heap import keep_large_blocks
from reconstruct.models.cnn import EEG2MelCNN, preset


def forward_flops(model: nn.Module, in_shape: tuple[int, int]) -> int:
    """Multiply-adds ×2 of one forward pass, counted from the conv and linear layers' real output sizes."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels
            total += 2 * k * output[0].numel()
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *in_shape))
    for h in handles:
        h.remove()
    return total


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _median_time(op, device: torch.device, repeats: int) -> float:
    op()
    _sync(device)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        op()
        _sync(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_rate(device: torch.device, repeats: int = 5) -> dict[str, float]:
    """Measured float32 FLOP/s of a large matmul and of the model's biggest 4×4 convolution (32 → 64 channels
    on 63×125, batch 64, no padding copy): forward in NCHW and NHWC, and forward + both backward passes."""
    a = torch.randn(2048, 2048, device=device)
    conv_flops = 2 * 16 * 32 * 64 * 63 * 125 * 64
    rates = {"matmul": 2 * 2048**3 / _median_time(lambda: a @ a, device, repeats)}
    for fmt_name, fmt in (("NCHW", torch.contiguous_format), ("NHWC", torch.channels_last)):
        x = torch.randn(64, 32, 66, 128, device=device).to(memory_format=fmt)
        conv = nn.Conv2d(32, 64, 4).to(device, memory_format=fmt)
        rates[f"conv forward {fmt_name}"] = conv_flops / _median_time(lambda: conv(x), device, repeats)
    xg = x.clone().requires_grad_(True)

    def train_conv():
        out = conv(xg)
        out.backward(torch.ones_like(out))

    rates["conv forward+backward NHWC"] = 3 * conv_flops / _median_time(train_conv, device, repeats)
    return rates


def train_rate(device: torch.device, batch_size: int, steps: int) -> float:
    """Examples/s of Adam steps on the Table-1 CNN (PSD → mel)."""
    model = EEG2MelCNN((63, 125), (44, 128), preset("paper")).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0015)
    x = torch.randn(batch_size, 63, 125, device=device)
    y = torch.rand(batch_size, 44, 128, device=device)
    times = []
    for step in range(steps + 1):
        started = time.perf_counter()
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync(device)
        if step:
            times.append(time.perf_counter() - started)
    return batch_size / statistics.median(times)


NMEDT_TRAIN_EXAMPLES = 200 * 160  # 200 recordings × 160 training seconds each (the split keeps 32 of 48 chunks)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, size: int, port: int, device_name: str, batch_size: int, steps: int) -> None:
    """One rank of `ddp_rate`: Adam steps on its share of each global batch; rank 0 prints the rate."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    world = World(rank, size, rank)
    device = local_device(torch.device(device_name), world)
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // size))
        keep_large_blocks()
    with joined(world, device):
        torch.manual_seed(0)
        model = EEG2MelCNN((63, 125), (44, 128), preset("paper")).to(device)
        net, place = data_parallel(model, world, device)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.0015)
        x = torch.randn(batch_size, 63, 125, device=device)
        y = torch.rand(batch_size, 44, 128, device=device)
        batch = torch.arange(batch_size)
        times = []
        for step in range(steps + 1):
            started = time.perf_counter()
            loss, _ = global_batch_loss(net, place, x, y, batch, world)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            _sync(device)
            if step:
                times.append(time.perf_counter() - started)
        if world.main:
            rate = batch_size / statistics.median(times)
            print(f"data-parallel, {size} processes ({'NCCL' if device.type == 'cuda' else 'gloo'}, "
                  f"{torch.get_num_threads()} thread(s) each), global batch {batch_size}: {rate:.1f} examples/s, "
                  f"{batch_size / rate:.2f} s per step; one NMED-T-scale epoch ({NMEDT_TRAIN_EXAMPLES} examples): "
                  f"~{NMEDT_TRAIN_EXAMPLES / rate:.0f} s")


def ddp_rate(size: int, device_name: str, batch_size: int, steps: int) -> None:
    """Time data-parallel Adam steps of the Table-1 CNN in `size` spawned processes."""
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(size, _free_port(), device_name, batch_size, steps), nprocs=size)


def main() -> None:
    """Print examples/s, achieved FLOP/s and its share of the measured peak; optionally one NMED-H-scale epoch."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--nmedh-epoch", action="store_true",
                        help="Also time one epoch at NMED-H scale (48 participants × 180 s of training examples).")
    parser.add_argument("--nmedt-epoch", action="store_true",
                        help=f"Also estimate one NMED-T paper-scale epoch ({NMEDT_TRAIN_EXAMPLES} training examples).")
    parser.add_argument("--ddp", type=int, default=0, metavar="N",
                        help="Also time the steps data-parallel in N processes (one GPU each on CUDA).")
    parser.add_argument("--skip-peak", action="store_true", help="Skip the peak FLOP-rate measurements.")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cpu":
        keep_large_blocks()  # as train_cnn does; the peak measurements below get the same heap
    model = EEG2MelCNN((63, 125), (44, 128), preset("paper"))
    per_example = 3 * forward_flops(model, (63, 125))  # forward + backward ≈ 3 × forward
    rate = train_rate(device, args.batch_size, args.steps)
    achieved = rate * per_example
    print(f"device: {device}, threads: {torch.get_num_threads()}, batch {args.batch_size}")
    print(f"Table-1 CNN: {forward_flops(model, (63, 125)) / 1e9:.3f} GFLOP forward, ~{per_example / 1e9:.3f} GFLOP per "
          f"training example")
    print(f"training throughput: {rate:.1f} examples/s = {achieved / 1e9:.1f} GFLOP/s, "
          f"{args.batch_size / rate:.2f} s per step")
    if not args.skip_peak:
        peaks = peak_rate(device)
        for name, peak in peaks.items():
            print(f"measured {name:27s} {peak / 1e9:6.1f} GFLOP/s -> the model's training achieves "
                  f"{achieved / peak:.0%} of it")
        best = max(peaks.values())
        print(f"fraction of the best measured rate: {achieved / best:.0%} (target >= 70%)")
    if args.nmedh_epoch:
        n = 48 * 180
        print(f"one NMED-H-scale epoch ({n} examples): ~{n / rate:.0f} s at this rate")
    if args.nmedt_epoch:
        print(f"one NMED-T-scale epoch ({NMEDT_TRAIN_EXAMPLES} examples): ~{NMEDT_TRAIN_EXAMPLES / rate:.0f} s "
              f"at this rate (one process)")
    if args.ddp > 1:
        ddp_rate(args.ddp, args.device, args.batch_size, args.steps)


if __name__ == "__main__":
    main()
