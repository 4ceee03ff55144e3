"""Publish the SNR → song-ID accuracy curve of the NMED-T-shaped simulated set (docs/snr_curve.png + .json).

    .venv/bin/python scripts/snr_curve.py [--participants 4] [--snrs 0,0.1,0.2,0.4,0.8,1.6,3.2,6.4,12.8,25.6]
                                          [--minutes 1,all] [--decoder NAME] [--out docs]

The set is 10 songs (NMED-T's count) × --participants simulated listeners (NMED-T has 20; fewer keep the
run to about ten minutes on two CPU cores). Each point is the pipeline's method run in memory
(`reconstruct.evaluation.sweep`): the decoder's own input (PSD for cnn and ridge, raw EEG for the segment
decoders trf and temporal), mel targets, the leakage-safe split, any registered decoder, and the
song-ID CNN trained on true spectra and tested on the reconstructions of the test chunks. Accuracy is
per 1-s example (the paper's Table 2 unit) and per 5-s chunk, each with an exact 95% CI. The default
SNR (`reconstruct.config.DEFAULT_SNR`) is marked, and the JSON says where 80% (the paper's PSD→mel
80.80%) is reached. Finished points are kept in runs/snr_curve/ and reused when the script runs again.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconstruct.config import DEFAULT_SNR, LITERATURE_SNR
from reconstruct.cli_evaluate import parse_floats, parse_minutes
from reconstruct.decoders.registry import decoder_names
from reconstruct.evaluation.figures import sweep_plot
from reconstruct.evaluation.report import write_json
from reconstruct.evaluation.sweep import SweepConfig, run_sweep
from reconstruct.simulate import SimulatedDataConfig
from reconstruct.train import TrainConfig


def main(argv: list[str] | None = None) -> dict:
    """Run (or resume) the sweep and write the curve; returns the JSON written."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", type=int, default=4, help="simulated participants (NMED-T: 20)")
    ap.add_argument("--snrs", default="0,0.1,0.2,0.4,0.8,1.6,3.2,6.4,12.8,25.6")
    ap.add_argument("--minutes", default="1,all", help="training minutes per recording; 'all' = every chunk")
    ap.add_argument("--decoder", choices=decoder_names(), default="ridge", help="any registered decoder")
    ap.add_argument("--epochs", type=int, default=TrainConfig.max_epochs, help="CNN decoder epochs")
    ap.add_argument("--seed", type=int, default=0, help="simulation seed")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "snr_curve")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    sim = SimulatedDataConfig(shape="nmedt", n_participants=args.participants, seed=args.seed)
    config = SweepConfig(simulation=sim, snrs=parse_floats(args.snrs, name="--snrs"),
                         minutes=parse_minutes(args.minutes), decoder=args.decoder,
                         train=replace(TrainConfig(), max_epochs=args.epochs))
    started = time.perf_counter()
    sweep = run_sweep(config, out_dir=args.cache, progress=not args.quiet, log=print)
    sweep.update(default_snr=DEFAULT_SNR, literature_snr=LITERATURE_SNR,
                 wall_seconds_this_call=round(time.perf_counter() - started, 1),
                 point_seconds_total=round(sum(p["seconds"] for p in sweep["points"]), 1),
                 machine=f"{platform.machine()}, {platform.system()}; CPU only",
                 command="scripts/snr_curve.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                 note=(f"SIMULATED data: 10 songs × {args.participants} participants (NMED-T has 20), "
                       f"{args.decoder} decoder. Accuracy per 1-s example as in the paper's Table 2 and per "
                       "5-s chunk; exact 95% CIs; chance 10%."))
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(sweep, args.out / "snr_curve.json")
    (args.out / "snr_curve.png").write_bytes(sweep_plot(sweep, default_snr=DEFAULT_SNR,
                                                          literature_snr=LITERATURE_SNR))
    for p in sweep["points"]:
        print(f"snr {p['snr']:>5g}  {p['minutes_per_recording']:>5g} min/recording  "
              f"per second {p['per_example']['accuracy']:6.1%}  per chunk {p['per_chunk']['accuracy']:6.1%}")
    for key, unit in (("snr_for_80pct", "second"), ("snr_for_80pct_per_chunk", "5-s chunk")):
        cal = sweep[key]
        print(f"80% per {unit} near SNR {cal['snr']:g}" if cal else f"no point reached 80% per {unit}")
    print(f"wrote {args.out / 'snr_curve.json'} and {args.out / 'snr_curve.png'}")
    return sweep


if __name__ == "__main__":
    main()
