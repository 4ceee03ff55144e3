"""`tuneback demo`: the README's first command — reconstruct the simulated clips, build the study, serve it."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import click

from reconstruct.cli import build_config, run_options


def find_or_create_study(url: str, manifest_path: Path) -> int:
    """The demo study for this exact manifest: reuse it if it exists, else create it (open, quota 8)."""
    import sqlalchemy as sa

    from experiment.db import make_engine, upgrade
    from experiment.models import Experiment
    from experiment.study import create_experiment

    name = f"tuneback demo (SIMULATED data) {hashlib.sha256(manifest_path.read_bytes()).hexdigest()[:10]}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.select(Experiment.id).where(Experiment.name == name)).scalar()
    finally:
        engine.dispose()
    return found if found is not None else create_experiment(url, manifest_path, name=name, settings=DEMO_TEXTS)


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

    from reconstruct.clips import clip_log_mel
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


@click.command("demo")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the study when the clips are ready.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--db", "db_url", default=None, help="Database URL (default: $DATABASE_URL, else SQLite in instance/).")
@run_options
def cli(serve: bool, host: str, port: int, db_url: str | None, quiet: bool, **options) -> None:
    """Run everything on the embedded SIMULATED data set: train, render 48 clips, build and serve the study."""
    from experiment.config import default_database_url
    from experiment.design_export import triples, write_study_trials
    from reconstruct.evaluation.observer import STUDY_TRIALS
    from reconstruct.run import run_all
    from reconstruct.summary import format_summary

    from reconstruct.choose import reference_cnn, resolve_decoder
    config, choice = resolve_decoder(build_config(**options), progress=not quiet)
    results = run_all(config, progress=not quiet)
    reference = reference_cnn(config, progress=not quiet) if choice and config.decoder != "cnn" else None
    click.echo("\n" + format_summary(config, results, choice=choice, reference=reference))
    manifest = Path(results["render"]["manifest"])
    url = db_url or default_database_url()
    study = find_or_create_study(url, manifest)
    password = ensure_admin(url)
    design = write_study_trials(url, study, config.run_dir / STUDY_TRIALS)
    o = observe_study(manifest, triples(design))
    click.echo(f"\nstudy {study} built from {manifest} in {url}; its trials: {config.run_dir / STUDY_TRIALS}")
    click.echo(f"ideal observer on the study's own {o['n']} trials (both versions): {o['correct']}/{o['n']} = "
               f"{o['accuracy']:.1%} (95% CI {o['ci95'][0]:.1%}-{o['ci95'][1]:.1%})")
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
