"""Cost of stage 7's parts on synthetic spectrograms, to size an evaluation before running it.

    .venv/bin/python benchmarks/bench_evaluation.py [--n 2880] [--bins 128] [--songs 4] [--epochs 15]

Times (median of --repeats): SSIM + PSNR of every test example with scikit-image, the vectorised
per-bin SSIM + PSNR, the same per-bin SSIM through scikit-image's own channel loop (for the speed-up),
and one training of the song-ID classifier on n_songs × 240 true seconds. --n 2880 is the NMED-H-shaped
test set (48 recordings × 60 test seconds); NMED-T's is 12 000. Writes benchmarks/results/bench_evaluation.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity

from reconstruct.evaluation.classifier import ClassifierConfig, train_classifier
from reconstruct.evaluation.metrics import bin_metrics, example_metrics


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2880, help="test examples")
    ap.add_argument("--bins", type=int, default=128, help="128 mel or 1025 linear")
    ap.add_argument("--songs", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=ClassifierConfig.epochs)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    target = rng.random((args.n, 44, args.bins), dtype=np.float32)
    recon = np.clip(target + 0.2 * rng.standard_normal(target.shape, dtype=np.float32), 0, 1)
    sub = slice(0, min(args.n, 200))
    results = {
        "n": args.n, "bins": args.bins, "songs": args.songs, "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "example_metrics_s": timed(lambda: example_metrics(target, recon), args.repeats),
        "bin_metrics_s": timed(lambda: bin_metrics(target, recon), args.repeats),
        "bin_ssim_skimage_loop_s_per_200": timed(lambda: [
            structural_similarity(t, r, data_range=1.0, channel_axis=1)
            for t, r in zip(target[sub].astype(np.float64), recon[sub].astype(np.float64))], 1),
    }
    x = rng.random((args.songs * 240, 44, args.bins), dtype=np.float32)
    labels = np.repeat(np.arange(args.songs), 240)
    songs = [f"s{i}" for i in range(args.songs)]
    results["classifier_train_s"] = timed(
        lambda: train_classifier(x, labels, songs, config=ClassifierConfig(epochs=args.epochs)), 1)
    results["classifier_epochs"] = args.epochs
    out = Path(__file__).parent / "results" / "bench_evaluation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    for k, v in results.items():
        print(f"{k:34s} {v:.3f}" if isinstance(v, float) else f"{k:34s} {v}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
