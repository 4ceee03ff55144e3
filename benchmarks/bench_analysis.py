"""Benchmark the whole analysis on 1 000 simulated listeners × 24 trials (target: under 10 s).

Times what an analyst waits for after `tuneback analysis analyze --export FILE`: reading the CSV export
and every statistic (mixed model included), the power simulation, the plots and both output files.
Run: `.venv/bin/python benchmarks/bench_analysis.py [--runs 3] [--listeners 1000]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from analysis.load import load_export
from analysis.report import analyze
from analysis.synthetic import synthetic_table

TARGET_S = 10.0
RESULTS = Path(__file__).parent / "results" / "bench_analysis.json"


def run_once(export: Path, out_dir: Path, seed: int) -> dict:
    """Load the export and analyse it; return wall times and the analysis' own stage timings."""
    start = time.perf_counter()
    table = load_export(export)
    loaded = time.perf_counter()
    results = analyze(table, out_dir=out_dir, seed=seed)
    done = time.perf_counter()
    return {"total_s": done - start, "load_s": loaded - start, "analyze_s": done - loaded,
            "stages_s": results["timings_s"], "summary": results["summary"]}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the medians against the target, save them; exit 1 when over target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export.csv"
        synthetic_table(args.listeners, accuracy=0.8, sd_item=0.5, timeout_rate=0.01, seed=args.seed).to_csv(
            export, index=False)
        runs = [run_once(export, Path(tmp) / f"out{i}", args.seed) for i in range(args.runs)]
    report = _report(runs, args)
    print(json.dumps({k: v for k, v in report.items() if k != "summary"}, indent=2))
    print(report["summary"])
    verdict = "PASS" if report["median_total_s"] < TARGET_S else "FAIL"
    print(f"{verdict}: median {report['median_total_s']:.2f} s over {args.runs} runs "
          f"({args.listeners} listeners × 24 trials), target < {TARGET_S:.0f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if verdict == "PASS" else 1


def _report(runs: list[dict], args: argparse.Namespace) -> dict:
    """Medians across runs, the stage timings of the median run, and the setup."""
    order = sorted(runs, key=lambda r: r["total_s"])
    middle = order[len(order) // 2]
    return {
        "listeners": args.listeners, "trials_per_listener": 24, "runs": args.runs, "seed": args.seed,
        "target_s": TARGET_S, "median_total_s": round(statistics.median(r["total_s"] for r in runs), 3),
        "median_load_s": round(statistics.median(r["load_s"] for r in runs), 3),
        "median_analyze_s": round(statistics.median(r["analyze_s"] for r in runs), 3),
        "all_totals_s": [round(r["total_s"], 3) for r in runs],
        "stages_of_median_run_s": middle["stages_s"], "summary": middle["summary"],
    }


if __name__ == "__main__":
    sys.exit(main())
