"""Headphone screen-out (issue 15): a failed check ends the session with its own code and never fills a quota."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from experiment.db import make_engine, session_factory
from experiment.errors import ExperimentError
from experiment.manifest import load_manifest
from experiment.models import Event, Experiment, ParticipantSession
from experiment.progress import version_progress
from experiment.study import add_experiment, create_experiment
from experiment.webdb import engine_of
from admin_support import rows as _rows
from experiment_client import Participant, Study, make_app


@pytest.fixture
def make_study(database_url, manifest_path, clock, tmp_path):
    """A factory: (study, app) for a study made with these create_experiment keywords."""
    apps = []

    def make(**kwargs):
        study = Study(database_url, create_experiment(database_url, manifest_path, seed=1, **kwargs))
        app = make_app(study, clock, tmp_path)
        apps.append(app)
        return study, app

    yield make
    for app in apps:
        engine_of(app).dispose()


def test_failed_check_ends_on_the_screened_out_page_with_its_own_code(make_study):
    study, app = make_study(completion_code="DONE1234", screened_out_code="SCREEN99")
    p = Participant(app, study.experiment_id)
    assert p.start("PROLIFIC_PID=pidA&STUDY_ID=s1&SESSION_ID=x1").status_code == 302
    response = p.headphones(correct=False)
    assert response.headers["Location"].endswith("/screened-out")
    page = p.page("screened-out")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "SCREEN99" in text and "DONE1234" not in text
    assert "cc=SCREEN99" in text  # the way back to Prolific carries the screened-out code
    for stage in ("instructions", "task", "questionnaire", "debrief", "headphones", ""):
        assert p.page(stage).headers["Location"].endswith("/screened-out"), stage
    assert p.api("GET", "state").get_json()["redirect"].endswith("/screened-out")
    assert p.api("POST", "events", {"events": [{"kind": "play", "slot": "cal"}]}).status_code == 409
    (s,) = _rows(study.url, sa.select(ParticipantSession))
    assert (s.status, s.stage, s.headphone_passed, s.headphone_attempts) == ("screened_out", "done", False, 1)
    assert s.completion_code is None
    kinds = [k for (k,) in _rows(study.url, sa.select(Event.kind).order_by(Event.id))]
    assert kinds[-2:] == ["headphone", "screened_out"]


def test_returning_prolific_id_gets_the_screened_out_page_again(make_study):
    study, app = make_study(screened_out_code="SCREEN99")
    p = Participant(app, study.experiment_id)
    p.start("PROLIFIC_PID=pidB")
    p.headphones(correct=False)
    again = Participant(app, study.experiment_id)  # a new browser, same Prolific id
    response = again.start("PROLIFIC_PID=pidB")
    assert response.status_code == 409 and "SCREEN99" in response.get_data(as_text=True)


def test_screened_out_sessions_never_fill_a_quota(make_study, clock):
    """Quota 1 per version: two screened-out arrivals leave both places for the next two; the fifth finds it full."""
    study, app = make_study(quota=1)
    for _ in range(2):
        p = Participant(app, study.experiment_id)
        assert p.start().status_code == 302
        assert p.headphones(correct=False).headers["Location"].endswith("/screened-out")
    for _ in range(2):
        p = Participant(app, study.experiment_id)
        assert p.start().headers["Location"].endswith("/headphones")
    late = Participant(app, study.experiment_id)
    assert "full" in late.start().get_data(as_text=True).lower()
    engine = make_engine(study.url)
    try:
        with session_factory(engine)() as db:
            progress = version_progress(db, db.get(Experiment, study.experiment_id), clock.now)
    finally:
        engine.dispose()
    assert sum(v["screened_out"] for v in progress) == 2  # both went to version 1: it still counted 0
    assert [(v["active"], v["filled"], v["full"]) for v in progress] == [(1, 1, True), (1, 1, True)]


def test_admin_progress_table_shows_screened_out(make_study, tmp_path):
    from admin_support import AdminClient, add_admin

    study, app = make_study()
    p = Participant(app, study.experiment_id)
    p.start()
    p.headphones(correct=False)
    add_admin(study.url)
    admin = AdminClient(app)
    assert admin.login().status_code == 302
    page = admin.get(f"/admin/studies/{study.experiment_id}").get_data(as_text=True)
    assert "Screened out" in page and ">1</td>" in page.split("Screened out")[1]
    data = admin.get(f"/admin/api/studies/{study.experiment_id}/progress").get_json()
    assert sum(v["screened_out"] for v in data["versions"]) == 1
    assert data["participants"][0]["status"] == "screened_out"


def test_one_retry_draws_new_sounds_and_is_logged(make_study):
    study, app = make_study(settings={"headphone_retries": 1})
    p = Participant(app, study.experiment_id)
    p.start()
    first = p.page("headphones").get_data(as_text=True)
    assert "hp-retry" not in first
    assert p.headphones(correct=False).headers["Location"].endswith("/headphones")
    page = p.page("headphones").get_data(as_text=True)
    assert "hp-retry" in page
    (s,) = _rows(study.url, sa.select(ParticipantSession))
    assert (s.status, s.stage, s.headphone_attempts) == ("active", "headphone", 1)
    assert p.headphones(correct=True).headers["Location"].endswith("/instructions")
    (s,) = _rows(study.url, sa.select(ParticipantSession))
    assert (s.status, s.headphone_passed, s.headphone_attempts) == ("active", True, 2)
    kinds = [k for (k,) in _rows(study.url, sa.select(Event.kind).order_by(Event.id))]
    assert kinds.count("headphone") == 2 and kinds.count("headphone_retry") == 1


def test_a_retry_failed_too_screens_out(make_study):
    study, app = make_study(settings={"headphone_retries": 1})
    p = Participant(app, study.experiment_id)
    p.start()
    p.headphones(correct=False)
    assert p.headphones(correct=False).headers["Location"].endswith("/screened-out")
    (s,) = _rows(study.url, sa.select(ParticipantSession))
    assert (s.status, s.headphone_attempts) == ("screened_out", 2)


def test_a_retry_has_other_answers():
    """The retry's target intervals come from the attempt too (else the first try would give them away)."""
    from experiment.headphone_check import headphone_answers

    s = ParticipantSession(seed=1, headphone_seed=12345, headphone_attempts=None)
    first = headphone_answers(s, 12)
    s.headphone_attempts = 1
    assert headphone_answers(s, 12) != first


def test_screen_out_can_be_switched_off(make_study):
    study, app = make_study(settings={"headphone_screen_out": False})
    p = Participant(app, study.experiment_id)
    p.start()
    assert p.headphones(correct=False).headers["Location"].endswith("/instructions")
    (s,) = _rows(study.url, sa.select(ParticipantSession))
    assert (s.status, s.headphone_passed) == ("active", False)


def test_codes_and_retries_are_checked(sqlite_url, manifest_path):
    from experiment.db import upgrade

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    manifest = load_manifest(manifest_path)
    try:
        with session_factory(engine)() as db:
            with pytest.raises(ExperimentError, match="must differ"):
                add_experiment(db, manifest, completion_code="SAME1", screened_out_code="SAME1")
            with pytest.raises(ExperimentError, match="headphone_retries"):
                add_experiment(db, manifest, settings={"headphone_retries": 2})
            with pytest.raises(ExperimentError, match="screened-out code"):
                add_experiment(db, manifest, screened_out_code="no spaces")
            e = add_experiment(db, manifest)
            assert e.settings["screened_out_code"] != e.settings["completion_code"]
    finally:
        engine.dispose()
