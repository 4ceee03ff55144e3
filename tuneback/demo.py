"""`tuneback demo`: the README's first command — reconstruct the simulated clips, build the study, serve it.

By default (issue 25) at the level of real EEG (`--snr literature`, stimulus-envelope r ≈ 0.15) with the decoder
chosen on validation chunks (`--decoder auto`; never test chunks), the paper CNN's figures printed beside it,
and a **mixed** study (different-song and same-song trials for every listener), whose as-heard ideal observer
per foil kind is printed beside the identity-only line and stored with the study. `--old-default` gives the
previous default: SNR 0.4, the paper CNN, a different-song study.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import click

from reconstruct.cli import build_config, run_options


NEW_DEFAULTS = {"snr": "literature", "decoder": "auto"}
OLD_DEFAULTS = {"snr": "default", "decoder": "cnn"}
"""What `--old-default` puts back where the user gave no value: the demo before issue 25."""
DEMO_CANDIDATES = ("cnn", "trf")
"""The decoders `--decoder auto` chooses between in the demo (validation chunks only): the paper CNN (also the
reference printed beside the choice) and the field's TRF. Ridge and the temporal CNN are left out to keep the
demo under five minutes; `tuneback reconstruct run --decoder auto` tries every registered decoder (on this
simulation they score 53.6 % and 52.1 % same-song on validation, against TRF's 75.0 %)."""


def find_or_create_study(url: str, manifest_path: Path, *, foil_policy: str = "mixed") -> int:
    """The demo study for this exact manifest and foil policy: reuse it if it exists, else create it (open, quota 8)."""
    import sqlalchemy as sa

    from experiment.db import make_engine, upgrade
    from experiment.models import Experiment
    from experiment.study import create_experiment

    name = f"tuneback demo (SIMULATED data) {hashlib.sha256(manifest_path.read_bytes()).hexdigest()[:10]}"
    if foil_policy != "mixed":
        name += f" {foil_policy}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.select(Experiment.id).where(Experiment.name == name)).scalar()
    finally:
        engine.dispose()
    return found if found is not None else create_experiment(url, manifest_path, name=name, foil_policy=foil_policy,
                                                             settings=DEMO_TEXTS)


DEMO_TEXTS = {
    "researcher_contact": "the person running this tuneback demo on their computer (a demonstration on simulated EEG; "
                          "a real study names its researchers here)",
    "ethics_reference": "none: a demonstration on simulated data, not a study of people",
    "data_retention": "the demo's answers stay in the local database (instance/) until you delete it",
}
"""The demo study's consent texts (issue 29): its consent page says participants can contact the researchers."""


def observe_study(manifest_path: Path, trials: list[tuple[str, str, str]]) -> dict:
    """Ideal observer on the exact trials listeners will get (rendered audio, as heard)."""
    import json

    from reconstruct.features import clip_log_mel
    from reconstruct.evaluation.observer import ideal_observer

    files = {c["id"]: manifest_path.parent / c["file"] for c in json.loads(manifest_path.read_text())["clips"]}
    mel = {key: clip_log_mel(files[key]) for key in {k for trial in trials for k in trial}}
    return ideal_observer(*([mel[t[i]] for t in trials] for i in range(3)), distance="correlation")


def ensure_admin(url: str, username: str = "admin") -> str:
    """Create the demo's admin account, or give it a fresh random password; return the password."""
    import sqlalchemy as sa

    from experiment.auth import create_user
    from experiment.config import utc_clock
    from experiment.db import make_engine, session_factory
    from experiment.models import AdminUser

    password = secrets.token_urlsafe(12)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            exists = db.scalar(sa.select(AdminUser.id).where(AdminUser.username == username)) is not None
            create_user(db, username, password, now=utc_clock(), reset=exists)
            db.commit()
    finally:
        engine.dispose()
    return password


def study_lines(config, manifest: Path, design: dict) -> dict:  # noqa: ANN001 - RunConfig, imported lazily
    """Per foil kind, as heard: the ideal observer on the study's trials and over every admissible pair of its
    clips, beside identity alone (the rendered song-mean clips the observe stage wrote)."""
    from experiment.design_export import triples
    from reconstruct.evaluation.observer import run_kind_lines
    import json
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(design, handle)
    try:
        lines = run_kind_lines(config, trials_path=Path(handle.name))
    finally:
        Path(handle.name).unlink(missing_ok=True)
    return {**lines, "source": f"the study's {len(triples(design))} scored trials and every admissible pair of "
                              f"the clips of {manifest}"}


def lines_verdict(lines: dict) -> str:
    """One line: does the every-pair same-song figure's 95% lower bound clear 50% and the identity-only line?"""
    same = lines.get("kinds", {}).get("same-song", {})
    pair, identity = same.get("every_pair"), same.get("identity_every_pair")
    if not pair or not identity:
        return "no same-song pairs among these clips: the study cannot show decoding in time"
    low = pair["ci95"][0]
    above = low > 0.5 and low > identity["accuracy"]
    return (f"every-pair same-song 95% lower bound {low:.1%} is {'above' if above else 'NOT above'} both 50% and the "
            f"identity-only line ({identity['accuracy']:.1%}): "
            + ("these clips carry time that listeners could hear" if above else
               "as heard, these clips carry no time a listener could use; the study measures song identity"))


@click.command("demo", context_settings={"default_map": NEW_DEFAULTS})
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the study when the clips are ready.")
@click.option("--old-default", is_flag=True,
              help="The demo before issue 25: SNR 0.4 (far above real EEG), the paper CNN, a different-song study "
                   "(an explicit --snr, --decoder or --foil-policy still wins).")
@click.option("--foil-policy", type=click.Choice(["mixed", "different-song", "same-song"]), default=None,
              help="The study's foil policy [default: mixed; different-song with --old-default].")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--db", "db_url", default=None, help="Database URL (default: $DATABASE_URL, else SQLite in instance/).")
@run_options
def cli(serve: bool, old_default: bool, foil_policy: str | None, host: str, port: int, db_url: str | None, quiet: bool,
        **options) -> None:
    """Run everything on the embedded SIMULATED data set at the level of real EEG: choose the decoder on
    validation chunks, train, render 48 clips, build the mixed study, print per foil kind what the ideal
    observer hears beside identity alone, and serve the study."""
    from experiment.config import default_database_url
    from experiment.design_export import triples, write_study_trials
    from reconstruct.rundir import RunDir
    from reconstruct.run import run_all
    from reconstruct.summary import format_summary

    from reconstruct.decoder_choice import reference_cnn, resolve_decoder
    from reconstruct.evaluation.observer import format_kind_lines
    from reconstruct.options import SnrLevel

    ctx = click.get_current_context()
    if old_default:
        for name, value in OLD_DEFAULTS.items():
            if ctx.get_parameter_source(name) in (click.core.ParameterSource.DEFAULT,
                                                  click.core.ParameterSource.DEFAULT_MAP):
                options[name] = SnrLevel().convert(value, None, ctx) if name == "snr" else value
    foil_policy = foil_policy or ("different-song" if old_default else "mixed")
    config, choice = resolve_decoder(build_config(**options), candidates=DEMO_CANDIDATES, progress=not quiet)
    results = run_all(config, progress=not quiet)
    reference = reference_cnn(config, progress=not quiet) if choice and config.decoder != "cnn" else None
    click.echo("\n" + format_summary(config, results, choice=choice, reference=reference))
    manifest = Path(results["render"]["manifest"])
    url = db_url or default_database_url()
    study = find_or_create_study(url, manifest, foil_policy=foil_policy)
    password = ensure_admin(url)
    trials_file = RunDir.of(config).study_trials_file
    design = write_study_trials(url, study, trials_file)
    o = observe_study(manifest, triples(design))
    click.echo(f"\nstudy {study} ({foil_policy} foils) built from {manifest} in {url}; its trials: "
               f"{trials_file}")
    click.echo(f"ideal observer on the study's own {o['n']} trials (both versions): {o['correct']}/{o['n']} = "
               f"{o['accuracy']:.1%} (95% CI {o['ci95'][0]:.1%}-{o['ci95'][1]:.1%})")
    from experiment.observer_lines import store_observer_lines

    lines = study_lines(config, manifest, design)
    store_observer_lines(url, study, lines)
    click.echo(f"per foil kind, as heard (SIMULATED data, SNR {config.simulation.snr:g}, decoder {config.decoder}), "
               "beside identity alone (each reconstruction replaced by its song's rendered mean spectrogram); "
               "stored with the study:")
    click.echo("\n".join(format_kind_lines(lines)))
    click.echo(lines_verdict(lines))
    if not serve:
        return
    from experiment import create_app
    from experiment.cli import check_port

    check_port(host, port)  # a busy port fails here, before any link is printed
    base = f"http://{host}:{port}"
    click.echo(f"participant link: {base}/study/{study}/")
    click.echo(f"admin panel:      {base}/admin/   user: admin   password: {password}")
    click.echo("(Ctrl-C stops the server; production serving: see README, gunicorn)")
    create_app({"DATABASE_URL": url}).run(host=host, port=port, threaded=True, use_reloader=False)
