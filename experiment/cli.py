"""`tuneback experiment …`: build a study from a manifest, migrate the database, serve the app.

Production serving is gunicorn on the same factory, after `tuneback experiment migrate`:

    DATABASE_URL=postgresql+psycopg://user@host/db SECRET_KEY=… \\
        gunicorn --workers 4 --bind 0.0.0.0:8000 'experiment:create_app()'
"""

from __future__ import annotations

import click

from experiment.config import default_database_url
from experiment.status import DEFAULT_FOIL_POLICY, FoilPolicy

DB_OPTION = click.option("--db", "db_url", default=None, metavar="URL",
                         help="Database URL (default: $DATABASE_URL, else SQLite in instance/).")


def _text_options(command):  # noqa: ANN001, ANN202 - a click decorator
    """The participant-text options shared by `create` and `configure` (experiment/texts.py)."""
    from experiment.texts import LANGUAGES

    options = [
        click.option("--language", type=click.Choice(sorted(LANGUAGES)), default=None,
                     help="Language of every participant page [create: en]."),
        click.option("--expected-minutes", type=click.IntRange(1, 600), default=None,
                     help="How long the study usually takes, as the landing and consent pages say [create: 20]."),
        click.option("--consent-text", default=None,
                     help="The researchers' description of the study, first on the consent page (blank lines "
                          "split paragraphs; '@FILE' reads it from a file)."),
        click.option("--researcher-contact", default=None, help="Who participants contact (consent, withdrawal "
                                                                 "and debrief pages)."),
        click.option("--ethics-reference", default=None, help="Ethics approval reference, on the consent page."),
        click.option("--data-retention", default=None, help="How long the data are kept, on the consent page."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


CREATE_ONLY_SETTINGS = ("completion_code", "screened_out_code")
"""Settings with options of their own on `create` (the rest: `_text_options`, or made by `_setting_options`)."""


def _generated_settings() -> list:
    """The study settings `_setting_options` makes an option for: all but the texts and the Prolific codes."""
    import dataclasses

    from experiment.settings import StudySettings
    from experiment.texts import TEXT_KEYS

    return [f for f in dataclasses.fields(StudySettings) if f.name not in (*TEXT_KEYS, *CREATE_ONLY_SETTINGS)]


def _setting_options(command):  # noqa: ANN001, ANN202 - a click decorator
    """One `create` option per study setting, made from StudySettings (its default, range, choices and help)."""
    for f in reversed(_generated_settings()):
        name, meta, kind = f.name.replace("_", "-"), f.metadata, str(f.type)
        if kind.startswith("bool"):
            option = click.option(f"--{name}/--no-{name}", f.name, default=f.default, show_default=True,
                                  help=meta["help"])
        elif meta["choices"]:
            option = click.option(f"--{name}", f.name, type=click.Choice(meta["choices"]), default=f.default,
                                  show_default=True, help=meta["help"])
        elif kind.startswith("int"):
            option = click.option(f"--{name}", f.name, type=click.IntRange(meta["lo"], meta["hi"]),
                                  default=f.default, show_default=True, help=meta["help"])
        else:
            option = click.option(f"--{name}", f.name, default=f.default, help=meta["help"])
        command = option(command)
    return command


def _texts(values: dict) -> dict:
    """The text options given on the command line (a value '@path' is read from that file)."""
    from pathlib import Path

    keys = ("language", "expected_minutes", "consent_text", "researcher_contact", "ethics_reference",
            "data_retention")
    out = {}
    for key in keys:
        value = values.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.startswith("@"):
            try:
                value = Path(value[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}", param_hint=f"--{key}")
        out[key] = value
    return out


def _database(db_url: str | None, *, must_exist: bool = True, need_schema: bool = False) -> str:
    """The database URL (--db, else $DATABASE_URL, else instance/), refused in one line when it cannot be used."""
    from experiment.db import check_database

    return check_database(db_url or default_database_url(), must_exist=must_exist, need_schema=need_schema)


def check_port(host: str, port: int) -> None:
    """Refuse a port something already listens on, before any link is printed (ExperimentError, one line)."""
    import socket

    from experiment.errors import ExperimentError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ExperimentError(f"cannot serve on host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            raise ExperimentError(f"port {port} on {host} is busy ({exc.strerror}): another server is running there; "
                                  f"stop it or pass --port") from None


@click.group("experiment")
def cli() -> None:
    """Run the AB-X listening study: create it from the clips' manifest, then serve it."""


@cli.command("create")
@click.option("--manifest", "manifest_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="manifest.json written by `tuneback reconstruct select`.")
@DB_OPTION
@click.option("--quota", default=8, show_default=True, type=click.IntRange(min=0),
              help="Participants per version (the paper: 8).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the design draw (recorded).")
@click.option("--foil-policy", type=click.Choice([p.value for p in FoilPolicy]),
              default=DEFAULT_FOIL_POLICY.value, show_default=True,
              help="mixed = every listener gets 12 different-song + 12 same-song trials (identity and time in "
                   "one study); different-song = the paper's (song identity); same-song = another time of the "
                   "same song (time only). See docs/experiment.md.")
@click.option("--name", default=None, help="A name for the study (default: from the manifest).")
@click.option("--completion-code", default=None, help="Prolific completion code (default: random).")
@click.option("--screened-out-code", default=None,
              help="Prolific code for participants screened out by the headphone check (default: random).")
@_setting_options
@_text_options
@click.option("--draft", is_flag=True, help="Create it closed to participants (open it later).")
def create(manifest_path: str, db_url: str | None, quota: int, seed: int, foil_policy: str, name: str | None,
           completion_code: str | None, screened_out_code: str | None, draft: bool, **options: object) -> None:
    """Import the clips and build both versions; print the new study's id."""
    from experiment.study import create_experiment

    url = _database(db_url, must_exist=False)
    experiment_id = create_experiment(url, manifest_path, quota=quota, seed=seed, foil_policy=foil_policy,
                                      open_=not draft, name=name, completion_code=completion_code,
                                      screened_out_code=screened_out_code,
                                      settings={**{f.name: options.pop(f.name) for f in _generated_settings()},
                                                **_texts(options)})
    click.echo(experiment_id)


@cli.command("configure")
@click.argument("experiment_id", type=click.IntRange(min=1))
@DB_OPTION
@_text_options
def configure_command(experiment_id: int, db_url: str | None, **texts: object) -> None:
    """Change a study's participant text and language (an empty value restores the page's default)."""
    from experiment.study import configure_study

    changed = configure_study(_database(db_url), experiment_id, _texts(texts))
    click.echo(", ".join(f"{k} changed" for k in changed) or "nothing changed")


@cli.command("migrate")
@DB_OPTION
def migrate(db_url: str | None) -> None:
    """Bring the database schema to the newest migration (run before starting gunicorn)."""
    from experiment.db import head_revision, upgrade

    upgrade(_database(db_url, must_exist=False))
    click.echo(f"database at revision {head_revision()}")


@cli.command("serve")
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve(db_url: str | None, host: str, port: int) -> None:
    """Serve the study with Flask's development server (use gunicorn in production, see `--help` of the group).

    The database must exist (`experiment migrate` or `experiment create` makes one): a mistyped --db is refused,
    never served as a new empty database.
    """
    from experiment import create_app
    from experiment.db import upgrade

    url = _database(db_url)
    check_port(host, port)
    upgrade(url)
    app = create_app({"DATABASE_URL": url})
    click.echo(f"participant link: http://{host}:{port}/   (or /study/<id>/ for one study)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@cli.command("simulate")
@click.option("--url", required=True, help="Base URL of the running app, e.g. http://127.0.0.1:5000.")
@click.option("--n", "n", default=10, show_default=True, type=click.IntRange(1, 10_000),
              help="Simulated listeners, all at once (each its own cookie jar, in its own thread).")
@click.option("--accuracy", default=0.85, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Share of scored answers that are right (with the study's database at hand, --db); without it, "
                   "the chance of answering what the listener's 'ear' heard.")
@click.option("--study", "experiment_id", default=None, type=click.IntRange(min=1),
              help="Study id (default: the newest open study).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of every listener's choices.")
@click.option("--pace", default=0.1, show_default=True, type=click.FloatRange(min=0.0),
              help="1 = a person's pace (a 5-s clip takes 5 s); 0.1 = ten times faster; 0 = no waiting.")
@click.option("--ramp", "ramp_s", default=0.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Spread the arrivals over this many seconds.")
@click.option("--reload-rate", "reload_p", default=0.03, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Chance per trial of reloading the task page mid-trial.")
@click.option("--replay-rate", "replay_p", default=0.3, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Chance per trial of replaying one of X, A, B.")
@click.option("--key", "key", default=None, metavar="KEY",
              help="The study's simulation key (admin panel, study page) [default: made from the server's secret "
                   "key: $SECRET_KEY, else instance/secret_key on this machine].")
@DB_OPTION
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False),
              help="Also write the summary and every listener's confirmed answer ids as JSON here.")
@click.option("--ear", type=click.Choice(["identity", "temporal"]), default=None,
              help="Listeners who answer by ear, not by the database's truth (--accuracy is then the chance of "
                   "following the ear): identity = compares time-averaged spectra (hears the song, never when: at "
                   "chance on same-song trials); temporal = compares the spectro-temporal pattern (hears when in the "
                   "song). Without it, --accuracy is the share of right answers where the database is at hand.")
@click.option("--ear-noise", default=0.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Noise (SD) the temporal ear adds to each similarity: higher = a worse listener.")
def simulate_command(url: str, n: int, accuracy: float, experiment_id: int | None, seed: int, pace: float,
                     ramp_s: float, reload_p: float, replay_p: float, key: str | None, db_url: str | None,
                     report_path: str | None, ear: str | None = None, ear_noise: float = 0.0) -> None:
    """Fill a running study with N simulated listeners through its real HTTP API (demos, load tests).

    Every request carries the study's simulation key: the server flags the sessions as simulated (exports and the
    analysis say so) and lets them past the per-address limits, so one machine fills a study. Before any listener
    starts, the server, the study and the key are checked: a refusal is one line, in seconds.
    """
    import json

    from tqdm import tqdm

    from experiment.errors import ExperimentError
    from loadbot import SimulationConfig, simulate
    from loadbot.probe import newest_open, probe

    experiment_id = experiment_id or newest_open(url)
    key = key or _local_simulation_key(experiment_id, url)
    study = probe(url, experiment_id, key)
    if n > int(study["places_free"]):
        raise ExperimentError(f"study {experiment_id} ({study['name']}) has {study['places_free']} free places, "
                              f"fewer than --n {n}: ask for fewer, or raise its quota in the admin panel")
    truth = None if ear else _truth(db_url, experiment_id, str(study["name"]))
    config = SimulationConfig(url=url, n=n, accuracy=accuracy, experiment_id=experiment_id, seed=seed, pace=pace,
                              ramp_s=ramp_s, reload_p=reload_p, replay_p=replay_p, simulation_key=key,
                              ear=ear or "identity", ear_noise=ear_noise)
    config.check()
    click.echo(f"study {experiment_id} ({study['name']}): {n} simulated listeners, "
               f"{study['practice']} practice + {study['trials']} trials each; accuracy {accuracy:.0%} "
               + ("of right answers" if truth else "of following the ear (no database: right answers unknown)"),
               err=True)
    per_listener = int(study["practice"]) + int(study["trials"])
    with tqdm(total=n * per_listener, unit="answer", desc="simulated answers") as bar:
        report = simulate(config, on_trial=lambda: bar.update(1), truth=truth)
    summary = report.summary()
    if report_path:
        with open(report_path, "w") as handle:
            json.dump(report.as_dict(), handle, indent=1)
    click.echo(json.dumps({k: v for k, v in summary.items() if k != "errors"}, indent=1))
    failed = [r for r in report.listeners if r.outcome == "failed" or r.errors]
    if failed:
        raise ExperimentError(f"{len(failed)} of {n} simulated listeners had errors; first: "
                              f"{(summary['errors'] or ['?'])[0]}")


def _local_simulation_key(experiment_id: int, url: str) -> str:
    """The study's key from this machine's server secret ($SECRET_KEY, else instance/secret_key), never creating it."""
    import os

    from experiment.config import default_instance_path
    from experiment.errors import ExperimentError
    from experiment.simulation import simulation_key

    secret = os.environ.get("SECRET_KEY")
    path = default_instance_path() / "secret_key"
    if not secret and path.is_file():
        secret = path.read_text().strip()
    if not secret:
        raise ExperimentError(f"no simulation key for study {experiment_id} at {url}: this machine has no server "
                              f"secret ($SECRET_KEY or {path}); pass --key from the admin panel's study page")
    return simulation_key(secret, experiment_id)


def _truth(db_url: str | None, experiment_id: int, name: str):  # noqa: ANN202 - loadbot.listener.Truth or None
    """The sessions' correct sides from the study's database, or None (with a note) when it is not at hand."""
    from experiment.errors import ExperimentError
    from experiment.simulation_truth import database_truth

    try:
        return database_truth(_database(db_url, need_schema=True), experiment_id, name)
    except ExperimentError as exc:
        if db_url:
            raise
        click.echo(f"note: {exc}; --accuracy then applies to the listeners' ears", err=True)
        return None


@cli.command("export")
@click.option("--study", "experiment_id", required=True, type=int, help="Study (experiment) id.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True,
              help="File format of the tables (the data dictionary is always CSV).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write into (created if missing; files of the same name are replaced).")
@click.option("--valid-only", is_flag=True, help="Leave withdrawn participants out (default: exported, flagged).")
@DB_OPTION
def export_command(experiment_id: int, fmt: str, out_dir: str, valid_only: bool, db_url: str | None) -> None:
    """Write a study's trials, events, questionnaire, data dictionary and export.json into a folder."""
    from experiment.auth import record_audit
    from experiment.config import utc_clock
    from experiment.db import make_engine, session_factory
    from experiment.export import write_export

    engine = make_engine(_database(db_url, need_schema=True))
    try:
        when = utc_clock()
        paths = write_export(engine, experiment_id, out_dir, fmt, now=when, valid_only=valid_only)
        with session_factory(engine)() as db:
            record_audit(db, None, "export", f"experiment:{experiment_id}",
                         {"table": "all", "format": fmt, "via": "cli", "out": str(out_dir), "valid_only": valid_only},
                         when)
            db.commit()
    finally:
        engine.dispose()
    for path in paths.values():
        click.echo(path)


@cli.command("trials")
@click.option("--study", "experiment_id", required=True, type=int, help="Study (experiment) id.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="JSON file to write (for `tuneback reconstruct evaluate --trials`).")
@DB_OPTION
def trials_command(experiment_id: int, out_path: str, db_url: str | None) -> None:
    """Write the study's scored AB-X trials of both versions (X, match, foil clip ids) as JSON."""
    from experiment.design_export import write_study_trials

    design = write_study_trials(_database(db_url, need_schema=True), experiment_id, out_path)
    n = sum(len(v["trials"]) for v in design["versions"])
    click.echo(f"{n} trials of {len(design['versions'])} versions -> {out_path}")


@cli.command("lines")
@click.option("--study", "experiment_id", required=True, type=int, help="Study (experiment) id.")
@click.option("--file", "path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Observer lines JSON (`tuneback reconstruct lines --out FILE`).")
@DB_OPTION
def lines_command(experiment_id: int, path: str, db_url: str | None) -> None:
    """Store the observer lines (per foil kind: ideal observer and identity alone) with the study."""
    from experiment.observer_lines import store_from_file

    lines = store_from_file(db_url or default_database_url(), experiment_id, path)
    click.echo(f"observer lines for {', '.join(lines['kinds'])} stored with study {experiment_id}")


@cli.group("admin")
def admin_cli() -> None:
    """Experimenter accounts of the admin panel (/admin)."""


@admin_cli.command("create-user")
@click.argument("username")
@DB_OPTION
@click.option("--reset", is_flag=True, help="Set a new password for an existing user (and lift any lock-out).")
def create_user_command(username: str, db_url: str | None, reset: bool) -> None:
    """Create an admin account; the password is asked twice and never echoed.

    For scripts, the password may come from $TUNEBACK_ADMIN_PASSWORD instead of the prompt.
    """
    import os

    from experiment.auth import create_user
    from experiment.config import utc_clock
    from experiment.db import make_engine, session_factory, upgrade

    password = os.environ.get("TUNEBACK_ADMIN_PASSWORD")
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    url = _database(db_url, must_exist=False)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            user = create_user(db, username, password, now=utc_clock(), reset=reset)
            db.commit()
            click.echo(f"admin user {user.username!r} {'updated' if reset else 'created'}; log in at /admin/login")
    finally:
        engine.dispose()


@admin_cli.command("deactivate-user")
@click.argument("username")
@DB_OPTION
def deactivate_user_command(username: str, db_url: str | None) -> None:
    """Deactivate an admin account: it cannot log in and its open sessions end (`create-user --reset` reactivates).

    The last active account is never deactivated.
    """
    import sqlalchemy as sa

    from experiment.accounts import deactivate
    from experiment.auth import normalise_username
    from experiment.config import utc_clock
    from experiment.db import make_engine, session_factory, upgrade
    from experiment.errors import ExperimentError
    from experiment.models import AdminUser

    url = _database(db_url, need_schema=True)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            name = normalise_username(username)
            user = db.scalar(sa.select(AdminUser).where(AdminUser.username == name))
            if user is None:
                raise ExperimentError(f"there is no admin user {name!r}")
            deactivate(db, user, by=None, now=utc_clock())
            db.commit()
            click.echo(f"admin user {name!r} deactivated; `admin create-user {name} --reset` reactivates it")
    finally:
        engine.dispose()
