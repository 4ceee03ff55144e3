"""A reload or a server restart resumes at the same trial with the same sides and the same minute."""

from __future__ import annotations

import sqlalchemy as sa

from experiment_client import Participant, make_app
from experiment.db import make_engine
from experiment.models import Presentation
from experiment.webdb import engine_of


def plan(url):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(Presentation.practice, Presentation.order_index, Presentation.template_id,
                                          Presentation.correct_side).order_by(Presentation.id)).all()
    finally:
        engine.dispose()


def test_plan_is_stored_before_the_first_trial(participant, study):
    p = participant()
    p.start()
    rows = plan(study.url)
    assert len(rows) == 28 and sum(r.practice for r in rows) == 4


def test_restart_resumes_same_trial_same_sides(participant, study, clock, tmp_path, app):
    p = participant()
    p.ready()
    for _ in range(6):
        p.do_trial()
    state = p.present()
    before = plan(study.url)
    audio = {slot: p.client.get(url).data for slot, url in state["trial"]["audio"].items()}
    clock.advance(20)

    engine_of(app).dispose()
    restarted = make_app(study, clock, tmp_path)  # a new process: new app object, same database and secret
    q = Participant(restarted, study.experiment_id)
    q.client = p.client  # the same browser (cookie jar)
    q.client.application = restarted
    q.csrf = p.csrf
    try:
        after = q.state()
        assert after["trial"]["id"] == state["trial"]["id"] == "t3"
        assert after["trial"]["audio"] == state["trial"]["audio"]
        assert after["trial"]["remaining_ms"] == state["trial"]["remaining_ms"] - 20_000
        assert {slot: q.client.get(url).data for slot, url in after["trial"]["audio"].items()} == audio
        assert plan(study.url) == before
        assert q.answer("A", "t3").status_code == 200
        assert q.state()["trial"]["id"] == "t4"
    finally:
        engine_of(restarted).dispose()


def test_reload_keeps_the_task_page_and_state(participant):
    p = participant()
    p.ready()
    p.do_trial()
    state = p.present()
    assert p.page("task").status_code == 200
    assert p.state()["trial"] == state["trial"]
