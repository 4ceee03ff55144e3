"""`tuneback analysis …`: the analyst's commands. Heavy imports happen inside commands so `--help` is fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.errors import AnalysisError

if TYPE_CHECKING:
    import pandas as pd


@click.group(name="analysis")
def cli() -> None:
    """Statistics of the listening study: accuracy against chance, models, power, report."""


@cli.command("analyze")
@click.option("--export", "export", type=click.Path(dir_okay=False, path_type=Path),
              help="Trial-level export (CSV, CSV.GZ or Parquet) to analyse.")
@click.option("--db", "db_url", metavar="URL", help="Database URL to read the study from (with --study).")
@click.option("--study", type=int, help="Study (experiment) id: required with --db, selects one study in an export.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/analysis"),
              show_default=True, help="Folder for results.json and report.html.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random draw (recorded).")
@click.option("--exclude-failed-headphone/--keep-failed-headphone", default=True, show_default=True,
              help="Exclude listeners who failed the headphone check from the primary analysis.")
@click.option("--exclude-failed-catch/--keep-failed-catch", default=True, show_default=True,
              help="Exclude listeners who miss more catch trials than --max-catch-misses.")
@click.option("--max-catch-misses", type=click.IntRange(min=0), default=0, show_default=True,
              help="Catch trials a listener may miss (wrong or timed out) and still be analysed.")
@click.option("--exclude-too-fast/--keep-too-fast", default=True, show_default=True,
              help="Drop answers faster than the floor from the primary analysis.")
@click.option("--too-fast-ms", type=click.FloatRange(min=0, max=600_000, max_open=True), default=None,
              help="The too-fast floor in ms [default: the study's too_fast_ms, i.e. the export's too_fast column].")
@click.option("--listener-accuracy", type=float, default=0.75, show_default=True,
              help="True accuracy for the per-listener power calculation.")
@click.option("--group-accuracy", type=float, default=0.6, show_default=True,
              help="Population accuracy for 'listeners needed'.")
@click.option("--power-reps", type=int, default=1000, show_default=True, help="Simulated studies per size.")
@click.option("--power-test", type=click.Choice(["t", "mixed"]), default="t", show_default=True,
              help="Test applied to each simulated study (mixed is slow).")
def analyze_command(export: Path | None, db_url: str | None, study: int | None, out_dir: Path, seed: int,
                    exclude_failed_headphone: bool, exclude_failed_catch: bool, max_catch_misses: int,
                    exclude_too_fast: bool, too_fast_ms: float | None, listener_accuracy: float,
                    group_accuracy: float, power_reps: int, power_test: str) -> None:
    """Analyse a study from an export file or the database; write results.json and report.html."""
    from analysis.report import analyze

    from analysis.foil_kinds import study_lines

    table = _load(export, db_url, study)
    lines = study_lines(db_url, study) if db_url is not None and study is not None else None
    results = analyze(table, out_dir=out_dir, seed=seed, exclude_failed_headphone=exclude_failed_headphone,
                      lines=lines,
                      listener_accuracy=listener_accuracy, group_accuracy=group_accuracy,
                      power_reps=power_reps, power_test=power_test,
                      checks={"exclude_failed_catch": exclude_failed_catch, "max_catch_misses": max_catch_misses,
                              "exclude_too_fast": exclude_too_fast, "too_fast_ms": too_fast_ms})
    click.echo(results["paragraph"])
    if results.get("claim"):
        click.echo()
        click.echo(results["claim"])
    click.echo()
    click.echo(results["summary"])
    click.echo(f"wrote {results['files']['results']} and {results['files']['report']}")


def _load(export: Path | None, db_url: str | None, study: int | None) -> "pd.DataFrame":
    """Read the table from exactly one source, with a clear message when the options don't say which."""
    from analysis.load import load_export, load_from_db

    if (export is None) == (db_url is None):
        raise AnalysisError("give exactly one input: --export PATH or --db URL --study ID")
    if export is not None:
        return load_export(export, experiment_id=study)
    if study is None:
        raise AnalysisError("--db needs --study ID (the experiment to analyse)")
    return load_from_db(db_url, study)
