"""Defect 2 of issue 14: two people in one browser (a shared lab computer) never become one participant."""

from __future__ import annotations

import sqlalchemy as sa

from experiment.db import make_engine
from experiment.models import ParticipantSession, Presentation

QUERY = "STUDY_ID=study1&SESSION_ID={sid}&PROLIFIC_PID={pid}"


def rows(url):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            sessions = conn.execute(sa.select(ParticipantSession.id, ParticipantSession.prolific_pid)).all()
            answers = dict(conn.execute(sa.select(Presentation.session_id, sa.func.count(Presentation.answer))
                                        .group_by(Presentation.session_id)).all())
            return {pid: answers.get(sid, 0) for sid, pid in sessions}
    finally:
        engine.dispose()


def test_a_second_prolific_id_gets_its_own_session(participant, study):
    p = participant()
    p.ready(QUERY.format(sid="s1", pid="AAA"))
    p.do_trial("A")
    first_token = p.token
    landing = p.page("?" + QUERY.format(sid="s2", pid="BBB"))
    assert landing.status_code == 200  # B sees the study's landing page, not A's task
    assert p.api("GET", "state").status_code == 401  # and cannot reach A's session through the API
    p.ready(QUERY.format(sid="s2", pid="BBB"))
    assert p.token != first_token
    state = p.state()
    assert state["progress"]["practice_done"] == 0  # B starts at the beginning
    p.do_trial("B")
    p.do_trial("B")
    assert rows(study.url) == {"AAA": 1, "BBB": 2}


def test_the_first_person_can_come_back_with_their_link(participant, study):
    p = participant()
    p.ready(QUERY.format(sid="s1", pid="AAA"))
    p.do_trial("A")
    p.ready(QUERY.format(sid="s2", pid="BBB"))
    p.page("?" + QUERY.format(sid="s1", pid="AAA"))  # A's Prolific link again, in the same browser
    p.page("consent")
    resumed = p.post("consent", {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "agree"})
    assert resumed.status_code == 302 and resumed.headers["Location"].endswith("/task")
    assert p.state()["progress"]["practice_done"] == 1
    assert rows(study.url) == {"AAA": 1, "BBB": 0}


def test_a_reload_without_the_query_string_resumes(participant, study):
    p = participant()
    p.ready(QUERY.format(sid="s1", pid="AAA"))
    landing = p.page("")
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/task")
