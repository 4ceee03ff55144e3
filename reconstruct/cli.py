"""`tuneback reconstruct …`: one verb per pipeline stage, plus `run` for all of them and `evaluate`."""

from __future__ import annotations

import json

import click

from reconstruct.cli_evaluate import evaluate_command
from reconstruct.distributed import World
from reconstruct.errors import ReconstructError
from reconstruct.options import build_config, run_options
from reconstruct.stages import STAGES

__all__ = ["build_config", "cli", "run_options"]


@click.group("reconstruct")
def cli() -> None:
    """Turn EEG + songs into the study's 48 five-second clips and manifest.json."""


def _stage_command(stage: str) -> click.Command:
    @click.command(stage, help=f"Run the '{stage}' stage (earlier stages must be done).")
    @click.option("--force", is_flag=True, help="Redo even if up to date.")
    @run_options
    def command(force: bool, quiet: bool, **options) -> None:
        from reconstruct.run import run_stage
        world = World.from_env()  # torchrun's ranks: `train` then runs data-parallel
        summary = run_stage(build_config(**options), stage, force=force, progress=not quiet, world=world)
        if world.main:
            click.echo(json.dumps(summary, indent=2, default=str))
    return command


for _stage in STAGES:
    cli.add_command(_stage_command(_stage))


@cli.command("run")
@click.option("--force-from", type=click.Choice(STAGES), help="Redo this stage and all after it.")
@click.option("--until", type=click.Choice(STAGES), default="observe", show_default=True)
@run_options
def run_command(force_from: str | None, until: str, quiet: bool, **options) -> None:
    """Run every stage (resuming from what is already done) and print a summary."""
    from reconstruct.decoder_choice import resolve_decoder
    from reconstruct.run import run_all
    from reconstruct.summary import format_summary
    if World.from_env().distributed:
        raise ReconstructError("`tuneback reconstruct run` runs in one process; under torchrun run only "
                               "`tuneback reconstruct train` (the other stages first, in one process)")
    config, choice = resolve_decoder(build_config(**options), progress=not quiet)
    results = run_all(config, until=until, force_from=force_from, progress=not quiet)
    click.echo(format_summary(config, results, choice=choice))

cli.add_command(evaluate_command)


@cli.command("lines")
@click.option("--trials", "trials_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The study's trials (`tuneback experiment trials --out FILE`): add the study-trial lines.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="JSON file for `tuneback experiment lines --file`.")
@run_options
def lines_command(trials_path: str | None, out_path: str, quiet: bool, **options) -> None:
    """Per foil kind, as heard: the ideal observer over every admissible pair of the run's clips (and on a
    study's trials) beside identity alone; printed, and written for storing with the study."""
    from pathlib import Path

    from reconstruct.evaluation.observer import format_kind_lines, run_kind_lines

    lines = run_kind_lines(build_config(**options), trials_path=Path(trials_path) if trials_path else None)
    Path(out_path).write_text(json.dumps(lines, indent=1, default=float))
    click.echo("\n".join(format_kind_lines(lines)))
    click.echo(f"-> {out_path}")


@cli.command("brains")
@click.option("--ns", default="1,2,4,12", show_default=True, help="Numbers of participants to average.")
@click.option("--draws", type=int, default=12, show_default=True, help="Most subsets of N drawn per song.")
@click.option("--seed", type=int, default=None, help="Subset and foil seed (default: the run's select seed).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where brains.{json,md,png} go (default: RUN_DIR/evaluation).")
@run_options
def brains_command(ns: str, draws: int, seed: int | None, out_dir: str | None, quiet: bool, **options) -> None:
    """How many brains it takes: each test span reconstructed from the average of N participants' decoded
    spectra (test chunks only), every measure as a curve over N, beside chance and the song-mean baseline."""
    from pathlib import Path

    from reconstruct.cli_evaluate import parse_floats
    from reconstruct.evaluation.brains import run_brains_curve
    from reconstruct.evaluation.brains_report import brains_markdown, write_brains
    from reconstruct.evaluation.runs import evaluation_dir

    config = build_config(**options)
    curve = run_brains_curve(config, ns=parse_floats(ns, name="--ns"), draws=draws, seed=seed)
    paths = write_brains(curve, Path(out_dir) if out_dir else evaluation_dir(config))
    click.echo(brains_markdown(curve))
    click.echo("wrote " + ", ".join(str(p) for p in paths))
