"""Every decoder side by side across an SNR sweep of the simulated NMED-H-shaped set (table + plot).

    .venv/bin/python scripts/decoder_comparison.py [--snrs literature,1e-4,1e-3,default]
        [--decoders cnn,ridge,trf,temporal,contrastive] [--participants 12] [--out docs] [--cache runs/comparison]
        [--brains literature|none|SNR]

Each SNR is one simulated set and one honest split shared by all decoders; each decoder is an ordinary
run dir made by the pipeline's stages (reused when the script runs again), scored on every test chunk by
`reconstruct.evaluation.comparison`. Writes <out>/decoder_comparison.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconstruct.config import SNR_LEVELS, RunConfig
from reconstruct.decoders.registry import decoder_names
from reconstruct.errors import ParameterError
from reconstruct.evaluation.comparison import (comparison_markdown, compare_decoders, merge_comparison,
                                               write_comparison)
from reconstruct.simulate import SimulatedDataConfig


def parse_snrs(value: str) -> tuple[float, ...]:
    """'literature,1e-4,default' → the numbers (names from reconstruct.config.SNR_LEVELS)."""
    out = []
    for v in (s.strip() for s in value.split(",") if s.strip()):
        try:
            out.append(SNR_LEVELS[v] if v in SNR_LEVELS else float(v))
        except ValueError:
            raise ParameterError(f"--snrs: {v!r} is neither a number nor one of {sorted(SNR_LEVELS)}") from None
    return tuple(out)


def main(argv: list[str] | None = None) -> dict:
    """Run (or resume) the comparison and write its table and plot; returns the JSON written."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snrs", default="literature,1e-4,1e-3,default")
    ap.add_argument("--decoders", default=",".join(decoder_names()))
    ap.add_argument("--participants", type=int, default=None, help="simulated participants (default: the shape's)")
    ap.add_argument("--seed", type=int, default=0, help="simulation seed")
    ap.add_argument("--envelope-recordings", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "comparison")
    ap.add_argument("--brains", default="literature",
                    help="the SNR (name or number) at which every decoder's curve over N participants averaged is "
                         "measured ('none': no curve)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of decoders not re-run here from <out>/decoder_comparison.json (marked †)")
    args = ap.parse_args(argv)
    decoders = tuple(d.strip() for d in args.decoders.split(",") if d.strip())
    unknown = sorted(set(decoders) - set(decoder_names()))
    if unknown:
        raise SystemExit(f"--decoders: unknown {unknown}; choose from {list(decoder_names())}")
    base = RunConfig(run_dir=args.cache, simulation=SimulatedDataConfig(shape="nmedh", seed=args.seed,
                                                                     n_participants=args.participants))
    brains_snr = None if args.brains == "none" else parse_snrs(args.brains)[0]
    started = time.perf_counter()
    levels: list[dict] = []
    for snr in parse_snrs(args.snrs):  # one level at a time, written as it finishes (runs resume from their dirs)
        result = compare_decoders(base, decoders=decoders, snrs=(snr,), out_dir=args.cache,
                                  envelope_recordings=args.envelope_recordings, brains_snr=brains_snr)
        levels += result["levels"]
        result.update(levels=levels, wall_seconds_this_call=round(time.perf_counter() - started, 1),
                      machine=f"{platform.machine()}, {platform.system()}; CPU only, {os.cpu_count()} cores",
                      command="scripts/decoder_comparison.py " + " ".join(argv if argv is not None else sys.argv[1:]))
        written = result
        if args.merge and (args.out / "decoder_comparison.json").exists():
            written = merge_comparison(result, json.loads((args.out / "decoder_comparison.json").read_text()))
        for path in write_comparison(written, args.out):
            print(f"wrote {path}")
    print(comparison_markdown(written))
    return written


if __name__ == "__main__":
    main()
