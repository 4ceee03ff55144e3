"""Why the circular time shift is no null for steady music: retrain and score every row of the diagnosis.

    .venv/bin/python scripts/shift_diagnosis.py --run-dir runs/demo [--meter loose] [--out docs/evaluation]

Takes a finished run (e.g. `tuneback demo --no-serve`), trains the ridge decoder on it and on its
rearranged twins (`reconstruct.evaluation.shift_diagnosis`), and writes shift-diagnosis[-loose].json.
Every option of `tuneback reconstruct run` is accepted, so the configuration is the run's own. About
5 minutes on 2 cores after the run (sub-runs that `evaluate --controls` trained are reused).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconstruct.evaluation.shift_diagnosis import diagnose_shift  # noqa: E402
from reconstruct.options import build_config, run_options  # noqa: E402


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "docs" / "evaluation", show_default=True)
@run_options
def main(out: Path, quiet: bool, **options) -> None:
    """Print the diagnosis table and write it as JSON."""
    config = build_config(**options)
    result = diagnose_shift(config, progress=not quiet, log=click.echo)
    click.echo(f"{'row':48s} {'same-song':>22s} {'top-1':>8s} {'top-3':>8s} {'diff-song':>10s}")
    for name, r in result["rows"].items():
        ss = r["same_song"]
        click.echo(f"{name:48s} {ss['accuracy']:6.1%} [{ss['ci95'][0]:.1%}, {ss['ci95'][1]:.1%}] "
                   f"{r['top1']['accuracy']:8.1%} {r['top3']['accuracy']:8.1%} {r['different_song']['accuracy']:10.1%}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"shift-diagnosis{'-loose' if config.simulation.meter == 'loose' else ''}.json"
    path.write_text(json.dumps(result, indent=2))
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
