"""Server-enforced limits: 60 s per trial (time-outs recorded), 30 min per session."""

from __future__ import annotations

import sqlalchemy as sa

from experiment.db import make_engine, session_factory
from experiment.models import Event, ParticipantSession, Presentation
from experiment.timing import expire_sessions


def fetch(url, query):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        engine.dispose()


def test_unanswered_trial_times_out_at_60_s(participant, clock, study):
    p = participant()
    p.ready()
    state = p.present()
    assert state["trial"]["remaining_ms"] == 60_000
    clock.advance(30)
    assert p.state()["trial"]["remaining_ms"] == 30_000
    clock.advance(31.01)  # 61.01 s: past the limit and the 1-s grace
    state = p.state()
    assert state["trial"]["id"] == "p2" and not state["trial"]["presented"]
    assert state["progress"]["practice_done"] == 1
    (row,) = fetch(study.url, sa.select(Presentation).where(Presentation.timed_out.is_(True)))
    assert row.answer is None and row.correct is False and row.order_index == 1 and row.practice
    assert fetch(study.url, sa.select(Event.kind).where(Event.kind == "timeout"))


def test_audio_of_a_timed_out_trial_is_gone(participant, clock):
    p = participant()
    p.ready()
    urls = p.present()["trial"]["audio"]
    clock.advance(62)
    assert p.client.get(urls["x"]).status_code == 404


def test_unpresented_trials_do_not_time_out(participant, clock):
    p = participant()
    p.ready()
    clock.advance(300)
    assert p.state()["trial"]["id"] == "p1"


def test_last_trial_timing_out_completes_the_trials(participant, clock, study):
    p = participant()
    p.ready()
    state = p.state()
    for _ in range(27):
        state = p.do_trial()["state"]
    assert state["trial"]["id"] == "t24"
    p.present()
    clock.advance(70)
    assert p.state()["redirect"].endswith("/questionnaire")
    (s,) = fetch(study.url, sa.select(ParticipantSession))
    assert s.status == "completed"


def test_session_cap_of_30_minutes(participant, clock, study):
    p = participant()
    p.ready()
    for _ in range(6):
        p.do_trial()
        clock.advance(55)
    clock.advance(30 * 60 - 7 * 55)
    p.present()  # 55 s before the cap the participant is still working
    clock.advance(56)  # the cap passes while they are on a trial
    state = p.state()
    assert state["stage"] == "done" and state["redirect"].endswith("/time-up")
    assert p.answer("A", "t3").status_code == 409
    page = p.page("time-up")
    assert page.status_code == 200 and "time limit has passed" in page.get_data(as_text=True)
    assert p.page("task").headers["Location"].endswith("/time-up")
    (s,) = fetch(study.url, sa.select(ParticipantSession))
    assert s.status == "timed_out" and s.stage == "done"
    assert s.finished_utc == s.started_utc + __import__("datetime").timedelta(minutes=30)


def test_cap_counts_from_consent_also_before_the_task(participant, clock, study):
    p = participant()
    p.start()
    clock.advance(31 * 60)
    assert p.page("headphones").headers["Location"].endswith("/time-up")
    (s,) = fetch(study.url, sa.select(ParticipantSession))
    assert s.status == "abandoned"  # last seen long before the cap


def test_expire_sessions_marks_abandoned(participant, clock, study):
    p = participant()
    p.ready()
    clock.advance(45 * 60)
    engine = make_engine(study.url)
    try:
        with session_factory(engine)() as db:
            assert expire_sessions(db, study.experiment_id, clock.now) == 1
            db.commit()
            assert expire_sessions(db, study.experiment_id, clock.now) == 0
    finally:
        engine.dispose()
    (s,) = fetch(study.url, sa.select(ParticipantSession))
    assert s.status == "abandoned"


def test_timestamps_are_server_utc(participant, clock, study):
    p = participant()
    p.ready()
    p.present()
    clock.advance(2.5)
    p.answer("B", "p1")
    (row,) = fetch(study.url, sa.select(Presentation).where(Presentation.answer.is_not(None)))
    assert row.presented_utc == clock.now - __import__("datetime").timedelta(seconds=2.5)
    assert row.answered_utc == clock.now and row.answered_utc.utcoffset().total_seconds() == 0


def test_a_form_sent_after_the_cap_leads_to_the_time_up_page(participant, clock, study):
    p = participant()
    p.start()
    p.page("headphones")
    clock.advance(31 * 60)  # the participant left the headphone page open past the cap, then pressed Continue
    response = p.post("headphones", {"volume": "0.5", **{f"t{k}": "1" for k in range(1, 7)}})
    assert response.status_code == 302 and response.headers["Location"].endswith("/time-up")
    (s,) = fetch(study.url, sa.select(ParticipantSession))
    assert s.stage == "done" and s.headphone_score is None  # nothing recorded after the cap


# Defect 7 of issue 14: the grace setting is used, the countdown respects the session cap, and a returning
# Prolific id whose session ended is told where it stands (with its code when it finished).


def _grace_participant(study, clock, tmp_path, grace: float):
    from experiment_client import Participant, make_app

    app = make_app(study, clock, tmp_path, TRIAL_GRACE_S=grace)
    p = Participant(app, study.experiment_id)
    p.ready()
    p.present()
    return p


def test_the_trial_grace_setting_is_used(study, clock, tmp_path):
    p = _grace_participant(study, clock, tmp_path, 5.0)
    clock.advance(64)  # past the limit and the built-in 1 s, inside a 5-s grace
    assert p.answer("A", "p1").status_code == 200


def test_a_zero_grace_refuses_an_answer_just_past_the_limit(study, clock, tmp_path):
    p = _grace_participant(study, clock, tmp_path, 0.0)
    clock.advance(60.5)
    response = p.answer("A", "p1")
    assert response.status_code == 409 and response.get_json()["error"] == "trial_timed_out"


def test_the_trial_countdown_stops_at_the_session_cap(participant, clock):
    p = participant()
    p.ready()
    clock.advance(30 * 60 - 20)  # 20 s of the session left
    state = p.present()
    assert state["trial"]["remaining_ms"] == 20_000
    assert state["session_remaining_ms"] == 20_000


def test_a_returning_id_that_finished_gets_its_code_again(participant, study):
    first = participant()
    first.ready("PROLIFIC_PID=pidDone")
    first.finish_trials()
    first.post("questionnaire", {})
    again = participant()  # the debrief tab was lost: a fresh browser, the same Prolific link
    page = again.start("PROLIFIC_PID=pidDone")
    text = page.get_data(as_text=True)
    with first.app.app_context():
        from experiment.models import Experiment
        from experiment.webdb import get_db

        code = get_db().get(Experiment, study.experiment_id).settings["completion_code"]
    assert page.status_code == 409 and "already taken part" in text
    assert f'id="completion-code">{code}<' in text and "Return to Prolific" in text


def test_a_returning_id_that_ran_out_of_time_is_told_so(participant, clock):
    first = participant()
    first.ready("PROLIFIC_PID=pidLate")
    clock.advance(31 * 60)
    again = participant()
    page = again.start("PROLIFIC_PID=pidLate")
    text = page.get_data(as_text=True)
    assert page.status_code == 409 and 'id="time-up"' in text and "completion-code" not in text
