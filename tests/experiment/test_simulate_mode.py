"""`tuneback experiment simulate` in simulation mode against a real HTTP server with a study's DEFAULT settings.

Issue 29: from one machine (one address), the per-address cap of 3 places and the assignment rate limit used to
stop the 4th listener; a stopped server or a wrong study cost minutes of silent retries; `--accuracy` was not the
listeners' accuracy. Here the server is a threaded werkzeug server in this process, on a free port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from experiment_factory import make_manifest
from werkzeug.serving import make_server

from experiment import create_app
from experiment.cli import cli
from experiment.db import make_engine
from experiment.models import ParticipantSession, Presentation
from experiment.simulation import simulation_key
from experiment.study import create_experiment
from experiment.webdb import engine_of

SECRET = "simulate-mode-test-secret"


@pytest.fixture(scope="module")
def short_clips(tmp_path_factory) -> Path:
    return make_manifest(tmp_path_factory.mktemp("short-clips"), duration_s=0.25)


@pytest.fixture
def server(sqlite_url: str, short_clips: Path, tmp_path: Path, monkeypatch) -> Iterator[tuple[str, str, int]]:
    """A study with the default settings (quota 5 per version, default limits) served over HTTP."""
    experiment_id = create_experiment(sqlite_url, short_clips, quota=5, seed=2)
    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path / "inst")})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SECRET_KEY", SECRET)  # the CLI makes the key from this machine's server secret
    try:
        yield f"http://127.0.0.1:{http.server_port}", sqlite_url, experiment_id
    finally:
        http.shutdown()
        engine_of(app).dispose()


def _simulate(*args: str):  # noqa: ANN202
    return CliRunner().invoke(cli, ["simulate", "--pace", "0", "--seed", "5", *args], catch_exceptions=False)


def test_one_machine_fills_a_default_study_and_accuracy_is_what_was_asked(server):
    """10 listeners from 127.0.0.1 (the default cap is 3 per address) all finish, flagged as simulated, and their
    share of right answers holds --accuracy within its 95% interval."""
    base, url, study = server
    result = _simulate("--url", base, "--n", "10", "--accuracy", "0.7", "--study", str(study), "--db", url)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with engine.connect() as conn:
        sessions = conn.execute(sa.select(ParticipantSession.status, ParticipantSession.simulated)
                                .where(ParticipantSession.experiment_id == study)).all()
        correct = conn.execute(sa.select(Presentation.correct).join(ParticipantSession).where(
            ParticipantSession.experiment_id == study, Presentation.practice.is_(False),
            Presentation.catch.is_(False))).scalars().all()
    engine.dispose()
    assert len(sessions) == 10 and {s.status for s in sessions} == {"completed"} and all(s.simulated for s in sessions)
    from statsmodels.stats.proportion import proportion_confint

    k, n = sum(bool(c) for c in correct), len(correct)
    lo, hi = proportion_confint(k, n, method="wilson")
    assert n == 240 and lo <= 0.7 <= hi, (k, n)
    assert '"scored_accuracy"' in result.output
    from experiment.tidy import trial_table

    engine = make_engine(url)
    table = trial_table(engine, study)
    engine.dispose()
    assert table["simulated"].all() and set(table["playback"]) == {"ok"}  # marked, and every clip logged as heard


def test_a_stopped_server_fails_in_seconds_with_the_reason(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    result = CliRunner().invoke(cli, ["simulate", "--url", f"http://127.0.0.1:{port}", "--study", "1", "--key", "k"])
    assert time.monotonic() - t0 < 10
    assert result.exit_code != 0 and "no server answers" in str(result.exception) and "connection refused" in str(
        result.exception)


@pytest.mark.parametrize("args, message", [
    (["--study", "999"], "there is no study 999"),
    (["--key", "not-the-key"], "a wrong simulation key"),
])
def test_a_refusal_is_one_line_before_any_listener_starts(server, args, message):
    base, _url, study = server
    result = CliRunner().invoke(cli, ["simulate", "--url", base, "--study", str(study), *args])
    assert result.exit_code != 0 and message in str(result.exception)
    assert "<html" not in str(result.exception).lower()


def test_more_listeners_than_places_is_refused(server):
    base, url, study = server
    result = CliRunner().invoke(cli, ["simulate", "--url", base, "--study", str(study), "--n", "11", "--db", url])
    assert result.exit_code != 0 and "10 free places, fewer than --n 11" in str(result.exception)


def test_a_wrong_key_on_the_consent_form_is_refused_not_treated_as_a_person(server):
    import requests

    base, _url, study = server
    http = requests.Session()
    http.headers["X-Tuneback-Simulation"] = "wrong"
    page = http.get(f"{base}/study/{study}/consent")
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    response = http.post(f"{base}/study/{study}/consent", data={"read_info": "y", "voluntary": "y", "data_use": "y",
                                                                "agree": "agree", "csrf_token": token})
    assert response.status_code == 403 and "simulation key" in response.text


def test_the_key_is_the_servers_and_the_studys():
    assert simulation_key(SECRET, 1) != simulation_key(SECRET, 2) != simulation_key("other", 2)


def test_simulated_listeners_pass_the_combined_headphone_screen(sqlite_url, short_clips, tmp_path, monkeypatch):
    """The second headphone test (antiphase) is heard and passed by the simulator's ears too."""
    experiment_id = create_experiment(sqlite_url, short_clips, quota=1, seed=2,
                                      settings={"headphone_screen": "huggins+antiphase"})
    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(tmp_path / "inst")})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    monkeypatch.setenv("SECRET_KEY", SECRET)
    try:
        result = _simulate("--url", f"http://127.0.0.1:{http.server_port}", "--n", "2", "--study", str(experiment_id),
                           "--db", sqlite_url)
    finally:
        http.shutdown()
        engine_of(app).dispose()
    assert result.exit_code == 0, result.output
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ParticipantSession.headphone_passed, ParticipantSession.headphone_trials)).all()
    engine.dispose()
    assert rows == [(True, 12), (True, 12)]
