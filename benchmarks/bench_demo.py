"""The README's first command, measured: time from an installed .venv to the built mixed study (target < 5 min on
2 cores) at the demo's default (literature SNR, the decoder chosen on validation chunks), its per-foil-kind
as-heard ideal observer beside the identity-only line (target: every-pair same-song 95% lower bound above 50%
and above the identity line), and the SNR-0 control (the paper CNN: its 95% intervals must hold 50%). Each run
starts from an empty run dir.
Run: .venv/bin/python benchmarks/bench_demo.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TUNEBACK = str(Path(sys.executable).with_name("tuneback"))


def timed(cmd: list[str]) -> float:
    """Run a command, fail loudly if it fails, return its wall time."""
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def observer(run_dir: Path) -> dict:
    """The observer figures a run wrote."""
    return json.loads((run_dir / "clips" / "observer.json").read_text())


def main() -> None:
    """Run the demo (no serving) and the SNR-0 control from scratch; print times and observer scores."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=Path, help="Keep the run dirs here instead of a temporary folder.")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="tuneback-bench-"))
    demo_dir, control_dir = root / "demo", root / "snr0"
    demo_s = timed([TUNEBACK, "demo", "--no-serve", "--quiet", "--run-dir", str(demo_dir),
                    "--db", f"sqlite:///{root / 'demo.sqlite'}"])
    stages = {p.stem.split(".")[0]: json.loads(p.read_text())["seconds"] for p in (demo_dir / "stages").glob("*.json")}
    control_s = timed([TUNEBACK, "reconstruct", "run", "--quiet", "--snr", "0", "--run-dir", str(control_dir)])
    print(f"demo (train, render 48 clips, build study): {demo_s:.0f} s  (target < 300 s)")
    print("  stages: " + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])))
    from reconstruct.evaluation.observer import format_kind_lines
    from reconstruct.evaluation.time_specific import format_evidence
    from tuneback.demo import lines_verdict
    kinds = observer(demo_dir)["foil_kinds"]
    print("demo default, per foil kind, every admissible pair as heard, beside identity alone:")
    print("\n".join(format_kind_lines(kinds)))
    print(lines_verdict(kinds))
    for name, run_dir in (("demo default", demo_dir), ("SNR 0 control", control_dir)):
        obs = observer(run_dir)
        for key in ("rendered_audio", "predicted_spectra"):
            o = obs[key]
            print(f"{name:14s} {key:18s} {o['correct']:2d}/{o['n']} = {o['accuracy']:.1%}  "
                  f"95% CI {o['ci95'][0]:.1%}-{o['ci95'][1]:.1%}  chance in CI: {o['chance_in_ci95']}")
        print(f"{name:14s} every test chunk (song identity, then time within the song):")
        print("\n".join(format_evidence(obs["all_test_chunks"])))
    print(f"SNR 0 control took {control_s:.0f} s; run dirs in {root}")


if __name__ == "__main__":
    main()
