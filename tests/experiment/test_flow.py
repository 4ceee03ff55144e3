"""The participant flow end to end through the Flask test client."""

from __future__ import annotations

import re

import sqlalchemy as sa

from experiment.db import make_engine
from experiment.models import Event, ParticipantSession, Presentation, Questionnaire


def rows(url, query):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        engine.dispose()


def test_full_walk_through(participant, study):
    p = participant()
    landing = p.page("?PROLIFIC_PID=pid000001&STUDY_ID=study01&SESSION_ID=sess01")
    assert landing.status_code == 200 and "headphones" in landing.get_data(as_text=True)
    consent = p.page("consent")
    assert consent.status_code == 200 and 'name="csrf_token"' in consent.get_data(as_text=True)
    response = p.post("consent", {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "agree"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/headphones")
    assert p.headphones().headers["Location"].endswith("/instructions")
    assert p.instructions().headers["Location"].endswith("/task")
    assert p.page("task").status_code == 200

    state = p.state()
    assert state["trial"]["practice"] and state["trial"]["id"] == "p1" and not state["trial"]["presented"]
    feedback = []
    for _ in range(4):
        result = p.do_trial("A")
        feedback.append(result["feedback"])
    assert all(set(f) == {"correct", "correct_side"} for f in feedback)
    state = result["state"]
    assert state["intermission"] and state["trial"]["id"] == "t1" and state["progress"]["practice_done"] == 4
    for i in range(24):
        result = p.do_trial("B")
        assert "feedback" not in result  # scored trials get no feedback
        if i < 23:
            assert result["state"]["progress"]["trials_done"] == i + 1
    assert result["state"]["redirect"].endswith("/questionnaire")

    q = p.page("questionnaire")
    assert q.status_code == 200
    done = p.post("questionnaire", {"age": "25-34", "hearing": "no", "device": "over-ear", "strategy": "rhythm"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/debrief")
    debrief = p.page("debrief").get_data(as_text=True)
    code = re.search(r'id="completion-code">(\w+)<', debrief).group(1)
    assert "app.prolific.com/submissions/complete?cc=" + code in debrief

    (s,) = rows(study.url, sa.select(ParticipantSession))
    assert (s.prolific_pid, s.prolific_study_id, s.prolific_session_id) == ("pid000001", "study01", "sess01")
    assert s.status == "completed" and s.stage == "done" and s.headphone_passed and s.volume == 0.6
    assert s.completion_code == code and s.finished_utc is not None
    answers = rows(study.url, sa.select(Presentation.answer, Presentation.practice))
    assert len(answers) == 28 and all(a.answer for a in answers)
    (q_row,) = rows(study.url, sa.select(Questionnaire))
    assert q_row.answers["strategy"] == "rhythm" and q_row.answers["age"] == "25-34"
    kinds = {r.kind for r in rows(study.url, sa.select(Event.kind))}
    assert {"consent", "assigned", "headphone", "presented", "answer", "play", "completed", "questionnaire"} <= kinds


def test_pages_redirect_to_the_current_stage(participant):
    p = participant()
    assert p.page("task").headers["Location"].endswith(f"/study/{p.eid}/")  # no session yet
    p.start()
    for page in ("instructions", "task", "questionnaire", "debrief"):
        assert p.page(page).headers["Location"].endswith("/headphones")
    assert p.post("instructions").status_code == 409  # a step not reached yet
    assert p.page("").headers["Location"].endswith("/headphones")  # the landing page resumes


def test_decline_stores_nothing(participant, study):
    p = participant()
    p.page("consent")
    response = p.post("consent", {"decline": "no"})
    assert response.status_code == 200 and "chose not to take part" in response.get_data(as_text=True)
    assert rows(study.url, sa.select(ParticipantSession)) == []


def test_consent_needs_every_box(participant, study):
    p = participant()
    p.page("consent")
    response = p.post("consent", {"read_info": "y", "agree": "agree"})
    assert response.status_code == 200 and "tick every statement" in response.get_data(as_text=True)
    assert rows(study.url, sa.select(ParticipantSession)) == []


def test_consent_without_csrf_refused(participant):
    p = participant()
    p.page("consent")
    response = p.post("consent", {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "a"}, csrf=False)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_failed_headphone_check_is_recorded_and_screens_out(participant, study):
    p = participant()
    p.start()
    assert p.headphones(correct=False).headers["Location"].endswith("/screened-out")
    (s,) = rows(study.url, sa.select(ParticipantSession))
    assert s.headphone_passed is False and s.headphone_score == 0 and s.headphone_trials == 6
    assert s.status == "screened_out" and s.headphone_attempts == 1


def test_headphone_form_needs_every_answer(participant):
    p = participant()
    p.start()
    p.page("headphones")
    assert p.post("headphones", {"t1": "1", "t2": "4"}).status_code == 400


def test_one_prolific_id_takes_part_once(participant, study):
    first = participant()
    first.ready("PROLIFIC_PID=pidA")
    first.finish_trials()
    first.post("questionnaire", {})
    again = participant()  # another browser, same Prolific id
    response = again.start("PROLIFIC_PID=pidA")
    assert response.status_code == 409 and "already taken part" in response.get_data(as_text=True)
    assert len(rows(study.url, sa.select(ParticipantSession))) == 1


def test_same_prolific_id_on_a_second_device_is_refused_not_continued(participant, study):
    """Issue 29: the second device used to resume the first one's session at the task, skipping the headphones."""
    first = participant()
    first.ready("PROLIFIC_PID=pidB")
    first.do_trial()
    other = participant()  # another device: its own cookies, its own address
    response = other.start("PROLIFIC_PID=pidB")
    assert response.status_code == 409 and 'id="other-device"' in response.get_data(as_text=True)
    assert other.api("GET", "state").status_code == 401  # it holds no session
    assert first.state()["trial"]["id"] == "p2"  # the first device goes on
    assert len(rows(study.url, sa.select(ParticipantSession))) == 1


def test_by_the_recheck_rule_a_second_device_takes_the_headphone_check_again(app, database_url, manifest_path):
    from experiment.study import create_experiment
    from experiment_client import Participant

    rechecked = create_experiment(database_url, manifest_path, seed=1, settings={"second_device": "recheck"})
    first = Participant(app, rechecked)
    first.ready("PROLIFIC_PID=pidC")
    first.do_trial()
    other = Participant(app, rechecked)
    response = other.start("PROLIFIC_PID=pidC")
    assert response.status_code == 302 and response.headers["Location"].endswith("/headphones")
    assert first.api("GET", "state").status_code == 401  # the first device lost it
    assert other.api("GET", "state").get_json()["stage"] == "headphone"
    assert other.headphones().status_code == 302 and other.instructions().status_code == 302
    assert other.state()["trial"]["id"] == "p2"  # the answers given stay; the next trial follows
    kinds = [e.kind for e in rows(database_url, sa.select(Event).order_by(Event.id))]
    assert kinds.count("headphone") == 2 and "second_device" in kinds


def test_a_consent_whose_reply_was_lost_is_not_locked_out(participant, study):
    """Before the headphone check nothing was done: the session moves (with its check still ahead)."""
    first = participant()
    assert first.start("PROLIFIC_PID=pidD").status_code == 302
    again = participant()
    response = again.start("PROLIFIC_PID=pidD")
    assert response.status_code == 302 and response.headers["Location"].endswith("/headphones")


def test_bad_prolific_ids_are_ignored(participant, study):
    p = participant()
    p.ready("PROLIFIC_PID=%3Cscript%3E&STUDY_ID=" + "x" * 100)
    (s,) = rows(study.url, sa.select(ParticipantSession))
    assert s.prolific_pid is None and s.prolific_study_id is None


def test_root_redirects_to_the_open_study(app, study):
    response = app.test_client().get("/?PROLIFIC_PID=abc")
    assert response.status_code == 302
    assert f"/study/{study.experiment_id}/?PROLIFIC_PID=abc" in response.headers["Location"]


def test_unknown_study_is_404(app):
    response = app.test_client().get("/study/999/")
    assert response.status_code == 404 and "no study 999" in response.get_data(as_text=True)
