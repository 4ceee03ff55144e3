"""The trf decoder's fit on the demo set (simulated NMED-H shape, 240 s per recording): target < 30 s on the
project's 2-core machines.
Run: .venv/bin/python benchmarks/bench_trf.py [--run-dir runs/bench_trf] [--repeats 1] [--no-nested]

The data (load, raw features, split) are made once and reused; each repeat times the `train` stage alone
(per participant: one pass for the lag-major Gram statistics of the widest lag window per fold; then, per
training set of the selection CV and of the nested CV's inner CVs, one Cholesky factor per penalty shared by
both lag windows, every rank scored on each held fold by a triangular product; then the refit and the Haufe
pattern). It prints the median, the load average (the machine is shared: a timing under load is not a clean
one), the chosen grid points' histogram and the mean selection-CV and nested-CV r over participants.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconstruct.config import RunConfig  # noqa: E402
from reconstruct.models.trf import TRFConfig  # noqa: E402
from reconstruct.run import run_all, run_stage  # noqa: E402


def main() -> None:
    """Time the trf fit and print the median with the machine's core count."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "bench_trf")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-nested", action="store_true", help="time the fit without the nested-CV estimate")
    args = ap.parse_args()
    config = RunConfig(run_dir=args.run_dir, decoder="trf", input_kind="raw", trf=TRFConfig(nested=not args.no_nested))
    run_all(config, until="split", progress=False, log=lambda _: None)
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        summary = run_stage(config, "train", force=True, progress=False, log=lambda _: None)
        times.append(time.perf_counter() - started)
    chosen = Counter(f'{v["tmax"]}/{v["alpha"]}/{v["rank"]}' for v in summary["per_participant"].values())
    print(json.dumps({"trf_fit_seconds_median": round(statistics.median(times), 1), "repeats": len(times),
                      "seconds": [round(t, 1) for t in times], "participants": sum(chosen.values()),
                      "n_train_examples": summary["n_train"], "chosen_tmax_alpha_rank": dict(chosen.most_common()),
                      "cv_r_mean": summary.get("cv_r_mean"), "nested_r_mean": summary.get("nested_r_mean"),
                      "cpus": os.cpu_count(), "load_average": os.getloadavg(), "target_seconds": 30}, indent=2))


if __name__ == "__main__":
    main()
