"""`tuneback reconstruct evaluate`: stage 7, with the run's own options plus what to evaluate.

The command takes the pipeline's own options (`reconstruct.options.run_options`), so it evaluates exactly
the run those options describe; `reconstruct.cli` adds it beside the stage verbs.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconstruct import options as run_opts
from reconstruct.decoders.registry import decoder_names
from reconstruct.errors import ParameterError
from reconstruct.evaluation.classifier import ClassifierConfig
from reconstruct.evaluation.stats import p_text



def parse_floats(value: str, *, name: str) -> tuple[float, ...]:
    """'0,0.05,0.1' → (0.0, 0.05, 0.1)."""
    try:
        values = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise ParameterError(f"{name}={value!r} must be comma-separated numbers") from None
    if not values:
        raise ParameterError(f"{name}={value!r} is empty")
    return values


def parse_minutes(value: str) -> tuple[float | None, ...]:
    """'1,2,all' → (1.0, 2.0, None); 'all' = every training chunk."""
    out: list[float | None] = []
    for v in value.split(","):
        v = v.strip()
        if v == "all":
            out.append(None)
        elif v:
            out.append(parse_floats(v, name="--sweep-minutes")[0])
    if not out:
        raise ParameterError(f"--sweep-minutes={value!r} is empty")
    return tuple(out)


@click.command("evaluate")
@click.option("--table2", is_flag=True, help="Also train and score all four input/target pairs (PSD/raw × "
              "mel/linear), each in a sub-run dir, like the paper's Table 2.")
@click.option("--controls", is_flag=True, help="Also run the controls on the same split: noise only (SNR 0, "
              "simulated only), EEG chunks shuffled within their split role and the EEG time-misaligned by whole "
              "chunks, which must be at chance, and recordings shuffled across songs (a diagnostic).")
@click.option("--sweep", is_flag=True, help="Also sweep SNR × training minutes on the simulated set.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Score the ridge decoder beside the CNN (and in the controls).")
@click.option("--trials", "trials_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="AB-X design JSON (experiment's build_design as a dict) for the ideal observer; "
                   "default: the run's selection pairs.")
@click.option("--shuffle-seed", type=int, default=0, show_default=True, help="Seed of the shuffled controls.")
@click.option("--clf-epochs", type=int, default=ClassifierConfig.epochs, show_default=True,
              help="Epochs of the song-ID classifier.")
@click.option("--clf-seed", type=int, default=0, show_default=True)
@click.option("--sweep-snrs", default="0,0.1,0.2,0.4,0.8,1.6", show_default=True)
@click.option("--sweep-minutes", default="all", show_default=True,
              help="Training minutes per recording, comma-separated; 'all' = every training chunk.")
@click.option("--sweep-decoder", type=click.Choice(decoder_names()), default="ridge", show_default=True,
              help="Any registered decoder; it reads its own input (PSD for cnn and ridge, raw EEG for segment decoders).")
@click.option("--sweep-participants", type=int, default=None,
              help="Participants in the sweep's simulated set (default: the run's shape).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where evaluation.json/.html go (default: RUN_DIR/evaluation).")
@run_opts.run_options
def evaluate_command(table2: bool, controls: bool, sweep: bool, baseline: bool, trials_path: Path | None,
                     shuffle_seed: int, clf_epochs: int, clf_seed: int, sweep_snrs: str, sweep_minutes: str,
                     sweep_decoder: str, sweep_participants: int | None, out_dir: Path | None, quiet: bool,
                     **options) -> None:
    """Score the reconstructions: song ID vs chance, SSIM/PSNR, ideal observer; optionally Table 2,
    controls and a scale sweep. Writes evaluation.json and evaluation.html."""
    from reconstruct.evaluation.evaluate import EvaluationOptions, evaluate
    from reconstruct.evaluation.report import write_report
    from reconstruct.evaluation.runs import evaluation_dir

    config = run_opts.build_config(**options)
    if sweep_participants is not None and sweep_participants < 1:
        raise ParameterError(f"--sweep-participants={sweep_participants} must be >= 1")
    opts = EvaluationOptions(
        baseline=baseline, table2=table2, controls=controls, sweep=sweep, trials_path=trials_path,
        shuffle_seed=shuffle_seed, classifier=ClassifierConfig(epochs=clf_epochs, seed=clf_seed),
        sweep_snrs=parse_floats(sweep_snrs, name="--sweep-snrs"), sweep_minutes=parse_minutes(sweep_minutes),
        sweep_decoder=sweep_decoder, sweep_participants=sweep_participants)
    log = (lambda _: None) if quiet else click.echo
    result = evaluate(config, opts, progress=not quiet, log=log)
    json_path, html_path = write_report(result, out_dir or evaluation_dir(config))
    click.echo(summary_lines(result.json))
    click.echo(f"wrote {json_path} and {html_path}")


def _marginal(control: dict) -> str:
    """Flag a null control that is at chance family-wise but outside a 95 % interval on its own."""
    return " (outside a 95% interval alone)" if control["at_chance"] and not control.get("at_chance_uncorrected", True) else ""


def summary_lines(r: dict) -> str:
    """A few lines for the terminal."""
    def pct(a: dict) -> str:
        return f"{a['accuracy']:.1%} (95% CI {a['ci'][0]:.1%}–{a['ci'][1]:.1%}, p{p_text(a['p_greater'], equals=True)})"
    ds = r["dataset"]
    lines = [f"{'SIMULATED ' if ds['simulated'] else ''}{ds['name']}: {ds['n_songs']} songs, chance {r['chance']:.1%}"]
    if "envelope_r" in ds:
        lines.append(f"stimulus-envelope backward model on this EEG: r = {ds['envelope_r']['mean_r']:.3f} "
                     f"({ds['envelope_r']['n_recordings']} recordings; real EEG, speech: ≈ 0.15-0.19)")
    from reconstruct.evaluation.time_specific import format_evidence
    for key in ("main", "baseline"):
        if key in r:
            x = r[key]
            lines.append(f"{x['label']}: song ID {pct(x['song_id']['per_example'])} per second, "
                         f"{pct(x['song_id']['per_chunk'])} per chunk; SSIM {x['ssim']['mean']:.3f}, "
                         f"PSNR {x['psnr_db']['mean']:.2f} dB; test targets seen in training: "
                         f"{x['split']['overlap']['test_targets_in_training']}")
            lines += format_evidence(x["time_specific"])
    for x in r.get("table2", []):
        lines.append(f"table 2 {x['label']}: {pct(x['song_id']['per_example'])} (paper {x['paper_accuracy']:.2%})")
    obs = r.get("observer", {})
    if "distance" in obs:
        lines.append(f"ideal observer ({obs['n_trials']} trials): distance {obs['distance']['accuracy']:.1%}, "
                     f"SSIM {obs['ssim']['accuracy']:.1%}")
    if "controls" in r:
        for name in ("noise_only", "shuffled_chunks", "time_scrambled", "time_shifted", "shuffled_songs"):
            for decoder, x in r["controls"].get(name, {}).items():
                if isinstance(x, dict):
                    ts = x["time_specific"]["decoder"]
                    lines.append(f"control {name} ({decoder}): song ID {pct(x['song_id']['per_example'])}; "
                                 f"same-song {ts['same_song']['accuracy']:.1%}, top-1 span "
                                 f"{ts['span_id']['top1']['accuracy']:.1%} (chance {ts['span_id']['top1']['chance']:.1%}): "
                                 f"{'at chance' if x['at_chance'] else 'NOT at chance'}"
                                 f"{_marginal(x)}"
                                 f"{' (diagnostic)' if x.get('diagnostic') else ''}")
        fam = r["controls"].get("family")
        lines.append("null controls at chance: " + str(r["controls"]["all_at_chance"]) + (
            f" (each of {fam['n_checks']} checks on its {fam['level']:.2%} interval, Bonferroni)" if fam else ""))
    if "sweep" in r:
        cal = r["sweep"]["snr_for_80pct"]
        lines.append("sweep: " + ", ".join(f"snr {p['snr']:g}: {p['per_example']['accuracy']:.0%}"
                                           for p in r["sweep"]["points"] if p["all_training_chunks"])
                     + (f"; 80% near SNR {cal['snr']:.2g}" if cal else ""))
    return "\n".join(lines)
