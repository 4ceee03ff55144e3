"""Answers count at most once, only for the current trial, only in time; bad requests get a JSON 4xx."""

from __future__ import annotations

import sqlalchemy as sa

from experiment.db import make_engine
from experiment.models import Presentation


def answered(url):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(Presentation.order_index, Presentation.practice, Presentation.answer,
                                          Presentation.client_answer_id)
                                .where(Presentation.answer.is_not(None))).all()
    finally:
        engine.dispose()


def test_repeated_answer_id_returns_the_first_result(participant, study):
    p = participant()
    p.ready()
    p.present()
    first = p.answer("A", "p1", answer_id="answer-0001")
    again = p.answer("B", "p1", answer_id="answer-0001")
    assert first.status_code == again.status_code == 200
    a, b = first.get_json(), again.get_json()
    assert (a["repeated"], b["repeated"]) == (False, True)
    assert a["answer"] == b["answer"] == "A" and a["feedback"] == b["feedback"]
    assert len(answered(study.url)) == 1


def test_answer_id_reused_for_another_trial_is_refused(participant, study):
    p = participant()
    p.ready()
    p.present()
    assert p.answer("A", "p1", answer_id="answer-0002").status_code == 200
    p.present("p2")
    response = p.answer("A", "p2", answer_id="answer-0002")
    assert response.status_code == 409 and response.get_json()["error"] == "answer_id_reused"
    assert response.get_json()["state"]["trial"]["id"] == "p2"


def test_answer_for_a_trial_that_is_not_current(participant, study):
    p = participant()
    p.ready()
    p.present()
    for trial in ("p3", "t1", "t24"):
        response = p.answer("A", trial)
        assert response.status_code == 409 and response.get_json()["error"] == "not_current_trial"
    assert p.answer("A", "p1").status_code == 200
    again = p.answer("A", "p1")  # a new id for an answered trial
    assert again.status_code == 409 and again.get_json()["error"] == "trial_already_answered"
    assert len(answered(study.url)) == 1


def test_answer_before_the_trial_is_presented(participant):
    p = participant()
    p.ready()
    response = p.answer("A", "p1")
    assert response.status_code == 409 and response.get_json()["error"] == "trial_not_presented"


def test_answer_after_the_time_limit(participant, clock, study):
    p = participant()
    p.ready()
    p.present()
    clock.advance(61.5)
    response = p.answer("A", "p1")
    assert response.status_code == 409 and response.get_json()["error"] == "trial_timed_out"
    assert response.get_json()["state"]["trial"]["id"] == "p2"
    assert answered(study.url) == []


def test_answer_just_inside_the_grace(participant, clock):
    p = participant()
    p.ready()
    p.present()
    clock.advance(60.5)  # within the 1-s network grace
    assert p.answer("A", "p1").status_code == 200


def test_another_sessions_trial_cannot_be_answered(participant, study):
    alice, bob = participant(), participant()
    alice.ready()
    bob.ready()
    alice.present()
    response = bob.answer("A", "p1")  # trial names are per session: this is Bob's own p1, not started
    assert response.status_code == 409 and response.get_json()["error"] == "trial_not_presented"
    assert answered(study.url) == []
    bob.client.set_cookie("tuneback", "forged", domain="localhost")
    assert bob.client.get(f"/api/study/{bob.eid}/state").status_code == 401
    assert bob.answer("A", "p1").status_code == 400  # no session, so no CSRF token either


def test_answer_after_the_session_is_over(participant):
    p = participant()
    p.ready()
    p.finish_trials()
    response = p.answer("A", "t24")
    assert response.status_code == 409 and response.get_json()["error"] == "not_in_task"


def test_present_is_idempotent(participant, clock):
    p = participant()
    p.ready()
    first = p.present("p1")["trial"]
    clock.advance(10)
    second = p.present("p1")["trial"]
    assert first["audio"] == second["audio"] and second["remaining_ms"] == first["remaining_ms"] - 10_000
    response = p.api("POST", "present", {"trial": "p3"})
    assert response.status_code == 409 and response.get_json()["error"] == "not_current_trial"


BAD_REQUESTS = [
    ("POST", "answer", None, 400),
    ("POST", "answer", "not json", 400),
    ("POST", "answer", [1, 2], 400),
    ("POST", "answer", {"trial": "p1", "answer": "C", "id": "abcdefgh1"}, 400),
    ("POST", "answer", {"trial": "p1", "answer": "A", "id": "short"}, 400),
    ("POST", "answer", {"trial": "p1", "answer": "A", "id": "x' OR 1=1 --"}, 400),
    ("POST", "answer", {"trial": "../etc", "answer": "A", "id": "abcdefgh1"}, 400),
    ("POST", "answer", {"trial": 5, "answer": "A", "id": "abcdefgh1"}, 400),
    ("POST", "present", {}, 400),
    ("POST", "events", {"events": []}, 400),
    ("POST", "events", {"events": [{"kind": "drop table"}]}, 400),
    ("POST", "events", {"events": [{"kind": "play", "slot": "z"}]}, 400),
    ("POST", "events", {"events": [{"kind": "play", "t": "NaN"}]}, 400),
    ("POST", "events", {"events": [{"kind": "play", "detail": {"x": "y" * 5000}}]}, 400),
    ("POST", "events", {"events": [{"kind": "play"}] * 101}, 400),
    ("GET", "answer", None, 405),
    ("GET", "nothing-here", None, 404),
    ("GET", "audio/" + "A" * 32, None, 404),
    ("GET", "audio/..%2F..%2Fmanifest.json", None, 404),
]


def test_bad_requests_get_a_json_4xx_with_a_reason(participant):
    p = participant()
    p.ready()
    p.present()
    for method, path, body, status in BAD_REQUESTS:
        if isinstance(body, str):
            response = p.client.post(f"/api/study/{p.eid}/{path}", data=body, content_type="application/json",
                                      headers={"X-CSRFToken": p.csrf})
        else:
            response = p.api(method, path, body)
        assert response.status_code == status, (method, path, body, response.get_data(as_text=True))
        payload = response.get_json()
        assert payload["error"] and payload["message"], (path, payload)


def test_oversized_body_is_413(participant):
    p = participant()
    p.ready()
    response = p.api("POST", "events", {"events": [{"kind": "play", "detail": {"x": "y" * 100_000}}]})
    assert response.status_code == 413 and response.get_json()["error"]


def test_api_without_csrf_header_is_refused(participant, study):
    p = participant()
    p.ready()
    p.present()
    response = p.api("POST", "answer", {"trial": "p1", "answer": "A", "id": "abcdefgh12"}, csrf=False)
    assert response.status_code == 400 and response.get_json()["error"] == "csrf"
    assert answered(study.url) == []


def test_api_without_a_session_is_401(app, study):
    client = app.test_client()
    for path in ("state", "audio/" + "A" * 32):
        response = client.get(f"/api/study/{study.experiment_id}/{path}")
        assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"


def test_unknown_study_in_the_api(participant):
    p = participant()
    p.ready()
    response = p.client.get("/api/study/424242/state")
    assert response.status_code == 401  # no session of this browser belongs to that study
