"""The trf decoder's fit on the demo set (simulated NMED-H shape, 240 s per recording): target < 30 s on the
project's 2-core machines. Run: .venv/bin/python benchmarks/bench_trf.py [--run-dir runs/bench_trf] [--repeats 1]

The data (load, raw features, split) are made once and reused; each repeat times the `train` stage alone
(per participant: one pass for the Gram statistics of the widest lag window, then the cross-validated lag
window × penalty grid by Cholesky solves, then the refit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconstruct.config import RunConfig  # noqa: E402
from reconstruct.run import run_all, run_stage  # noqa: E402


def main() -> None:
    """Time the trf fit and print the median with the machine's core count."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "bench_trf")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    config = RunConfig(run_dir=args.run_dir, decoder="trf", input_kind="raw")
    run_all(config, until="split", progress=False, log=lambda _: None)
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        summary = run_stage(config, "train", force=True, progress=False, log=lambda _: None)
        times.append(time.perf_counter() - started)
    chosen = [(v["tmax"], v["alpha"]) for v in summary["per_participant"].values()]
    print(json.dumps({"trf_fit_seconds_median": round(statistics.median(times), 1), "repeats": len(times),
                      "participants": len(chosen), "n_train_examples": summary["n_train"],
                      "chosen_tmax_alpha": sorted(set(chosen)), "cpus": os.cpu_count(),
                      "load_average": os.getloadavg(), "target_seconds": 30}, indent=2))


if __name__ == "__main__":
    main()
